/**
 * A second image into a tree the first one made, where the second changes what the tree holds
 * in ways a "same content, keep the file" re-run could get wrong (found by review):
 *   - a hard-link group split into separate files (same content, other modes): keeping the
 *     shared inode gave every name the last member's metadata, and a directory re-copy swapped
 *     the modes on every run;
 *   - an empty directory replaced by a file;
 *   - a member that a non-empty directory is in the way of: the run is incomplete (exit 1, the
 *     index not sealed), as a small file's failure already was.
 * Images are made by GNU cpio from real trees; the result is compared with the second tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extract, incompleteMembers } from '../../src/index.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';
import { isRoot, sh } from '../helpers/tools.js';
import { cpioWorkDir, workDir } from '../helpers/work-dir.js';

const bin = fileURLToPath(new URL('../../../bin/zonep2v.js', import.meta.url));
const when = new Date('2011-03-04T05:06:07Z');



function cpioOf(source: string, image: string, format = 'newc'): string {
  sh(`cd "$1" && find . | LC_ALL=C sort | cpio -o -H ${format} --quiet > "$2"`, [source, image]);
  return image;
}

/** v1: a, b (and big, big2) hard-linked; v2: the same contents as separate files, b and big2
 *  with other modes, every mtime as in v1. */
function linkedThenSplit(work: string): { v1: string; v2: string } {
  const v1 = path.join(work, 'v1');
  const v2 = path.join(work, 'v2');
  for (const dir of [v1, v2]) fs.mkdirSync(dir);
  const big = Buffer.alloc(600 * 1024, 0x61);
  fs.writeFileSync(path.join(v1, 'a'), 'same\n');
  fs.linkSync(path.join(v1, 'a'), path.join(v1, 'b'));
  fs.writeFileSync(path.join(v1, 'big'), big);
  fs.linkSync(path.join(v1, 'big'), path.join(v1, 'big2'));
  for (const name of ['a', 'b', 'big', 'big2']) fs.writeFileSync(path.join(v2, name), name.startsWith('big') ? big : 'same\n');
  fs.chmodSync(path.join(v2, 'b'), 0o600);
  fs.chmodSync(path.join(v2, 'big2'), 0o640);
  for (const dir of [v1, v2]) for (const name of ['a', 'b', 'big', 'big2', '.']) fs.utimesSync(path.join(dir, name), when, when);
  return { v1, v2 };
}

for (const format of ['newc', 'odc'] as const) {
  for (const withIndex of [false, true]) {
    test(`a hard-link group split by the next image (cpio ${format}${withIndex ? ', --index' : ''}): separate files, each with its own mode`, async (t) => {
      const work = cpioWorkDir(t, 'rerun');
      if (!work) return;
      const { v1, v2 } = linkedThenSplit(work);
      const dest = path.join(work, 'root');
      const indexFile = withIndex ? path.join(work, 'index') : undefined;
      await extract({ image: cpioOf(v1, path.join(work, 'v1.cpio'), format), dest, indexFile });
      assert.deepEqual(compareTrees(v1, dest, { ignoreOwners: !isRoot() }), [], 'v1 as it is');
      const report = await extract({ image: cpioOf(v2, path.join(work, 'v2.cpio'), format), dest, indexFile });
      assert.deepEqual(report.warnings, []);
      const diffs = compareTrees(v2, dest, { ignoreOwners: !isRoot() });
      assert.deepEqual(diffs, [], formatDiffs(diffs));
    });
  }
}

test('a hard-link group kept by the next image stays one group (its file is written again, its links made again)', async (t) => {
  const work = cpioWorkDir(t, 'rerun');
  if (!work) return;
  const { v1 } = linkedThenSplit(work);
  const image = cpioOf(v1, path.join(work, 'v1.cpio'));
  const dest = path.join(work, 'root');
  await extract({ image, dest });
  const again = await extract({ image, dest });
  assert.deepEqual(again.warnings, []);
  const diffs = compareTrees(v1, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});

test('with the content index, a hard-link group the next image keeps is kept: nothing rewritten', async (t) => {
  const work = cpioWorkDir(t, 'rerun');
  if (!work) return;
  const { v1 } = linkedThenSplit(work);
  const image = cpioOf(v1, path.join(work, 'v1.cpio'));
  const dest = path.join(work, 'root');
  const indexFile = path.join(work, 'index');
  await extract({ image, dest, indexFile });
  const inodes = () => ['a', 'b', 'big', 'big2'].map((name) => fs.statSync(path.join(dest, name)).ino);
  const before = inodes();
  // (another setting: the run is not settled by the seal, every member goes through the writer)
  const again = await extract({ image, dest, indexFile, devices: false });
  assert.equal(again.settledByIndex, undefined);
  assert.deepEqual([again.written, again.unchanged], [0, 2]);
  assert.deepEqual(inodes(), before, 'the same files');
});

test('a directory image whose hard-link group was split: copied as separate files, and the copy after it changes nothing', async (t) => {
  const work = workDir(t, 'rerun');
  const { v1 } = linkedThenSplit(work);
  const dest = path.join(work, 'root');
  await extract({ image: v1, dest });
  // split in the source: b becomes a copy of its own with another mode
  fs.rmSync(path.join(v1, 'b'));
  fs.writeFileSync(path.join(v1, 'b'), 'same\n');
  fs.chmodSync(path.join(v1, 'b'), 0o640);
  fs.utimesSync(path.join(v1, 'b'), when, when);
  fs.utimesSync(v1, when, when);
  await extract({ image: v1, dest });
  let diffs = compareTrees(v1, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
  const third = await extract({ image: v1, dest });
  assert.equal(third.written, 1, 'only the file of the remaining group is written again (big; big2 is linked to it again)');
  diffs = compareTrees(v1, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});

test('an empty directory replaced by a file, small or large, in the next image', async (t) => {
  const work = cpioWorkDir(t, 'rerun');
  if (!work) return;
  const v1 = path.join(work, 'v1');
  const v2 = path.join(work, 'v2');
  fs.mkdirSync(path.join(v1, 'small'), { recursive: true });
  fs.mkdirSync(path.join(v1, 'large'));
  fs.mkdirSync(v2);
  fs.writeFileSync(path.join(v2, 'small'), 'a file now\n');
  fs.writeFileSync(path.join(v2, 'large'), Buffer.alloc(700 * 1024, 0x62));
  for (const dir of [v1, v2]) fs.utimesSync(dir, when, when);
  const dest = path.join(work, 'root');
  await extract({ image: cpioOf(v1, path.join(work, 'v1.cpio')), dest });
  const report = await extract({ image: cpioOf(v2, path.join(work, 'v2.cpio')), dest });
  assert.deepEqual(report.warnings, []);
  const diffs = compareTrees(v2, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});

test('a directory replaced by a file within one directory image copy (the source changed): the file', async (t) => {
  const work = workDir(t, 'rerun');
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'd'), { recursive: true });
  const dest = path.join(work, 'root');
  await extract({ image: source, dest });
  fs.rmdirSync(path.join(source, 'd'));
  fs.writeFileSync(path.join(source, 'd'), 'was a directory\n');
  const report = await extract({ image: source, dest });
  assert.deepEqual(report.warnings, []);
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot(), ignoreRootMeta: true });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});

test('a non-empty directory in the way of a symlink or a file: the run is incomplete (exit 1), the index not sealed', async (t) => {
  const work = cpioWorkDir(t, 'rerun');
  if (!work) return;
  const v1 = path.join(work, 'v1');
  const v2 = path.join(work, 'v2');
  fs.mkdirSync(path.join(v1, 'x'), { recursive: true });
  fs.writeFileSync(path.join(v1, 'x', 'a'), 'inside\n');
  fs.mkdirSync(path.join(v1, 'y'));
  fs.writeFileSync(path.join(v1, 'y', 'b'), 'inside too\n');
  fs.mkdirSync(v2);
  fs.symlinkSync('/etc', path.join(v2, 'x'));
  fs.writeFileSync(path.join(v2, 'y'), 'a file where a directory is\n');
  const dest = path.join(work, 'root');
  await extract({ image: cpioOf(v1, path.join(work, 'v1.cpio')), dest });
  const image = cpioOf(v2, path.join(work, 'v2.cpio'));
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(image, old, old); // old enough to be sealed, were the run complete
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const indexFile = path.join(work, 'index');
  const report = await extract({ image, dest, indexFile });
  assert.deepEqual(report.warnings.map((warning) => warning.code).sort(), ['P2V_BLOCKED', 'P2V_IO']);
  assert.equal(incompleteMembers(report), 2);
  assert.doesNotMatch(fs.readFileSync(indexFile, 'utf8'), /runSeal/, 'not sealed');
  assert.equal(fs.readFileSync(path.join(dest, 'x', 'a'), 'utf8'), 'inside\n', 'the directory is left as it was');
  const cli = spawnSync(process.execPath, [bin, 'extract', image, dest], { encoding: 'utf8' });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stderr, /incomplete/);
});

test('the same image again (no index): nothing already as the image says is touched, down to the change times', async (t) => {
  const work = cpioWorkDir(t, 'rerun');
  if (!work) return;
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'usr', 'lib'), { recursive: true });
  fs.mkdirSync(path.join(source, 'etc'));
  fs.writeFileSync(path.join(source, 'etc', 'motd'), 'small\n');
  fs.writeFileSync(path.join(source, 'usr', 'lib', 'large.so'), Buffer.alloc(700 * 1024, 0x63));
  fs.symlinkSync('lib/large.so', path.join(source, 'usr', 'link'));
  const image = cpioOf(source, path.join(work, 'image.cpio'));
  const dest = path.join(work, 'root');
  await extract({ image, dest });
  // (the root itself is left out: the run's marker file comes and goes in it, run-marker.ts)
  const ctimes = () => new Map(fs.readdirSync(dest, { recursive: true }).map(String).map((name) => [name, fs.lstatSync(path.join(dest, name), { bigint: true }).ctimeNs]));
  const before = ctimes();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const again = await extract({ image, dest });
  assert.equal(again.written, 0);
  assert.deepEqual(ctimes(), before);
});
