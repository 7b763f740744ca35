/**
 * Stopping a run: Ctrl-C (SIGINT) or SIGTERM in the CLI, an AbortSignal in the library.
 *
 * A stop must be prompt even when the input stalls (a pipe, a hung NFS server): here the image
 * comes through stdin and the test stops sending in the middle of a large file. What is in flight
 * lands or is removed, so every file left in the tree is whole and no temporary name of ours
 * stays; the CLI exits 130 with one line; a re-run completes the tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extract } from '../../src/index.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';
import { haveTool, isRoot, sh } from '../helpers/tools.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'zonep2v.js');

function countFiles(dir: string): number {
  return fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
}

for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
test(`${signal} while the input stalls in the middle of a large file: exit ${status} at once, nothing half written, a re-run completes`, async (t) => {
  if (!haveTool('cpio')) {
    t.skip('needs GNU cpio');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-stop-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const source = path.join(work, 'source');
  for (const dir of ['a', 'b', 'c']) fs.mkdirSync(path.join(source, dir), { recursive: true });
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(source, 'a', `f${i}`), `small file ${i}\n`.repeat(20));
  fs.writeFileSync(path.join(source, 'b', 'big'), Buffer.alloc(3 * 1024 * 1024, 0x5a));
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(source, 'c', `f${i}`), `later file ${i}\n`);
  const image = path.join(work, 'image.cpio');
  sh('cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet > "$2"', [source, image]);
  const bytes = fs.readFileSync(image);
  const cut = bytes.indexOf(Buffer.from('./b/big\0')) + 1536 * 1024; // half-way through b/big's data

  const dest = path.join(work, 'root');
  const child = spawn(process.execPath, [bin, 'extract', '-', dest], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => undefined); // the child closes its end when it stops
  child.stdin.write(bytes.subarray(0, cut)); // and nothing more: the input stalls
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let waited = 0; countFiles(path.join(dest, 'a')) < 200; waited += 50) {
    assert.ok(waited < 20_000, 'the first files arrive');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const stoppedAt = Date.now();
  child.kill(signal);
  const exit = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 15_000))]);
  child.stdin.destroy();
  if (exit === 'hung') child.kill('SIGKILL');
  assert.notEqual(exit, 'hung', 'stopped without waiting for the input');
  assert.ok(Date.now() - stoppedAt < 10_000, 'stopped without waiting for the input');
  assert.equal(exit, status, stderr);
  const lines = stderr.trim().split('\n');
  assert.match(lines[lines.length - 1]!, /^zonep2v: -: .*interrupted after \d+ members: every file written is whole/);
  assert.equal(fs.existsSync(path.join(dest, 'b', 'big')), false, 'the large file cut off is not left half written');
  for (const name of fs.readdirSync(dest, { recursive: true }).map(String)) {
    assert.doesNotMatch(path.basename(name), /^\.zonep2v-/, `a temporary name left behind: ${name}`);
    if (fs.lstatSync(path.join(dest, name)).isFile()) assert.deepEqual(fs.readFileSync(path.join(dest, name)), fs.readFileSync(path.join(source, name)), `${name} is whole`);
  }

  const again = await extract({ image, dest });
  assert.equal(again.warnings.length, 0);
  const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot() });
  assert.deepEqual(diffs, [], formatDiffs(diffs));
});
}

test('an AbortSignal that has fired stops the library call with P2V_INTERRUPTED and no index', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-stop-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(source, `f${i}`), `file ${i}\n`);
  const controller = new AbortController();
  controller.abort();
  const index = path.join(work, 'index');
  await assert.rejects(extract({ image: source, dest: path.join(work, 'root'), indexFile: index, signal: controller.signal }), (error: Error & { code?: string }) => error.code === 'P2V_INTERRUPTED');
  assert.equal(fs.existsSync(index), false);
  assert.equal(countFiles(path.join(work, 'root')), 0, 'no member started');
});

test('a stop during a long file-to-file copy (a directory image) ends that copy too and leaves no part of it', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-stop-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  fs.writeFileSync(path.join(source, 'small'), 'small\n');
  // 1 GiB, sparse in the source (no disk used there); a copy writes it whole, at most a few
  // GB/s: the stop comes long before the end
  fs.truncateSync((fs.writeFileSync(path.join(source, 'big'), ''), path.join(source, 'big')), 1024 * 1024 * 1024);
  const dest = path.join(work, 'root');
  const controller = new AbortController();
  const poll = setInterval(() => {
    if (fs.existsSync(path.join(dest, 'big'))) controller.abort();
  }, 2);
  t.after(() => clearInterval(poll));
  await assert.rejects(extract({ image: source, dest, signal: controller.signal }), (error: Error & { code?: string }) => error.code === 'P2V_INTERRUPTED');
  clearInterval(poll);
  assert.ok(controller.signal.aborted, 'stopped while the copy ran');
  assert.equal(fs.existsSync(path.join(dest, 'big')), false, 'the unfinished copy is removed, not finished first');
});
