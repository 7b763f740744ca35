/**
 * The bzip2 filter, differential against the real tools: inputs are made here from seeded
 * generators, compressed by bzip2 / pbzip2 / lbzip2, decoded by us and compared with the original
 * byte for byte. Corrupt and truncated streams must fail with our error (layer "bzip2", an offset),
 * never crash or hang: every test has a timeout. Tests skip when a tool is not installed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2VError } from '../../../src/errors.js';
import { bzip2Filter } from '../../../src/filters/bzip2/index.js';
import { decodeBlock } from '../../../src/filters/bzip2/block-decoder.js';
import { crc32 } from '../../../src/filters/bzip2/crc32.js';
import { findMagic } from '../../../src/filters/bzip2/stream.js';
import {
  BitWriter,
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
  runsBytes,
  textBytes,
  writeSingleBlock,
} from '../../helpers/bzip2-data.js';

// ---- driving the filter ----


async function decode(data: Uint8Array, sizes: number | ((i: number) => number) = 64 * 1024): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for await (const piece of bzip2Filter.decode(chunked(data, sizes))) pieces.push(piece);
  return Buffer.concat(pieces);
}

function assertSame(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: bytes differ`);
}

/** The error must be ours: BAD_ARCHIVE (or UNSUPPORTED for the randomised bit), one line, located. */
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

const slow = { timeout: 120_000 };
const quick = { timeout: 30_000 };

// ---- tests ----

test('bzip2 bid: header, level and block or end-of-stream magic', quick, () => {
  const block = Buffer.from('BZh91AY&SY', 'latin1');
  const empty = Buffer.from([0x42, 0x5a, 0x68, 0x31, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90]);
  assert.ok(bzip2Filter.bid(block) > 0);
  assert.ok(bzip2Filter.bid(empty) > 0);
  assert.equal(bzip2Filter.bid(Buffer.from('BZh01AY&SY', 'latin1')), 0, 'level 0');
  assert.equal(bzip2Filter.bid(Buffer.from('BZh:1AY&SY', 'latin1')), 0, 'level not a digit');
  assert.equal(bzip2Filter.bid(Buffer.from('BZh91AY&SX', 'latin1')), 0, 'bad magic');
  assert.equal(bzip2Filter.bid(Buffer.from('BZh9', 'latin1')), 0, 'short');
  assert.equal(bzip2Filter.bid(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])), 0, 'gzip');
  assert.equal(bzip2Filter.bid(new Uint8Array(0)), 0, 'empty');
});

test('bzip2 crc32 is the big-endian CRC-32 (cksum polynomial, bzip2 init/xor)', quick, () => {
  // CRC-32/BZIP2 check value of "123456789"
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xfc891918);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('bzip2 magic scan finds both magics at every bit alignment', quick, () => {
  for (const magic of [0x314159265359, 0x177245385090]) {
    for (let shift = 0; shift < 8; shift++) {
      const w = new BitWriter();
      w.write(0, 8 * 20 + shift);
      w.write(magic, 48);
      w.write(0, 8 * 5);
      const bytes = w.finish();
      // the magic starts in byte 20; bytes 21..24 are whole magic bytes at every alignment
      assert.equal(findMagic(bytes, 0, bytes.length), 21, `magic ${magic.toString(16)} shifted ${shift}`);
      assert.equal(findMagic(bytes, 22, bytes.length), -1, 'nothing after it');
    }
  }
  assert.equal(findMagic(randomBytes(100_000, 5), 0, 100_000), -1, 'random bytes (no false match expected)');
});

test('bzip2: small inputs decode byte for byte', quick, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.of(0x41)],
    ['one zero byte', Uint8Array.of(0)],
    ['two bytes', Uint8Array.of(0xff, 0x00)],
    ['all byte values', Uint8Array.from({ length: 256 }, (_, i) => i)],
    ['text 10 kB', textBytes(10_000, 1)],
    ['random 10 kB', randomBytes(10_000, 2)],
    ['four equal bytes', Uint8Array.of(7, 7, 7, 7)],
    ['five equal bytes', Uint8Array.of(7, 7, 7, 7, 7)],
  ];
  for (const [what, data] of cases) assertSame(await decode(bzip2(data)), data, what);
});

test('bzip2: RLE1 runs of 1..65536 equal bytes, and long runs of one byte', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  for (const seed of [1, 2, 3]) {
    const data = runsBytes(seed);
    assertSame(await decode(bzip2(data, 1)), data, `runs seed ${seed}`);
  }
  for (const [what, size] of [
    ['255 zeros', 255],
    ['259 zeros', 259],
    ['260 zeros', 260],
    ['1 MB of zeros', 1_000_000],
    ['6 MB of 0xaa', 6_000_000],
  ] as const) {
    const data = new Uint8Array(size).fill(what.includes('0xaa') ? 0xaa : 0);
    assertSame(await decode(bzip2(data, 1)), data, what); // one 100k block expands to ~5 MB
  }
});

test('bzip2: periodic blocks (a block u^k links into k cycles, not one)', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  // 189 divides the -1 block (99 981 bytes), so whole blocks are exact powers of the pattern
  for (const [period, size, level] of [
    [189, 500_000, 1],
    [5, 300_000, 1],
    [1000, 2_000_000, 9],
  ] as const) {
    const unit = randomBytes(period, period);
    const data = new Uint8Array(size);
    for (let at = 0; at < size; at += period) data.set(unit.subarray(0, Math.min(period, size - at)), at);
    assertSame(await decode(bzip2(data, level)), data, `period ${period}, -${level}`);
  }
});

test('bzip2: sizes crossing block boundaries at levels -1..-9', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  for (let level = 1; level <= 9; level++) {
    const block = level * 100_000 - 19; // bzip2 fills a block up to this many RLE1 bytes
    const sizes = level <= 2 ? [block - 1, block, block + 1, 2 * block + 7] : [block + 1];
    for (const size of sizes) {
      const data = level % 2 ? randomBytes(size, level * 1000 + size) : mixedBytes(size, level * 1000 + size);
      assertSame(await decode(bzip2(data, level)), data, `-${level}, ${size} bytes`);
    }
  }
});

test('bzip2: text, random and mixed data at several levels', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  for (const [what, data] of [
    ['text 700 kB', textBytes(700_000, 11)],
    ['random 300 kB', randomBytes(300_000, 12)],
    ['mixed 1.5 MB', mixedBytes(1_500_000, 13)],
  ] as const) {
    for (const level of [1, 5, 9]) assertSame(await decode(bzip2(data, level)), data, `${what} -${level}`);
  }
});

test('bzip2: multi-stream files from pbzip2 -b1', slow, async (t) => {
  if (!hasTool('pbzip2')) return t.skip('pbzip2 is not installed');
  const data = mixedBytes(750_000, 21);
  const compressed = run('pbzip2', ['-c', '-b1', '-p2'], data);
  assert.ok(countHeaders(compressed) > 1, 'pbzip2 -b1 wrote several streams');
  assertSame(await decode(compressed), data, 'pbzip2 -b1');
  assertSame(await decode(compressed, 7777), data, 'pbzip2 -b1, 7777-byte chunks');
});

test('bzip2: lbzip2 output', slow, async (t) => {
  if (!hasTool('lbzip2')) return t.skip('lbzip2 is not installed');
  const data = mixedBytes(1_200_000, 31);
  for (const level of [1, 9]) {
    assertSame(await decode(run('lbzip2', ['-c', `-${level}`, '-n', '2'], data)), data, `lbzip2 -${level}`);
  }
  const text = textBytes(400_000, 32);
  assertSame(await decode(run('lbzip2', ['-c', '-1'], text)), text, 'lbzip2 text');
});

test('bzip2: concatenated streams (cat a.bz2 empty.bz2 b.bz2) and trailing garbage', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const a = textBytes(150_000, 41);
  const b = randomBytes(120_000, 42);
  const joined = Buffer.concat([bzip2(a, 1), bzip2(new Uint8Array(0), 9), bzip2(b, 3)]);
  const expected = Buffer.concat([a, b]);
  assertSame(await decode(joined), expected, 'cat');
  assertSame(await decode(joined, (i) => 1 + ((i * 7919) % 50_000)), expected, 'cat, odd chunks');
  assertSame(await decode(joined, joined.length), expected, 'cat, one chunk');
  // bzip2 -dc ignores bytes after a stream that do not start a new one; so do we
  assertSame(await decode(Buffer.concat([joined, Buffer.alloc(512)])), expected, 'zero padding after');
  assertSame(await decode(Buffer.concat([joined, Buffer.from('garbage')])), expected, 'garbage after');
  await assertRejects(Buffer.concat([joined, Buffer.from('BZ')]), 'partial header after', /truncated/);
  await assertRejects(Buffer.concat([joined, Buffer.from('BZh9')]), 'bare header after', /truncated/);
});

test('bzip2: fed in 1..13-byte chunks', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = Buffer.concat([textBytes(6_000, 51), runsBytes(52).subarray(0, 3_000), randomBytes(2_000, 53)]);
  const compressed = Buffer.concat([bzip2(data, 1), bzip2(data.subarray(0, 100), 1)]);
  const expected = Buffer.concat([data, data.subarray(0, 100)]);
  for (let size = 1; size <= 13; size++) assertSame(await decode(compressed, size), expected, `${size}-byte chunks`);
  assertSame(await decode(compressed, (i) => 1 + ((i * 5) % 13)), expected, 'mixed 1..13-byte chunks');
});

test('bzip2: libarchive fixture test_extract.cpio.bz2 matches bzip2 -dc', quick, async (t) => {
  const name = 'fixtures/libarchive/test_extract.cpio.bz2';
  const places = [process.env.ZONEP2V_SHARED, '../shared', '/work/shared'].filter((p) => p !== undefined);
  const fixture = places.map((place) => resolve(place, name)).find((path) => existsSync(path));
  if (!fixture) return t.skip(`${name} is absent (looked in ${places.join(', ')})`);
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const compressed = readFileSync(fixture);
  assert.ok(bzip2Filter.bid(compressed.subarray(0, 512)) > 0);
  assertSame(await decode(compressed), run('bzip2', ['-dc'], compressed), 'fixture');
});

test('bzip2: a wrong block CRC, a wrong stream CRC and a bad magic are reported', quick, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = textBytes(50_000, 61);
  const good = bzip2(data, 9);

  const badBlockCrc = Buffer.from(good);
  badBlockCrc[12]! ^= 0x10; // header 4 + block magic 6, then the block CRC (byte-aligned in block 1)
  const blockError = await assertRejects(badBlockCrc, 'block CRC', /block CRC mismatch/);
  assert.equal(blockError.details.offset, 4, 'offset of the block');

  const badStreamCrc = Buffer.from(good);
  const eos = lastEndOfStreamBit(badStreamCrc);
  flipBit(badStreamCrc, eos + 48 + 3);
  await assertRejects(badStreamCrc, 'stream CRC', /stream CRC mismatch/);

  const empty = bzip2(new Uint8Array(0));
  assert.equal(empty.length, 14);
  const badEmpty = Buffer.from(empty);
  badEmpty[13]! ^= 1;
  await assertRejects(badEmpty, 'stream CRC of an empty stream', /stream CRC mismatch/);

  const badMagic = Buffer.from(good);
  badMagic[6]! ^= 0x01;
  await assertRejects(badMagic, 'block magic', /magic/);

  await assertRejects(Buffer.from('not bzip2 at all'), 'not bzip2', /not a bzip2 stream/);
  await assertRejects(new Uint8Array(0), 'empty input', /not a bzip2 stream/);
});

test('bzip2: truncated streams are reported as truncated', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = mixedBytes(300_000, 71);
  const good = bzip2(data, 1);
  const cuts = [3, 4, 5, 9, 10, 11, 14, 20, 100, good.length >> 2, good.length >> 1, good.length - 20];
  cuts.push(good.length - 11, good.length - 10, good.length - 5, good.length - 1);
  for (const cut of cuts) {
    await assertRejects(good.subarray(0, cut), `cut at ${cut} of ${good.length}`, cut < 4 ? /truncated|not a bzip2/ : /truncated/);
  }
  // a cut inside the second of two streams
  const two = Buffer.concat([good, bzip2(textBytes(10_000, 72), 9)]);
  await assertRejects(two.subarray(0, good.length + 30), 'cut inside stream 2', /truncated/);
});

test('bzip2: flipped bytes fail with our error, never a crash or a hang', slow, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = mixedBytes(250_000, 81);
  const good = bzip2(data, 1);
  const next = rng(82);
  let rejected = 0;
  for (let i = 0; i < 150; i++) {
    const bad = Buffer.from(good);
    const at = 4 + Math.floor(next() * (good.length - 5)); // not the header, not the last byte (padding)
    bad[at]! ^= 1 + Math.floor(next() * 255);
    let out: Buffer | undefined;
    try {
      out = await decode(bad);
    } catch (error) {
      assertOurError(error, `flip at ${at}`);
      rejected++;
    }
    // Only a change that leaves the data intact may pass (the CRCs vouch for it).
    if (out) assertSame(out, data, `flip at ${at} decoded to different bytes`);
  }
  assert.ok(rejected > 140, `${rejected} of 150 flips rejected`);
});

test('bzip2 block decoder: one block by bit offset, and "need more input"', quick, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const data = textBytes(30_000, 91);
  const compressed = bzip2(data, 9);
  const block = decodeBlock(compressed, 80, 9); // after "BZh9" and the 48-bit block magic
  assert.ok(block);
  assert.equal(block.expandedLength, undefined, 'a block without long runs comes back as its bytes');
  assertSame(block.data, data, 'block output');
  assert.equal(block.computedCrc, block.storedCrc);
  assert.equal(block.computedCrc, crc32(data));
  assert.equal(block.endBit, lastEndOfStreamBit(compressed), 'the block ends where the end-of-stream magic starts');
  assert.equal(decodeBlock(compressed.subarray(0, compressed.length >> 1), 80, 9), null, 'half a block');
  assert.equal(decodeBlock(compressed, 80, 9, { end: 40 }), null, 'end before the block does');
});

test('bzip2: stopping early releases the input', quick, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const compressed = bzip2(randomBytes(250_000, 101), 1);
  let closed = false;
  async function* source() {
    try {
      yield* chunked(compressed, 1000);
    } finally {
      closed = true;
    }
  }
  for await (const piece of bzip2Filter.decode(source())) {
    assert.ok(piece.length > 0);
    break;
  }
  assert.ok(closed, 'the input iterator was returned');
});

test('bzip2: a false block magic inside a block does not end it early', quick, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  // Extra selectors (legal, ignored) that spell both magics: the boundary scan finds them first.
  const data = textBytes(40_000, 111);
  const parsed = parseSingleBlock(bzip2(data, 9));
  assert.equal(parsed.groups, 6);
  const fake = [...magicSelectors(0x314159265359), ...magicSelectors(0x177245385090)];
  const crafted = writeSingleBlock({ ...parsed, selectors: [...parsed.selectors, ...fake, ...fake] });
  assertSame(run('bzip2', ['-dc'], crafted), data, 'bzip2 -dc reads the crafted stream');
  for (const size of [1, 7, 13, 100, 500, 4096, crafted.length]) {
    assertSame(await decode(crafted, size), data, `crafted, ${size}-byte chunks`);
  }
});

test('bzip2: hostile block headers fail with a named error', quick, async (t) => {
  if (!hasTool('bzip2')) return t.skip('bzip2 is not installed');
  const parsed = parseSingleBlock(bzip2(textBytes(40_000, 121), 9));
  const alphabet = parsed.lengths[0]!.length;
  const cases: [string, Partial<ParsedBlock>, RegExp][] = [
    ['7 tables', { groups: 7 }, /Huffman tables/],
    ['1 table', { groups: 1, selectors: parsed.selectors.map(() => 0), lengths: parsed.lengths.slice(0, 1) }, /Huffman tables/],
    ['no selectors', { selectors: [] }, /selectors/],
    ['selector beyond the tables', { groups: 2, lengths: parsed.lengths.slice(0, 2) }, /selector/],
    ['oversubscribed code', { lengths: [new Array<number>(alphabet).fill(1), ...parsed.lengths.slice(1)] }, /oversubscribed/],
    ['code length 21', { lengths: [[...parsed.lengths[0]!.slice(0, -1), 21], ...parsed.lengths.slice(1)] }, /length out of range/],
    ['origin pointer', { origPtr: 0xffffff }, /origin pointer/],
    ['block CRC', { crc: (parsed.crc ^ 1) >>> 0 }, /block CRC mismatch/],
  ];
  for (const [what, change, message] of cases) {
    await assertRejects(writeSingleBlock({ ...parsed, ...change }), what, message);
  }
  const randomised = await assertRejects(writeSingleBlock({ ...parsed, randomised: 1 }), 'randomised');
  assert.equal(randomised.code, 'P2V_UNSUPPORTED');
});
