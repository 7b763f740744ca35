/**
 * xz blocks decoded in parallel (src/filters/xz/block-pool.ts): a multi-block stream from the
 * real `xz -T2` decodes on the block workers to the original bytes, and damaged or cut streams give
 * exactly the error the in-place decoder gives (ZONEP2V_XZ_THREADS=1), the first in stream order.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2VError } from '../../../src/errors.js';
import { xzFilter } from '../../../src/filters/xz.js';
import { crc32 } from '../../../src/filters/xz/checks.js';
import { PipelineStats, setActiveStats } from '../../../src/stats.js';
import { chunked, hasTool, mixedBytes, rng } from '../../helpers/bzip2-data.js';

const timeout = { timeout: 180_000 };
const noXz = !hasTool('xz') && 'xz is not installed';

function xz(args: string[], data: Uint8Array): Buffer {
  const result = spawnSync('xz', [...args, '-c'], { input: data, maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`xz failed: ${result.stderr}`);
  return result.stdout;
}

type Outcome = { data: Buffer } | { error: { code: string; message: string; offset: unknown } };

async function decode(stream: Uint8Array, threads: number): Promise<Outcome> {
  process.env.ZONEP2V_XZ_THREADS = String(threads);
  const parts: Uint8Array[] = [];
  try {
    for await (const piece of xzFilter.decode(chunked(stream, 300_000))) parts.push(piece);
  } catch (error) {
    if (!(error instanceof P2VError)) throw error;
    return { error: { code: error.code, message: error.message, offset: error.details.offset } };
  } finally {
    delete process.env.ZONEP2V_XZ_THREADS;
  }
  return { data: Buffer.concat(parts) };
}

async function sameBothWays(stream: Uint8Array, what: string): Promise<Outcome> {
  const serial = await decode(stream, 1);
  const parallel = await decode(stream, 2);
  if ('data' in serial && 'data' in parallel) assert.ok(serial.data.equals(parallel.data), `${what}: same bytes`);
  else assert.deepEqual(parallel, serial, `${what}: same verdict`);
  return parallel;
}

test('xz -T2 multi-block streams decode on the block workers, in order', { skip: noXz, ...timeout }, async () => {
  const data = mixedBytes(9_000_000, 1);
  const stream = xz(['-6', '-T2', '--block-size=1MiB'], data);
  const stats = new PipelineStats();
  setActiveStats(stats);
  let outcome: Outcome;
  try {
    outcome = await decode(stream, 2);
  } finally {
    setActiveStats(undefined);
  }
  assert.ok('data' in outcome && outcome.data.equals(Buffer.from(data)), 'the original bytes');
  const workers = stats.report().find((s) => s.stage === 'decode xz blocks (workers)');
  assert.ok(workers && workers.items! >= 9, `blocks decoded on workers: ${workers?.items}`);
  assert.equal(workers.bytes, data.length);
});

test('xz blocks: damage anywhere gives the in-place error (first in stream order)', { skip: noXz, ...timeout }, async () => {
  const stream = xz(['-6', '-T2', '--block-size=256KiB', '--check=crc64'], mixedBytes(2_500_000, 2));
  const next = rng(3);
  let errors = 0;
  for (let round = 0; round < 30; round++) {
    const damaged = Uint8Array.from(stream);
    // one or two hits: with two, a later block may break first in time but not in order
    for (let k = 1 + (round % 2); k > 0; k--) damaged[12 + Math.floor(next() * (damaged.length - 12))] ^= 1 << (round % 8);
    if ('error' in (await sameBothWays(damaged, `round ${round}`))) errors++;
  }
  assert.ok(errors >= 25, `${errors} of 30 damaged streams rejected`);
});

test('xz blocks: cut anywhere gives the in-place truncation error', { skip: noXz, ...timeout }, async () => {
  const stream = xz(['-6', '-T2', '--block-size=256KiB'], mixedBytes(1_500_000, 4));
  for (const fraction of [0.1, 0.3, 0.5, 0.77, 0.99]) {
    const outcome = await sameBothWays(stream.subarray(0, Math.floor(stream.length * fraction)), `cut at ${fraction}`);
    assert.ok('error' in outcome, `cut at ${fraction} is an error`);
  }
});

test('xz blocks with a BCJ or delta filter before LZMA2 decode on the workers to the original', { skip: noXz, ...timeout }, async () => {
  // the workers decode into one buffer per block (LzmaDecoder.setSink); a filter after LZMA2
  // hands back pieces that are not views of it at their place, and they must land there too
  const data = mixedBytes(3_000_000, 8);
  for (const filter of ['--x86', '--arm', '--delta=dist=4']) {
    const stream = xz(['-T2', '--block-size=300KiB', filter, '--lzma2=preset=6'], data);
    const stats = new PipelineStats();
    setActiveStats(stats);
    let outcome: Outcome;
    try {
      outcome = await sameBothWays(stream, filter);
    } finally {
      setActiveStats(undefined);
    }
    assert.ok('data' in outcome && outcome.data.equals(Buffer.from(data)), `${filter}: the original bytes`);
    const workers = stats.report().find((s) => s.stage === 'decode xz blocks (workers)');
    assert.ok(workers && workers.items! >= 9, `${filter}: blocks decoded on workers: ${workers?.items}`);
  }
});

test('xz blocks whose header misstates the uncompressed size: the same verdict in place and on the workers', { skip: noXz, ...timeout }, async () => {
  // a worker decodes straight into a slot of the declared size: a block that decodes to more
  // must be refused at the LZMA2 chunk that passes it, as in place, never written past the slot
  const stream = xz(['-6', '-T2', '--block-size=256KiB'], mixedBytes(1_000_000, 5));
  const headerAt = 12;
  const headerSize = (stream[headerAt]! + 1) * 4;
  assert.equal(stream[headerAt + 1]! & 0xc0, 0xc0, 'xz -T states both sizes');
  // compressed size VLI, then the uncompressed size VLI (256 KiB: 3 bytes)
  let at = headerAt + 2;
  while (stream[at]! & 0x80) at++;
  at++;
  assert.deepEqual([...stream.subarray(at, at + 3)], [0x80, 0x80, 0x10], 'declares 262144 bytes');
  for (const [declared, verdict] of [
    [262_143, /decodes to more than its header declares/],
    [262_145, /uncompressed size differs from its header/],
  ] as const) {
    const patched = Uint8Array.from(stream);
    patched.set([(declared & 0x7f) | 0x80, ((declared >> 7) & 0x7f) | 0x80, declared >> 14], at);
    const crcAt = headerAt + headerSize - 4;
    new DataView(patched.buffer).setUint32(crcAt, crc32(patched.subarray(headerAt, crcAt)), true);
    const outcome = await sameBothWays(patched, `declares ${declared}`);
    assert.ok('error' in outcome && verdict.test(outcome.error.message), `declares ${declared}: ${JSON.stringify(outcome)}`);
  }
});
