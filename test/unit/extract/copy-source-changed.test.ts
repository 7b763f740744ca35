/**
 * Directory images are copied file to file by the write workers (write-worker.ts copyFile),
 * which read one byte past the size the walk saw: a source that grew or shrank since is
 * reported (P2V_SOURCE_CHANGED) and what was read is written; one that did not is copied
 * silently. Driven through the writer with entries whose size differs from the file's.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Entry } from '../../../src/entry.js';
import type { Warning } from '../../../src/extract/types.js';
import { ZoneWriter } from '../../../src/extract/zone-writer.js';
import { MapLookup } from '../../../src/store/recorded-index.js';
import { resolveLimits } from '../../../src/limits.js';
import { sh } from '../../helpers/tools.js';

/** A fresh source and root directory for one test, removed after it. */
function sourceAndRoot(t: TestContext): { source: string; root: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-copy-changed-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const source = path.join(base, 'source');
  const root = path.join(base, 'root');
  fs.mkdirSync(source);
  fs.mkdirSync(root);
  return { source, root };
}

test('a copied source that grew or shrank since the walk is reported; one as walked is not', async (t) => {
  const { source, root } = sourceAndRoot(t);
  const files: [name: string, content: string, walkedSize: number][] = [
    ['same', 'x'.repeat(10), 10],
    ['grew', 'y'.repeat(12), 10],
    ['shrank', 'z'.repeat(8), 10],
    ['empty', '', 0],
    ['was-empty', 'w', 0],
  ];
  for (const [name, content] of files) fs.writeFileSync(path.join(source, name), content);
  const warnings: Warning[] = [];
  const writer = new ZoneWriter({ root, stripAbsolute: false, devices: true, limits: resolveLimits(undefined), previous: new MapLookup(), warn: (w) => warnings.push(w) }, { arenaBytes: 64 << 20, umaskZero: true });
  try {
    for (const [name, , size] of files) {
      const entry: Entry = { path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_600_000_000_000_000_000n, size, offset: 0, sourcePath: path.join(source, name), sourceStamp: 'x' };
      await writer.put(entry);
    }
    await writer.finish();
  } finally {
    await writer.close();
  }
  const read = (name: string) => fs.readFileSync(path.join(root, name), 'utf8');
  assert.equal(read('same'), 'x'.repeat(10));
  assert.equal(read('grew'), 'y'.repeat(10), 'the size the walk saw');
  assert.equal(read('shrank'), 'z'.repeat(8), 'what is there');
  assert.equal(read('empty'), '');
  assert.equal(read('was-empty'), '');
  const changed = warnings.filter((w) => w.code === 'P2V_SOURCE_CHANGED').map((w) => w.entry).sort();
  assert.deepEqual(changed, ['grew', 'shrank', 'was-empty'], JSON.stringify(warnings));
});

test('a large source (copied piecewise) that shrank or grew over an identical-looking destination is copied and reported, not taken as unchanged', async (t) => {
  const { source, root } = sourceAndRoot(t);
  const size = 9 * 1024 * 1024; // over the whole-copy size: streamed and compared with the destination
  const walked = Buffer.alloc(size, 0x61);
  // the destination holds what was copied last time; the source has since lost or gained a tail
  for (const name of ['shrank', 'grew', 'same']) fs.writeFileSync(path.join(root, name), walked);
  fs.writeFileSync(path.join(source, 'shrank'), walked.subarray(0, size - 4096));
  fs.writeFileSync(path.join(source, 'grew'), Buffer.concat([walked, Buffer.from('tail')]));
  fs.writeFileSync(path.join(source, 'same'), walked);
  const warnings: Warning[] = [];
  const writer = new ZoneWriter({ root, stripAbsolute: false, devices: true, limits: resolveLimits(undefined), previous: new MapLookup(), warn: (w) => warnings.push(w) }, { arenaBytes: 64 << 20, umaskZero: true });
  const results: Record<string, number> = {};
  try {
    for (const name of ['shrank', 'grew', 'same']) {
      const entry: Entry = { path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_600_000_000_000_000_000n, size, offset: 0, sourcePath: path.join(source, name), sourceStamp: 'x' };
      await writer.put(entry);
    }
    await writer.finish();
    results.written = writer.counters.written;
    results.unchanged = writer.counters.unchanged;
  } finally {
    await writer.close();
  }
  assert.equal(fs.statSync(path.join(root, 'shrank')).size, size - 4096, 'what is there now');
  assert.deepEqual(warnings.filter((w) => w.code === 'P2V_SOURCE_CHANGED').map((w) => w.entry).sort(), ['grew', 'shrank'], JSON.stringify(warnings));
  assert.deepEqual(results, { written: 2, unchanged: 1 });
});

test('a source replaced since the walk (another file, a FIFO, a directory made a symlink to elsewhere) is not copied: reported, nothing read, no hang', async (t) => {
  const { source, root } = sourceAndRoot(t);
  const elsewhere = path.join(path.dirname(source), 'elsewhere');
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(path.join(elsewhere, 'secret'), 'HOST SECRET');
  fs.mkdirSync(path.join(source, 'd'));
  fs.writeFileSync(path.join(source, 'd', 'secret'), 'listed');
  for (const name of ['same', 'other', 'fifo']) fs.writeFileSync(path.join(source, name), 'listed');
  const identity = (file: string) => {
    const stat = fs.lstatSync(file, { bigint: true });
    return `${stat.dev}:${stat.ino}`;
  };
  const listed = new Map(['same', 'other', 'fifo', 'd/secret'].map((name) => [name, identity(path.join(source, name))]));
  // the changes after the walk
  fs.writeFileSync(path.join(source, 'other.new'), 'listed'); // same content, another inode
  fs.renameSync(path.join(source, 'other.new'), path.join(source, 'other'));
  fs.rmSync(path.join(source, 'fifo'));
  sh('mkfifo "$1"', [path.join(source, 'fifo')]);
  fs.renameSync(path.join(source, 'd'), path.join(source, 'd-moved'));
  fs.symlinkSync(elsewhere, path.join(source, 'd'));
  const warnings: Warning[] = [];
  const writer = new ZoneWriter({ root, stripAbsolute: false, devices: true, limits: resolveLimits(undefined), previous: new MapLookup(), warn: (w) => warnings.push(w) }, { arenaBytes: 64 << 20, umaskZero: true });
  try {
    await writer.put({ path: 'd', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, size: 0, offset: 0 });
    for (const [name, sourceIdentity] of listed) {
      const entry: Entry = { path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_600_000_000_000_000_000n, size: 6, offset: 0, sourcePath: path.join(source, name), sourceIdentity };
      await writer.put(entry);
    }
    await writer.finish();
  } finally {
    await writer.close();
  }
  assert.equal(fs.readFileSync(path.join(root, 'same'), 'utf8'), 'listed');
  for (const name of ['other', 'fifo', 'd/secret']) assert.equal(fs.existsSync(path.join(root, name)), false, `${name} not copied`);
  const changed = warnings.filter((w) => w.code === 'P2V_SOURCE_CHANGED').map((w) => w.entry).sort();
  assert.deepEqual(changed, ['d/secret', 'fifo', 'other'], JSON.stringify(warnings));
});
