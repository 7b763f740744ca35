/**
 * The two twins of the bzip2 block decoder - WebAssembly (native-wasm/assembly/bzip2.ts) and
 * TypeScript (src/filters/bzip2/block-decoder.ts) - must agree on every block: the same bytes,
 * CRCs and end bit, the same "need more input" on a cut block, the same error (message and
 * offset) on a damaged one. Inputs are seeded and compressed by the real bzip2 at several levels;
 * the decoded bytes are also compared with the original (what `bzip2 -dc` gives back).
 * Every test has a timeout, so a kernel that loops fails instead of hanging.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2VError } from '../../../src/errors.js';
import { BlockWorkspace, type DecodedBlock, decodeBlock, wholeOutputMax } from '../../../src/filters/bzip2/block-decoder.js';
import { blockPieces, rle1PieceBytes } from '../../../src/filters/bzip2/rle1.js';
import { decodeBzip2 } from '../../../src/filters/bzip2/stream.js';
import type { KernelChoice } from '../../../src/native/wasm-kernels.js';
import { bzip2, chunked, flipBit, hasTool, mixedBytes, randomBytes, rng, runsBytes, textBytes } from '../../helpers/bzip2-data.js';

const hasBzip2 = hasTool('bzip2');
const noBzip2 = 'bzip2 is not installed';
const slow = { timeout: 300_000 };

const workspaces: Record<KernelChoice, BlockWorkspace> = {
  wasm: new BlockWorkspace({ kernel: 'wasm' }),
  ts: new BlockWorkspace({ kernel: 'ts' }),
};

type Outcome = { block: DecodedBlock | null } | { error: { code: string; message: string; offset: unknown } };

function decodeWith(kernel: KernelChoice, data: Uint8Array, startBit: number, level: number, end?: number): Outcome {
  try {
    return { block: decodeBlock(data, startBit, level, { end, workspace: workspaces[kernel] }) };
  } catch (error) {
    if (!(error instanceof P2VError)) throw error; // anything else is a crash, not a verdict
    return { error: { code: error.code, message: error.message, offset: error.details.offset } };
  }
}

/** Both twins on one block; they must agree exactly. Returns the common outcome. */
function bothAgree(data: Uint8Array, startBit: number, level: number, what: string, end?: number): Outcome {
  const wasm = decodeWith('wasm', data, startBit, level, end);
  const ts = decodeWith('ts', data, startBit, level, end);
  if ('block' in wasm && 'block' in ts && wasm.block && ts.block) {
    const { data: a, ...restA } = wasm.block;
    const { data: b, ...restB } = ts.block;
    assert.deepEqual(restA, restB, `${what}: CRCs, end bit, expanded length`);
    assert.ok(Buffer.from(a).equals(Buffer.from(b)), `${what}: output`);
  } else {
    assert.deepEqual(wasm, ts, `${what}: same verdict`);
  }
  return wasm;
}

/** Walk a single-stream file block by block (magic, block, magic, ... end-of-stream). */
function blocksOf(stream: Uint8Array): { startBit: number; level: number }[] {
  const level = stream[3]! - 0x30;
  const blocks: { startBit: number; level: number }[] = [];
  let bit = 32;
  for (;;) {
    const magic = read48(stream, bit);
    if (magic === 0x177245385090) return blocks;
    assert.equal(magic, 0x314159265359, `block magic at bit ${bit}`);
    const decoded = decodeWith('ts', stream, bit + 48, level);
    assert.ok('block' in decoded && decoded.block, `block at bit ${bit} decodes`);
    blocks.push({ startBit: bit + 48, level });
    bit = decoded.block.endBit;
  }
}

function read48(data: Uint8Array, bit: number): number {
  let value = 0;
  for (let i = 0; i < 48; i++) value = value * 2 + ((data[Math.floor((bit + i) / 8)]! >>> (7 - ((bit + i) % 8))) & 1);
  return value;
}

const inputs: [string, Uint8Array][] = [
  ['empty-ish 1 byte', new Uint8Array([65])],
  ['text 10k', textBytes(10_000, 1)],
  ['random 50k', randomBytes(50_000, 2)],
  ['runs', runsBytes(3)],
  ['periodic (abc)^k', new Uint8Array(300_000).map((_, i) => 97 + (i % 3))],
  ['one byte x 2 MB', new Uint8Array(2_000_000).fill(7)],
  ['mixed 1.3 MB', mixedBytes(1_300_000, 4)],
  // blocks whose runs expand past wholeOutputMax: returned in RLE1 form, expanded by blockPieces
  ['one byte x 30 MB', new Uint8Array(30_000_000).fill(0)],
  ['runs of 200 kB between text', runsBetweenText(30, 200_000)],
];

/** Text with `count` runs of `runBytes` equal bytes between its pieces: window flushes land at
 *  many places in a run and between runs. */
function runsBetweenText(count: number, runBytes: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) parts.push(textBytes(3_000 + i * 7, 20 + i), new Uint8Array(runBytes + i * 13).fill(i));
  return Buffer.concat(parts);
}

test('bzip2 kernels: every block of real bzip2 -1/-5/-9 output decodes the same in both twins', slow, (t) => {
  if (!hasBzip2) return t.skip(noBzip2);
  let blocks = 0;
  let runForm = 0;
  for (const level of [1, 5, 9]) {
    for (const [name, data] of inputs) {
      const stream = bzip2(data, level);
      const parts: Uint8Array[] = [];
      for (const { startBit } of blocksOf(stream)) {
        const outcome = bothAgree(stream, startBit, level, `-${level} ${name} block at bit ${startBit}`);
        assert.ok('block' in outcome && outcome.block);
        assert.equal(outcome.block.computedCrc, outcome.block.storedCrc, 'CRC');
        const { block } = outcome;
        if (block.expandedLength !== undefined) {
          runForm++;
          assert.ok(block.data.length <= level * 100_000, 'the RLE1 form is at most a block of symbols');
          assert.ok(block.expandedLength > wholeOutputMax, 'only a block past the cap is returned in RLE1 form');
        }
        for (const piece of blockPieces(block)) {
          assert.ok(piece.length <= Math.max(wholeOutputMax, rle1PieceBytes), 'pieces are bounded');
          parts.push(piece);
        }
        blocks++;
      }
      assert.ok(Buffer.concat(parts).equals(Buffer.from(data)), `-${level} ${name}: blocks rebuild the input`);
    }
  }
  assert.ok(runForm > 0, 'some blocks came back in RLE1 form');
  t.diagnostic(`${blocks} blocks, ${runForm} in RLE1 form`);
});

test('bzip2 kernels: a block cut short anywhere gives the same verdict in both twins', slow, (t) => {
  if (!hasBzip2) return t.skip(noBzip2);
  const stream = bzip2(mixedBytes(200_000, 5), 9);
  const [{ startBit }] = blocksOf(stream);
  const next = rng(6);
  let short = 0;
  for (let round = 0; round < 120; round++) {
    const end = Math.floor(startBit / 8) + Math.floor(next() * (stream.length - startBit / 8));
    const outcome = bothAgree(stream, startBit!, 9, `cut at byte ${end}`, end);
    if ('block' in outcome && outcome.block === null) short++;
  }
  t.diagnostic(`${short} of 120 cuts: "need more input"`);
  assert.ok(short > 60);
});

test('bzip2 kernels: damaged blocks give the same bytes or the same error in both twins', slow, (t) => {
  if (!hasBzip2) return t.skip(noBzip2);
  const next = rng(7);
  let errors = 0;
  for (const [name, data] of [['text', textBytes(150_000, 8)], ['mixed', mixedBytes(400_000, 9)]] as const) {
    const stream = bzip2(data, 9);
    const [{ startBit }] = blocksOf(stream);
    for (let round = 0; round < 150; round++) {
      const damaged = Uint8Array.from(stream);
      // early rounds hit the header and tables (the rarer error paths), later ones anywhere
      const span = round < 75 ? 2000 : damaged.length * 8 - startBit!;
      for (let f = 1 + Math.floor(next() * 3); f > 0; f--) flipBit(damaged, startBit! + Math.floor(next() * span));
      const outcome = bothAgree(damaged, startBit!, 9, `${name} round ${round}`);
      if ('error' in outcome) errors++;
    }
  }
  t.diagnostic(`${errors} of 300 damaged blocks rejected with the same error`);
  assert.ok(errors > 50);
});

test('bzip2 kernels: whole streams through the serial driver, fed in odd chunks, match bzip2 -dc', slow, async (t) => {
  if (!hasBzip2) return t.skip(noBzip2);
  const data = mixedBytes(2_500_000, 10);
  const stream = bzip2(data, 3);
  for (const kernel of ['wasm', 'ts'] as const) {
    process.env.ZONEP2V_KERNELS = kernel; // the driver's workspace takes the default
    try {
      const parts: Uint8Array[] = [];
      for await (const piece of decodeBzip2(chunked(stream, (i) => 1 + ((i * 7919) % 40_000)))) parts.push(piece);
      assert.ok(Buffer.concat(parts).equals(Buffer.from(data)), `${kernel}: decoded stream`);
    } finally {
      delete process.env.ZONEP2V_KERNELS;
    }
  }
});

test('bzip2 kernels: every single-bit flip in a block header and tables gives the same verdict', slow, (t) => {
  if (!hasBzip2) return t.skip(noBzip2);
  const stream = bzip2(textBytes(20_000, 11), 9);
  const [{ startBit }] = blocksOf(stream);
  const verdicts = new Map<string, number>();
  for (let bit = startBit!; bit < Math.min(startBit! + 1500, stream.length * 8); bit++) {
    const damaged = Uint8Array.from(stream);
    flipBit(damaged, bit);
    const outcome = bothAgree(damaged, startBit!, 9, `flip of bit ${bit}`);
    const key = 'error' in outcome ? outcome.error.message : outcome.block ? 'decoded' : 'short';
    verdicts.set(key, (verdicts.get(key) ?? 0) + 1);
  }
  t.diagnostic([...verdicts].map(([k, n]) => `${n}x ${k}`).join('; '));
  assert.ok(verdicts.size >= 5, 'several distinct verdicts (header, tables, symbols)');
});
