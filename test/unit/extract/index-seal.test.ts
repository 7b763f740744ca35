/**
 * The index fast path (src/extract/extract.ts, index-check.ts): a run from an image file that
 * completed seals the index with the image's identity and the run's settings; the next run of
 * the same, unchanged image into the same tree with the same settings checks the tree against
 * the records and reads nothing more. Every way the tree, the image or the settings can differ
 * must send the run down the full path, which repairs the tree.
 *
 * The image is a copy of the bundled sample (symlinks, a device, a FIFO, a hard-link group, a
 * setuid file, owners), aged past the "racy" margin (io/source.ts) before it is used.
 */
import { before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extract } from '../../../src/extract/extract.js';
import type { ExtractReport } from '../../../src/extract/types.js';
import { stdinSource } from '../../../src/io/source.js';

const sample = fileURLToPath(new URL('../../../../sample/solaris-root.cpio.gz', import.meta.url));
const isRoot = process.getuid?.() === 0;
let work = '';
let image = '';

/** a file whose ctime is older than the racy margin (1 s) */
async function agedCopy(to: string): Promise<string> {
  fs.copyFileSync(sample, to);
  const ctimeMs = fs.statSync(to).ctimeMs;
  const wait = ctimeMs + 1100 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  return to;
}

before(async () => {
  if (!fs.existsSync(sample)) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-seal-'));
  image = await agedCopy(path.join(work, 'image.cpio.gz'));
});

function skipWithoutSample(t: TestContext): boolean {
  if (fs.existsSync(sample)) return false;
  t.skip(`the bundled sample is not next to this test (${sample})`);
  return true;
}

/** A fresh tree and index for one case, extracted once (the sealing run). */
async function sealedTree(t: TestContext, name: string, devices = true): Promise<{ dir: string; index: string; run: (more?: { devices?: boolean; image?: string }) => Promise<ExtractReport> }> {
  const dir = path.join(work, name, 'root');
  const index = path.join(work, name, 'index');
  t.after(() => fs.rmSync(path.join(work, name), { recursive: true, force: true }));
  const run = (more: { devices?: boolean; image?: string } = {}) => extract({ image: more.image ?? image, dest: dir, indexFile: index, devices: more.devices ?? devices });
  const first = await run();
  assert.equal(first.settledByIndex, undefined, 'the first run reads the image');
  assert.equal(first.written, first.files);
  assert.match(fs.readFileSync(index, 'utf8'), /\n\{"runSeal":\{"image":"[^"]+",/, 'the index is sealed');
  return { dir, index, run };
}

test('a re-run of the same image into an unchanged tree is settled by the index: nothing read, nothing written, the same report', async (t) => {
  if (skipWithoutSample(t)) return;
  const { dir, index, run } = await sealedTree(t, 'same');
  const indexBefore = fs.readFileSync(index);
  const treeBefore = snapshot(dir);
  const first = await extract({ image, dest: path.join(work, 'reference'), devices: true });
  t.after(() => fs.rmSync(path.join(work, 'reference'), { recursive: true, force: true }));
  const again = await run();
  assert.equal(again.settledByIndex, true);
  assert.deepEqual([again.written, again.unchanged], [0, first.files]);
  for (const key of ['entries', 'files', 'dirs', 'symlinks', 'hardlinks', 'devices', 'fifos', 'skippedSpecial', 'dataBytes', 'imageBytes'] as const) {
    assert.equal(again[key], first[key], key);
  }
  assert.deepEqual(again.chain, first.chain);
  assert.deepEqual(again.warnings, first.warnings, 'the warnings of the sealing run again');
  assert.deepEqual(fs.readFileSync(index), indexBefore, 'the index is left as it was');
  assert.deepEqual(snapshot(dir), treeBefore, 'the tree is left as it was');
});

test('any difference in the tree sends the run down the full path, which repairs it', async (t) => {
  if (skipWithoutSample(t)) return;
  const cases: [string, (dir: string) => void, (dir: string) => void][] = [
    ['a mode changed', (d) => fs.chmodSync(path.join(d, 'etc/passwd'), 0o600), (d) => assert.equal(fs.statSync(path.join(d, 'etc/passwd')).mode & 0o7777, 0o644)],
    // the root has no record of its own: the seal keeps what the image's "." member gave it
    ['the root chmod-ed', (d) => fs.chmodSync(d, 0o700), (d) => assert.equal(fs.statSync(d).mode & 0o7777, 0o755)],
    ['a file removed', (d) => fs.rmSync(path.join(d, 'etc/group')), (d) => assert.ok(fs.statSync(path.join(d, 'etc/group')).isFile())],
    [
      'content changed (new mtime)',
      (d) => fs.writeFileSync(path.join(d, 'etc/nodename'), 'other-host!\n'),
      (d) => assert.equal(fs.readFileSync(path.join(d, 'etc/nodename'), 'utf8'), 'sample-host\n'),
    ],
    [
      'a file grown, mtime put back',
      (d) => {
        const file = path.join(d, 'etc/vfstab');
        const { mtime } = fs.statSync(file);
        fs.appendFileSync(file, '#');
        fs.utimesSync(file, mtime, mtime);
      },
      (d) => assert.equal(fs.statSync(path.join(d, 'etc/vfstab')).size, 91),
    ],
    [
      'a symlink retargeted (same length)',
      (d) => {
        fs.rmSync(path.join(d, 'usr/lib/libc.so'));
        fs.symlinkSync('libc.so.2', path.join(d, 'usr/lib/libc.so'));
      },
      (d) => assert.equal(fs.readlinkSync(path.join(d, 'usr/lib/libc.so')), 'libc.so.1'),
    ],
    [
      'a hard link broken into a copy (same content, mode and mtime)',
      (d) => {
        const link = path.join(d, 'usr/bin/cp');
        const { mtime } = fs.statSync(link);
        const content = fs.readFileSync(link);
        fs.rmSync(link);
        fs.writeFileSync(link, content, { mode: 0o644 });
        fs.utimesSync(link, mtime, mtime);
      },
      (d) => assert.equal(fs.statSync(path.join(d, 'usr/bin/cp')).ino, fs.statSync(path.join(d, 'usr/bin/mv2')).ino),
    ],
    [
      'the FIFO replaced by a file',
      (d) => {
        fs.rmSync(path.join(d, 'etc/initpipe'));
        fs.writeFileSync(path.join(d, 'etc/initpipe'), '');
      },
      (d) => assert.ok(fs.lstatSync(path.join(d, 'etc/initpipe')).isFIFO()),
    ],
    [
      'a directory mtime changed',
      (d) => fs.utimesSync(path.join(d, 'var/adm'), 1e9, 1e9),
      (d) => assert.notEqual(fs.statSync(path.join(d, 'var/adm')).mtimeMs, 1e12),
    ],
    [
      'a directory replaced by a file (ENOTDIR below it)',
      (d) => {
        fs.rmSync(path.join(d, 'var/svc'), { recursive: true });
        fs.writeFileSync(path.join(d, 'var/svc'), '');
      },
      (d) => assert.ok(fs.lstatSync(path.join(d, 'var/svc/profile/generic.xml')).isFile()),
    ],
    [
      'a directory replaced by a symlink to a copy of it elsewhere',
      (d) => {
        const elsewhere = path.join(path.dirname(d), 'elsewhere');
        fs.cpSync(path.join(d, 'var/svc'), elsewhere, { recursive: true, preserveTimestamps: true });
        fs.rmSync(path.join(d, 'var/svc'), { recursive: true });
        fs.symlinkSync(elsewhere, path.join(d, 'var/svc'));
      },
      (d) => assert.ok(fs.lstatSync(path.join(d, 'var/svc')).isDirectory()),
    ],
  ];
  if (isRoot) {
    cases.push(
      ['an owner changed', (d) => fs.lchownSync(path.join(d, 'usr/bin/ls'), 0, 0), (d) => assert.equal(fs.statSync(path.join(d, 'usr/bin/ls')).uid, 2)],
      [
        'the device replaced by a symlink to another one',
        (d) => {
          fs.rmSync(path.join(d, 'dev/null'));
          fs.symlinkSync('/dev/zero', path.join(d, 'dev/null'));
        },
        (d) => assert.ok(fs.lstatSync(path.join(d, 'dev/null')).isCharacterDevice()),
      ],
    );
  }
  for (const [what, change, repaired] of cases) {
    const { dir, run } = await sealedTree(t, what.replace(/\W+/g, '-'));
    change(dir);
    const again = await run();
    assert.equal(again.settledByIndex, undefined, `${what}: full run`);
    repaired(dir);
    const third = await run();
    assert.equal(third.settledByIndex, true, `${what}: settled again once repaired`);
  }
});

test('other settings, another image, or the image changed: a full run', async (t) => {
  if (skipWithoutSample(t)) return;
  const { dir, index, run } = await sealedTree(t, 'settings');
  const other = await run({ devices: false });
  assert.equal(other.settledByIndex, undefined, '--no-devices is another setting');
  assert.equal((await run({ devices: false })).settledByIndex, true, 'and is sealed in turn');

  // the same bytes under another name: another file
  const copy = await agedCopy(path.join(work, 'copy.cpio.gz'));
  assert.equal((await run({ image: copy, devices: false })).settledByIndex, undefined, 'another file with the same bytes');
  // a write that changes nothing visible but the ctime
  fs.utimesSync(copy, fs.statSync(copy).atime, fs.statSync(copy).mtime);
  assert.equal((await run({ image: copy, devices: false })).settledByIndex, undefined, 'the image changed (ctime)');
  // freshly written: racy, so the run does not seal
  fs.copyFileSync(sample, copy);
  const racy = await run({ image: copy, devices: false });
  assert.equal(racy.settledByIndex, undefined);
  assert.doesNotMatch(fs.readFileSync(index, 'utf8'), /"runSeal"/, 'an image written within the last second is not sealed');
  assert.equal((await run({ image: copy, devices: false })).settledByIndex, undefined, 'so the next run is a full one too');
  assert.ok(fs.existsSync(dir));
});

test('without an index, or from standard input, nothing is sealed or settled', async (t) => {
  if (skipWithoutSample(t)) return;
  const dir = path.join(work, 'plain', 'root');
  t.after(() => fs.rmSync(path.join(work, 'plain'), { recursive: true, force: true }));
  await extract({ image, dest: dir });
  assert.equal((await extract({ image, dest: dir })).settledByIndex, undefined);

  const index = path.join(work, 'plain', 'index');
  const fromStdin = () => extract({ image: '-', source: stdinSource(fs.createReadStream(image)), dest: dir, indexFile: index });
  await fromStdin();
  assert.doesNotMatch(fs.readFileSync(index, 'utf8'), /"runSeal"/, 'a stream has no identity to seal');
  assert.equal((await fromStdin()).settledByIndex, undefined);
});

/** path → type, mode, owner, size, mtime, inode of every node under `dir` */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (relative: string) => {
    const stat = fs.lstatSync(path.join(dir, relative));
    out[relative] = `${stat.mode.toString(8)} ${stat.uid}:${stat.gid} ${stat.size} ${stat.mtimeMs} ${stat.ino}`;
    if (stat.isDirectory()) for (const name of fs.readdirSync(path.join(dir, relative)).sort()) walk(path.join(relative, name));
  };
  walk('.');
  return out;
}
