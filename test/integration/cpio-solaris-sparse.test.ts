/**
 * Solaris sparse files in cpio (Solaris 11 `cpio -H ascii_sparse` / `-H odc_sparse`): the mode
 * has 0200000 set, the data is a holes map then the data regions only (formats.md 4.5). No
 * Solaris cpio runs here, so the members are written by the test's cpio writer byte for byte
 * as Solaris lays them out (utils.c: `%10u %20llu ` then `data hole` pairs, NUL).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import { listEntries } from '../../src/list.js';
import { bufferSource } from '../../src/io/source.js';
import { isP2VError, type P2VError } from '../../src/errors.js';
import type { Warning } from '../../src/extract/types.js';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';

const SPARSE = 0o200000;
const MiB = 1024 * 1024;

/** A Solaris holes map for `size` bytes with data regions `[start, end)`, and the stored data. */
function sparseData(size: number, regions: [number, number, string][]): Buffer {
  const pairs = regions.map(([start, end]) => `${start} ${end}`).join(' ');
  const mapLength = 32 + pairs.length + 1;
  const map = `${String(mapLength).padStart(10)} ${String(size).padStart(20)} ${pairs}\0`;
  return Buffer.concat([Buffer.from(map, 'latin1'), ...regions.map(([start, end, fill]) => Buffer.alloc(end - start, fill))]);
}

/** The logical file the same regions make. */
function logical(size: number, regions: [number, number, string][]): Buffer {
  const out = Buffer.alloc(size);
  for (const [start, end, fill] of regions) out.fill(fill, start, end);
  return out;
}

const regions: [number, number, string][] = [
  [0, 5, 'h'],
  [300_000, 300_007, 'm'],
  [MiB - 5, MiB, 'w'],
];

function members(data: Buffer): CpioMember[] {
  return [
    { name: 'var/adm/sparse', type: 'file', rawMode: 0o100644 | SPARSE, data },
    { name: 'var/adm/after', type: 'file', data: 'after' },
  ];
}

async function read(bytes: Uint8Array, chunk = bytes.length): Promise<{ bodies: Map<string, Buffer>; sizes: Map<string, number>; warnings: Warning[]; error?: P2VError }> {
  const warnings: Warning[] = [];
  const bodies = new Map<string, Buffer>();
  const sizes = new Map<string, number>();
  try {
    const opened = await listEntries({ image: 'sparse.cpio', source: bufferSource('sparse.cpio', bytes, chunk) }, warnings);
    for await (const entry of opened.entries) {
      sizes.set(entry.path, entry.size);
      if (!entry.body) continue;
      const pieces: Buffer[] = [];
      for await (const piece of entry.body.chunks()) pieces.push(Buffer.from(piece));
      bodies.set(entry.path, Buffer.concat(pieces));
    }
    return { bodies, sizes, warnings };
  } catch (error) {
    if (!isP2VError(error)) throw error;
    return { bodies, sizes, warnings, error };
  }
}

for (const format of ['newc', 'odc'] as const) {
  test(`${format}: a Solaris sparse member reads as the whole file, fed whole or in small chunks`, async () => {
    const archive = cpioArchive(members(sparseData(MiB, regions)), { format });
    for (const chunk of [archive.length, 7, 4096]) {
      const outcome = await read(archive, chunk);
      assert.equal(outcome.error, undefined, outcome.error?.oneLine());
      assert.equal(outcome.sizes.get('var/adm/sparse'), MiB);
      assert.ok(outcome.bodies.get('var/adm/sparse')!.equals(logical(MiB, regions)), `chunk ${chunk}`);
      assert.equal(outcome.bodies.get('var/adm/after')!.toString(), 'after', 'the member after it is read from the right place');
      assert.deepEqual(outcome.warnings, []);
    }
  });
}

test('extract: the sparse member becomes the whole file, with holes, and its mode has no sparse bit', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-solaris-sparse-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const image = path.join(work, 'sparse.cpio');
  // a 64 MiB file with three small regions, one at the very end
  const big: [number, number, string][] = [[0, 5, 'h'], [40 * MiB, 40 * MiB + 3, 'm'], [64 * MiB - 1, 64 * MiB, 'w']];
  fs.writeFileSync(image, cpioArchive(members(sparseData(64 * MiB, big)), { format: 'newc' }));
  const dest = path.join(work, 'root');
  const report = await extract({ image, dest });
  assert.deepEqual(report.warnings.filter((w) => w.code !== 'P2V_NOT_ROOT'), []);
  const file = path.join(dest, 'var/adm/sparse');
  const stat = fs.statSync(file);
  assert.equal(stat.size, 64 * MiB);
  assert.equal(stat.mode & 0o7777, 0o644);
  assert.ok(fs.readFileSync(file).equals(logical(64 * MiB, big)));
  assert.ok(stat.blocks * 512 < 4 * MiB, `holes stay holes (${stat.blocks * 512} bytes allocated)`);
  assert.equal(fs.readFileSync(path.join(dest, 'var/adm/after'), 'utf8'), 'after');
});

test('a damaged holes map is a one-line error at its byte offset', async () => {
  const good = sparseData(MiB, regions);
  const cases: [string, Buffer, RegExp][] = [
    ['no map', Buffer.alloc(40, 'x'), /does not start with a holes map/],
    ['map longer than the data', Buffer.concat([Buffer.from(`${'9999'.padStart(10)} ${'10'.padStart(20)} `), Buffer.alloc(8)]), /holes map of 9999 bytes in 40 bytes/],
    ['no NUL at its end', Buffer.from(good.toString('latin1').replace('\0', ' '), 'latin1'), /does not end with a NUL/],
    ['regions out of order', sparseData(MiB, [[10, 20, 'a'], [0, 5, 'b']]), /out of order/],
    ['region past the end', sparseData(100, [[90, 110, 'a']]), /past the file size 100/],
    ['data shorter than the map says', good.subarray(0, good.length - 3), /describes 17 bytes of data but the member stores 14/],
  ];
  for (const [what, data, message] of cases) {
    const outcome = await read(cpioArchive(members(data), { format: 'newc' }));
    assert.ok(outcome.error, `${what}: an error`);
    assert.equal(outcome.error.code, 'P2V_BAD_ARCHIVE', what);
    assert.match(outcome.error.message, message, what);
    assert.equal(typeof outcome.error.details.offset, 'number', what);
    assert.ok(!outcome.error.oneLine().includes('\n'), what);
  }
});
