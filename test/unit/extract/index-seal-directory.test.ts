/**
 * The index fast path for directory images (src/extract/extract.ts, index-check.ts): a copy of a
 * tree with `--index` seals the index with the source directory and the settings; the next copy
 * of the same directory walks it and compares every member with its record (the source stamp of
 * each file: identity, size, mtime, change time) while it checks the destination against the
 * records, and when both match it writes nothing and starts no writer at all. Every way the
 * source or the destination can differ must send the run down the full path, which copies what
 * changed, after which the next run is settled again.
 *
 * The source is the rich tree (set-id files, owners, hard links, symlinks, FIFOs, devices as
 * root), left to age past the one-second "racy" margin (a file changed within it is not stamped).
 */
import { test } from 'node:test';
import { getEventListeners } from 'node:events';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { extract } from '../../../src/extract/extract.js';
import type { ExtractReport } from '../../../src/extract/types.js';
import type { Entry } from '../../../src/entry.js';
import { makeRichTree } from '../../helpers/rich-tree.js';
import { compareTrees, formatDiffs } from '../../helpers/tree-compare.js';
import { isRoot } from '../../helpers/tools.js';

const aged = () => new Promise((resolve) => setTimeout(resolve, 1100));

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (relative: string) => {
    const stat = fs.lstatSync(path.join(dir, relative));
    out[relative] = `${stat.mode.toString(8)} ${stat.uid}:${stat.gid} ${stat.size} ${stat.mtimeMs} ${stat.ctimeMs} ${stat.ino}`;
    if (stat.isDirectory()) for (const name of fs.readdirSync(path.join(dir, relative)).sort()) walk(path.join(relative, name));
  };
  walk('.');
  return out;
}

async function sealedCopy(t: { after: (fn: () => void) => void }): Promise<{ source: string; dest: string; index: string; run: () => Promise<ExtractReport>; first: ExtractReport }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-dirseal-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const source = path.join(work, 'source');
  makeRichTree(source);
  await aged();
  const dest = path.join(work, 'zone', 'root');
  const index = path.join(work, 'zone', 'index');
  const run = () => extract({ image: source, dest, indexFile: index });
  const first = await run();
  assert.equal(first.settledByIndex, undefined, 'the first run copies');
  assert.match(fs.readFileSync(index, 'utf8'), /\n\{"runSeal":\{"image":"dir:[^"]+",.*"root":\{"mode":/, 'the index is sealed with the directory and its root');
  return { source, dest, index, run, first };
}

test('a re-copy of an unchanged directory into an unchanged tree is settled by the index: nothing written, the same report', async (t) => {
  const { dest, index, run, first } = await sealedCopy(t);
  const indexBefore = fs.readFileSync(index);
  const treeBefore = snapshot(dest);
  const again = await run();
  assert.equal(again.settledByIndex, true);
  assert.deepEqual([again.written, again.unchanged], [0, first.files]);
  for (const key of ['entries', 'files', 'dirs', 'symlinks', 'hardlinks', 'devices', 'fifos', 'dataBytes'] as const) assert.equal(again[key], first[key], key);
  assert.deepEqual(again.chain, ['dir']);
  assert.deepEqual(fs.readFileSync(index), indexBefore, 'the index is left as it was');
  assert.deepEqual(snapshot(dest), treeBefore, 'the tree is left as it was (not even a change time moved)');
});

test('any change to the source or the tree sends the run down the full path; once copied, the next run is settled again', async (t) => {
  const { source, dest, run } = await sealedCopy(t);
  const inSource = (p: string) => path.join(source, p);
  const inDest = (p: string) => path.join(dest, p);
  const cases: [string, () => void, { extraInDest?: boolean; sourceChanged?: boolean }][] = [
    [
      'a source file rewritten: same size, mtime put back (only the change time tells)',
      () => {
        const file = inSource('etc/inet/hosts');
        const { mtime, size } = fs.statSync(file);
        fs.writeFileSync(file, Buffer.alloc(size, 0x41));
        fs.utimesSync(file, mtime, mtime);
      },
      { sourceChanged: true },
    ],
    ['a source file chmod-ed', () => fs.chmodSync(inSource('etc/inet/hosts'), 0o640), { sourceChanged: true }],
    ["the source root's mode changed", () => fs.chmodSync(source, 0o750), { sourceChanged: true }],
    ['a source file added', () => fs.writeFileSync(inSource('etc/added'), 'new\n'), { sourceChanged: true }],
    ['a source symlink retargeted', () => {
      fs.rmSync(inSource('etc/hosts'));
      fs.symlinkSync('./inet/hostz', inSource('etc/hosts'));
    }, { sourceChanged: true }],
    ['a source directory touched', () => fs.utimesSync(inSource('opt'), 1e9, 1e9), { sourceChanged: true }],
    ["the tree's root chmod-ed", () => fs.chmodSync(dest, 0o700), {}],
    ['a file in the tree chmod-ed', () => fs.chmodSync(inDest('usr/bin/passwd'), 0o755), {}],
    ['a file in the tree removed', () => fs.rmSync(inDest('etc/shadow')), {}],
    // the full run leaves the destination's copy (directory images never delete); the index forgets it
    ['a source file removed', () => fs.rmSync(inSource('etc/added')), { sourceChanged: true, extraInDest: true }],
  ];
  for (const [what, change, { extraInDest, sourceChanged }] of cases) {
    change();
    // a source file changed within the last second is copied but not stamped, so the run after
    // the repair could not be settled; wait that second out
    if (sourceChanged) await aged();
    const repair = await run();
    assert.equal(repair.settledByIndex, undefined, `${what}: full run`);
    if (!extraInDest) {
      const diffs = compareTrees(source, dest, { ignoreOwners: !isRoot(), mtime: 'seconds' });
      assert.deepEqual(diffs, [], `${what}: ${formatDiffs(diffs)}`);
    }
    assert.equal((await run()).settledByIndex, true, `${what}: settled again once copied`);
  }
});

test('a file changed within the last second is not trusted: the run after its copy is a full one', async (t) => {
  const { source, run } = await sealedCopy(t);
  fs.appendFileSync(path.join(source, 'etc/inet/hosts'), '# edited\n');
  const editedAt = Date.now();
  assert.equal((await run()).settledByIndex, undefined, 'changed: copied');
  // (only if that copy's walk came within a second of the edit; a loaded machine may be slower)
  if (Date.now() - editedAt < 900) {
    const next = await run();
    assert.equal(next.settledByIndex, undefined, 'racy when it was copied: hashed again');
    assert.equal(next.written, 0, 'and found identical');
  }
  // once the edit is older than a second, a run stamps it (if none has yet), and the next is settled
  await aged();
  await run();
  assert.equal((await run()).settledByIndex, true);
});

test('another destination or settings: a full run', async (t) => {
  const { source, dest, index } = await sealedCopy(t);
  const other = await extract({ image: source, dest, indexFile: index, devices: false });
  assert.equal(other.settledByIndex, undefined, '--no-devices is another setting');
  assert.equal((await extract({ image: source, dest, indexFile: index, devices: false })).settledByIndex, true);
});

test('directoryMatchesIndex: a special file the sealing run skipped matches only as the same type', async () => {
  const { directoryMatchesIndex } = await import('../../../src/extract/index-check.js');
  const root = { mode: 0o755, uid: 0, gid: 0, mtimeNs: '1000000000000000000' };
  const member = (type: Entry['type'], extra: Partial<Entry> = {}): Entry => ({ path: 'dev/tty0', type, mode: 0o620, uid: 0, gid: 7, mtimeNs: 1_000_000_000_000_000_000n, size: 0, offset: 0, ...extra });
  const walk = (entries: Entry[]) =>
    (async function* () {
      yield { path: '.', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: 1_000_000_000_000_000_000n, size: 0, offset: 0 } satisfies Entry;
      yield* entries;
    })();
  // the sealing run was not root: the char device was skipped and has no record
  const skipped = [{ type: 'char' as const, path: 'dev/tty0' }];
  const records = new Map();
  assert.equal(await directoryMatchesIndex(walk([member('char', { devMajor: 3, devMinor: 0 })]), records, { root, skipped }), true, 'the same skipped device');
  assert.equal(await directoryMatchesIndex(walk([member('fifo')]), records, { root, skipped }), false, 'a FIFO now, which the run would make');
  assert.equal(await directoryMatchesIndex(walk([member('char', { devMajor: 3, devMinor: 0 })]), records, { root, skipped: [] }), false, 'no record and not skipped');
  assert.equal(await directoryMatchesIndex(walk([]), records, { root: { ...root, mode: 0o700 }, skipped }), false, "the root's mode differs from the seal's");
});

test('a long-lived AbortSignal given to many runs keeps no listener from them', async (t) => {
  const { source, dest, index } = await sealedCopy(t);
  const controller = new AbortController();
  for (let i = 0; i < 3; i++) await extract({ image: source, dest, indexFile: index, signal: controller.signal });
  await extract({ image: source, dest: `${dest}-other`, signal: controller.signal });
  t.after(() => fs.rmSync(`${dest}-other`, { recursive: true, force: true }));
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
});
