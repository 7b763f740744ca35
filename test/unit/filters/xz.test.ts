/**
 * The xz filter, differential against the real `xz`: inputs are made here from seeded generators,
 * compressed by xz with the options that matter (multi-block, concatenated streams, every check,
 * BCJ/Delta pre-filters, odd lc/lp/pb, a small dictionary that wraps), decoded by us and compared
 * with the original byte for byte. Corrupt and truncated streams must fail with our error (layer
 * "xz", an offset), never crash or hang: every test has a timeout. Skips when xz is not installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2VError } from '../../../src/errors.js';
import { xzFilter } from '../../../src/filters/xz.js';
import { Crc64, crc32, crc32Portable } from '../../../src/filters/xz/checks.js';

const hasXz = spawnSync('xz', ['--version'], { stdio: 'ignore' }).error === undefined;
const noXz = hasXz ? false : 'xz is not installed (apt-get install xz-utils)';
const timeout = 120_000;

const compressedCache = new WeakMap<Uint8Array, Map<string, Buffer>>();

/** Run xz on `input` (memoised: several tests compress the same input the same way). */
function xz(args: string[], input: Uint8Array): Buffer {
  let cache = compressedCache.get(input);
  if (!cache) compressedCache.set(input, (cache = new Map()));
  const key = args.join(' ');
  const cached = cache.get(key);
  if (cached) return cached;
  const result = spawnSync('xz', args, { input, maxBuffer: 1 << 30 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`xz ${args.join(' ')} failed: ${result.stderr.toString()}`);
  cache.set(key, result.stdout);
  return result.stdout;
}

/** Number of blocks in a single xz stream, from the record count of its index. */
function blockCount(stream: Uint8Array): number {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const backward = (view.getUint32(stream.length - 8, true) + 1) * 4;
  let at = stream.length - 12 - backward + 1; // skip the index indicator
  let count = 0;
  for (let shift = 0; ; shift += 7) {
    const b = stream[at++]!;
    count += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return count;
  }
}

// ---- seeded inputs ----

/** mulberry32: tiny, seedable, good enough to make test data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(size: number, seed: number): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (next() * 256) | 0;
  return out;
}

const vocabulary = (
  'zone root usr lib etc var opt sbin svc method start stop pkg install patch device driver kernel ' +
  'the of and to a in is for not with on by file system user default value solaris sun sparc i86pc'
).split(' ');

function textBytes(size: number, seed: number): Uint8Array {
  const next = rng(seed);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const words = 3 + ((next() * 10) | 0);
    const line: string[] = [];
    for (let i = 0; i < words; i++) line.push(vocabulary[(next() * next() * vocabulary.length) | 0]!);
    const text = `${line.join(' ')}${next() < 0.2 ? ` ${(next() * 1e6) | 0}` : ''}\n`;
    parts.push(text);
    length += text.length;
  }
  return new TextEncoder().encode(parts.join('').slice(0, size));
}

/** Like a system image: text, incompressible stretches, zero runs and repeats of earlier data. */
function systemLike(size: number, seed: number): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const kind = next();
    const n = Math.min(size - at, 1 + ((next() * 40000) | 0));
    if (kind < 0.4) out.set(textBytes(n, (next() * 1e9) | 0), at);
    else if (kind < 0.6) out.set(randomBytes(n, (next() * 1e9) | 0), at);
    else if (kind < 0.75) out.fill((next() * 4) | 0, at, at + n);
    else if (at > 0) {
      const from = (next() * at) | 0;
      for (let i = 0; i < n; i++) out[at + i] = out[from + (i % Math.max(1, at - from))]!;
    }
    at += n;
  }
  return out;
}

/** Repeats with short periods: LZMA matches whose source overlaps their destination. */
function periodicBytes(seed: number): Uint8Array {
  const next = rng(seed);
  const parts: Uint8Array[] = [];
  for (const period of [1, 2, 3, 4, 5, 7, 8, 13, 31, 63, 64, 65, 100, 255, 273, 300, 1000]) {
    const pattern = randomBytes(period, (next() * 1e9) | 0);
    const run = new Uint8Array(64 + ((next() * 5000) | 0));
    for (let i = 0; i < run.length; i++) run[i] = pattern[i % period]!;
    parts.push(run, randomBytes((next() * 50) | 0, (next() * 1e9) | 0));
  }
  return Buffer.concat(parts);
}

// ---- driving the filter ----

async function* whole(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

async function* pieces(data: Uint8Array, sizes: () => number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; ) {
    const n = Math.max(1, sizes());
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function decode(input: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const piece of xzFilter.decode(input)) out.push(piece);
  return Buffer.concat(out);
}

async function assertRoundTrip(original: Uint8Array, compressed: Uint8Array, label: string): Promise<void> {
  const decoded = await decode(whole(compressed));
  assert.equal(decoded.length, original.length, `${label}: length`);
  assert.ok(decoded.equals(original), `${label}: bytes differ`);
}

async function assertRejects(compressed: Uint8Array, label: string, code = 'P2V_BAD_ARCHIVE'): Promise<P2VError> {
  let caught: unknown;
  try {
    await decode(whole(compressed));
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof P2VError, `${label}: expected a P2VError, got ${String(caught)}`);
  assert.equal(caught.code, code, `${label}: ${caught.message}`);
  assert.equal(caught.details.layer, 'xz', label);
  assert.equal(typeof caught.details.offset, 'number', label);
  assert.ok(caught.details.offset! >= 0 && caught.details.offset! <= compressed.length, `${label}: offset in range`);
  return caught;
}

const inputs = hasXz
  ? {
      empty: new Uint8Array(0),
      small: textBytes(1000, 1),
      text: textBytes(2 * 1024 * 1024 + 12345, 2),
      random: randomBytes(1024 * 1024 + 7, 3),
      system: systemLike(2 * 1024 * 1024, 4),
      periodic: periodicBytes(6),
    }
  : undefined;

// ---- bid ----

test('bid: xz magic with sane stream flags', () => {
  const head = Uint8Array.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46]);
  assert.equal(xzFilter.bid(head), 96);
  assert.equal(xzFilter.bid(head.subarray(0, 8)), 64);
  const badCrc = Uint8Array.from(head);
  badCrc[8] ^= 1;
  assert.equal(xzFilter.bid(badCrc), 0);
  const badFlags = Uint8Array.from(head);
  badFlags[6] = 1;
  assert.equal(xzFilter.bid(badFlags), 0);
  assert.equal(xzFilter.bid(head.subarray(0, 5)), 0);
  assert.equal(xzFilter.bid(Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0])), 0);
  assert.equal(xzFilter.bid(new Uint8Array(0)), 0);
});

test('checks: CRC32 table matches node:zlib, CRC64 matches the xz test vector', () => {
  const data = randomBytes(100_003, 9);
  assert.equal(crc32Portable(data), crc32(data));
  assert.equal(crc32Portable(new TextEncoder().encode('123456789')), 0xcbf43926);
  const crc = new Crc64();
  crc.update(new TextEncoder().encode('1234'));
  crc.update(new TextEncoder().encode('56789')); // split, to cross the 8-byte slicing
  assert.deepEqual(Buffer.from(crc.digest()).toString('hex'), Buffer.from('995dc9bbdf1939fa', 'hex').reverse().toString('hex'));
});

// ---- differential against xz ----

test('single-block streams of every input equal the original', { skip: noXz, timeout }, async () => {
  for (const [name, data] of Object.entries(inputs!)) {
    await assertRoundTrip(data, xz(['-c'], data), name);
  }
});

test('multi-block streams (xz -T2 --block-size=1MiB) equal the original', { skip: noXz, timeout }, async () => {
  for (const name of ['text', 'random', 'system'] as const) {
    const data = inputs![name];
    const compressed = xz(['-T2', '--block-size=1MiB', '-c'], data);
    assert.ok(blockCount(compressed) >= 2, `${name}: xz made ${blockCount(compressed)} blocks`);
    await assertRoundTrip(data, compressed, name);
  }
  // small blocks with sizes in the headers, and a dictionary smaller than the data so it wraps
  const data = inputs!.system;
  await assertRoundTrip(data, xz(['-T2', '--block-size=50KiB', '-c'], data), 'system 50KiB blocks');
  await assertRoundTrip(data, xz(['--lzma2=preset=0', '-c'], data), 'system 256KiB dictionary');
});

test('a stream longer than dictionary + slack slides the window', { skip: noXz, timeout }, async () => {
  // the window holds the dictionary plus 4 MiB; past that the history slides to the front, and
  // must keep `position & 15` (pb = 4, lp = 4 use all four bits) and distances reaching across
  const data = systemLike(6 * 1024 * 1024, 7);
  await assertRoundTrip(data, xz(['--lzma2=preset=0,dict=64KiB', '-c'], data), 'dict 64KiB');
  await assertRoundTrip(data, xz(['--lzma2=preset=0,dict=1MiB,lc=0,lp=4,pb=4', '-c'], data), 'dict 1MiB lp=4 pb=4');
});

test('every integrity check: none, CRC32, CRC64, SHA-256', { skip: noXz, timeout }, async () => {
  for (const check of ['none', 'crc32', 'crc64', 'sha256']) {
    for (const name of ['empty', 'small', 'system'] as const) {
      const data = inputs![name];
      await assertRoundTrip(data, xz([`--check=${check}`, '-c'], data), `${name} --check=${check}`);
    }
  }
});

test('concatenated streams, with and without stream padding', { skip: noXz, timeout }, async () => {
  const a = inputs!.small;
  const b = inputs!.system;
  const both = Buffer.concat([a, b]);
  const xa = xz(['--check=crc32', '-c'], a);
  const xb = xz(['-T2', '--block-size=1MiB', '-c'], b);
  const zeros = (n: number) => new Uint8Array(n);
  await assertRoundTrip(both, Buffer.concat([xa, xb]), 'two streams');
  await assertRoundTrip(both, Buffer.concat([xa, zeros(8), xb, zeros(4)]), 'padded streams');
  const empty = xz(['-c'], inputs!.empty);
  await assertRoundTrip(both, Buffer.concat([empty, xa, empty, xb, empty]), 'with empty streams');
  await assertRejects(Buffer.concat([xa, zeros(3), xb]), 'padding not a multiple of 4');
  await assertRejects(Buffer.concat([xa, zeros(2)]), 'short trailing padding');
  await assertRejects(Buffer.concat([xa, Buffer.from('trailing garbage')]), 'trailing garbage');
});

test('pre-filters and LZMA properties: BCJ, Delta, lc/lp/pb', { skip: noXz, timeout }, async () => {
  const data = systemLike(512 * 1024, 5);
  const chains = [
    ['--x86', '--lzma2'],
    ['--sparc', '--lzma2'],
    ['--powerpc', '--lzma2'],
    ['--arm', '--lzma2'],
    ['--armthumb', '--lzma2'],
    ['--arm64', '--lzma2'],
    ['--delta=dist=3', '--lzma2'],
    ['--delta=dist=2', '--x86', '--lzma2'],
    ['--x86=start=4096', '--lzma2'],
    ['--lzma2=preset=6,lc=0,lp=2,pb=0'],
    ['--lzma2=preset=6,lc=4,lp=0,pb=4'],
    ['--lzma2=preset=1,lc=1,lp=3,pb=3'],
  ];
  for (const chain of chains) {
    let compressed: Buffer;
    try {
      compressed = xz([...chain, '-c'], data);
    } catch {
      continue; // an older xz without this filter (ARM64 came in 5.4)
    }
    await assertRoundTrip(data, compressed, chain.join(' '));
  }
  // real machine code, where the x86 converter has work to do
  const binary = readFileSync(process.execPath).subarray(0, 1024 * 1024);
  await assertRoundTrip(binary, xz(['--x86', '--lzma2=preset=1', '-c'], binary), 'node binary --x86');
});

test('input fed in 1..13-byte pieces decodes the same', { skip: noXz, timeout }, async () => {
  const data = systemLike(60_000, 11);
  for (const args of [['-c'], ['-T2', '--block-size=16KiB', '--check=crc32', '-c'], ['--check=sha256', '-c']]) {
    const compressed = Buffer.concat([xz(args, data), new Uint8Array(4), xz(['-c'], inputs!.small)]);
    const next = rng(12);
    const decoded = await decode(pieces(compressed, () => 1 + ((next() * 13) | 0)));
    assert.ok(decoded.equals(Buffer.concat([data, inputs!.small])), args.join(' '));
  }
});

test('the libarchive fixture test_extract.cpio.xz equals xz -dc', { skip: noXz, timeout }, async (t) => {
  const fixture = '/work/shared/fixtures/libarchive/test_extract.cpio.xz';
  if (!existsSync(fixture)) {
    t.skip(`${fixture} is absent`);
    return;
  }
  const compressed = readFileSync(fixture);
  await assertRoundTrip(xz(['-dc'], compressed), compressed, 'test_extract.cpio.xz');
});

// ---- streaming and bounded memory ----

test('output starts before the input is consumed, in bounded pieces', { skip: noXz, timeout }, async () => {
  const data = inputs!.text;
  const compressed = xz(['-c'], data);
  let consumed = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < compressed.length; at += 4096) {
      const piece = compressed.subarray(at, at + 4096);
      consumed += piece.length;
      yield piece;
    }
  }
  let firstAt = -1;
  let largest = 0;
  for await (const piece of xzFilter.decode(counted())) {
    if (firstAt < 0) firstAt = consumed;
    largest = Math.max(largest, piece.length);
  }
  // output is handed on in pieces of about 1 MiB, so the first one comes after ~1/2 of this input
  assert.ok(firstAt < compressed.length * 0.75, `first output after ${firstAt} of ${compressed.length} bytes`);
  assert.ok(largest <= 3 * 1024 * 1024, `largest piece ${largest}`);
});

test('an xz inside an xz decodes by stacking two decoders', { skip: noXz, timeout }, async () => {
  const data = inputs!.small;
  const inner = xz(['-c'], data);
  const outer = xz(['-c', '--check=sha256'], inner);
  const out: Uint8Array[] = [];
  for await (const piece of xzFilter.decode(xzFilter.decode(whole(outer)))) out.push(piece);
  assert.ok(Buffer.concat(out).equals(data));
});

test('stopping early returns the upstream iterator', { skip: noXz, timeout }, async () => {
  const compressed = xz(['-c'], inputs!.text);
  let returned = false;
  const upstream: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      let at = 0;
      return {
        async next() {
          if (at >= compressed.length) return { done: true, value: undefined };
          const piece = compressed.subarray(at, at + 65536);
          at += piece.length;
          return { done: false, value: piece };
        },
        async return() {
          returned = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  for await (const _ of xzFilter.decode(upstream)) break;
  assert.ok(returned);
});

test('an upstream error passes through unchanged', { timeout }, async () => {
  const failure = new Error('disk on fire');
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield Uint8Array.from([0xfd, 0x37, 0x7a]);
    throw failure;
  }
  await assert.rejects(decode(failing()), (error) => error === failure);
});

// ---- hostile and damaged input ----

test('corrupt streams fail with a P2VError at an offset', { skip: noXz, timeout }, async () => {
  const data = systemLike(200_000, 21);
  for (const args of [['-c'], ['-T2', '--block-size=64KiB', '--check=crc32', '-c'], ['--check=sha256', '-c']]) {
    const compressed = xz(args, data);
    const next = rng(22);
    // the middle, then positions all over: headers, LZMA data, index, footer
    const positions = [compressed.length >> 1];
    for (let i = 0; i < 60; i++) positions.push((next() * compressed.length) | 0);
    for (const position of positions) {
      const damaged = Buffer.from(compressed);
      damaged[position] ^= 1 + ((next() * 255) | 0);
      await assertRejects(damaged, `${args.join(' ')}: byte ${position} flipped`);
    }
    const middle = Buffer.from(compressed);
    for (let i = 0; i < 16; i++) middle[(compressed.length >> 1) + i] ^= 0xff;
    const error = await assertRejects(middle, `${args.join(' ')}: 16 bytes flipped in the middle`);
    assert.ok(error.details.offset! >= compressed.length >> 2, `offset ${error.details.offset} near the damage`);
  }
});

test('a wrong check value is reported as such', { skip: noXz, timeout }, async () => {
  const data = inputs!.small;
  for (const [check, size] of [['crc32', 4], ['crc64', 8], ['sha256', 32]] as const) {
    const compressed = Buffer.from(xz([`--check=${check}`, '-c'], data));
    // the block check sits just before the index; the index of one block is 12 bytes, the footer 12
    const checkAt = compressed.length - 12 - 12 - size;
    compressed[checkAt] ^= 0x55;
    const error = await assertRejects(compressed, check);
    assert.match(error.message, /check mismatch/);
    assert.equal(error.details.offset, checkAt);
  }
});

test('truncated streams fail with a P2VError', { skip: noXz, timeout }, async () => {
  const compressed = xz(['-T2', '--block-size=64KiB', '-c'], systemLike(150_000, 31));
  const cuts = [0, 1, 5, 6, 11, 12, 13, 20, compressed.length >> 2, compressed.length >> 1];
  cuts.push(compressed.length - 13, compressed.length - 12, compressed.length - 4, compressed.length - 1);
  for (const cut of cuts) {
    const error = await assertRejects(compressed.subarray(0, cut), `cut at ${cut}`);
    assert.match(error.message, /truncated|no index/, `cut at ${cut}: ${error.message}`);
  }
});

test('garbage after the magic fails cleanly, never hangs', { skip: noXz, timeout }, async () => {
  const header = xz(['-c'], inputs!.empty).subarray(0, 12);
  const next = rng(41);
  for (let i = 0; i < 200; i++) {
    const junk = randomBytes(1 + ((next() * 3000) | 0), (next() * 1e9) | 0);
    let caught: unknown;
    try {
      await decode(whole(Buffer.concat([header, junk])));
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof P2VError, `junk ${i}: ${String(caught)}`);
    assert.ok(['P2V_BAD_ARCHIVE', 'P2V_UNSUPPORTED'].includes(caught.code), caught.message);
  }
});

test('an unsupported filter is P2V_UNSUPPORTED, not corruption', { skip: noXz, timeout }, async () => {
  let compressed: Buffer;
  try {
    compressed = xz(['--ia64', '--lzma2', '-c'], inputs!.small);
  } catch {
    return;
  }
  const error = await assertRejects(compressed, 'ia64', 'P2V_UNSUPPORTED');
  assert.match(error.message, /IA-64/);
});
