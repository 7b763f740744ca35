/**
 * Directory images (an NFS-mounted root): the copy equals the source tree, and a second run
 * after changing 1% of the files rewrites exactly those.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { extract } from '../../src/index.js';
import { makeRichTree } from '../helpers/rich-tree.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';
import { isRoot } from '../helpers/tools.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-dir-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a directory image is copied exactly: types, modes, owners, contents, links, times', async (t) => {
  const work = tempDir(t);
  const source = path.join(work, 'source');
  makeRichTree(source);
  const dest = path.join(work, 'zone', 'root');
  const report = await extract({ image: source, dest });
  assert.deepEqual(report.chain, ['dir']);
  // Node's utimes API carries microseconds, so compare times to the second here
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot(), mtime: 'seconds' });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
  assert.equal(report.unchanged, 0);
  assert.equal(report.written, report.files);
});

test('a second copy after changing 1% of the files rewrites only those', async (t) => {
  const work = tempDir(t);
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  const count = 400;
  for (let i = 0; i < count; i++) {
    const dir = path.join(source, `d${i % 20}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `f${i}`), `content of file ${i}\n`.repeat(1 + (i % 50)));
  }
  fs.writeFileSync(path.join(source, 'large'), Buffer.alloc(3 * 1024 * 1024, 7));
  const dest = path.join(work, 'dest');
  const first = await extract({ image: source, dest });
  assert.equal(first.written, count + 1);

  const again = await extract({ image: source, dest });
  assert.equal(again.written, 0, 'nothing changed, nothing written');
  assert.equal(again.unchanged, count + 1);

  // change 1% (4 files, same size for two of them so size alone cannot tell), and the large one
  const changed = [3, 150, 277, 399];
  for (const [n, i] of changed.entries()) {
    const file = path.join(source, `d${i % 20}`, `f${i}`);
    const old = fs.readFileSync(file);
    fs.writeFileSync(file, n < 2 ? Buffer.from(old.toString().replace('content', 'CONTENT')) : Buffer.concat([old, Buffer.from('more\n')]));
  }
  const big = fs.openSync(path.join(source, 'large'), 'r+');
  fs.writeSync(big, Buffer.from('x'), 0, 1, 2 * 1024 * 1024);
  fs.closeSync(big);
  const third = await extract({ image: source, dest });
  assert.equal(third.written, changed.length + 1, 'exactly the changed files are rewritten');
  assert.equal(third.unchanged, count + 1 - changed.length - 1);
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot(), mtime: 'seconds' });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});

test('a destination inside the source tree is refused', async (t) => {
  const work = tempDir(t);
  fs.mkdirSync(path.join(work, 'src', 'sub'), { recursive: true });
  await assert.rejects(extract({ image: path.join(work, 'src'), dest: path.join(work, 'src', 'sub', 'out') }), (error: Error & { code?: string }) => error.code === 'P2V_USAGE');
});

test('a source reached through a bind mount of a directory above the destination is refused too', async (t) => {
  if (!isRoot()) return t.skip('bind mounts need root');
  const work = tempDir(t);
  const source = path.join(work, 'src');
  const view = path.join(work, 'view');
  fs.mkdirSync(path.join(source, 'a'), { recursive: true });
  fs.writeFileSync(path.join(source, 'a', 'f'), '1');
  fs.mkdirSync(view);
  const { spawnSync } = await import('node:child_process');
  if (spawnSync('mount', ['--bind', source, view]).status !== 0) return t.skip('mount --bind refused here');
  try {
    // "view" is "src" under another path: src/out lies inside the tree being read
    await assert.rejects(extract({ image: view, dest: path.join(source, 'out') }), (error: Error & { code?: string }) => error.code === 'P2V_USAGE');
    assert.deepEqual(fs.readdirSync(source), ['a'], 'nothing was written');
  } finally {
    spawnSync('umount', [view]);
  }
});

test('a small sparse source file keeps its holes (the whole-buffer copy wrote every zero)', async (t) => {
  const work = tempDir(t);
  const source = path.join(work, 'src');
  fs.mkdirSync(source);
  const file = path.join(source, 'lastlog');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, 'x', 500_000);
  fs.ftruncateSync(fd, 1024 * 1024);
  fs.closeSync(fd);
  if (fs.statSync(file).blocks * 512 >= 1024 * 1024) return t.skip('this file system does not make holes');
  const dest = path.join(work, 'root');
  await extract({ image: source, dest });
  const copy = path.join(dest, 'lastlog');
  assert.ok(fs.readFileSync(copy).equals(fs.readFileSync(file)));
  const allocated = fs.statSync(copy).blocks * 512;
  assert.ok(allocated <= 256 * 1024, `the holes stay holes (${allocated} bytes allocated for 1 MiB)`);
});
