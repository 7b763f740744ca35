/**
 * The streaming bzip2 driver: chunks in, one decoded block at a time out.
 *
 * State machine (byte/bit positions are relative to the input window):
 *   HEADER    at a byte boundary: "BZh" + level '1'..'9' starts a stream. Anything else after a
 *             finished stream is trailing garbage and ends the output, as `bzip2 -dc` does; before
 *             the first stream it is an error.
 *   MAGIC     48 bits: 0x314159265359 → BLOCK; 0x177245385090 → END; else corrupt.
 *   BLOCK     wait until the block is probably complete, decode it (block-decoder.ts), check its
 *             CRC, fold it into the stream CRC, emit its bytes → MAGIC.
 *   END       32-bit stream CRC, then padding to a byte boundary → HEADER (pbzip2 writes one
 *             stream per chunk, and `cat a.bz2 b.bz2` is a valid bzip2 file too).
 *
 * Bounded memory: blocks are not byte-aligned and carry no length, so the window keeps the bytes
 * from the current block's magic onwards and grows as chunks arrive. The block is decoded once the
 * next block or end-of-stream magic shows up in the window (a 32-bit scan at every bit alignment),
 * or the input ends. The scan only says when to try: the block's real end comes from decoding it.
 * If the magic was a false match inside compressed data, the decoder reports that it ran out of
 * bytes and we wait for twice as many before trying again, so a hostile stream full of fake
 * magics costs at most about twice the work. A block larger than any encoder can produce
 * (`maxCompressedBlockBytes`) is an error, so the window holds at most ~2.3 MB plus one chunk.
 */
import { badArchive } from '../../errors.js';
import { BitReader } from './bit-reader.js';
import { BlockWorkspace, decodeBlock } from './block-decoder.js';
import { blockPieces } from './rle1.js';
import { combineStreamCrc } from './crc32.js';
import { InputWindow } from '../../io/input-window.js';

export { InputWindow } from '../../io/input-window.js';

const layer = 'bzip2';
export const blockMagic = 0x314159265359;
export const endMagic = 0x177245385090;

/**
 * The largest compressed size of one block at `level` (1..9) we buffer. Every symbol costs at most
 * 20 bits and a block holds at most level x 100k symbols plus end-of-block: 250 kB per level;
 * selectors (32767 x 6 bits) and code lengths fit in the 64 KiB margin. Only a stream that encodes
 * code lengths with pointless +1/-1 detours could exceed this; no encoder writes one.
 */
export function maxCompressedBlockBytes(level: number): number {
  return level * 250_000 + 64 * 1024;
}

// The 32 bits of a magic that fill whole bytes, at each of the 8 bit alignments, for the scan;
// and their first 16 bits as a 64 Ki-entry filter, so most positions cost one table lookup.
const magicWords = new Uint32Array(16);
const magicPrefixes = new Uint8Array(65536);
for (let shift = 0; shift < 8; shift++) {
  for (const [i, magic] of [blockMagic, endMagic].entries()) {
    const word = Math.floor(magic / 2 ** (8 + shift)) % 2 ** 32;
    magicWords[i * 8 + shift] = word;
    magicPrefixes[word >>> 16] = 1;
  }
}

/**
 * First index k in [from, to - 4] where bytes k..k+3 are the middle of a block or end-of-stream
 * magic starting in byte k-1 (at any bit), or -1. Candidates only: the decoder has the last word.
 * Exported for the block-parallel driver, which needs block boundaries up front.
 * HOT (every compressed byte): a rolling 16-bit prefix through the filter table.
 */
export function findMagic(data: Uint8Array, from: number, to: number): number {
  const last = to - 4;
  if (from > last) return -1;
  let prefix = data[from]!;
  for (let k = from; k <= last; k++) {
    prefix = ((prefix << 8) | data[k + 1]!) & 0xffff;
    if (magicPrefixes[prefix] === 0) continue;
    const word = ((prefix << 16) | (data[k + 2]! << 8) | data[k + 3]!) >>> 0;
    for (let i = 0; i < 16; i++) if (magicWords[i] === word) return k;
  }
  return -1;
}

export function isHeader(bytes: Uint8Array): boolean {
  return bytes[0] === 0x42 && bytes[1] === 0x5a && bytes[2] === 0x68 && bytes[3]! >= 0x31 && bytes[3]! <= 0x39;
}

/** True when `bytes` (fewer than 4) could be the start of a stream header. */
export function isHeaderPrefix(bytes: Uint8Array): boolean {
  const start = [0x42, 0x5a, 0x68]; // "BZh"
  return bytes.every((byte, i) => i >= 3 || byte === start[i]);
}

export function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Decode a bzip2 file (one or more concatenated streams) chunk by chunk. */
export async function* decodeBzip2(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const iterator = input[Symbol.asyncIterator]();
  const source = new InputWindow(iterator);
  const workspace = new BlockWorkspace();
  let streams = 0;
  try {
    for (;;) {
      // HEADER
      await source.ensure(4);
      const head = source.bytes();
      if (!isHeader(head)) {
        if (streams === 0) {
          const what = head.length === 0 ? 'empty input' : 'no "BZh1".."BZh9" header';
          throw badArchive(`not a bzip2 stream: ${what}`, { layer, offset: source.offset });
        }
        if (head.length < 4 && head.length > 0 && isHeaderPrefix(head)) {
          throw badArchive('bzip2 stream truncated inside a stream header', { layer, offset: source.offset });
        }
        return; // end of input, or trailing garbage (bzip2 -dc ignores it too)
      }
      const level = head[3]! - 0x30;
      streams++;
      let streamCrc = 0;
      let bit = 32; // next bit to read, relative to the source

      for (;;) {
        // MAGIC
        source.discard(bit >>> 3);
        bit &= 7;
        const magicOffset = source.offset;
        if (!(await source.ensure((bit + 48 + 7) >>> 3))) {
          throw badArchive('bzip2 stream truncated: input ends before the end-of-stream marker', {
            layer,
            offset: source.offset + source.length,
          });
        }
        let reader = new BitReader(source.bytes(), bit);
        const magic = reader.read(24) * 2 ** 24 + reader.read(24);
        bit = reader.bitOffset;

        if (magic === endMagic) {
          // END
          if (!(await source.ensure((bit + 32 + 7) >>> 3))) {
            throw badArchive('bzip2 stream truncated inside the end-of-stream marker', {
              layer,
              offset: source.offset + source.length,
            });
          }
          reader = new BitReader(source.bytes(), bit);
          const stored = reader.read32();
          if (stored !== streamCrc) {
            throw badArchive(`bzip2 stream CRC mismatch (stored ${hex(stored)}, computed ${hex(streamCrc)})`, {
              layer,
              offset: magicOffset,
            });
          }
          source.discard((reader.bitOffset + 7) >>> 3); // padding to a byte boundary
          break;
        }
        if (magic !== blockMagic) {
          throw badArchive('bad bzip2 block magic: the stream is corrupt', { layer, offset: magicOffset });
        }

        // BLOCK: wait for the next magic (or the end of input), then decode.
        const cap = maxCompressedBlockBytes(level);
        let scanFrom = (bit >>> 3) + 1;
        let candidate = -1;
        let tryAt = 0; // source length needed before the next attempt (after a false magic)
        for (;;) {
          while (!source.ended) {
            if (candidate < 0) {
              candidate = findMagic(source.bytes(), scanFrom, source.length);
              if (candidate < 0) scanFrom = Math.max(scanFrom, source.length - 3);
            }
            if ((candidate >= 0 && source.length >= tryAt) || source.length > cap) break;
            await source.pull();
          }
          const block = decodeBlock(source.bytes(), bit, level, { offset: magicOffset, workspace });
          if (block) {
            if (block.computedCrc !== block.storedCrc) {
              throw badArchive(
                `bzip2 block CRC mismatch (stored ${hex(block.storedCrc)}, computed ${hex(block.computedCrc)}): the data is corrupt`,
                { layer, offset: magicOffset },
              );
            }
            streamCrc = combineStreamCrc(streamCrc, block.computedCrc);
            bit = block.endBit;
            yield* blockPieces(block);
            break;
          }
          if (source.ended) {
            throw badArchive(
              `bzip2 stream truncated (or corrupt): input ends inside the block that starts at byte ${magicOffset}`,
              { layer, offset: source.offset + source.length },
            );
          }
          if (source.length > cap) {
            throw badArchive(`bzip2 block is larger than ${cap} bytes, more than any encoder writes`, {
              layer,
              offset: magicOffset,
            });
          }
          // The magic was a false match inside the compressed data: look further, with more bytes.
          scanFrom = candidate + 1;
          candidate = -1;
          tryAt = source.length * 2;
        }
      }
    }
  } finally {
    await iterator.return?.();
  }
}
