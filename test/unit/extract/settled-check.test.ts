/**
 * The settled check (src/extract/settled-check.ts): the tree against the index's lines, in
 * chunks, straight through or interleaved with other work of the thread. A difference in any
 * chunk must make the answer "no", an unchanged tree "yes". The tree is big enough for several
 * chunks (3,000+ records, 512 lines a chunk), made by GNU cpio, with a hard link whose name
 * comes chunks after its target's.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extract } from '../../../src/extract/extract.js';
import { indexTrailer, readIndexBytes } from '../../../src/store/content-index.js';
import { compareTreeWithIndex, linesPerChunk, treeMatchesIndexBytes, type CheckOptions, type TreeComparison } from '../../../src/extract/settled-check.js';
import { cpioWorkDir } from '../../helpers/work-dir.js';
import { sh } from '../../helpers/tools.js';

const owners = process.getuid?.() === 0;

/** A source tree of 30 directories of 100 files, a symlink, and a hard link in the last directory
 *  to a file in the first; packed by GNU cpio (newc), extracted with an index. */
async function sealedTree(t: TestContext, withDirectories = true): Promise<{ work: string; root: string; index: string; image: string } | undefined> {
  const work = cpioWorkDir(t, 'settled-check');
  if (!work) return undefined;
  const source = path.join(work, 'source');
  for (let d = 0; d < 30; d++) {
    const dir = path.join(source, `d${String(d).padStart(2, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `f${String(f).padStart(3, '0')}`), `${d}/${f}\n`);
  }
  fs.symlinkSync('d00/f000', path.join(source, 'd29', 'zz-symlink'));
  fs.linkSync(path.join(source, 'd00', 'f001'), path.join(source, 'd29', 'zz-link'));
  const image = path.join(work, 'image.cpio');
  sh(`cd "$1" && find . ${withDirectories ? '' : '! -type d'} | LC_ALL=C sort | cpio -o -H newc --quiet > "$2"`, [source, image]);
  // an image younger than the racy margin (io/source.ts) is not trusted to seal the index
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, fs.statSync(image).ctimeMs + 1100 - Date.now())));
  const root = path.join(work, 'root');
  const index = path.join(work, 'index');
  await extract({ image, dest: root, indexFile: index });
  return { work, root, index, image };
}

async function check(root: string, index: string, split: CheckOptions): Promise<boolean> {
  const bytes = readIndexBytes(index)!;
  const { seal } = indexTrailer(bytes);
  assert.ok(seal, 'the index is sealed');
  return treeMatchesIndexBytes(bytes, root, owners, seal.root, split);
}

/** The comparison that notes what differs (a re-run's partial trust), up to `limit` members. */
async function compare(root: string, index: string, limit = Infinity): Promise<TreeComparison> {
  const bytes = readIndexBytes(index)!;
  return compareTreeWithIndex(bytes, root, owners, indexTrailer(bytes).seal!.root, { differingLimit: limit });
}

const sorted = (set: Set<string> | undefined) => (set === undefined ? undefined : [...set].sort());

const splits: [string, CheckOptions][] = [
  ['straight through', {}],
  ['interleaved', { interleave: true }],
];

test('an unchanged tree is settled, straight through or interleaved', async (t) => {
  const tree = await sealedTree(t);
  if (!tree) return;
  const lines = fs.readFileSync(tree.index, 'utf8').split('\n').length;
  assert.ok(lines > 5 * linesPerChunk, `several chunks (${lines} lines)`);
  for (const [how, split] of splits) assert.equal(await check(tree.root, tree.index, split), true, how);
});

test('a difference in any chunk is found', async (t) => {
  const tree = await sealedTree(t);
  if (!tree) return;
  // what changed, how, how to undo it, and the members that then differ
  const changes: [string, (root: string) => void, () => void, string[]][] = [];
  const late = path.join(tree.root, 'd28', 'f050');
  const early = path.join(tree.root, 'd00', 'f002');
  const stamp = (file: string) => fs.statSync(file).mtime;
  const lateTime = stamp(late);
  const earlyTime = stamp(early);
  changes.push(['a late file has another mtime', () => fs.utimesSync(late, lateTime, new Date(lateTime.getTime() + 5000)), () => fs.utimesSync(late, lateTime, lateTime), ['d28/f050']]);
  changes.push(['an early file has another mtime', () => fs.utimesSync(early, earlyTime, new Date(earlyTime.getTime() + 5000)), () => fs.utimesSync(early, earlyTime, earlyTime), ['d00/f002']]);
  const link = path.join(tree.root, 'd29', 'zz-link');
  const linkTime = stamp(link);
  changes.push([
    'the late hard link is a copy, not a link',
    () => {
      fs.unlinkSync(link);
      fs.copyFileSync(path.join(tree.root, 'd00', 'f001'), link);
      fs.utimesSync(link, linkTime, linkTime);
    },
    () => {
      fs.unlinkSync(link);
      fs.linkSync(path.join(tree.root, 'd00', 'f001'), link);
    },
    ['d00/f001'], // (newc carries the data on the group's last name: the first is the link record)
  ]);
  const dir = path.join(tree.root, 'd27');
  const moved = path.join(tree.work, 'd27-moved');
  changes.push([
    'a late directory became a symlink to a copy of it',
    () => {
      fs.renameSync(dir, moved);
      fs.symlinkSync(moved, dir);
    },
    () => {
      fs.unlinkSync(dir);
      fs.renameSync(moved, dir);
    },
    ['d27'], // (its members, seen through the link, are as recorded)
  ]);
  const symlink = path.join(tree.root, 'd29', 'zz-symlink');
  const symlinkTime = fs.lstatSync(symlink).mtime;
  const pointTo = (target: string) => {
    fs.unlinkSync(symlink);
    fs.symlinkSync(target, symlink);
    fs.lutimesSync(symlink, symlinkTime, symlinkTime); // only the target differs (same length too)
  };
  changes.push(['the late symlink points elsewhere', () => pointTo('d00/f009'), () => pointTo('d00/f000'), ['d29/zz-symlink']]);
  const extra = path.join(tree.root, 'd28', 'zz-extra');
  changes.push(['a late file has a name the index does not record (a hard link made in the zone)', () => fs.linkSync(late, extra), () => fs.unlinkSync(extra), ['d28/f050']]);
  changes.push(['a late file is gone', () => fs.renameSync(late, `${late}.gone`), () => fs.renameSync(`${late}.gone`, late), ['d28/f050']]);

  assert.equal(await check(tree.root, tree.index, {}), true, 'settled before any change');
  assert.deepEqual(await compare(tree.root, tree.index), { settled: true, differing: new Set() }, 'nothing differs before any change');
  // each change alone: the directories it touches get their times back, or their mtime would
  // be the difference found (the root's before any chunk is taken)
  const dirs = [tree.root, path.join(tree.root, 'd27'), path.join(tree.root, 'd28'), path.join(tree.root, 'd29')];
  const times = dirs.map((dir) => fs.statSync(dir).mtime);
  const restoreDirTimes = () => dirs.forEach((dir, i) => fs.lstatSync(dir).isDirectory() && fs.utimesSync(dir, times[i]!, times[i]!));
  for (const [what, change, undo, differing] of changes) {
    change(tree.root);
    restoreDirTimes();
    for (const [how, split] of splits) assert.equal(await check(tree.root, tree.index, split), false, `${what}: ${how}`);
    const compared = await compare(tree.root, tree.index);
    assert.equal(compared.settled, false, what);
    assert.deepEqual(sorted(compared.differing), differing, `${what}: what differs`);
    assert.deepEqual(await compare(tree.root, tree.index, 0), { settled: false }, `${what}: past the limit, nothing is listed`);
    undo();
    restoreDirTimes();
    assert.equal(await check(tree.root, tree.index, {}), true, `${what}: undone`);
  }
});

test('a re-run of the same image is settled, and a change in the last chunk sends it down the full path, which repairs it', async (t) => {
  const tree = await sealedTree(t);
  if (!tree) return;
  const again = await extract({ image: tree.image, dest: tree.root, indexFile: tree.index });
  assert.equal(again.settledByIndex, true);
  const late = path.join(tree.root, 'd29', 'f099');
  fs.writeFileSync(late, 'changed\n');
  const repaired = await extract({ image: tree.image, dest: tree.root, indexFile: tree.index });
  assert.equal(repaired.settledByIndex, undefined);
  assert.equal(repaired.written, 1);
  assert.equal(fs.readFileSync(late, 'utf8'), '29/99\n');
});

test('an image without directory members: a directory it implies that became a symlink is found', async (t) => {
  const tree = await sealedTree(t, false);
  if (!tree) return;
  assert.doesNotMatch(fs.readFileSync(tree.index, 'utf8'), /"type":"dir"/, 'no directory has a record');
  for (const [how, split] of splits) assert.equal(await check(tree.root, tree.index, split), true, `unchanged: ${how}`);
  const dir = path.join(tree.root, 'd28');
  const moved = path.join(tree.work, 'd28-moved');
  const rootTime = fs.statSync(tree.root).mtime;
  fs.renameSync(dir, moved);
  fs.symlinkSync(moved, dir);
  fs.utimesSync(tree.root, rootTime, rootTime);
  for (const [how, split] of splits) assert.equal(await check(tree.root, tree.index, split), false, how);
  assert.deepEqual(sorted((await compare(tree.root, tree.index)).differing), ['d28'], 'the directory is what differs');
});
