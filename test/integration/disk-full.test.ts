/**
 * A destination that fills up, and runs that cannot write every member.
 *
 * A full disk (ENOSPC) is the destination's error, not a member's: every later member would fail
 * the same way. Whichever thread meets it first - the main thread, a write worker's batch of small
 * files, a copy worker of a directory image - the run stops with one line naming the member and
 * "ENOSPC", exit 1, and the index is not written. (Before, a directory copy into a full disk
 * logged thousands of "file not written" warnings and exited 0.) A member that cannot be written
 * for a reason of its own is a warning, but the run then exits 1 all the same ("incomplete"):
 * a script must not go on to boot a zone from a tree that lacks members.
 *
 * The full disk is a 1 MiB tmpfs, so these tests need root (mount); they skip otherwise.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extract, incompleteMembers } from '../../src/index.js';
import { haveTool, isRoot, run, sh } from '../helpers/tools.js';
import { cpioArchive } from '../helpers/cpio-writer.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'zonep2v.js');

function cli(args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  return { status: result.status, stderr: result.stderr };
}

/** A source tree of `files` small files (8 KiB each, ~2.4 MiB for 300) in 10 directories, and
 *  with `large`, a 400 KiB file among them every 50 (written piecewise, not in batches). */
function smallFiles(dir: string, files: number, large = false): void {
  for (let i = 0; i < files; i++) {
    const sub = path.join(dir, `d${i % 10}`);
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, `f${i}`), Buffer.alloc(large && i % 50 === 7 ? 400 * 1024 : 8192, i & 0xff));
  }
}

/** After a run that stopped: no temporary name of ours anywhere, and no file half written
 *  (every file under `dest` is whole: the size and bytes of its source). */
function assertNothingHalfDone(source: string, dest: string): void {
  for (const name of fs.readdirSync(dest, { recursive: true }).map(String)) {
    assert.doesNotMatch(path.basename(name), /^\.zonep2v-/, `a temporary file left behind: ${name}`);
    const stat = fs.lstatSync(path.join(dest, name));
    if (stat.isFile()) assert.deepEqual(fs.readFileSync(path.join(dest, name)), fs.readFileSync(path.join(source, name)), `${name} is whole`);
  }
}

/** `source` as a GNU cpio newc image in `work` (undefined, the test skipped, without cpio). */
function cpioOf(t: TestContext, source: string, work: string): string | undefined {
  if (!haveTool('cpio')) {
    t.skip('needs GNU cpio');
    return undefined;
  }
  const image = path.join(work, 'image.cpio');
  sh('cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet > "$2"', [source, image]);
  return image;
}

function tinyDisk(t: TestContext): string | undefined {
  if (!isRoot()) {
    t.skip('needs root to mount a 1 MiB tmpfs');
    return undefined;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-full-'));
  const mnt = path.join(work, 'mnt');
  fs.mkdirSync(mnt);
  run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  t.after(() => {
    run('umount', [mnt], { okStatus: 'any' });
    fs.rmSync(work, { recursive: true, force: true });
  });
  return work;
}

test('a directory copy into a full disk stops at the first ENOSPC: one line, exit 1, no index', async (t) => {
  const work = tinyDisk(t);
  if (!work) return;
  const source = path.join(work, 'source');
  smallFiles(source, 300, true);
  const dest = path.join(work, 'mnt', 'root');
  const index = path.join(work, 'index');
  await assert.rejects(extract({ image: source, dest, indexFile: index }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'P2V_IO');
    assert.match(error.message, /ENOSPC/);
    return true;
  });
  assert.equal(fs.existsSync(index), false, 'no index for a run that stopped');
  assertNothingHalfDone(source, dest);
  fs.rmSync(dest, { recursive: true, force: true });
  const result = cli(['extract', source, dest]);
  assert.equal(result.status, 1);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /^zonep2v: .*entry "d\d\/f\d+": .*failed: ENOSPC$/);
});

test('an archive of small files (written by the workers in batches) into a full disk stops at the first ENOSPC', async (t) => {
  const work = tinyDisk(t);
  if (!work) return;
  const source = path.join(work, 'source');
  smallFiles(source, 300);
  const image = cpioOf(t, source, work);
  if (!image) return;
  const dest = path.join(work, 'mnt', 'root');
  const result = cli(['extract', image, dest]);
  assert.equal(result.status, 1);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /failed: ENOSPC\n$/);
  assertNothingHalfDone(source, dest);
});

test('an image with large files into a full disk: the file being written piecewise is not left half done', async (t) => {
  const work = tinyDisk(t);
  if (!work) return;
  const source = path.join(work, 'source');
  smallFiles(source, 300, true);
  const image = cpioOf(t, source, work);
  if (!image) return;
  const dest = path.join(work, 'mnt', 'root');
  assert.equal(cli(['extract', image, dest]).status, 1);
  assertNothingHalfDone(source, dest);
});

test('a re-run that replaces files on a full disk leaves no temporary file and the old files whole', async (t) => {
  const work = tinyDisk(t);
  if (!work) return;
  // the first image fits; the second has the same names, other and larger content
  const first = path.join(work, 'first');
  for (let i = 0; i < 40; i++) {
    fs.mkdirSync(path.join(first, `d${i % 4}`), { recursive: true });
    fs.writeFileSync(path.join(first, `d${i % 4}`, `f${i}`), Buffer.alloc(4096, 1));
  }
  const second = path.join(work, 'second');
  for (let i = 0; i < 40; i++) {
    fs.mkdirSync(path.join(second, `d${i % 4}`), { recursive: true });
    fs.writeFileSync(path.join(second, `d${i % 4}`, `f${i}`), Buffer.alloc(i % 10 === 3 ? 300 * 1024 : 40 * 1024, 2));
  }
  const dest = path.join(work, 'mnt', 'root');
  await extract({ image: first, dest });
  await assert.rejects(extract({ image: second, dest }), /ENOSPC/);
  for (const name of fs.readdirSync(dest, { recursive: true }).map(String)) {
    assert.doesNotMatch(path.basename(name), /^\.zonep2v-/, `a temporary file left behind: ${name}`);
    const file = path.join(dest, name);
    if (!fs.lstatSync(file).isFile()) continue;
    const bytes = fs.readFileSync(file);
    const whole = [path.join(first, name), path.join(second, name)].some((from) => bytes.equals(fs.readFileSync(from)));
    assert.ok(whole, `${name} is the old file or the new one, whole`);
  }
});

test('a member that cannot be written for its own reason is a warning, and the run exits 1 as incomplete', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-incomplete-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  // a name component of 300 bytes: no Linux file system takes it (ENAMETOOLONG)
  const image = path.join(work, 'image.cpio');
  fs.writeFileSync(
    image,
    cpioArchive(
      [
        { name: 'etc', type: 'dir' },
        { name: 'etc/passwd', type: 'file', data: 'root:x:0:0::/:/bin/sh\n' },
        { name: `etc/${'n'.repeat(300)}`, type: 'file', data: 'too long\n' },
      ],
      { format: 'newc' },
    ),
  );
  const result = cli(['extract', image, path.join(work, 'root')]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /ENAMETOOLONG/);
  assert.match(result.stderr, /zonep2v: incomplete: 1 member\(s\) not written or not fully applied/);
  assert.equal(fs.readFileSync(path.join(work, 'root', 'etc', 'passwd'), 'utf8'), 'root:x:0:0::/:/bin/sh\n', 'the rest is written');
  const report = await extract({ image, dest: path.join(work, 'root3') });
  assert.equal(incompleteMembers(report), 1, 'the library says the same');
  const json = spawnSync(process.execPath, [bin, 'extract', '--json', image, path.join(work, 'root2')], { encoding: 'utf8' });
  assert.equal(json.status, 1);
  assert.ok((JSON.parse(json.stdout) as { warnings: { code: string }[] }).warnings.some((w) => w.code === 'P2V_IO'));
});

test("a source file that cannot be read (EIO) is that member's warning, not the end of the run", async (t) => {
  if (!isRoot()) {
    t.skip('needs root to bind-mount a file');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-eio-'));
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  for (const name of ['a', 'b', 'c']) fs.writeFileSync(path.join(source, name), `${name}\n`);
  // reading a process' memory at address 0 fails with EIO: a real read error, as from a
  // failing disk or a soft-mounted NFS export (the process: a sleep of our own)
  const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
  const broken = path.join(source, 'b');
  const mounted = run('mount', ['--bind', `/proc/${sleeper.pid}/mem`, broken], { okStatus: 'any' }).status === 0;
  t.after(() => {
    if (mounted) run('umount', [broken], { okStatus: 'any' });
    sleeper.kill();
    fs.rmSync(work, { recursive: true, force: true });
  });
  if (!mounted) {
    t.skip('bind mounts are not allowed here');
    return;
  }
  const report = await extract({ image: source, dest: path.join(work, 'root') });
  const warning = report.warnings.find((w) => w.entry === 'b');
  assert.match(warning?.message ?? '', /read \(source\) failed: EIO/);
  assert.equal(fs.readFileSync(path.join(work, 'root', 'c'), 'utf8'), 'c\n', 'the run went on');
});
