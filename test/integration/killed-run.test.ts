/**
 * A run that is killed (SIGKILL: no handler, no clean-up) and the run after it
 * (src/extract/run-marker.ts).
 *
 * The killed run leaves its marker, and a temporary name of ours where it was replacing a file.
 * The next run must remove every such leftover before it writes, so the tree ends as the image
 * says and holds nothing of ours; it must not trust a sealed index then; and while a run is
 * alive, a second run into the same tree is refused without touching it.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extract } from '../../src/index.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';
import { isRoot, sh } from '../helpers/tools.js';
import { cpioWorkDir, workDir } from '../helpers/work-dir.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'zonep2v.js');
const markerName = '.zonep2v-run';

/** Every name in `dir` (recursively) that starts like one of ours. */
function oursIn(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).filter((name) => path.basename(name).startsWith('.zonep2v-'));
}



/** A source directory holding one file, and an empty destination beside it. */
function oneFileTree(t: TestContext): { work: string; source: string; dest: string } {
  const work = workDir(t, 'killed');
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  fs.writeFileSync(path.join(source, 'file'), 'content\n');
  const dest = path.join(work, 'root');
  fs.mkdirSync(dest);
  return { work, source, dest };
}

/** A small tree with one large file, and its newc image (GNU cpio). */
function imageOf(work: string, name: string, bigByte: number): { source: string; image: string } {
  const source = path.join(work, `source-${name}`);
  for (const dir of ['a', 'b', 'c']) fs.mkdirSync(path.join(source, dir), { recursive: true });
  for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(source, 'a', `f${i}`), `small file ${i} of ${name}\n`);
  fs.writeFileSync(path.join(source, 'b', 'big'), Buffer.alloc(3 * 1024 * 1024, bigByte));
  for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(source, 'c', `f${i}`), `later file ${i}\n`);
  fs.utimesSync(source, new Date('2009-06-01T00:00:00Z'), new Date('2009-06-01T00:00:00Z'));
  const image = path.join(work, `${name}.cpio`);
  sh('cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet > "$2"', [source, image]);
  return { source, image };
}

/** The pid of a process that has ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

function startTicks(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

function writeMarker(root: string, holder: { pid: number; host?: string; start: string | null }): void {
  fs.writeFileSync(path.join(root, markerName), JSON.stringify({ host: os.hostname(), ...holder }));
}

async function sleeper(t: TestContext): Promise<ChildProcess> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

test('SIGKILL in the middle of replacing a large file: the re-run removes the temporary name and the marker, and ends as the image says', async (t) => {
  const work = cpioWorkDir(t, 'killed');
  if (!work) return;
  const first = imageOf(work, 'v1', 0x11);
  const second = imageOf(work, 'v2', 0x22); // every byte of b/big differs
  const dest = path.join(work, 'root');
  await extract({ image: first.image, dest });

  // the second image through a pipe that stalls half-way through b/big: its replacement is
  // being written under a temporary name when the process is killed
  const bytes = fs.readFileSync(second.image);
  const cut = bytes.indexOf(Buffer.from('./b/big\0')) + 1536 * 1024;
  const child = spawn(process.execPath, [bin, 'extract', '-', dest], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.on('error', () => undefined);
  child.stdin!.write(bytes.subarray(0, cut));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const temporary = () => fs.readdirSync(path.join(dest, 'b')).filter((name) => name.startsWith('.zonep2v-'));
  for (let waited = 0; temporary().length === 0; waited += 20) {
    assert.ok(waited < 20_000, 'the replacement of b/big begins');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // some of it written
  child.kill('SIGKILL');
  await exited;
  assert.ok(fs.existsSync(path.join(dest, markerName)), 'the killed run left its marker');
  assert.equal(temporary().length, 1, 'and its temporary file');
  assert.ok(fs.statSync(path.join(dest, 'b', temporary()[0]!)).size > 0);

  // other small replacements may have been in flight too (a busy machine): all of them go
  const leftovers = oursIn(dest).filter((name) => name !== markerName).length;
  const again = await extract({ image: second.image, dest });
  assert.deepEqual(again.warnings.map((warning) => warning.code), ['P2V_RECOVERED']);
  assert.match(again.warnings[0]!.message, new RegExp(`removed ${leftovers} temporary name`));
  assert.deepEqual(oursIn(dest), [], 'nothing of ours is left');
  const diffs = compareTrees(second.source, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));

  // and the run after that has nothing to recover
  const third = await extract({ image: second.image, dest });
  assert.deepEqual(third.warnings, []);
});

test('leftovers of every kind, in any directory, go; names that only look like ours stay', async (t) => {
  const work = cpioWorkDir(t, 'killed');
  if (!work) return;
  const { source, image } = imageOf(work, 'v1', 0x33);
  // the image's own files with names close to ours
  fs.writeFileSync(path.join(source, 'a', '.zonep2v-notours'), 'kept\n');
  fs.writeFileSync(path.join(source, 'a', '.zonep2v-0123456789abc'), 'kept: 13 digits\n');
  fs.utimesSync(source, new Date('2009-06-01T00:00:00Z'), new Date('2009-06-01T00:00:00Z'));
  sh('cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet > "$2"', [source, image]);
  const dest = path.join(work, 'root');
  await extract({ image, dest });

  writeMarker(dest, { pid: deadPid(), start: null });
  fs.writeFileSync(path.join(dest, 'a', '.zonep2v-0123456789ab'), 'half a file');
  fs.mkdirSync(path.join(dest, 'c', '.zonep2v-nodes-abcdef012345'));
  fs.writeFileSync(path.join(dest, 'c', '.zonep2v-nodes-abcdef012345', '0'), '');
  fs.mkdirSync(path.join(dest, '.zonep2v-stash-00112233aabb', 'deep'), { recursive: true });
  fs.symlinkSync('/etc', path.join(dest, '.zonep2v-stash-00112233aabb', 'deep', 'link'));

  const again = await extract({ image, dest });
  assert.match(again.warnings.map((warning) => warning.message).join('\n'), /removed 3 temporary name/);
  assert.deepEqual(oursIn(dest).sort(), ['a/.zonep2v-0123456789abc', 'a/.zonep2v-notours']);
  assert.ok(fs.existsSync('/etc/passwd'), 'a symlink in a leftover is removed, not followed');
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});

test('a live run holds the tree: a second run is refused (P2V_BUSY, the CLI exits 1) and writes nothing', async (t) => {
  const { source, dest } = oneFileTree(t);
  const holder = await sleeper(t);
  writeMarker(dest, { pid: holder.pid!, start: fs.existsSync('/proc/self/stat') ? startTicks(holder.pid!) : null });
  const marker = fs.readFileSync(path.join(dest, markerName));

  await assert.rejects(extract({ image: source, dest }), (error: Error & { code?: string }) => error.code === 'P2V_BUSY' && new RegExp(`pid ${holder.pid}`).test(error.message));
  const cli = spawnSync(process.execPath, [bin, 'extract', source, dest], { encoding: 'utf8' });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stderr, /another zonep2v run \(pid \d+ on .*\) is writing/);
  assert.deepEqual(fs.readdirSync(dest), [markerName], 'nothing written');
  assert.deepEqual(fs.readFileSync(path.join(dest, markerName)), marker, 'the holder\'s marker untouched');

  // the holder ends (killed): its marker no longer holds the tree
  holder.kill('SIGKILL');
  await new Promise((resolve) => holder.once('exit', resolve));
  const report = await extract({ image: source, dest });
  assert.equal(report.written, 1);
  assert.deepEqual(fs.readdirSync(dest), ['file']);
});

test('a pid used again by another process does not hold the tree (Linux: the start time differs)', async (t) => {
  if (!fs.existsSync('/proc/self/stat')) {
    t.skip('needs /proc');
    return;
  }
  const { source, dest } = oneFileTree(t);
  const other = await sleeper(t);
  writeMarker(dest, { pid: other.pid!, start: String(BigInt(startTicks(other.pid!)) - 1n) });
  const report = await extract({ image: source, dest });
  assert.equal(report.written, 1);
  assert.deepEqual(fs.readdirSync(dest), ['file']);
});

test('a sealed index is not trusted after a killed run: the tree is checked in full and its leftovers removed', async (t) => {
  const work = cpioWorkDir(t, 'killed');
  if (!work) return;
  const { source, image } = imageOf(work, 'v1', 0x44);
  // aged past the racy margin, or the image is never sealed
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(image, old, old);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const dest = path.join(work, 'root');
  const indexFile = path.join(work, 'index');
  await extract({ image, dest, indexFile });
  assert.equal((await extract({ image, dest, indexFile })).settledByIndex, true, 'sealed and settled');

  writeMarker(dest, { pid: deadPid(), start: null });
  fs.writeFileSync(path.join(dest, 'b', '.zonep2v-abcdefabcdef'), 'half a file');
  // the directories' mtimes put back: the marker alone must keep the index from being trusted
  // (as the image holds them: whole seconds)
  for (const dir of ['.', 'b']) {
    const seconds = Math.floor(fs.statSync(path.join(source, dir)).mtimeMs / 1000);
    fs.utimesSync(path.join(dest, dir), seconds, seconds);
  }
  const after = await extract({ image, dest, indexFile });
  assert.equal(after.settledByIndex, undefined, 'not settled by the index');
  assert.deepEqual(oursIn(dest), []);
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
  assert.equal((await extract({ image, dest, indexFile })).settledByIndex, true, 'and settled again after it');
});

test('the marker does not outlive a run that failed on bad input, nor change the root\'s mtime', async (t) => {
  const work = workDir(t, 'killed');
  const dest = path.join(work, 'root');
  const garbage = path.join(work, 'garbage.cpio');
  fs.writeFileSync(garbage, Buffer.concat([Buffer.from('070701'), Buffer.alloc(200, 0x41)]));
  await assert.rejects(extract({ image: garbage, dest }));
  assert.deepEqual(fs.readdirSync(dest), []);

  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(source, 'sub', 'file'), 'x\n');
  const when = new Date('2004-02-29T12:00:00Z');
  fs.utimesSync(source, when, when);
  await extract({ image: source, dest });
  assert.equal(fs.statSync(dest).mtimeMs, when.getTime(), 'the root keeps the image\'s mtime');
  assert.deepEqual(oursIn(dest), []);
});

test('the index a killed run was writing (<index>.tmp-<pid>) is removed by the next run, unless its process lives', async (t) => {
  const { work, source } = oneFileTree(t);
  const indexFile = path.join(work, 'index');
  const dead = `${indexFile}.tmp-${deadPid()}`;
  const live = `${indexFile}.tmp-${(await sleeper(t)).pid}`;
  const unrelated = `${indexFile}.tmp-notapid`;
  for (const name of [dead, live, unrelated]) fs.writeFileSync(name, '{"path":"half a record');
  await extract({ image: source, dest: path.join(work, 'root'), indexFile });
  assert.equal(fs.existsSync(dead), false, 'the dead run\'s');
  assert.ok(fs.existsSync(live), 'a live run\'s stays');
  assert.ok(fs.existsSync(unrelated), 'a name that is not ours stays');
  assert.match(fs.readFileSync(indexFile, 'utf8'), /"path":"file"/);
});

test('an image member named like the marker is left alone: no recovery, no sweep, and the index still settles', async (t) => {
  const work = workDir(t, 'killed');
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'a'), { recursive: true });
  fs.writeFileSync(path.join(source, markerName), 'the image\'s own file\n');
  fs.writeFileSync(path.join(source, 'a', '.zonep2v-0123456789ab'), 'also the image\'s\n');
  await new Promise((resolve) => setTimeout(resolve, 1100)); // past the racy second, or nothing is stamped
  const dest = path.join(work, 'root');
  const indexFile = path.join(work, 'index');
  const first = await extract({ image: source, dest, indexFile });
  assert.deepEqual(first.warnings, []);
  assert.equal(fs.readFileSync(path.join(dest, markerName), 'utf8'), 'the image\'s own file\n');
  // a full run (no index): the tree is not taken for a dead run's
  const second = await extract({ image: source, dest });
  assert.deepEqual(second.warnings, [], 'nothing recovered');
  assert.equal(fs.readFileSync(path.join(dest, 'a', '.zonep2v-0123456789ab'), 'utf8'), 'also the image\'s\n');
  assert.equal(fs.readFileSync(path.join(dest, markerName), 'utf8'), 'the image\'s own file\n');
  assert.equal((await extract({ image: source, dest, indexFile })).settledByIndex, true);
});

test('two runs of one process into the same tree (the library): the second is refused while the first runs', async (t) => {
  const work = workDir(t, 'killed');
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  fs.writeFileSync(path.join(source, 'small'), 'small\n');
  // 1 GiB, sparse in the source: its copy runs long enough to start a second run beside it
  fs.truncateSync((fs.writeFileSync(path.join(source, 'big'), 'x'), path.join(source, 'big')), 1024 * 1024 * 1024);
  const dest = path.join(work, 'root');
  const controller = new AbortController();
  const first = extract({ image: source, dest, signal: controller.signal });
  for (let waited = 0; !fs.existsSync(path.join(dest, markerName)); waited += 5) {
    assert.ok(waited < 20_000, 'the first run starts');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await assert.rejects(extract({ image: source, dest }), (error: Error & { code?: string }) => error.code === 'P2V_BUSY' && error.message.includes(`pid ${process.pid}`));
  controller.abort();
  await assert.rejects(first, (error: Error & { code?: string }) => error.code === 'P2V_INTERRUPTED');
  assert.equal(fs.existsSync(path.join(dest, markerName)), false, 'the stopped run took its marker away');
  const third = await extract({ image: source, dest }); // this process holds the tree no more
  assert.deepEqual(third.warnings, []);
});

test('an empty file named like the marker is not one of ours (ours are linked into place whole): left alone', async (t) => {
  const { source, dest } = oneFileTree(t);
  fs.writeFileSync(path.join(dest, markerName), '');
  fs.writeFileSync(path.join(dest, '.zonep2v-abcdef123456'), 'kept: no dead run of ours here');
  const report = await extract({ image: source, dest });
  assert.deepEqual(report.warnings, []);
  assert.deepEqual(fs.readdirSync(dest).sort(), ['.zonep2v-abcdef123456', markerName, 'file']);
});
