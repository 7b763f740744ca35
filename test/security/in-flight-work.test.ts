/**
 * Work the writer does later, by path: device nodes made in batches (node-batch.ts), small files
 * written by the workers, hard links made when their target lands. A directory moved away in
 * an incremental dump (to the stash, or renamed as an unchanged inode) and replaced by a symlink
 * to outside must not lead any of it there: the move waits for all of it first. And attributes
 * planned for a hard link by a later member survive the late link.
 * The writer is driven directly with entries (a hostile dump would need a reader bug or a
 * duplicate name to get there; the writer must hold on its own).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Entry, EntryBody } from '../../src/entry.js';
import { IncrementalPlan } from '../../src/extract/incremental.js';
import type { Warning } from '../../src/extract/types.js';
import { ZoneWriter } from '../../src/extract/zone-writer.js';
import { MapLookup } from '../../src/store/recorded-index.js';
import { resolveLimits } from '../../src/limits.js';
import type { IndexRecord } from '../../src/store/content-index.js';
import { withSandbox } from '../helpers/sentinel.js';
import { haveTool, run } from '../helpers/tools.js';

const body = (text: string): EntryBody => {
  const bytes = Buffer.from(text);
  return {
    async *chunks() {
      yield bytes;
    },
    whole: () => bytes,
  };
};
const entry = (fields: Partial<Entry> & Pick<Entry, 'path' | 'type'>): Entry => ({ mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_600_000_000_000_000_000n, size: 0, offset: 0, ...fields });
const dirRecord = (p: string, inode: number): IndexRecord => ({ path: p, type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, inode });

/** A level 1 dump over a previous tree holding directory X (inode 5): every inode in use and dumped. */
async function applyIncremental(root: string, entries: Entry[]): Promise<Warning[]> {
  fs.mkdirSync(path.join(root, 'X'));
  const warnings: Warning[] = [];
  const writer = new ZoneWriter(
    { root, stripAbsolute: false, devices: true, limits: resolveLimits(undefined), previous: new MapLookup(), record: () => {}, warn: (w) => warnings.push(w) },
    { arenaBytes: 64 << 20, umaskZero: true },
  );
  writer.applyIncremental(new IncrementalPlan([dirRecord('', 2), dirRecord('X', 5)], { level: 1, date: 2, previousDate: 1, inUse: () => true, dumped: () => true }));
  try {
    for (const e of entries) await writer.put(e);
    await writer.finish();
  } finally {
    await writer.close();
  }
  return warnings;
}

/** Work below X still to come when X moves: two queued FIFOs, a file in a worker batch, a link
 *  deferred until that file lands. */
const inFlightBelowX = (): Entry[] => [
  entry({ path: 'X/p1', type: 'fifo', inode: 31 }),
  entry({ path: 'X/p2', type: 'fifo', inode: 32 }),
  entry({ path: 'X/t', type: 'file', size: 5, body: body('HELLO'), inode: 30 }),
  entry({ path: 'X/u', type: 'hardlink', linkTarget: 'X/t', inode: 30 }),
];

test('a directory stashed while work below it is in flight: queued FIFOs, a file write, a deferred link land before it moves', async () => {
  await withSandbox('in-flight-stash', async (box) => {
    await applyIncremental(box.root, [
      ...inFlightBelowX(),
      // the previous directory X is in the way of a symlink: it goes to the stash
      entry({ path: 'X', type: 'symlink', linkTarget: box.sentinelDir, mode: 0o777, inode: 40 }),
    ]);
    assert.equal(fs.readlinkSync(path.join(box.root, 'X')), box.sentinelDir);
  });
});

test('a directory moved as an unchanged inode while work below it is in flight: it lands first', async () => {
  await withSandbox('in-flight-move', async (box) => {
    await applyIncremental(box.root, [
      ...inFlightBelowX(),
      entry({ path: 'Z', type: 'unchanged', inode: 5 }), // X, unchanged, is now named Z
      entry({ path: 'X', type: 'symlink', linkTarget: box.sentinelDir, mode: 0o777, inode: 40 }),
    ]);
    assert.deepEqual(fs.readdirSync(path.join(box.root, 'Z')).sort(), ['p1', 'p2', 't', 'u'], 'what was placed below X moved with it');
    assert.equal(fs.readFileSync(path.join(box.root, 'Z/u'), 'utf8'), 'HELLO');
  });
});

const xattrsUsable = (() => {
  if (!haveTool('setfattr') || !haveTool('getfattr')) return false;
  const probe = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'zonep2v-xattr-probe-'));
  try {
    fs.writeFileSync(path.join(probe, 'f'), '');
    return run('setfattr', ['-n', 'user.probe', '-v', '1', path.join(probe, 'f')], { okStatus: 'any' }).status === 0;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
})();

test('attributes planned for a hard link after it was deferred survive the late link', { skip: xattrsUsable ? false : 'no user xattrs here (setfattr, or the file system)' }, async () => {
  await withSandbox('in-flight-attrs', async (box) => {
    const warnings: Warning[] = [];
    const writer = new ZoneWriter({ root: box.root, stripAbsolute: false, devices: true, limits: resolveLimits(undefined), previous: new MapLookup(), warn: (w) => warnings.push(w) }, { arenaBytes: 64 << 20, umaskZero: true });
    try {
      for (const e of [
        entry({ path: 'L', type: 'symlink', linkTarget: 'old', mode: 0o777 }),
        entry({ path: 'T', type: 'file', size: 5, body: body('HELLO') }),
        entry({ path: 'L', type: 'hardlink', linkTarget: 'T' }), // T in flight: deferred
        entry({ path: 'L', type: 'attrs', xattrs: new Map([['user.tag', Buffer.from('v')]]) }),
      ]) {
        await writer.put(e);
      }
      await writer.finish();
    } finally {
      await writer.close();
    }
    const L = path.join(box.root, 'L');
    assert.ok(fs.lstatSync(L).isFile());
    assert.equal(fs.lstatSync(L).ino, fs.lstatSync(path.join(box.root, 'T')).ino);
    const value = run('getfattr', ['-h', '--absolute-names', '--only-values', '-n', 'user.tag', L], { okStatus: 'any' });
    assert.equal(value.status, 0, `user.tag missing on L (${value.stderr.trim()}); warnings: ${JSON.stringify(warnings)}`);
    assert.equal(value.stdout.toString(), 'v');
  });
});
