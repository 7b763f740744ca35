/**
 * The block-parallel bzip2 driver (parallel.ts, workers/bzip2-worker.ts), differential against
 * `bzip2 -dc`: every input is forced through the worker pool (minBytes 0) and must match byte
 * for byte; corrupt and truncated input must give the serial driver's one-line P2VErrors; nothing
 * may hang (timeouts) and the pool must be gone afterwards (a child process must exit by itself).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2VError } from '../../../src/errors.js';
import { decodeBzip2Parallel, type ParallelOptions } from '../../../src/filters/bzip2/parallel.js';
import {
  type ParsedBlock,
  bzip2,
  chunked,
  countHeaders,
  flipBit,
  hasTool,
  lastEndOfStreamBit,
  magicSelectors,
  mixedBytes,
  parseSingleBlock,
  randomBytes,
  rng,
  run,
  textBytes,
  writeSingleBlock,
} from '../../helpers/bzip2-data.js';


const forced: ParallelOptions = { threads: 2, minBytes: 0 };

async function decode(
  data: Uint8Array,
  sizes: number | ((i: number) => number) = 64 * 1024,
  options: ParallelOptions = forced,
): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for await (const piece of decodeBzip2Parallel(chunked(data, sizes), options)) pieces.push(piece);
  return Buffer.concat(pieces);
}

function assertSame(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: bytes differ`);
}

/** `bzip2 -dc` is the reference; it must also agree with the original data. */
async function assertLikeBzip2(compressed: Uint8Array, original: Uint8Array | undefined, what: string, options?: ParallelOptions) {
  const reference = run('bzip2', ['-dc'], compressed);
  if (original) assertSame(reference, original, `${what}: bzip2 -dc`);
  assertSame(await decode(compressed, 64 * 1024, options), reference, what);
}

function assertOurError(error: unknown, what: string, message?: RegExp): asserts error is P2VError {
  assert.ok(error instanceof P2VError, `${what}: not a P2VError: ${(error as Error)?.stack}`);
  assert.ok(['P2V_BAD_ARCHIVE', 'P2V_UNSUPPORTED'].includes(error.code), `${what}: code ${error.code}`);
  assert.equal(error.details.layer, 'bzip2', `${what}: layer`);
  assert.equal(typeof error.details.offset, 'number', `${what}: offset`);
  assert.ok(!error.message.includes('\n'), `${what}: one line`);
  if (message) assert.match(error.message, message, what);
}

async function assertRejects(
  data: Uint8Array,
  what: string,
  message?: RegExp,
  sizes?: number | ((i: number) => number),
): Promise<P2VError> {
  try {
    await decode(data, sizes);
  } catch (error) {
    assertOurError(error, what, message);
    return error;
  }
  assert.fail(`${what}: decoded without an error`);
}

/** The serial driver's error for the same input (the parallel one must say the same). */
async function serialError(data: Uint8Array): Promise<P2VError | undefined> {
  try {
    await decode(data, 64 * 1024, { minBytes: Infinity });
  } catch (error) {
    if (error instanceof P2VError) return error;
    throw error;
  }
  return undefined;
}

const slow = { timeout: 180_000 };
const quick = { timeout: 60_000 };

test('bzip2 parallel: levels -1..-9, several blocks each, match bzip2 -dc', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  for (let level = 1; level <= 9; level++) {
    const size = Math.round(level * 100_000 * 2.6) + level * 37;
    const data = level % 3 === 0 ? textBytes(size, 200 + level) : mixedBytes(size, 200 + level);
    await assertLikeBzip2(bzip2(data, level), data, `-${level}, ${size} bytes`);
  }
});

test('bzip2 parallel: 1 worker, 1 task in flight, odd chunk sizes, one chunk', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = mixedBytes(1_100_000, 211);
  const compressed = bzip2(data, 1);
  assertSame(await decode(compressed, 64 * 1024, { threads: 1, minBytes: 0 }), data, '1 worker');
  assertSame(await decode(compressed, 64 * 1024, { threads: 2, inflight: 1, minBytes: 0 }), data, '1 in flight');
  assertSame(await decode(compressed, (i) => 1 + ((i * 7919) % 30_000)), data, 'odd chunks');
  assertSame(await decode(compressed, 997), data, '997-byte chunks');
  assertSame(await decode(compressed, compressed.length), data, 'one chunk');
  // the size threshold: under minBytes the serial decoder runs, with the same result
  assertSame(await decode(compressed, 64 * 1024, { threads: 2, minBytes: compressed.length + 1 }), data, 'serial below minBytes');
});

test('bzip2 parallel: pbzip2 and lbzip2 multi-stream files', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = mixedBytes(2_000_000, 221);
  if (hasTool('pbzip2')) {
    const compressed = run('pbzip2', ['-c', '-b1', '-p2'], data);
    assert.ok(countHeaders(compressed) > 10, 'pbzip2 -b1 wrote many streams');
    await assertLikeBzip2(compressed, data, 'pbzip2 -b1');
    assertSame(await decode(compressed, 7777), data, 'pbzip2 -b1, 7777-byte chunks');
    await assertLikeBzip2(run('pbzip2', ['-c', '-9', '-p2'], data), data, 'pbzip2 -9');
  } else {
    t.diagnostic('pbzip2 is not installed');
  }
  if (hasTool('lbzip2')) {
    for (const level of [1, 5, 9]) {
      await assertLikeBzip2(run('lbzip2', ['-c', `-${level}`, '-n', '2'], data), data, `lbzip2 -${level}`);
    }
  } else {
    t.diagnostic('lbzip2 is not installed');
  }
});

test('bzip2 parallel: cat of streams at different levels, empty streams, trailing bytes', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const a = mixedBytes(450_000, 231);
  const b = textBytes(700_000, 232);
  const c = randomBytes(250_000, 233);
  const empty = bzip2(new Uint8Array(0), 9);
  const joined = Buffer.concat([empty, bzip2(a, 1), empty, empty, bzip2(b, 9), bzip2(c, 2), empty]);
  const expected = Buffer.concat([a, b, c]);
  await assertLikeBzip2(joined, expected, 'cat');
  assertSame(await decode(joined, (i) => 1 + ((i * 104_729) % 70_000)), expected, 'cat, odd chunks');
  assertSame(await decode(Buffer.concat([joined, Buffer.alloc(4096)])), expected, 'zero padding after');
  assertSame(await decode(Buffer.concat([joined, Buffer.from('garbage BZh9')])), expected, 'garbage after');
  await assertRejects(Buffer.concat([joined, Buffer.from('BZ')]), 'partial header after', /truncated/);
  await assertRejects(Buffer.concat([joined, Buffer.from('BZh9')]), 'bare header after', /truncated/);
  await assertRejects(new Uint8Array(0), 'empty input', /not a bzip2 stream/);
  await assertRejects(Buffer.from('definitely not bzip2'), 'not bzip2', /not a bzip2 stream/);
});

test('bzip2 parallel: false block and end-of-stream magics inside blocks', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  // Extra selectors (legal, ignored) that spell both magics: the boundary scan finds them.
  const data = textBytes(40_000, 241);
  const parsed = parseSingleBlock(bzip2(data, 9));
  const fake = [...magicSelectors(0x314159265359), ...magicSelectors(0x177245385090)];
  const crafted = writeSingleBlock({ ...parsed, selectors: [...parsed.selectors, ...fake, ...fake] });
  assertSame(run('bzip2', ['-dc'], crafted), data, 'bzip2 -dc reads the crafted stream');
  for (const size of [1, 13, 500, 4096, crafted.length]) assertSame(await decode(crafted, size), data, `crafted, ${size}-byte chunks`);

  // ... as one stream among others, so speculation runs over the fakes
  const before = mixedBytes(600_000, 242);
  const after = textBytes(500_000, 243);
  const joined = Buffer.concat([bzip2(before, 2), crafted, crafted, bzip2(after, 1)]);
  const expected = Buffer.concat([before, data, data, after]);
  await assertLikeBzip2(joined, expected, 'crafted among streams');
  assertSame(await decode(joined, 3333, { threads: 1, inflight: 8, minBytes: 0 }), expected, 'crafted, 1 worker, 8 in flight');

  // A fake end-of-stream magic followed by a fake stream header, then a fake block magic.
  const spoof = [...magicSelectors(0x177245385090)];
  const crafted2 = writeSingleBlock({ ...parsed, selectors: [...parsed.selectors, ...spoof, ...magicSelectors(0x314159265359)] });
  assertSame(await decode(Buffer.concat([crafted2, crafted2])), Buffer.concat([data, data]), 'fake end-of-stream magic');
});

test('bzip2 parallel: a block full of false magics costs bounded work', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = textBytes(60_000, 251);
  const parsed = parseSingleBlock(bzip2(data, 9));
  const fake = magicSelectors(0x314159265359);
  const many: number[] = [];
  while (many.length + fake.length < 17_000 - parsed.selectors.length) many.push(...fake);
  const crafted = writeSingleBlock({ ...parsed, selectors: [...parsed.selectors, ...many] });
  assertSame(run('bzip2', ['-dc'], crafted), data, 'bzip2 -dc reads it');
  const started = Date.now();
  assertSame(await decode(Buffer.concat([crafted, crafted]), 8192), Buffer.concat([data, data]), `${many.length / fake.length} false magics`);
  t.diagnostic(`${Math.round(many.length / fake.length)} false magics per block: ${Date.now() - started} ms`);
});

test('bzip2 parallel: wrong block CRC, wrong stream CRC, bad magic: same errors as serial', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = mixedBytes(900_000, 261);
  const good = bzip2(data, 1);
  assert.ok(countHeaders(good) === 1);

  // the first block's CRC is byte-aligned right after "BZh1" and the magic
  const badFirst = Buffer.from(good);
  badFirst[12]! ^= 0x10;
  const first = await assertRejects(badFirst, 'block CRC', /block CRC mismatch/);
  assert.equal(first.details.offset, 4);

  // a later block: the stream is the same with one bit flipped in that block's stored CRC
  const parsedBlocks = blockStarts(good);
  assert.ok(parsedBlocks.length >= 5, `${parsedBlocks.length} blocks`);
  const third = parsedBlocks[3]!;
  const badLater = Buffer.from(good);
  flipBit(badLater, third + 48 + 5);
  const later = await assertRejects(badLater, 'block CRC of block 4', /block CRC mismatch/);
  assert.equal(later.details.offset, Math.floor(third / 8), 'offset of block 4');
  assert.deepEqual(describe(later), describe(await serialError(badLater)), 'serial says the same');

  const badStream = Buffer.from(good);
  flipBit(badStream, lastEndOfStreamBit(badStream) + 48 + 7);
  const stream = await assertRejects(badStream, 'stream CRC', /stream CRC mismatch/);
  assert.deepEqual(describe(stream), describe(await serialError(badStream)), 'serial says the same (stream CRC)');

  const badMagic = Buffer.from(good);
  flipBit(badMagic, parsedBlocks[2]! + 20);
  const magic = await assertRejects(badMagic, 'block magic');
  assert.deepEqual(describe(magic), describe(await serialError(badMagic)), 'serial says the same (magic)');

  // hostile block headers: the worker's errors come back as the same P2VErrors
  const parsed = parseSingleBlock(bzip2(textBytes(40_000, 262), 9));
  const alphabet = parsed.lengths[0]!.length;
  const cases: [string, Partial<ParsedBlock>, RegExp][] = [
    ['7 tables', { groups: 7 }, /Huffman tables/],
    ['oversubscribed code', { lengths: [new Array<number>(alphabet).fill(1), ...parsed.lengths.slice(1)] }, /oversubscribed/],
    ['origin pointer', { origPtr: 0xffffff }, /origin pointer/],
    ['block CRC', { crc: (parsed.crc ^ 1) >>> 0 }, /block CRC mismatch/],
  ];
  for (const [what, change, message] of cases) await assertRejects(writeSingleBlock({ ...parsed, ...change }), what, message);
  const randomised = await assertRejects(writeSingleBlock({ ...parsed, randomised: 1 }), 'randomised');
  assert.equal(randomised.code, 'P2V_UNSUPPORTED');
});

test('bzip2 parallel: truncation anywhere is reported as truncated', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = mixedBytes(700_000, 271);
  const good = Buffer.concat([bzip2(data, 1), bzip2(textBytes(300_000, 272), 2)]);
  const next = rng(273);
  const cuts = [3, 4, 5, 9, 10, 11, 14, 100, good.length - 20, good.length - 11, good.length - 10, good.length - 5, good.length - 1];
  for (const start of blockStarts(good)) cuts.push(Math.floor(start / 8), Math.floor(start / 8) + 3, Math.ceil(start / 8) + 7);
  for (let i = 0; i < 12; i++) cuts.push(4 + Math.floor(next() * (good.length - 5)));
  for (const cut of cuts) {
    const error = await assertRejects(good.subarray(0, cut), `cut at ${cut} of ${good.length}`, cut < 4 ? /truncated|not a bzip2/ : /truncated/);
    assert.deepEqual(describe(error), describe(await serialError(good.subarray(0, cut))), `cut at ${cut}: serial says the same`);
  }
});

test('bzip2 parallel: flipped bytes fail with our error, never a crash or a hang', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = mixedBytes(600_000, 281);
  const good = bzip2(data, 1);
  const next = rng(282);
  let rejected = 0;
  const tries = 40;
  for (let i = 0; i < tries; i++) {
    const bad = Buffer.from(good);
    const at = 4 + Math.floor(next() * (good.length - 5));
    bad[at]! ^= 1 + Math.floor(next() * 255);
    let out: Buffer | undefined;
    try {
      out = await decode(bad, 32 * 1024);
    } catch (error) {
      assertOurError(error, `flip at ${at}`);
      assert.deepEqual(describe(error), describe(await serialError(bad)), `flip at ${at}: serial says the same`);
      rejected++;
    }
    if (out) assertSame(out, data, `flip at ${at} decoded to different bytes`);
  }
  assert.ok(rejected > tries - 5, `${rejected} of ${tries} flips rejected`);
});

test('bzip2 parallel: the pool is closed at the end, on early stop and on error', quick, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  // A child process that decodes and then just returns: it exits only if no worker is left.
  const module = fileURLToPath(new URL('../../../src/filters/bzip2/parallel.js', import.meta.url));
  const script = `
    import { decodeBzip2Parallel } from ${JSON.stringify(module)};
    import { readFileSync } from 'node:fs';
    const data = readFileSync(0);
    const mode = process.argv[1];
    async function* source() { for (let at = 0; at < data.length; at += 65536) yield data.subarray(at, at + 65536); }
    let bytes = 0;
    try {
      for await (const piece of decodeBzip2Parallel(source(), { threads: 2, minBytes: 0 })) {
        bytes += piece.length;
        if (mode === 'stop') break;
      }
      console.log('bytes', bytes);
    } catch (error) {
      console.log('error', error.code);
    }
  `;
  const compressed = bzip2(mixedBytes(1_500_000, 291), 1);
  const corrupt = Buffer.from(compressed);
  corrupt[12]! ^= 0x10;
  const cases: [string, Buffer, RegExp][] = [
    ['whole', compressed, /^bytes 1500000$/m],
    ['stop', compressed, /^bytes [1-9]\d*$/m],
    ['error', corrupt, /^error P2V_BAD_ARCHIVE$/m],
    ['truncated', compressed.subarray(0, compressed.length >> 1), /^error P2V_BAD_ARCHIVE$/m],
  ];
  for (const [mode, input, expected] of cases) {
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, mode], { input, timeout: 30_000 });
    assert.equal(child.signal, null, `${mode}: killed after the timeout (a thread kept it alive?) ${child.stderr}`);
    assert.equal(child.status, 0, `${mode}: ${child.stderr}`);
    assert.match(child.stdout.toString(), expected, mode);
    t.diagnostic(`${mode}: exited after ${Date.now() - started} ms`);
  }
});

// ---- helpers ----

function describe(error: P2VError | undefined): unknown {
  return error && { code: error.code, message: error.message, offset: error.details.offset, layer: error.details.layer };
}

/** Bit offsets of the block magics of a stream, found by a plain bit-by-bit search. */
function blockStarts(data: Uint8Array): number[] {
  const starts: number[] = [];
  let value = 0;
  const mask = 2 ** 48;
  for (let bit = 0; bit < data.length * 8; bit++) {
    value = (value * 2 + ((data[Math.floor(bit / 8)]! >>> (7 - (bit % 8))) & 1)) % mask;
    if (bit >= 47 && value === 0x314159265359) starts.push(bit - 47);
  }
  return starts;
}
