/**
 * expandRle1: a block's RLE1 form expanded piece by piece, with runs split across pieces of any
 * size, gives exactly the bytes of the whole expansion; a length that disagrees is an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandRle1 } from '../../../src/filters/bzip2/rle1.js';
import { rng } from '../../helpers/bzip2-data.js';

/** The RLE1 form of `bytes`, as bzip2's encoder writes it (runs of 4..259 equal bytes). */
function encodeRle1(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; ) {
    let run = 1;
    while (i + run < bytes.length && bytes[i + run] === bytes[i] && run < 259) run++;
    if (run >= 4) {
      out.push(bytes[i]!, bytes[i]!, bytes[i]!, bytes[i]!, run - 4);
    } else {
      for (let k = 0; k < run; k++) out.push(bytes[i]!);
    }
    i += run;
  }
  return Uint8Array.from(out);
}

function sample(seed: number): Uint8Array {
  const next = rng(seed);
  const parts: number[] = [];
  while (parts.length < 20_000) {
    const byte = Math.floor(next() * 4);
    const run = next() < 0.3 ? Math.floor(next() * 600) : 1 + Math.floor(next() * 3);
    for (let k = 0; k < run; k++) parts.push(byte);
  }
  return Uint8Array.from(parts);
}

test('expandRle1: pieces of every size rebuild the bytes, runs split across pieces', () => {
  for (const seed of [1, 2, 3]) {
    const bytes = sample(seed);
    const runs = encodeRle1(bytes);
    assert.ok(runs.length < bytes.length, 'the sample has long runs');
    for (const pieceBytes of [1, 2, 3, 5, 7, 64, 255, 256, 259, 1000, 4096, bytes.length, bytes.length + 1]) {
      const pieces = [...expandRle1(runs, bytes.length, pieceBytes)];
      for (const piece of pieces) assert.ok(piece.length > 0 && piece.length <= pieceBytes, `piece of ${piece.length} (max ${pieceBytes})`);
      assert.ok(Buffer.concat(pieces).equals(Buffer.from(bytes)), `seed ${seed}, pieces of ${pieceBytes}`);
    }
  }
});

test('expandRle1: a length that disagrees with the runs is an error, not wrong bytes', () => {
  const bytes = sample(4);
  const runs = encodeRle1(bytes);
  assert.throws(() => [...expandRle1(runs, bytes.length - 1, 100)], /expand past/);
  assert.throws(() => [...expandRle1(runs, bytes.length + 1, 100)], /expand to/);
});
