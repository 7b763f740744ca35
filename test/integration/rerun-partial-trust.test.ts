/**
 * A re-run of the same image, with its index, into a tree that drifted in places
 * (src/extract/partial-trust.ts): what differs is put right - a file edited (small, and large
 * enough for the streamed path), a mode changed, a directory touched, a hard link broken into a
 * copy, a directory swapped for a symlink to a copy of it elsewhere - and every other member is
 * passed over on its record. The tree must end as the source (GNU cpio made the image from it),
 * the index as a fresh run writes it, and the next run is settled. A sealing run that recorded a
 * path twice is never trusted member by member.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';
import { isRoot, sh } from '../helpers/tools.js';
import { cpioWorkDir } from '../helpers/work-dir.js';

const when = new Date('2012-05-06T07:08:09Z');

function makeSource(source: string): void {
  const write = (name: string, data: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(source, name)), { recursive: true });
    fs.writeFileSync(path.join(source, name), data);
  };
  write('a/f1', 'one\n');
  write('a/sub/f2', 'two\n');
  write('b/big', Buffer.alloc(2 * 1024 * 1024 + 17, 0x62)); // past the small-file size: streamed
  write('c/f3', 'three\n');
  fs.linkSync(path.join(source, 'c/f3'), path.join(source, 'c/h3'));
  for (let i = 1; i <= 5; i++) write(`d/g${i}`, `g${i}\n`);
  write('d/big2', Buffer.alloc(2 * 1024 * 1024 + 3, 0x64)); // streamed, and passed over
  write('e/f5', 'five\n');
  write('g/data', 'data\n');
  fs.linkSync(path.join(source, 'g/data'), path.join(source, 'g/link'));
  fs.symlinkSync('sub/f2', path.join(source, 'a/link'));
  sh('find "$1" -depth -exec touch -h -d "$2" {} +', [source, when.toISOString()]);
}

/** An image older than the racy margin (io/source.ts), so the run that reads it seals its index. */
async function imageOf(source: string, image: string, names = 'find . | LC_ALL=C sort'): Promise<string> {
  sh(`cd "$1" && ${names} | cpio -o -H newc --quiet > "$2"`, [source, image]);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, fs.statSync(image).ctimeMs + 1100 - Date.now())));
  return image;
}

const recordLines = (index: string) =>
  fs
    .readFileSync(index, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{"path"'))
    .sort(); // (in the order members completed)

test('a re-run into a tree that drifted puts right what differs and passes the rest over on its records', async (t) => {
  const work = cpioWorkDir(t, 'partial-trust');
  if (!work) return;
  const source = path.join(work, 'source');
  makeSource(source);
  const image = await imageOf(source, path.join(work, 'image.cpio'));
  const dest = path.join(work, 'root');
  const index = path.join(work, 'index');
  const first = await extract({ image, dest, indexFile: index });
  assert.deepEqual(first.warnings.filter((w) => w.code !== 'P2V_NOT_ROOT'), []);
  assert.equal((await extract({ image, dest, indexFile: index })).settledByIndex, true, 'sealed');

  // the drift
  const at = (name: string) => path.join(dest, name);
  fs.writeFileSync(at('a/f1'), 'ONE\n'); // edited: same size, new mtime
  fs.chmodSync(at('e/f5'), 0o600);
  fs.utimesSync(at('b'), new Date(), new Date());
  const big = fs.openSync(at('b/big'), 'r+');
  fs.writeSync(big, 'X', 1024 * 1024);
  fs.closeSync(big);
  fs.utimesSync(at('b/big'), new Date(), new Date());
  fs.rmSync(at('c/h3'));
  fs.copyFileSync(at('c/f3'), at('c/h3')); // the link broken into a copy
  // a group edited in place through the name that holds the data (newc: the last, g/link): the
  // other name is still the same inode, as recorded - it must follow the file written anew
  fs.writeFileSync(at('g/link'), 'DATA\n');
  // a name added in the zone to a file of the image: a full run cuts it off (the file is written
  // anew), and so must this one
  fs.mkdirSync(at('x'));
  fs.linkSync(at('d/g1'), at('x/s'));
  // a/sub swapped for a symlink to a copy of it outside the tree, metadata and all: through the
  // link its member looks as recorded; it must be written into a real a/sub all the same
  const elsewhere = path.join(work, 'elsewhere');
  sh('cp -a "$1" "$2"', [at('a/sub'), elsewhere]);
  const before = fs.readFileSync(path.join(elsewhere, 'f2'));
  fs.rmSync(at('a/sub'), { recursive: true });
  fs.symlinkSync(elsewhere, at('a/sub'));
  for (const dir of ['a', 'c', 'g']) fs.utimesSync(at(dir), when, when); // only b's own mtime drifts
  fs.utimesSync(elsewhere, when, when);

  const rerun = await extract({ image, dest, indexFile: index, stats: true });
  assert.equal(rerun.settledByIndex, undefined);
  // --stats shows the check the run began with, then its setting up, as stages of their own
  const stages = rerun.stats?.map((stage) => stage.stage) ?? [];
  assert.deepEqual(stages.slice(0, 2), ['check the tree against the index', 'set up: index, writer, workers'], stages.join(', '));
  assert.deepEqual(rerun.warnings.filter((w) => w.code !== 'P2V_NOT_ROOT'), []);
  // differ: a/f1, a/sub (and a/sub/f2 beneath it, as recorded seen through the link), b, b/big,
  // c/h3 and c/f3 (a copy now), d/g1 (a name too many), e/f5, g/link (and g/data, its group);
  // placed for their mtime: a, c, d, e, g; passed over: a/link, d/g2..g5, d/big2
  assert.equal(rerun.trustedByIndex, 6, 'members passed over on their records');
  assert.equal(rerun.entries, first.entries);
  assert.equal(rerun.files, first.files);
  assert.equal(rerun.written + rerun.unchanged, first.written + first.unchanged);
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot(), ignore: ['x'] });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
  assert.notEqual(fs.statSync(at('x/s')).ino, fs.statSync(at('d/g1')).ino, 'the added name no longer shares the file');
  assert.ok(fs.lstatSync(at('a/sub')).isDirectory(), 'a real directory again');
  assert.deepEqual(fs.readFileSync(path.join(elsewhere, 'f2')), before, 'nothing written through the symlink');

  // the index is what a fresh run into an empty tree writes, and the next run is settled
  const freshIndex = path.join(work, 'fresh-index');
  await extract({ image, dest: path.join(work, 'fresh'), indexFile: freshIndex });
  assert.deepEqual(recordLines(index), recordLines(freshIndex));
  assert.equal((await extract({ image, dest, indexFile: index })).settledByIndex, true, 'settled after it');
});

test('an index that records a path twice is not trusted member by member: the full run puts the tree right', async (t) => {
  const work = cpioWorkDir(t, 'partial-trust');
  if (!work) return;
  const source = path.join(work, 'source');
  makeSource(source);
  // d/g1 twice in the image (GNU cpio archives a name as often as it is listed)
  const image = await imageOf(source, path.join(work, 'image.cpio'), '{ find . | LC_ALL=C sort; echo ./d/g1; }');
  const dest = path.join(work, 'root');
  const index = path.join(work, 'index');
  await extract({ image, dest, indexFile: index });
  assert.equal((await extract({ image, dest, indexFile: index })).settledByIndex, true, 'sealed');
  fs.writeFileSync(path.join(dest, 'a/f1'), 'ONE\n');
  const rerun = await extract({ image, dest, indexFile: index });
  assert.equal(rerun.trustedByIndex, undefined);
  assert.equal(rerun.written, 1);
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});

test('a sealing run that warned (a socket in the image, skipped) is not trusted member by member', async (t) => {
  const work = cpioWorkDir(t, 'partial-trust');
  if (!work) return;
  const source = path.join(work, 'source');
  makeSource(source);
  // GNU cpio archives a socket; no extraction can make one (a warning)
  sh(`python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$1"`, [path.join(source, 'd/socket')]);
  const image = await imageOf(source, path.join(work, 'image.cpio'));
  const dest = path.join(work, 'root');
  const index = path.join(work, 'index');
  const first = await extract({ image, dest, indexFile: index });
  assert.ok(first.warnings.some((w) => /socket/.test(w.message)), 'the socket warned');
  assert.equal((await extract({ image, dest, indexFile: index })).settledByIndex, true, 'sealed all the same');
  fs.writeFileSync(path.join(dest, 'a/f1'), 'ONE\n');
  const rerun = await extract({ image, dest, indexFile: index });
  assert.equal(rerun.trustedByIndex, undefined);
  assert.equal(rerun.written, 1);
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot(), ignore: ['d/socket'] });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});

test('an image listed children first, a directory swapped in the zone for a link to another: the run ends as a full run does', async (t) => {
  const work = cpioWorkDir(t, 'partial-trust');
  if (!work) return;
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'a/sub'), { recursive: true });
  fs.mkdirSync(path.join(source, 'c'), { recursive: true });
  fs.writeFileSync(path.join(source, 'a/sub/f2'), 'two\n');
  fs.chmodSync(path.join(source, 'a/sub/f2'), 0o600);
  fs.writeFileSync(path.join(source, 'c/f2'), 'TWO\n');
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(source, `c/k${i}`), `${i}\n`);
  sh('find "$1" -depth -exec touch -h -d "$2" {} +', [source, when.toISOString()]);
  // children before their directory, a before c, as some system images are listed
  const image = await imageOf(source, path.join(work, 'image.cpio'), '{ find ./a -depth; find ./c -depth; echo .; }');
  const dest = path.join(work, 'root');
  const index = path.join(work, 'index');
  await extract({ image, dest, indexFile: index });
  assert.equal((await extract({ image, dest, indexFile: index })).settledByIndex, true, 'sealed');
  fs.rmSync(path.join(dest, 'a/sub'), { recursive: true });
  fs.symlinkSync('../c', path.join(dest, 'a/sub'));
  fs.utimesSync(path.join(dest, 'a'), when, when);
  // the oracle: the same drift, and a full run (no index)
  const full = path.join(work, 'full');
  sh('cp -a "$1" "$2"', [dest, full]);
  await extract({ image, dest: full });

  const rerun = await extract({ image, dest, indexFile: index });
  assert.ok((rerun.trustedByIndex ?? 0) > 0, 'some members trusted');
  // a/sub/f2 comes first and goes through the link into c/f2 (the link is replaced by the
  // directory only when its member comes: a/sub/f2 is lost, by the full run too); c/f2 and c,
  // found as recorded before the run, must then be put right, not passed over
  assert.equal(fs.readFileSync(path.join(dest, 'c/f2'), 'utf8'), 'TWO\n');
  assert.equal(fs.statSync(path.join(dest, 'c')).mtimeMs, when.getTime(), "c's mtime as the image has it");
  const diffs = compareTrees(full, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});
