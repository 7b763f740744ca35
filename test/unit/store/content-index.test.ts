/**
 * Index lines (src/store/content-index.ts): formatRecord builds its JSON as text, so it is checked
 * here against the JSON the record stands for - same keys, same order, same values - and parsed
 * back to the same record, over seeded records with every optional field, non-UTF-8 and
 * non-ASCII byte paths, quotes, backslashes and control characters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type IndexRecord, IndexWriter, formatRecord, parseRecord, parseRecordAsJson, readIndexBytes, readIndexFile } from '../../../src/store/content-index.js';
import { RecordedIndex } from '../../../src/store/recorded-index.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A byte string (latin1 code units 0..255) of mixed kinds. */
/** A physical path as a run records it: no empty, "." or ".." component (parseRecord drops
 *  records with those: see the test below). */
function physicalPath(next: () => number): string {
  return bytePath(next)
    .split('/')
    .map((component) => (component === '' || component === '.' || component === '..' ? `${component}x` : component))
    .join('/');
}

function bytePath(next: () => number): string {
  const kind = Math.floor(next() * 4);
  const length = 1 + Math.floor(next() * 30);
  let s = '';
  for (let i = 0; i < length; i++) {
    if (kind === 0) s += String.fromCharCode(0x61 + Math.floor(next() * 26)); // ASCII
    else if (kind === 1) s += Buffer.from('é/ü✓', 'utf8').toString('latin1')[Math.floor(next() * 9)]; // UTF-8 bytes, maybe cut
    else if (kind === 2) s += String.fromCharCode(Math.floor(next() * 256)); // any byte
    else s += ['"', '\\', '\n', '\t', '\x01', '/', 'a'][Math.floor(next() * 7)];
  }
  return s;
}

/** What the line must hold: the record as JSON.stringify would write it, key for key. */
function expectedRow(r: IndexRecord): Record<string, unknown> {
  const path = (p: string, key: string): Record<string, string> => {
    const text = Buffer.from(p, 'latin1').toString('utf8');
    return Buffer.from(text, 'utf8').toString('latin1') === p ? { [key]: text } : { [`${key}Base64`]: Buffer.from(p, 'latin1').toString('base64') };
  };
  return {
    ...path(r.path, 'path'),
    type: r.type,
    size: r.size,
    mode: `0${r.mode.toString(8)}`,
    uid: r.uid,
    gid: r.gid,
    mtimeNs: r.mtimeNs.toString(),
    ...(r.hash ? { xxh64: r.hash } : {}),
    ...(r.linkTarget !== undefined ? path(r.linkTarget, 'linkTarget') : {}),
    ...(r.xattrs ? { xattrs: r.xattrs } : {}),
    ...(r.acls ? { acls: r.acls } : {}),
    ...(r.inode !== undefined ? { inode: r.inode } : {}),
    ...(r.sourceStamp !== undefined ? { sourceStamp: r.sourceStamp } : {}),
    ...(r.linkPath !== undefined ? path(r.linkPath, 'linkPath') : {}),
    ...(r.devMajor !== undefined ? { devMajor: r.devMajor, devMinor: r.devMinor } : {}),
  };
}

test('formatRecord writes the record as JSON (keys, order, values) and parseRecord reads it back', () => {
  const next = rng(1);
  const types = ['file', 'dir', 'symlink', 'hardlink', 'char', 'fifo'] as const;
  for (let i = 0; i < 2000; i++) {
    const record: IndexRecord = {
      path: physicalPath(next),
      type: types[Math.floor(next() * types.length)]!,
      size: Math.floor(next() * 2 ** 40),
      mode: Math.floor(next() * 0o10000),
      uid: Math.floor(next() * 70000),
      gid: Math.floor(next() * 70000),
      mtimeNs: BigInt(Math.floor((next() - 0.3) * 2 ** 52)) * 1000n + BigInt(Math.floor(next() * 1000)),
      ...(next() < 0.7 ? { hash: Math.floor(next() * 2 ** 52).toString(16).padStart(16, '0') } : {}),
      ...(next() < 0.3 ? { linkTarget: bytePath(next) } : {}),
      ...(next() < 0.1 ? { xattrs: { 'user.a"b': 'AAE=', 'user.x': '' } } : {}),
      ...(next() < 0.1 ? { acls: [{ type: 'user', id: 5, perm: 6 }] as unknown as IndexRecord['acls'] } : {}),
      ...(next() < 0.2 ? { inode: Math.floor(next() * 2 ** 32) } : {}),
      ...(next() < 0.3 ? { sourceStamp: `${Math.floor(next() * 1e9)}:"${bytePath(next)}` } : {}),
      ...(next() < 0.2 ? { linkPath: physicalPath(next) } : {}),
      ...(next() < 0.2 ? { devMajor: Math.floor(next() * 4096), devMinor: Math.floor(next() * 2 ** 20) } : {}),
    };
    const line = formatRecord(record);
    const row = JSON.parse(line) as Record<string, unknown>;
    const expected = expectedRow(record);
    assert.deepEqual(Object.keys(row), Object.keys(expected), `record ${i}: keys in order`);
    assert.deepEqual(row, expected, `record ${i}: values`);
    assert.equal(line, JSON.stringify(expected), `record ${i}: the same text as JSON.stringify`);
    const back = parseRecord(line)!;
    assert.equal(back.path, record.path, `record ${i}: path bytes`);
    assert.equal(back.linkTarget, record.linkTarget, `record ${i}: link target bytes`);
    assert.equal(back.mtimeNs, record.mtimeNs);
    assert.equal(back.mode, record.mode);
    assert.equal(back.linkPath, record.linkPath, `record ${i}: link path bytes`);
    assert.deepEqual([back.devMajor, back.devMinor], [record.devMajor, record.devMinor]);
  }
});

test('parseRecord reads the common lines without JSON.parse and makes exactly the record JSON.parse would', () => {
  const next = rng(7);
  const ascii = () => {
    let s = '';
    const length = 1 + Math.floor(next() * 20);
    for (let i = 0; i < length; i++) s += String.fromCharCode(0x20 + Math.floor(next() * 95)); // printable, quote and backslash too
    return s;
  };
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const type = (['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo'] as const)[Math.floor(next() * 7)]!;
    const record: IndexRecord = {
      path: next() < 0.9 ? ascii().replace(/^\/+/, 'a') : physicalPath(next),
      type,
      size: next() < 0.2 ? 0 : Math.floor(next() * 2 ** 53),
      mode: Math.floor(next() * 0o10000),
      uid: next() < 0.3 ? 0 : Math.floor(next() * 2 ** 32),
      gid: next() < 0.3 ? 0 : Math.floor(next() * 2 ** 32),
      mtimeNs: BigInt(Math.floor((next() - 0.3) * 2 ** 40)) * (next() < 0.5 ? 1_000_000_000n : 1n),
      ...(type === 'file' && next() < 0.9 ? { hash: Math.floor(next() * 2 ** 52).toString(16).padStart(16, '0') } : {}),
      ...(type === 'symlink' || next() < 0.05 ? { linkTarget: next() < 0.9 ? ascii() : bytePath(next) } : {}),
      ...(next() < 0.2 ? { inode: next() < 0.2 ? 0 : Math.floor(next() * 2 ** 32) } : {}),
      ...(next() < 0.3 ? { sourceStamp: next() < 0.9 ? `${Math.floor(next() * 1e6)}:${Math.floor(next() * 1e9)}:${ascii()}` : bytePath(next) } : {}),
      ...(type === 'hardlink' ? { linkPath: next() < 0.5 ? physicalPath(next) : ascii().replace(/^\/+/, 'a') } : {}),
      ...(type === 'char' || type === 'block' ? { devMajor: next() < 0.2 ? 0 : Math.floor(next() * 4096), devMinor: next() < 0.2 ? 0 : Math.floor(next() * 2 ** 20) } : {}),
    };
    lines.push(formatRecord(record));
  }
  // lines no run writes, near the common shape: numbers JSON refuses or reads otherwise, keys
  // repeated or out of order, spaces, unclean paths, an empty hash
  const base = '{"path":"usr/bin/ls","type":"file","size":5,"mode":"0755","uid":0,"gid":3,"mtimeNs":"1000000000","xxh64":"00ff"}';
  const variants = [
    base,
    base.replace('"size":5', '"size":05'),
    base.replace('"size":5', '"size":5e0'),
    base.replace('"size":5', '"size":-5'),
    base.replace('"uid":0', '"uid":00'),
    base.replace('"mode":"0755"', '"mode":"755"'),
    base.replace('"mode":"0755"', '"mode":"00"'),
    base.replace('"mtimeNs":"1000000000"', '"mtimeNs":"-0"'),
    base.replace('"mtimeNs":"1000000000"', '"mtimeNs":"0001"'),
    base.replace('"mtimeNs":"1000000000"', '"mtimeNs":1000000000'),
    base.replace('"mtimeNs":"1000000000"', '"mtimeNs":"1.5"'),
    base.replace('"mtimeNs":"1000000000"', '"mtimeNs":"x"'),
    base.replace('"mtimeNs":"1000000000"', '"mtimeNs":1.5'),
    base.replace('"xxh64":"00ff"', '"xxh64":""'),
    base.replace('"xxh64":"00ff"', '"xxh64":"00FF"'),
    base.replace('}', ',"size":6}'),
    base.replace('"path":"usr/bin/ls"', '"path": "usr/bin/ls"'),
    base.replace('usr/bin/ls', '../ls'),
    base.replace('usr/bin/ls', 'usr//ls'),
    base.replace('usr/bin/ls', '/usr'),
    base.replace('usr/bin/ls', 'usr/.'),
    base.replace('usr/bin/ls', ''),
    base.replace('usr/bin/ls', 'usr/b\\u0069n'),
    base.replace('"type":"file"', '"type":"attrs"'),
    base.replace('"type":"file"', '"type":"fifo"'),
    `${base} `,
    `{"type":"file",${base.slice(1).replace('"type":"file",', '')}`,
    base.replace('}', ',"linkTarget":"x"}'),
    base.replace('"xxh64":"00ff"', '"linkTarget":"a b"'),
    base.replace('}', ',"inode":07}'),
    base.replace('}', ',"inode":-7}'),
    base.replace('}', ',"inode":"7"}'),
    base.replace('}', ',"sourceStamp":7}'),
    base.replace('}', ',"inode":7,"sourceStamp":"1:2:x"}'),
    base.replace('}', ',"sourceStamp":"1:2:x","inode":7}'),
    base.replace('"type":"file"', '"type":"hardlink"').replace('}', ',"linkPath":"usr/bin/x"}'),
    base.replace('"type":"file"', '"type":"hardlink"').replace('}', ',"linkPath":"../x"}'),
    base.replace('"type":"file"', '"type":"hardlink"').replace('}', ',"linkPath":"a//x"}'),
    base.replace('"type":"file"', '"type":"char"').replace('}', ',"devMajor":1,"devMinor":2}'),
    base.replace('"type":"file"', '"type":"char"').replace('}', ',"devMajor":1}'),
    base.replace('"type":"file"', '"type":"char"').replace('}', ',"devMinor":2}'),
    base.replace('"type":"file"', '"type":"block"').replace('}', ',"devMajor":01,"devMinor":2}'),
    base.replace('"type":"file"', '"type":"socket"'),
    base.replace('"type":"file"', '"type":"unchanged"'),
  ];
  for (const line of [...lines, ...variants]) {
    assert.deepEqual(parseRecord(line), parseRecordAsJson(line), line);
    assert.deepEqual(Object.keys(parseRecord(line) ?? {}), Object.keys(parseRecordAsJson(line) ?? {}), `${line}: one shape`);
  }
});

test('parseRecord drops a member record whose path or link path is not a clean relative path; an attrs record keeps the image\'s name', () => {
  const line = (fields: Record<string, unknown>) => JSON.stringify({ path: 'a/b', type: 'file', size: 0, mode: '0644', uid: 0, gid: 0, mtimeNs: '0', ...fields });
  for (const bad of ['../x', 'a/../x', 'a/..', './a', 'a/.', '/a', 'a//b', 'a/', '']) {
    assert.equal(parseRecord(line({ path: bad })), undefined, `path ${JSON.stringify(bad)}`);
    assert.equal(parseRecord(line({ type: 'hardlink', linkPath: bad })), undefined, `link path ${JSON.stringify(bad)}`);
  }
  for (const good of ['a', 'a/b', '.a', 'a/...', '..a/b..']) assert.equal(parseRecord(line({ path: good }))?.path, good);
  assert.equal(parseRecord(line({ path: './a', type: 'attrs' }))?.path, './a');
});

test('IndexWriter leaves an index alone when a run records exactly what it holds, and rewrites it otherwise', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-index-keep-'));
  try {
    const file = path.join(dir, 'index.jsonl');
    const records: IndexRecord[] = Array.from({ length: 50 }, (_, i) => ({
      path: `d/f${i}`,
      type: 'file',
      size: i,
      mode: 0o644,
      uid: 0,
      gid: i % 3,
      mtimeNs: 1_600_000_000_123_456_789n + BigInt(i),
      hash: i.toString(16).padStart(16, '0'),
      sourceStamp: `1:${i}:2:3:4`,
    }));
    const writeAll = async (list: IndexRecord[]) => {
      const writer = new IndexWriter(file, new RecordedIndex(readIndexBytes(file)));
      for (const record of list) writer.add({ ...record });
      await writer.commit();
    };
    await writeAll(records);
    const first = fs.statSync(file);
    // the same records in another order (workers finish in any order): the file is kept
    await writeAll([...records].reverse());
    assert.equal(fs.statSync(file).ino, first.ino, 'not rewritten');
    assert.deepEqual(fs.readdirSync(dir), ['index.jsonl'], 'no temporary file left');
    const paths = () => readIndexFile(file).records.map((r) => r.path).sort();
    const all = records.map((r) => r.path).sort();
    // one record differs (a new hash): rewritten, every record there, the new one as given
    await writeAll(records.map((r, i) => (i === 7 ? { ...r, hash: 'ffffffffffffffff' } : r)));
    assert.notEqual(fs.statSync(file).ino, first.ino, 'rewritten');
    assert.deepEqual(paths(), all);
    assert.equal(readIndexFile(file).records.find((r) => r.path === 'd/f7')!.hash, 'ffffffffffffffff');
    // one record fewer: rewritten without it
    await writeAll(records.slice(1));
    assert.deepEqual(paths(), all.filter((p) => p !== 'd/f0'));
    // as many records as before but one of them twice: rewritten
    await writeAll([...records.slice(1), records[1]!]);
    assert.equal(readIndexFile(file).records.length, 50);
    assert.deepEqual([...new Set(paths())], all.filter((p) => p !== 'd/f0'));
    // (a file with a path twice is not compared: the next run rewrites it) each record as read
    // back from a clean file: unchanged, so kept
    await writeAll(records);
    assert.deepEqual(paths(), all);
    const ino = fs.statSync(file).ino;
    await writeAll(readIndexFile(file).records.map(({ line: _line, ...r }) => r));
    assert.equal(fs.statSync(file).ino, ino, 'a round trip of every record is the same index');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

