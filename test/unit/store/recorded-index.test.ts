/**
 * RecordedIndex (src/store/recorded-index.ts) reads an index lazily; it must find the same
 * records under the same paths as parsing it whole (parseIndex + indexByPath): plain, escaped,
 * non-ASCII and base64 paths, 'attrs' records before and after their member, a path given twice,
 * unclean paths dropped, the stamp, seal and "applying" lines, and paths whose 30-bit hashes
 * collide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type IndexRecord, formatRecord, indexByPath, parseIndex } from '../../../src/store/content-index.js';
import { MapLookup, RecordedIndex } from '../../../src/store/recorded-index.js';

const file = (path: string, size: number): IndexRecord => ({ path, type: 'file', size, mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_700_000_000_000_000_000n + BigInt(size), hash: size.toString(16).padStart(16, '0') });

/** FNV-1a, 30 bits, as recorded-index.ts keys its table: two paths that collide. */
function collidingPaths(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const path = `dir/p${i}`;
    let hash = 0x811c9dc5;
    for (let k = 0; k < path.length; k++) hash = Math.imul(hash ^ path.charCodeAt(k), 0x01000193);
    hash &= 0x3fffffff;
    const other = seen.get(hash);
    if (other !== undefined) return [other, path];
    seen.set(hash, path);
  }
}

test('RecordedIndex finds what parseIndex + indexByPath find', () => {
  const [a, b] = collidingPaths();
  const records: IndexRecord[] = [
    file('etc/passwd', 1),
    { ...file('attrs-first', 0), type: 'attrs', xattrs: { 'user.a': 'YQ==' } },
    file('attrs-first', 2),
    file('attrs-after', 3),
    { ...file('attrs-after', 0), type: 'attrs', xattrs: { 'user.b': 'Yg==' } },
    file('twice', 4),
    file('caf\xc3\xa9/men\xc3\xbc', 5), // UTF-8 bytes: stored as text
    file('bad\xff\xfe-utf8', 6), // not UTF-8: stored as pathBase64
    file('quote"back\\slash\nnewline', 7), // escaped in JSON
    { ...file('link', 0), type: 'hardlink', linkTarget: 'etc/passwd', linkPath: 'etc/passwd' },
    { ...file('link2', 0), type: 'hardlink', linkTarget: 'etc/passwd', linkPath: 'etc/passwd' },
    file('twice', 8),
    file(a, 9),
    file(b, 10),
    file('../escape', 11), // unclean: dropped by both
    file('/absolute', 12),
  ];
  const lines = records.map(formatRecord);
  lines.splice(3, 0, '{"dumpApplied":{"level":0,"date":1,"previousDate":0}}', 'garbage that is no JSON');
  lines.push('{"dumpApplying":{"level":1,"date":2,"previousDate":1}}');
  const text = `${lines.join('\n')}\n`;
  const whole = parseIndex(text);
  const expected = indexByPath(whole.records);
  const lazy = new RecordedIndex(Buffer.from(text, 'utf8'));
  assert.equal(lazy.size, expected.size);
  assert.equal(lazy.recordCount, whole.records.length);
  for (const [path, record] of expected) assert.deepEqual(lazy.get(path), record, JSON.stringify(path));
  for (const path of ['../escape', '/absolute', 'missing', 'dir/p', `${a}x`]) assert.equal(lazy.get(path), undefined, path);
  assert.equal(lazy.get('twice')!.size, 8, 'the later record of a path');
  assert.equal(lazy.get('attrs-first')!.type, 'file', "an 'attrs' record does not hide its member's");
  assert.equal(lazy.get(a)!.size, 9, 'colliding hashes: each path its own record');
  assert.equal(lazy.get(b)!.size, 10);
  assert.deepEqual([lazy.stamp, lazy.applying], [whole.stamp, whole.applying]);
  assert.equal(lazy.stampLine, whole.stampLine);
  assert.deepEqual([...lazy.linkNames()], [['etc/passwd', 3]]);
  assert.deepEqual([...lazy.linkNames()], [...new MapLookup(expected).linkNames()]);
  assert.deepEqual(lazy.allRecords(), whole.records);
  // a line is read back as it was written (the index writer keeps an unchanged index as it is)
  assert.equal(lazy.lineText(lazy.lineNumberOf('etc/passwd')!), lines[0]);
});

test('RecordedIndex of no file, and of an empty one', () => {
  const none = new RecordedIndex(undefined);
  assert.equal(none.exists, false);
  assert.equal(none.size, 0);
  assert.equal(none.get('x'), undefined);
  const empty = new RecordedIndex(Buffer.alloc(0));
  assert.equal(empty.exists, true);
  assert.equal(empty.size, 0);
});
