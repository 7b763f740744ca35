/**
 * The directory walk (formats/dir/walk.ts with its walk thread): every name once, parents
 * first, each directory's names in byte order, the right types, link targets and hard-link groups, also when
 * the tree spans many batches and the consumer is slow (the walk thread must wait, not drop or
 * reorder), and an early stop ends the thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { walkDirectory } from '../../../src/formats/dir/walk.js';
import type { Entry } from '../../../src/entry.js';

/** The order the walk promises, computed the plain way: a directory's names in byte order,
 *  then each of its subdirectories the same way, depth first (parents before children). */
function expectedOrder(root: string): string[] {
  const out: string[] = ['.'];
  const visit = (relative: string) => {
    const names = (fs.readdirSync(Buffer.from(relative === '' ? root : `${root}/${relative}`, 'latin1'), { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare);
    const children = names.map((name) => (relative === '' ? name.toString('latin1') : `${relative}/${name.toString('latin1')}`));
    out.push(...children);
    for (const child of children) if (fs.lstatSync(Buffer.from(`${root}/${child}`, 'latin1')).isDirectory()) visit(child);
  };
  visit('');
  return out;
}

/** With the default 500 files per directory, more names than the walk thread may have in
 *  flight (8 batches of 512). */
function makeTree(filesPerDirectory = 500): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-walk-'));
  for (let d = 0; d < 12; d++) {
    const dir = path.join(root, `d${String(d).padStart(2, '0')}`);
    fs.mkdirSync(dir);
    for (let f = 0; f < filesPerDirectory; f++) fs.writeFileSync(path.join(dir, `f${f}`), `${d}/${f}`);
  }
  fs.mkdirSync(path.join(root, 'd03', 'deeper', 'still'), { recursive: true });
  fs.symlinkSync('../d00/f1', path.join(root, 'd03', 'deeper', 'link'));
  fs.writeFileSync(path.join(root, 'd00', 'f7'), 'seven');
  fs.linkSync(path.join(root, 'd00', 'f7'), path.join(root, 'd11', 'hard-7'));
  fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/not-utf8-`), Buffer.from([0xff])]), 'x'); // a name that is not UTF-8
  return root;
}

test('the walk lists every name once, in order, with types, targets and hard links, across many batches and a slow consumer', async (t) => {
  const root = makeTree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const warnings: unknown[] = [];
  const entries: Entry[] = [];
  for await (const entry of walkDirectory({ root, warn: (w) => warnings.push(w) })) {
    entries.push(entry);
    if (entries.length % 1500 === 0) await new Promise((resolve) => setTimeout(resolve, 50)); // let the walk thread run ahead and wait
  }
  assert.deepEqual(warnings, []);
  assert.deepEqual(entries.map((e) => e.path), expectedOrder(root));
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const file = byPath.get('d05/f42')!;
  assert.equal(file.type, 'file');
  assert.equal(file.size, fs.statSync(path.join(root, 'd05/f42')).size);
  assert.equal(file.sourcePath, `${root}/d05/f42`);
  const stat = fs.lstatSync(path.join(root, 'd05/f42'), { bigint: true });
  assert.equal(file.mtimeNs, stat.mtimeNs, 'mtime to the nanosecond');
  // stamped only when it was written more than a second before the walk reached it (timing
  // decides here; the next test pins both cases down)
  if (file.sourceStamp !== undefined) assert.equal(file.sourceStamp, `${stat.dev}:${stat.ino}:${stat.ctimeNs}:${stat.size}:${stat.mtimeNs}`);
  assert.equal(file.mode, Number(stat.mode) & 0o7777);
  assert.deepEqual([byPath.get('d03/deeper/link')!.type, byPath.get('d03/deeper/link')!.linkTarget], ['symlink', '../d00/f1']);
  assert.equal(byPath.get('d03/deeper/still')!.type, 'dir');
  // the second name of a hard-link group links to the first one met
  assert.deepEqual([byPath.get('d00/f7')!.type, byPath.get('d11/hard-7')!.type, byPath.get('d11/hard-7')!.linkTarget], ['file', 'hardlink', 'd00/f7']);
  assert.equal(byPath.get('not-utf8-\xff')?.type, 'file', 'names are byte strings');
  const body = byPath.get('d07/f3')!.body!;
  const pieces: Uint8Array[] = [];
  for await (const piece of body.chunks()) pieces.push(piece);
  assert.equal(Buffer.concat(pieces).toString(), '7/3');
});

test('a file changed more than a second before the walk is stamped with its identity, size, mtime and change time', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-walk-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.writeFileSync(path.join(root, 'old'), 'written before');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  fs.writeFileSync(path.join(root, 'new'), 'written just now');
  const writtenAt = Date.now();
  const entries = new Map<string, Entry>();
  for await (const entry of walkDirectory({ root, warn: () => undefined })) entries.set(entry.path, entry);
  const stat = fs.lstatSync(path.join(root, 'old'), { bigint: true });
  assert.equal(entries.get('old')!.sourceStamp, `${stat.dev}:${stat.ino}:${stat.ctimeNs}:${stat.size}:${stat.mtimeNs}`);
  // the walk began and ended within a second of the write (else a loaded machine decided it)
  if (Date.now() - writtenAt < 900) assert.equal(entries.get('new')!.sourceStamp, undefined);
});

test('a consumer that stops early stops the walk thread', async (t) => {
  const root = makeTree();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  // a live worker shows as a MessagePort among the process' active resources
  const ports = () => process.getActiveResourcesInfo().filter((kind) => kind === 'MessagePort').length;
  const before = ports();
  let seen = 0;
  let during = 0;
  for await (const _ of walkDirectory({ root, warn() {} })) {
    if (++seen === 3) {
      during = ports();
      break;
    }
  }
  assert.equal(seen, 3);
  assert.equal(during, before + 1, 'the walk thread was running');
  assert.equal(ports(), before, 'and it is gone once the consumer stopped');
});

test('a root that is not a directory is refused before any thread starts', async (t) => {
  const root = makeTree(2);
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  await assert.rejects(async () => {
    for await (const _ of walkDirectory({ root: path.join(root, 'd00', 'f1'), warn() {} })) {
      // nothing
    }
  }, /not a directory/);
});

test('the tree lister lists a directory only if it is still the one its parent listed, before and after: one swapped for a symlink to elsewhere is reported, nothing of elsewhere is listed', async (t) => {
  const { listTree } = await import('../../../src/formats/dir/tree-lister.js');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-walk-swap-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const tree = path.join(base, 'tree');
  const elsewhere = path.join(base, 'elsewhere');
  fs.mkdirSync(path.join(tree, 'd'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'd', 'inside'), 'x');
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(path.join(elsewhere, 'shadow'), 'HOST SECRET');
  const rootDev = fs.statSync(tree, { bigint: true }).dev;
  const paths: string[] = [];
  const warnings: { code: string; entry?: string }[] = [];
  // one record a batch: the walk stops after each, before it lists "d" - which is then swapped
  for (const batch of listTree(tree, rootDev, 1)) {
    paths.push(...batch.paths.split('\0').filter((p) => p !== ''));
    warnings.push(...batch.warnings);
    if (paths.includes('d') && fs.lstatSync(path.join(tree, 'd')).isDirectory()) {
      fs.renameSync(path.join(tree, 'd'), path.join(base, 'd-moved'));
      fs.symlinkSync(elsewhere, path.join(tree, 'd'));
    }
  }
  assert.deepEqual(paths, ['d']);
  assert.deepEqual(warnings.map((w) => [w.code, w.entry]), [['P2V_SOURCE_CHANGED', 'd']]);
});
