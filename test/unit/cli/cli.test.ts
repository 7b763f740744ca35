/**
 * The command line as users run it: `node bin/zonep2v.js ...` in a child process, checking exit
 * codes (0 ok, 1 failure, 2 usage), what goes to stdout and stderr, and that failures are one
 * line naming the image and the byte offset.
 *
 * bin/zonep2v.js imports ../dist/src/cli/main.js, so this test runs from the compiled tree in
 * dist/ (`npx tsc -p tsconfig.json && node --test dist/test/unit/cli/`); compiled anywhere else
 * it cannot find bin/ next to it and skips.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { haveTool, sh } from '../../helpers/tools.js';
import { cpioArchive } from '../../helpers/cpio-writer.js';

/** dist/test/unit/cli/ → the repository root */
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'zonep2v.js');
const compiledMain = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const sample = path.join(repoRoot, 'sample', 'solaris-root.cpio.gz');

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { input?: Uint8Array; cwd?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? repoRoot,
    input: options.input,
    // listings print dates in UTC already; TZ=UTC makes GNU cpio do the same
    env: { ...process.env, TZ: 'UTC', NO_COLOR: '1' },
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
}

function skipOutsideDist(t: TestContext): boolean {
  for (const [file, what] of [
    [bin, 'bin/zonep2v.js'],
    [compiledMain, 'dist/src/cli/main.js (run from the compiled tree in dist/)'],
    [sample, 'sample/solaris-root.cpio.gz'],
  ] as const) {
    if (!fs.existsSync(file)) {
      t.skip(`${what} not found next to this test (${file})`);
      return true;
    }
  }
  return false;
}

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

function show(r: CliResult): string {
  return `status ${r.status}\n--- stdout\n${r.stdout.slice(0, 2000)}\n--- stderr\n${r.stderr.slice(0, 2000)}`;
}

/** One line on stderr, "zonep2v: IMAGE: ... at byte N: ...". */
function assertOneLineFailure(r: CliResult, image: string, what: string): string {
  assert.equal(r.status, 1, `${what}: exit 1\n${show(r)}`);
  const err = lines(r.stderr);
  assert.equal(err.length, 1, `${what}: exactly one line on stderr\n${show(r)}`);
  const line = err[0]!;
  assert.ok(line.startsWith(`zonep2v: ${image}: `), `${what}: the line names the image "${image}": ${line}`);
  return line;
}

test('--help exits 0 and names the commands', (t) => {
  if (skipOutsideDist(t)) return;
  const r = cli(['--help']);
  assert.equal(r.status, 0, show(r));
  for (const command of ['extract', 'list', 'inspect']) assert.match(r.stdout, new RegExp(`\\b${command}\\b`));
  for (const args of [['-h'], ['extract', '--help'], ['list', '--help'], ['inspect', '--help'], ['help', 'extract']]) {
    const sub = cli(args);
    assert.equal(sub.status, 0, `${args.join(' ')}\n${show(sub)}`);
    assert.match(sub.stdout, /Usage: zonep2v/, args.join(' '));
  }
  assert.match(cli(['extract', '--help']).stdout, /--strip-absolute/);
});

test('--version and -V print the version package.json declares, exit 0', (t) => {
  if (skipOutsideDist(t)) return;
  const declared = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  for (const flag of ['--version', '-V']) {
    const r = cli([flag]);
    assert.equal(r.status, 0, show(r));
    assert.equal(r.stdout, `${declared}\n`, flag);
  }
  assert.match(cli(['--help']).stdout, /-V, --version/);
});

test('missing arguments exit 2', (t) => {
  if (skipOutsideDist(t)) return;
  for (const args of [[], ['extract'], ['extract', 'sample/solaris-root.cpio.gz'], ['list'], ['inspect']]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${JSON.stringify(args)}\n${show(r)}`);
    assert.notEqual(r.stderr, '', `${JSON.stringify(args)}: says why on stderr`);
    assert.equal(r.stdout, '', `${JSON.stringify(args)}: nothing on stdout`);
  }
});

test('unknown commands, unknown options and bad option values exit 2', (t) => {
  if (skipOutsideDist(t)) return;
  const unknown = cli(['frobnicate', 'x']);
  assert.equal(unknown.status, 2, show(unknown));
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  for (const args of [
    ['list', '--bogus', 'sample/solaris-root.cpio.gz'],
    ['inspect', '-x', 'sample/solaris-root.cpio.gz'],
    ['list', 'a', 'b'],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}\n${show(r)}`);
  }
  const dir = tempDir(t);
  for (const jobs of ['0', '-3', 'many', '1.5']) {
    const r = cli(['extract', 'sample/solaris-root.cpio.gz', path.join(dir, 'out'), '--jobs', jobs]);
    assert.equal(r.status, 2, `--jobs ${jobs}\n${show(r)}`);
    assert.equal(lines(r.stderr).length, 1, `--jobs ${jobs}: one line\n${show(r)}`);
    assert.match(r.stderr, /positive integer/);
  }
});

test('a truncated image exits 1 with one line naming the image and the byte offset', (t) => {
  if (skipOutsideDist(t)) return;
  const dir = tempDir(t);
  const gz = fs.readFileSync(sample);
  const cpio = gunzipSync(gz);
  // where usr/bin/cat's 29000 bytes start, to cut in the middle of a body
  const catAt = cpio.indexOf(Buffer.from('usr/bin/cat\0'));
  assert.ok(catAt > 0);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['half.cpio.gz', gz.subarray(0, gz.length >> 1), /gzip at byte \d+/],
    ['no-gzip-trailer.cpio.gz', gz.subarray(0, gz.length - 4), /gzip at byte \d+/],
    ['mid-body.cpio', cpio.subarray(0, catAt + 12 + 1000), /cpio\(newc\) at byte \d+.*truncated/],
    ['mid-header.cpio', cpio.subarray(0, catAt - 40), /cpio\(newc\) at byte \d+.*truncated/],
    ['no-trailer.cpio', cpio.subarray(0, cpio.indexOf(Buffer.from('TRAILER!!!')) - 110), /cpio\(newc\) at byte \d+.*TRAILER/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const image = path.join(dir, name);
    fs.writeFileSync(image, bytes);
    for (const args of [['list', image], ['list', '-v', image], ['inspect', image], ['inspect', '--json', image], ['extract', image, path.join(dir, `out-${name}`)], ['extract', '--json', image, path.join(dir, `json-${name}`)]]) {
      const r = cli(args);
      const line = assertOneLineFailure(r, image, args.join(' '));
      assert.match(line, /\bbyte\b/, `${args.join(' ')}: names the byte offset: ${line}`);
      assert.match(line, pattern, `${args.join(' ')}: ${line}`);
    }
  }
});

test('garbage, an empty file and a missing file exit 1 with one line', (t) => {
  if (skipOutsideDist(t)) return;
  const dir = tempDir(t);
  const garbage = Buffer.alloc(5000);
  let x = 12345;
  for (let i = 0; i < garbage.length; i++) garbage[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  const cases: Array<[string, Buffer | undefined, RegExp]> = [
    ['garbage.bin', garbage, /not a recognised image format/],
    ['text.txt', Buffer.from('hello, this is not an image\n'.repeat(20)), /not a recognised image format/],
    ['empty.img', Buffer.alloc(0), /empty/],
    ['bad-magic-later.cpio', Buffer.concat([gunzipSync(fs.readFileSync(sample)).subarray(0, 400), garbage]), /cpio\(newc\) at byte \d+/],
    ['missing.img', undefined, /ENOENT/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const image = path.join(dir, name);
    if (bytes) fs.writeFileSync(image, bytes);
    for (const args of [['list', image], ['inspect', image], ['extract', image, path.join(dir, `out-${name}`)]]) {
      const r = cli(args);
      const line = assertOneLineFailure(r, image, args.join(' '));
      assert.match(line, pattern, `${args.join(' ')}: ${line}`);
    }
  }
});

interface ReportJson {
  image: string;
  dest: string;
  chain: string[];
  format: string;
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  fifos: number;
  skippedSpecial: number;
  dataBytes: number;
  written: number;
  unchanged: number;
  warnings: unknown[];
  settledByIndex?: boolean;
}

function checkExtractedSample(dir: string, report: ReportJson): void {
  assert.deepEqual(report.chain, ['gzip', 'cpio(newc)']);
  assert.equal(report.format, 'cpio(newc)');
  assert.deepEqual(report.warnings, []);
  // the sample (scripts/make-sample.sh): 15 regular files (3 names of one inode among them count
  // as 1 file + 2 hard links), 4 symlinks, one FIFO, one device
  assert.equal(report.files, 15);
  assert.equal(report.hardlinks, 2);
  assert.equal(report.symlinks, 4);
  assert.equal(report.fifos, 1);
  assert.equal(report.devices + report.skippedSpecial, 1);
  assert.equal(report.entries, 39);
  assert.equal(report.dataBytes, 139422);
  assert.equal(fs.readFileSync(path.join(dir, 'etc/nodename'), 'utf8'), 'sample-host\n');
  assert.equal(fs.readlinkSync(path.join(dir, 'bin')), '/usr/bin');
  assert.equal(fs.readlinkSync(path.join(dir, 'etc/hosts')), 'inet/hosts');
  const cp = fs.statSync(path.join(dir, 'usr/bin/cp'));
  assert.equal(fs.statSync(path.join(dir, 'usr/bin/ln')).ino, cp.ino);
  assert.equal(fs.statSync(path.join(dir, 'usr/bin/mv2')).ino, cp.ino);
  assert.equal(cp.nlink, 3);
  assert.equal(fs.statSync(path.join(dir, 'usr/bin/passwd')).mode & 0o7777, 0o4555);
  assert.equal(fs.statSync(path.join(dir, 'tmp')).mode & 0o7777, 0o1777);
  assert.ok(fs.lstatSync(path.join(dir, 'etc/initpipe')).isFIFO());
}

test('extract IMAGE DIR --json prints the report; the tree is there', (t) => {
  if (skipOutsideDist(t)) return;
  const dir = path.join(tempDir(t), 'zone');
  const r = cli(['extract', 'sample/solaris-root.cpio.gz', dir, '--json']);
  assert.equal(r.status, 0, show(r));
  assert.equal(r.stderr, '', '--json: nothing on stderr');
  const report = JSON.parse(r.stdout) as ReportJson;
  assert.equal(report.image, 'sample/solaris-root.cpio.gz');
  assert.equal(report.dest, dir);
  assert.equal(report.written, 15);
  checkExtractedSample(dir, report);

  // without --json: a one-line summary on stderr, nothing on stdout; a second run finds every
  // file unchanged
  const again = cli(['extract', 'sample/solaris-root.cpio.gz', dir]);
  assert.equal(again.status, 0, show(again));
  assert.equal(again.stdout, '');
  assert.equal(lines(again.stderr).length, 1, show(again));
  assert.match(again.stderr, /^gzip → cpio\(newc\): 39 entries \(15 files, /);
  // -q: silence
  const quiet = cli(['extract', '-q', 'sample/solaris-root.cpio.gz', dir]);
  assert.equal(quiet.status, 0, show(quiet));
  assert.equal(quiet.stdout + quiet.stderr, '');
});

test('extract --index: a re-run rewrites nothing identical and repairs what changed on disk', (t) => {
  if (skipOutsideDist(t)) return;
  const work = tempDir(t);
  const dir = path.join(work, 'zone');
  const index = path.join(work, 'zone.index');
  const run = () => {
    const r = cli(['extract', 'sample/solaris-root.cpio.gz', dir, '--index', index, '--json']);
    assert.equal(r.status, 0, show(r));
    return JSON.parse(r.stdout) as ReportJson;
  };
  assert.equal(run().written, 15);
  // records in completion order (files land when their batch does): compared as a set
  const records = () =>
    fs
      .readFileSync(index, 'utf8')
      .split('\n')
      .filter((line) => !line.startsWith('{"runSeal"'))
      .sort();
  const recorded = records();
  const again = run();
  assert.deepEqual([again.written, again.unchanged], [0, 15], 'nothing rewritten');
  assert.equal(again.settledByIndex, true, 'the sample, unchanged, settled by the sealed index (see index-seal.test.ts)');
  assert.deepEqual(records(), recorded, 'the same index');

  // on disk since: a mode changed, same-size content with a new mtime, a file replaced by a
  // symlink to a file outside the tree
  const outside = path.join(work, 'outside');
  fs.writeFileSync(outside, 'untouched\n');
  fs.chmodSync(path.join(dir, 'etc/passwd'), 0o600);
  fs.writeFileSync(path.join(dir, 'etc/nodename'), 'other-host\n'.padEnd(12, '!').slice(0, 12));
  fs.rmSync(path.join(dir, 'usr/bin/passwd'));
  fs.symlinkSync(outside, path.join(dir, 'usr/bin/passwd'));
  const repaired = run();
  // (the sample's hard-link group is kept: the index says its names are the group the last run
  // made - rerun-changes.test.ts)
  assert.deepEqual([repaired.written, repaired.unchanged], [2, 13], 'the changed content and the symlink rewritten, the rest unchanged');
  assert.equal(fs.statSync(path.join(dir, 'etc/passwd')).mode & 0o7777, 0o644, 'mode restored');
  assert.equal(fs.readFileSync(path.join(dir, 'etc/nodename'), 'utf8'), 'sample-host\n', 'content restored');
  const passwd = fs.lstatSync(path.join(dir, 'usr/bin/passwd'));
  assert.ok(passwd.isFile() && (passwd.mode & 0o7777) === 0o4555, 'a setuid regular file again');
  assert.equal(fs.readFileSync(outside, 'utf8'), 'untouched\n', 'the symlink was not followed');
  assert.deepEqual(records(), recorded, 'the index records the same tree');
});

/** Fields of a `cpio -itv` line. */
const longLineRe = /^([-dlcbps][-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT]) +(\d+) (\S+) +(\S+) +(\d+|\d+, +\d+) (\w{3} [ \d]\d (?:\d\d:\d\d| \d{4})) (.*)$/;

test('list prints names; list -v looks like cpio -itv; list --json prints objects', (t) => {
  if (skipOutsideDist(t)) return;
  const names = cli(['list', 'sample/solaris-root.cpio.gz']);
  assert.equal(names.status, 0, show(names));
  assert.equal(names.stderr, '');
  const nameLines = lines(names.stdout);
  assert.equal(nameLines.length, 39);
  for (const expected of ['.', 'etc/passwd', 'usr/bin/ln', 'dev/null', 'bin']) assert.ok(nameLines.includes(expected), expected);

  const long = cli(['list', '-v', 'sample/solaris-root.cpio.gz']);
  assert.equal(long.status, 0, show(long));
  const longLines = lines(long.stdout);
  assert.equal(longLines.length, 39);
  const ours = new Map<string, RegExpMatchArray>();
  for (const line of longLines) {
    const m = line.match(longLineRe);
    assert.ok(m, `a cpio -itv line: ${JSON.stringify(line)}`);
    ours.set(m[7]!.replace(/ (->|link to) .*$/, ''), m);
  }
  assert.match(ours.get('bin')![0], /^lrwxrwxrwx +1 0 +0 +8 Oct {2}8 {2}2009 bin -> \/usr\/bin$/);
  assert.match(ours.get('etc/passwd')![0], /^-rw-r--r-- +1 0 +0 +85 Jan {2}2 {2}2011 etc\/passwd$/);
  assert.match(ours.get('usr/bin/passwd')![0], /^-r-sr-xr-x +1 0 +3 +23 /);
  assert.match(ours.get('tmp')![0], /^drwxrwxrwt /);
  assert.match(ours.get('etc/initpipe')![0], /^prw-r--r-- /);
  assert.match(ours.get('dev/null')![0], /^crw-r--r-- +1 0 +0 +13, +2 /);

  // against GNU cpio itself (numeric owners, UTC): the same line for every member GNU shows with
  // one link; for the others the link count column differs (an Entry has none), and hard links
  // are shown as "link to" the member that carries the data, with size 0
  if (haveTool('cpio')) {
    const gnu = spawnSync('cpio', ['-itvn', '--quiet'], { input: gunzipSync(fs.readFileSync(sample)), env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    assert.equal(gnu.status, 0, gnu.stderr.toString());
    const gnuLines = lines(gnu.stdout.toString('utf8'));
    assert.equal(gnuLines.length, longLines.length);
    for (const line of gnuLines) {
      const g = line.match(longLineRe);
      assert.ok(g, `GNU line parses: ${line}`);
      const name = g[7]!.replace(/ -> .*$/, '');
      const o = ours.get(name);
      assert.ok(o, `we list ${name}`);
      if (g[2] === '1') {
        assert.equal(o[0], line, `${name}: same line as cpio -itvn`);
        continue;
      }
      const hardlink = / link to /.test(o[7]!);
      for (const [i, field] of [[1, 'mode'], [3, 'uid'], [4, 'gid'], [6, 'date']] as const) assert.equal(o[i], g[i], `${name}: ${field}`);
      if (!hardlink) assert.equal(o[5], g[5], `${name}: size`);
    }
    assert.match(ours.get('usr/bin/ln')![0], / usr\/bin\/ln link to usr\/bin\/mv2$/);
  } else {
    t.diagnostic('GNU cpio not installed: list -v not compared with cpio -itv');
  }

  const json = cli(['list', '--json', 'sample/solaris-root.cpio.gz']);
  assert.equal(json.status, 0, show(json));
  const objects = lines(json.stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(objects.length, 39);
  assert.deepEqual(
    objects.find((o) => o.path === 'etc/hosts'),
    { path: 'etc/hosts', type: 'symlink', mode: '0777', uid: 0, gid: 0, size: 0, mtime: 1255003200, linkTarget: 'inet/hosts' },
  );
  assert.deepEqual(objects.find((o) => o.path === 'dev/null'), { path: 'dev/null', type: 'char', mode: '0644', uid: 0, gid: 0, size: 0, mtime: 1255003200, devMajor: 13, devMinor: 2 });
});

test('inspect --json reports the chain and the counts; inspect prints them as text', (t) => {
  if (skipOutsideDist(t)) return;
  const r = cli(['inspect', '--json', 'sample/solaris-root.cpio.gz']);
  assert.equal(r.status, 0, show(r));
  const report = JSON.parse(r.stdout) as { image: string; chain: string[]; format: string; entries: number; byType: Record<string, number>; dataBytes: number; imageSize: number; warnings: unknown[] };
  assert.equal(report.image, 'sample/solaris-root.cpio.gz');
  assert.deepEqual(report.chain, ['gzip', 'cpio(newc)']);
  assert.equal(report.format, 'cpio(newc)');
  assert.equal(report.entries, 39);
  assert.deepEqual(report.byType, { dir: 16, symlink: 4, char: 1, file: 15, fifo: 1, hardlink: 2 });
  assert.equal(Object.values(report.byType).reduce((a, b) => a + b, 0), report.entries);
  assert.equal(report.dataBytes, 139422);
  assert.equal(report.imageSize, fs.statSync(sample).size);
  assert.deepEqual(report.warnings, []);

  const textual = cli(['inspect', 'sample/solaris-root.cpio.gz']);
  assert.equal(textual.status, 0, show(textual));
  assert.match(textual.stdout, /^layers: +gzip → cpio\(newc\)$/m);
  assert.match(textual.stdout, /^entries: +39 \(/m);
  assert.match(textual.stdout, /^data: +.*\(139422 bytes\)$/m);
});

test('standard input ("-") works for extract, list and inspect', (t) => {
  if (skipOutsideDist(t)) return;
  const gz = fs.readFileSync(sample);
  const fromFile = cli(['list', '-v', 'sample/solaris-root.cpio.gz']);
  const fromStdin = cli(['list', '-v', '-'], { input: gz });
  assert.equal(fromStdin.status, 0, show(fromStdin));
  assert.equal(fromStdin.stdout, fromFile.stdout);
  // uncompressed through stdin too
  const plain = cli(['list', '-'], { input: gunzipSync(gz) });
  assert.equal(plain.status, 0, show(plain));
  assert.equal(lines(plain.stdout).length, 39);

  const inspect = cli(['inspect', '--json', '-'], { input: gz });
  assert.equal(inspect.status, 0, show(inspect));
  const inspected = JSON.parse(inspect.stdout) as { image: string; chain: string[]; entries: number };
  assert.equal(inspected.image, '-');
  assert.deepEqual(inspected.chain, ['gzip', 'cpio(newc)']);
  assert.equal(inspected.entries, 39);

  const dir = path.join(tempDir(t), 'zone');
  const r = cli(['extract', '-', dir, '--json'], { input: gz });
  assert.equal(r.status, 0, show(r));
  const report = JSON.parse(r.stdout) as ReportJson;
  assert.equal(report.image, '-');
  checkExtractedSample(dir, report);

  // a truncated stream on stdin: one line, naming "-"
  const cut = cli(['extract', '-', path.join(path.dirname(dir), 'cut')], { input: gz.subarray(0, 700) });
  assert.match(assertOneLineFailure(cut, '-', 'extract - (truncated)'), /\bbyte \d+/);
  const cutList = cli(['list', '-'], { input: gunzipSync(gz).subarray(0, 3000) });
  assert.match(assertOneLineFailure(cutList, '-', 'list - (truncated)'), /cpio\(newc\) at byte \d+/);
});

test('extract --stats: a stage table on stderr; with --json the stages are in the report', (t) => {
  if (skipOutsideDist(t)) return;
  const dir = path.join(tempDir(t), 'zone');
  const r = cli(['extract', '--stats', '--json', 'sample/solaris-root.cpio.gz', dir]);
  assert.equal(r.status, 0, show(r));
  const report = JSON.parse(r.stdout) as {
    stats: { stage: string; busyMs: number; bytes?: number; items?: number; thread: string }[];
    cpu: { processMs: number; mainOnCpuMs?: number; mainWaitingMs?: number; cores: number };
    dataBytes: number;
    imageBytes: number;
    entries: number;
    elapsedMs: number;
  };
  const stage = (name: string) => report.stats.find((s) => s.stage === name);
  const compressed = fs.statSync(sample).size;
  // every layer of the chain is a stage, with the bytes that came out of it
  assert.equal(stage('read')?.bytes, compressed, 'read: the image bytes');
  const decoded = gunzipSync(fs.readFileSync(sample)).length;
  assert.equal(stage('decode gzip')?.bytes, decoded, 'decode gzip: the decompressed bytes');
  assert.equal(stage('parse cpio(newc)')?.items, report.entries, 'parse: one item per entry');
  assert.equal(stage('hash + write (workers)')?.bytes, report.dataBytes, 'workers: the file data');
  assert.equal(stage('  of which hashing')?.items, 15, 'hashed files');
  const mainBusy = report.stats.filter((s) => s.thread === 'main').reduce((sum, s) => sum + s.busyMs, 0);
  assert.ok(mainBusy > 0 && mainBusy <= report.elapsedMs + 1, `main-thread stages (${mainBusy} ms) fit in the wall time (${report.elapsedMs} ms)`);
  // the CPU the run used: the process' (every thread), and on Linux the main thread's own
  assert.ok(report.cpu.processMs > 0 && report.cpu.cores >= 1, JSON.stringify(report.cpu));
  if (process.platform === 'linux') {
    const { mainOnCpuMs, mainWaitingMs } = report.cpu;
    assert.ok(mainOnCpuMs !== undefined && mainWaitingMs !== undefined && mainOnCpuMs > 0, JSON.stringify(report.cpu));
    // the main thread can neither run nor wait to run longer than the run lasted
    assert.ok(mainOnCpuMs + mainWaitingMs <= report.elapsedMs + 2, `${JSON.stringify(report.cpu)} within ${report.elapsedMs} ms`);
    assert.ok(mainOnCpuMs <= report.cpu.processMs + 10, 'the main thread is part of the process');
  }

  const text = cli(['extract', '--stats', 'sample/solaris-root.cpio.gz', path.join(tempDir(t), 'zone2')]);
  assert.equal(text.status, 0, show(text));
  assert.match(text.stderr, /^stage +thread +busy s/m);
  assert.match(text.stderr, /^decode gzip +main /m);
  assert.match(text.stderr, /^hash \+ write \(workers\) +workers /m);
  assert.match(text.stderr, /^cpu \d+\.\d{3} s, all threads, on \d+ core\(s\)/m);
});

test('a corrupt member inside a large .Z (decoded on its own thread) exits 1 at once, one line', (t) => {
  if (skipOutsideDist(t)) return;
  if (!haveTool('compress')) return t.skip('compress is not installed (ncompress)');
  const dir = tempDir(t);
  // 3 MB of incompressible data (so the .Z passes the decode thread's 1 MiB threshold), then
  // bytes that are no cpio header
  let seed = 7;
  const noise = new Uint8Array(3_000_000).map(() => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24);
  const archive = cpioArchive([{ name: 'big', type: 'file', data: noise }], { format: 'newc', trailer: false });
  const stream = Buffer.concat([Buffer.from(archive), Buffer.from('this is not a cpio header at all, just text\n'.repeat(2000))]);
  const image = path.join(dir, 'broken.cpio.Z');
  const made = spawnSync('compress', ['-c'], { input: stream, maxBuffer: 1 << 28 });
  fs.writeFileSync(image, made.stdout);
  assert.ok(fs.statSync(image).size > 1024 * 1024);
  const started = Date.now();
  const r = cli(['extract', image, path.join(dir, 'zone')]);
  // before the fix the stalled decode thread kept the process alive until the 120 s timeout
  assert.ok(Date.now() - started < 60_000, 'the process ends by itself');
  const line = assertOneLineFailure(r, image, 'corrupt member in a .Z');
  assert.match(line, /cpio\(newc\) at byte \d+/);
});

test('list of a damaged archive prints the members before the damage, then the one-line error', (t) => {
  if (skipOutsideDist(t)) return;
  if (!haveTool('tar')) {
    t.skip('needs GNU tar');
    return;
  }
  const work = tempDir(t);
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(source, `f${String(i).padStart(2, '0')}`), `${i}\n`.repeat(100));
  const whole = path.join(work, 'whole.tar');
  sh('tar --format=ustar -C "$1" -cf "$2" $(cd "$1" && ls)', [source, whole]);
  const cut = path.join(work, 'cut.tar');
  fs.writeFileSync(cut, fs.readFileSync(whole).subarray(0, 20_000));
  const r = cli(['list', cut]);
  assertOneLineFailure(r, cut, 'a cut tar');
  // GNU tar lists the same members before it stops
  const reference = spawnSync('tar', ['-tf', cut], { encoding: 'utf8' }).stdout;
  assert.ok(lines(reference).length > 5, 'the cut leaves whole members before it');
  assert.deepEqual(lines(r.stdout), lines(reference));
});

test('list and inspect into a pipe closed early (| head -1): exit 0, no stack trace', (t) => {
  if (skipOutsideDist(t)) return;
  const work = tempDir(t);
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  // a listing far larger than a pipe's buffer (64 KiB)
  for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(source, `a-rather-long-file-name-to-fill-the-pipe-sooner-${i}`), '');
  for (const [command, extra] of [['list', ''], ['list', '-v'], ['inspect', '']] as const) {
    // the reader waits before it closes, so the writer meets the closed pipe after it started
    const r = spawnSync('bash', ['-c', `"$1" "$2" ${command} ${extra} "$3" | (sleep 0.3; head -c 1 >/dev/null); echo "status \${PIPESTATUS[0]}" >&2`, 'bash', process.execPath, bin, command === 'inspect' ? sample : source], { encoding: 'utf8' });
    assert.equal(r.stderr.trim(), 'status 0', `${command} ${extra}: ${r.stderr}`);
  }
});

test('list prints names as their bytes, as cpio -it does (a Latin-1 name is not UTF-8)', (t) => {
  if (skipOutsideDist(t)) return;
  if (!haveTool('cpio')) {
    t.skip('needs GNU cpio');
    return;
  }
  const work = tempDir(t);
  const image = path.join(work, 'latin1.cpio');
  const name = Buffer.from('na\xefve\xff', 'latin1');
  fs.writeFileSync(image, cpioArchive([{ name: Buffer.from('.'), type: 'dir' }, { name, type: 'file', data: 'x' }, { name: 'plain', type: 'symlink', target: 'na\xefve' }], { format: 'newc' }));
  const ours = spawnSync(process.execPath, [bin, 'list', image]);
  const theirs = spawnSync('cpio', ['-it', '--quiet', '-F', image]);
  assert.equal(ours.status, 0, ours.stderr.toString());
  assert.deepEqual(ours.stdout, theirs.stdout);
  const long = spawnSync(process.execPath, [bin, 'list', '-v', image]).stdout;
  assert.ok(long.includes(Buffer.concat([Buffer.from(' '), name, Buffer.from('\n')])), 'the long listing too');
});

test('a hard link whose target is not in the image, or is a directory: the other members land, the run is incomplete (exit 1), as with GNU tar and bsdtar', async (t) => {
  if (skipOutsideDist(t)) return;
  const { tarArchive } = await import('../../helpers/tar-writer.js');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-cli-link-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const cases: [string, Parameters<typeof tarArchive>[0]][] = [
    ['missing', [{ name: 'a', data: 'abc' }, { name: 'b', typeflag: '1', linkname: 'missing' }, { name: 'c', data: 'after' }]],
    ['directory', [{ name: 'd/', typeflag: '5' }, { name: 'b', typeflag: '1', linkname: 'd' }, { name: 'c', data: 'after' }]],
  ];
  for (const [what, members] of cases) {
    const image = path.join(work, `${what}.tar`);
    fs.writeFileSync(image, tarArchive(members));
    const dest = path.join(work, what);
    const index = path.join(work, `${what}.index`);
    const result = cli(['extract', image, dest, '--index', index]);
    assert.equal(result.status, 1, `${what}: ${result.stderr}`);
    assert.match(result.stderr, /entry "b": hard-link target "(missing|d)" (does not exist|is a directory): link not made/, what);
    assert.match(result.stderr, /incomplete: 1 member/, what);
    assert.equal(fs.readFileSync(path.join(dest, 'c'), 'utf8'), 'after', `${what}: the members after it land`);
    assert.equal(fs.existsSync(path.join(dest, 'b')), false, what);
    assert.doesNotMatch(fs.readFileSync(index, 'utf8'), /"runSeal"/, `${what}: an incomplete run does not seal the index`);
  }
});
