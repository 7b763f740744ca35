/**
 * Shared by the bzip2 filter tests (bzip2.test.ts, bzip2-parallel.test.ts): the real tools,
 * seeded input generators, and a tiny block rewriter to build hostile and odd streams.
 */
import { spawnSync } from 'node:child_process';
import { bzip2Filter } from '../../src/filters/bzip2/index.js';
import { BitReader } from '../../src/filters/bzip2/bit-reader.js';

// ---- tools ----

const available = new Map<string, boolean>();
export function hasTool(name: string): boolean {
  if (!available.has(name)) available.set(name, spawnSync(name, ['--version'], { stdio: 'ignore' }).error === undefined);
  return available.get(name)!;
}

export function run(command: string, args: string[], input: Uint8Array): Buffer {
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 30 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.toString()}`);
  return result.stdout;
}

export const bzip2 = (data: Uint8Array, level = 9) => run('bzip2', [`-${level}`, '-c'], data);

// ---- seeded inputs ----

/** mulberry32: tiny, seedable, good enough to make test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(size: number, seed: number): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (next() * 256) | 0;
  return out;
}

const vocabulary = (
  'zone root usr lib etc var opt sbin svc method start stop pkg install patch device driver kernel ' +
  'the of and to a in is for not with on by file system user default value solaris sun sparc i86pc'
).split(' ');

export function textBytes(size: number, seed: number): Uint8Array {
  const next = rng(seed);
  let text = '';
  while (text.length < size) {
    const words = 3 + ((next() * 10) | 0);
    const line: string[] = [];
    for (let i = 0; i < words; i++) line.push(vocabulary[(next() * next() * vocabulary.length) | 0]!);
    text += `${line.join(' ')}${next() < 0.2 ? ` ${(next() * 1e6) | 0}` : ''}\n`;
  }
  return new TextEncoder().encode(text.slice(0, size));
}

/** Runs of one byte of every length that matters to RLE1 (4 starts a run, a count tops at 255). */
export function runsBytes(seed: number): Uint8Array {
  const next = rng(seed);
  const lengths = [1, 2, 3, 4, 5, 6, 7, 8, 250, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 264];
  lengths.push(509, 510, 511, 512, 513, 517, 518, 519, 1000, 4096, 65535, 65536);
  for (let i = 0; i < 200; i++) lengths.push(1 + ((next() * 600) | 0));
  const parts: number[] = [];
  let previous = -1;
  for (const length of lengths) {
    let byte = (next() * 4) | 0; // few values, so neighbouring runs often share a byte
    if (next() < 0.5 && previous >= 0) byte = previous; // a run continuing a run
    for (let i = 0; i < length; i++) parts.push(byte);
    previous = byte;
  }
  return Uint8Array.from(parts);
}

/** Mixed content, like a system image: text, binary-ish, random, zero padding. */
export function mixedBytes(size: number, seed: number): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const length = Math.min(size - at, 1 + ((next() * 40_000) | 0));
    const kind = (next() * 4) | 0;
    if (kind === 0) out.set(textBytes(length, (next() * 2 ** 32) >>> 0), at);
    else if (kind === 1) out.set(randomBytes(length, (next() * 2 ** 32) >>> 0), at);
    else if (kind === 2) for (let i = 0; i < length; i++) out[at + i] = (next() * next() * 24) | 0;
    at += length; // kind 3: zeros
  }
  return out;
}

// ---- a tiny bzip2 block rewriter, to build hostile and odd streams from real ones ----

export interface ParsedBlock {
  level: number;
  crc: number;
  randomised: number;
  origPtr: number;
  /** the 16-bit range map and the 16-bit maps that follow it, as read */
  bitmap: number[];
  groups: number;
  /** selector MTF values, as stored */
  selectors: number[];
  lengths: number[][];
  /** the original stream, and the bit where the Huffman-coded data starts */
  source: Uint8Array;
  dataBit: number;
}

/** Parse the header of the first block of a single-block stream. */
export function parseSingleBlock(stream: Uint8Array): ParsedBlock {
  const r = new BitReader(stream, 80);
  const crc = r.read32();
  const randomised = r.bit();
  const origPtr = r.read(24);
  const ranges = r.read(16);
  const bitmap = [ranges];
  let inUse = 0;
  for (let i = 0; i < 16; i++) {
    if (ranges & (0x8000 >>> i)) {
      const used = r.read(16);
      bitmap.push(used);
      for (let j = 0; j < 16; j++) if (used & (0x8000 >>> j)) inUse++;
    }
  }
  const groups = r.read(3);
  const selectors: number[] = [];
  for (let i = 0, n = r.read(15); i < n; i++) {
    let j = 0;
    while (r.bit()) j++;
    selectors.push(j);
  }
  const lengths: number[][] = [];
  for (let g = 0; g < groups; g++) {
    const row: number[] = [];
    let length = r.read(5);
    for (let s = 0; s < inUse + 2; s++) {
      while (r.bit()) length += r.bit() ? -1 : 1;
      row.push(length);
    }
    lengths.push(row);
  }
  return { level: stream[3]! - 0x30, crc, randomised, origPtr, bitmap, groups, selectors, lengths, source: stream, dataBit: r.bitOffset };
}

export class BitWriter {
  private bytes: number[] = [];
  private current = 0;
  private used = 0;
  write(value: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) {
      this.current = (this.current << 1) | (Math.floor(value / 2 ** i) & 1);
      if (++this.used === 8) {
        this.bytes.push(this.current);
        this.current = 0;
        this.used = 0;
      }
    }
  }
  finish(): Buffer {
    if (this.used > 0) this.write(0, 8 - this.used);
    return Buffer.from(this.bytes);
  }
}

/** Write the stream back with the (changed) header and the original data bits after it. */
export function writeSingleBlock(block: ParsedBlock): Buffer {
  const w = new BitWriter();
  w.write(0x425a6830 + block.level, 32);
  w.write(0x314159265359, 48);
  w.write(block.crc, 32);
  w.write(block.randomised, 1);
  w.write(block.origPtr, 24);
  for (const map of block.bitmap) w.write(map, 16);
  w.write(block.groups, 3);
  w.write(block.selectors.length, 15);
  for (const j of block.selectors) w.write(((1 << j) - 1) << 1, j + 1);
  for (const row of block.lengths) {
    let length = row[0]!;
    w.write(length, 5);
    for (const target of row) {
      for (; length < target; length++) w.write(0b10, 2);
      for (; length > target; length--) w.write(0b11, 2);
      w.write(0, 1);
    }
  }
  const r = new BitReader(block.source, block.dataBit);
  for (let left = block.source.length * 8 - block.dataBit; left > 0; left--) w.write(r.bit(), 1);
  return w.finish();
}

/** Selector values (unary, j ones then a zero) whose bits spell `magic`, then a final zero. */
export function magicSelectors(magic: number): number[] {
  const selectors: number[] = [];
  let ones = 0;
  for (let i = 47; i >= 0; i--) {
    if (Math.floor(magic / 2 ** i) & 1) {
      ones++;
    } else {
      selectors.push(ones);
      ones = 0;
    }
  }
  selectors.push(ones);
  return selectors;
}

// ---- helpers that look inside a stream ----

export function countHeaders(data: Uint8Array): number {
  let n = 0;
  for (let i = 0; i + 10 <= data.length; i++) {
    if (bzip2Filter.bid(data.subarray(i, i + 10)) > 0) n++;
  }
  return n;
}

/** Bit offset of the last end-of-stream magic (0x177245385090), searched from the end. */
export function lastEndOfStreamBit(data: Uint8Array): number {
  const bitAt = (bit: number) => (data[bit >>> 3]! >>> (7 - (bit & 7))) & 1;
  for (let start = data.length * 8 - 80; start >= 0; start--) {
    let value = 0;
    for (let i = 0; i < 48; i++) value = value * 2 + bitAt(start + i);
    if (value === 0x177245385090) return start;
  }
  throw new Error('no end-of-stream magic');
}

export function flipBit(data: Uint8Array, bit: number): void {
  data[bit >>> 3]! ^= 0x80 >>> (bit & 7);
}

/** `data` as an input stream in pieces of `sizes` bytes (a number, or a function of the piece index). */
export async function* chunked(data: Uint8Array, sizes: number | ((i: number) => number)): AsyncGenerator<Uint8Array> {
  const size = typeof sizes === 'number' ? () => sizes : sizes;
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.max(1, size(i));
    yield data.subarray(at, at + n);
    at += n;
  }
}
