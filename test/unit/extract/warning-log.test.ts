/**
 * A run's warnings are listed up to maxListedWarnings, then counted per code (WarningLog): a
 * hostile image can make one per member. The counts still decide whether the run is complete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extract } from '../../../src/extract/extract.js';
import { incompleteMembers, maxListedWarnings } from '../../../src/extract/types.js';
import { tarArchive, type TarMember } from '../../helpers/tar-writer.js';
import { workDir } from '../../helpers/work-dir.js';

test('past the first warnings, the rest are counted per code; the incomplete ones still count', async (t) => {
  const work = workDir(t, 'warning-log');
  const refused: TarMember[] = Array.from({ length: maxListedWarnings + 200 }, (_, i) => ({ name: `../up${i}`, data: 'x' }));
  const lost: TarMember[] = Array.from({ length: 300 }, (_, i) => ({ name: `link${i}`, typeflag: '1', linkname: `missing${i}` }));
  const image = path.join(work, 'image.tar');
  fs.writeFileSync(image, tarArchive([...refused, ...lost, { name: 'kept', data: 'kept' }]));
  const report = await extract({ image, dest: path.join(work, 'root') });
  const listed = report.warnings.filter((w) => w.count === undefined);
  const summaries = report.warnings.filter((w) => w.count !== undefined);
  assert.equal(listed.length, maxListedWarnings);
  const total = (code: string) => report.warnings.filter((w) => w.code === code).reduce((sum, w) => sum + (w.count ?? 1), 0);
  assert.equal(total('P2V_LINK_TARGET'), 300, JSON.stringify(summaries));
  assert.equal(report.warnings.reduce((sum, w) => sum + (w.count ?? 1), 0), refused.length + lost.length);
  assert.ok(summaries.every((w) => /more warning\(s\) with this code, not listed/.test(w.message)));
  assert.equal(incompleteMembers(report), 300, 'every lost link counts, listed or not');
  assert.equal(fs.readFileSync(path.join(work, 'root', 'kept'), 'utf8'), 'kept');
});

test('a symlink whose target holds a NUL byte, or is empty, is a skipped member, not the end of the run', async (t) => {
  const { cpioArchive } = await import('../../helpers/cpio-writer.js');
  const work = workDir(t, 'nul-symlink');
  const image = path.join(work, 'image.cpio');
  fs.writeFileSync(
    image,
    cpioArchive(
      [
        { name: 'a', type: 'file', data: 'a' },
        { name: 's1', type: 'symlink', target: 'x\0y' },
        { name: 's2', type: 'symlink', target: '' },
        { name: 's3', type: 'symlink', target: 'a' },
        { name: 'z', type: 'file', data: 'z' },
      ],
      { format: 'newc' },
    ),
  );
  const root = path.join(work, 'root');
  const report = await extract({ image, dest: root });
  assert.deepEqual(report.warnings.map((w) => [w.code, w.entry]), [['P2V_ENTRY_INVALID', 's1'], ['P2V_ENTRY_INVALID', 's2']]);
  assert.equal(fs.readlinkSync(path.join(root, 's3')), 'a');
  assert.equal(fs.readFileSync(path.join(root, 'z'), 'utf8'), 'z');
  assert.equal(incompleteMembers(report), 0);
});

// (without the limit or without the turns, this test does not end: its timeout fails it)
test('a sparse file whose holes pass maxSparseHoleBytes fails the run with one error (holes are hashed as their zeros), and a long hole hears a stop', { timeout: 120_000 }, async (t) => {
  const { paxMember } = await import('../../helpers/tar-writer.js');
  const work = workDir(t, 'sparse-limit');
  const image = path.join(work, 'image.tar');
  const sparse = (size: number) =>
    tarArchive([
      paxMember('x', [
        ['GNU.sparse.size', String(size)],
        ['GNU.sparse.numblocks', '1'],
        ['GNU.sparse.map', '0,1'],
        ['GNU.sparse.name', 'big'],
      ]),
      { name: 'GNUSparseFile.0/big', data: 'A' },
    ]);
  // 1 PB declared in 2.5 KB: refused at the first hole past the limit, before any hashing of it
  fs.writeFileSync(image, sparse(1024 ** 5));
  await assert.rejects(extract({ image, dest: path.join(work, 'root') }), (error: Error & { code?: string }) => error.code === 'P2V_LIMIT' && /maxSparseHoleBytes/.test(error.message));
  // the limit raised past a hole of a petabyte, and the run stopped while it is hashed: the
  // stop is heard between gigabytes
  const controller = new AbortController();
  const started = extract({ image, dest: path.join(work, 'root2'), signal: controller.signal, limits: { maxSparseHoleBytes: 2 * 1024 ** 5 } });
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(started, (error: Error & { code?: string }) => error.code === 'P2V_INTERRUPTED');
});
