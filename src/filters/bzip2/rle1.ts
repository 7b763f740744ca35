/**
 * The bytes of a decoded bzip2 block, piece by piece. A block of long runs comes back from the
 * decoder in its RLE1 form (block-decoder.ts wholeOutputMax); it is expanded here only as the
 * consumer takes the pieces, so at most one piece of it exists at a time.
 */
import type { DecodedBlock } from './block-decoder.js';

/** Size of the pieces a block's RLE1 form expands into. */
export const rle1PieceBytes = 1024 * 1024;

export function* blockPieces(block: Pick<DecodedBlock, 'data' | 'expandedLength'>): Generator<Uint8Array, void, undefined> {
  if (block.expandedLength === undefined) yield block.data;
  else yield* expandRle1(block.data, block.expandedLength);
}

/**
 * Undo bzip2's initial run-length step over `runs` (4 equal bytes, then a count of 0..255 more),
 * yielding fresh pieces of at most `pieceBytes` that add up to `length` bytes. `length` comes
 * from the decoder, which expanded the same bytes once for the CRC: a mismatch is a bug.
 */
export function* expandRle1(runs: Uint8Array, length: number, pieceBytes = rle1PieceBytes): Generator<Uint8Array, void, undefined> {
  let produced = 0; // bytes in the pieces already yielded
  let piece: Uint8Array = new Uint8Array(Math.min(pieceBytes, length));
  let o = 0;
  const nextPiece = (): Uint8Array => {
    produced += o;
    o = 0;
    if (produced >= length) throw new Error(`bzip2: a block's runs expand past the ${length} bytes its decoder counted`);
    return new Uint8Array(Math.min(pieceBytes, length - produced));
  };
  let last = -1; // previous byte of the current run, -1 after a run count
  let same = 0; // how many times `last` was just repeated (a 4th is followed by a count)
  for (let i = 0; i < runs.length; i++) {
    const byte = runs[i]!;
    if (same === 4) {
      for (let count = byte; count > 0; ) {
        if (o === piece.length) {
          yield piece;
          piece = nextPiece();
        }
        const n = Math.min(count, piece.length - o);
        piece.fill(last, o, o + n);
        o += n;
        count -= n;
      }
      same = 0;
      last = -1;
      continue;
    }
    if (o === piece.length) {
      yield piece;
      piece = nextPiece();
    }
    piece[o++] = byte;
    if (byte === last) {
      same++;
    } else {
      last = byte;
      same = 1;
    }
  }
  if (produced + o !== length) throw new Error(`bzip2: a block's runs expand to ${produced + o} bytes, its decoder counted ${length}`);
  if (o > 0) yield piece.subarray(0, o);
}
