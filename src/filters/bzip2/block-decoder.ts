/**
 * Decode ONE bzip2 block, given the compressed bytes and the bit offset just after its 48-bit
 * block magic. Pure function of its input (plus a reusable workspace), so a block can be decoded
 * on any thread once its boundaries are known; the streaming driver (stream.ts) finds them.
 *
 * A block, as the stages run in the decoder:
 *   header    block CRC (32), randomised (1), origPtr (24), the 16x16-bit map of bytes in use
 *   tables    nGroups (3) Huffman tables of nInUse+2 symbols, nSelectors (15) MTF/unary selectors
 *             naming the table for each group of 50 symbols, code lengths delta-coded per table
 *   symbols   Huffman → RUNA/RUNB zero-run lengths and move-to-front indices → the BWT last column
 *   BWT       inverse Burrows–Wheeler (inverse-bwt.ts): the column threaded into a cycle through
 *             one Uint32Array (`tt`: low byte = column byte, high bits = next row), walked by
 *             four lanes at once
 *   RLE1      undo the initial run-length step (4 equal bytes, then a count of 0..255 more)
 *   CRC       big-endian CRC-32 of the output, returned next to the stored one for the caller
 *
 * Input may stop before the block does: bytes past `end` read as zero, and when the decoder needed
 * them it returns `null` ("give me more bytes") instead of reporting corruption. The caller
 * retries with more input, or reports truncation when there is none.
 *
 * Two twins: this TypeScript decoder and the WebAssembly kernel native-wasm/assembly/bzip2.ts
 * (the same stages, checks and results), chosen per workspace (`kernel`, default ZONEP2V_KERNELS);
 * test/unit/filters/bzip2-kernels.test.ts runs both on the same blocks.
 *
 * Hot paths, tuned by measurement (bench/bzip2-bench.ts, perf): the symbol loop (table-driven
 * Huffman, bit buffer in locals), the BWT walk, the RLE1 pass. No allocation per symbol or byte.
 */
import { P2VError, badArchive } from '../../errors.js';
import { BitReader } from './bit-reader.js';
import { crc32Final, crc32Initial, crc32Update } from './crc32.js';
import { BwtScratch } from './inverse-bwt.js';
import { WasmBzip2Kernel } from '../../native/bzip2-kernel.js';
import { type KernelChoice, defaultKernels } from '../../native/wasm-kernels.js';

/**
 * A block's runs can expand its 900 kB of symbols to ~46 MB. Past this many bytes the decoder
 * does not keep them: it expands through a window of this size for the CRC only and returns the
 * RLE1 form (at most 900 kB), which `blockPieces` expands piecewise when the bytes are consumed.
 * With several blocks decoded ahead (parallel.ts) memory stays bounded whatever the runs.
 */
export const wholeOutputMax = 2 * 1024 * 1024;

/** What one block decodes to. */
export interface DecodedBlock {
  /** the block's bytes, or their RLE1 form when `expandedLength` is set; freshly allocated
   *  (safe to keep or transfer). Read the bytes with `blockPieces`. */
  data: Uint8Array;
  /** set when `data` is the RLE1 form: the length of the block's bytes */
  expandedLength?: number;
  /** CRC stored in the block header */
  storedCrc: number;
  /** CRC of the block's bytes; the caller compares and folds it into the stream CRC */
  computedCrc: number;
  /** bit offset in `data` just after the block's end-of-block symbol */
  endBit: number;
}

export interface BlockOptions {
  /** bytes of `data` that are input; later ones are "not arrived yet" (default: all) */
  end?: number;
  /** compressed byte offset to name in errors (default: the byte holding the block magic) */
  offset?: number;
  /** scratch arrays reused across blocks; one per thread */
  workspace?: BlockWorkspace;
}

const maxGroups = 6;
const maxAlphabet = 258; // 256 MTF values, RUNA/RUNB share slots 0/1, plus end-of-block
const maxCodeLength = 20;
const groupSize = 50;
/** bzip2 1.0.8 reads more selectors than this but ignores the excess (CVE-2019-12900 fix). */
const maxSelectors = 2 + 900_000 / groupSize;
/** Bits resolved by one table lookup; longer codes take the canonical-limit path. Measured 9..12:
 *  all within noise of each other; 10 keeps the six tables at 12 KiB. */
const tableBits = 10;
const tableMask = (1 << tableBits) - 1;
/** A run of 2^21 RUNA/RUNB already exceeds any block: bzip2 rejects it too (avoids overflow). */
const maxRunShift = 21;

/** Scratch space for decoding blocks; allocate one per thread and pass it to every call. */
export class BlockWorkspace {
  /** the WebAssembly twin, when chosen; it keeps its own tables and buffers */
  readonly kernel: WasmBzip2Kernel | null;
  tt = new Uint32Array(0);
  out: Uint8Array = new Uint8Array(0);
  readonly lengths = new Uint8Array(maxGroups * maxAlphabet);
  readonly perm = new Uint16Array(maxGroups * maxAlphabet);
  /** per group: entry = symbol << 5 | code length, 0 = code longer than tableBits */
  readonly table = new Uint16Array(maxGroups << tableBits);
  /** per group and length: one past the last canonical code of that length */
  readonly limit = new Int32Array(maxGroups * (maxCodeLength + 1));
  /** per group and length: index in `perm` minus the first code of that length */
  readonly base = new Int32Array(maxGroups * (maxCodeLength + 1));
  readonly maxLength = new Uint8Array(maxGroups);
  readonly selectors = new Uint8Array(maxSelectors);
  /** the move-to-front list of byte values */
  readonly mtf = new Uint8Array(256);
  readonly counts = new Int32Array(256);
  readonly seqToUnseq = new Uint8Array(256);
  readonly lengthCount = new Int32Array(maxCodeLength + 1);
  readonly nextIndex = new Int32Array(maxCodeLength + 1);
  readonly bwt = new BwtScratch();

  constructor(options: { kernel?: KernelChoice } = {}) {
    this.kernel = (options.kernel ?? defaultKernels()) === 'wasm' ? new WasmBzip2Kernel() : null;
  }

  /** Make room for a block of `level` x 100k bytes. */
  reserve(level: number): void {
    const need = level * 100_000;
    if (this.tt.length < need) this.tt = new Uint32Array(need);
    if (this.out.length < wholeOutputMax) this.out = new Uint8Array(wholeOutputMax);
  }
}

let sharedWorkspace: BlockWorkspace | undefined;

/** Corruption found at `bitOffset`; turned into "need more input" when that is past the data. */
class BlockCorrupt extends Error {
  constructor(
    message: string,
    readonly bitOffset: number,
  ) {
    super(message);
  }
}

/**
 * Decode the block whose data starts at bit `startBit` of `data` (just after the block magic).
 * `level` is the stream header's block size digit, 1..9.
 * Returns null when the input ends before the block does. Throws a P2VError when the block is
 * corrupt (P2V_BAD_ARCHIVE) or randomised (P2V_UNSUPPORTED). Does not check the CRC.
 */
export function decodeBlock(
  data: Uint8Array,
  startBit: number,
  level: number,
  options: BlockOptions = {},
): DecodedBlock | null {
  const end = Math.min(options.end ?? data.length, data.length);
  const offset = options.offset ?? Math.max(0, (startBit - 48) >> 3);
  const ws = options.workspace ?? (sharedWorkspace ??= new BlockWorkspace());
  if (ws.kernel) return ws.kernel.decode(data, startBit, level, end, offset);
  ws.reserve(level);
  const reader = new BitReader(data, startBit, end);
  try {
    return decode(reader, level, ws, offset);
  } catch (error) {
    if (!(error instanceof BlockCorrupt)) throw error;
    // Bits past the input read as zeros; an error they may have caused means "input too short".
    if (error.bitOffset + 32 > end * 8) return null;
    throw badArchive(`corrupt bzip2 block: ${error.message}`, { layer: 'bzip2', offset });
  }
}

function decode(reader: BitReader, level: number, ws: BlockWorkspace, offset: number): DecodedBlock | null {
  const storedCrc = reader.read32();
  const randomised = reader.bit();
  const origPtr = reader.read(24);
  if (reader.overran) return null;
  if (randomised) {
    throw new P2VError(
      'P2V_UNSUPPORTED',
      'randomised bzip2 block (written only by bzip2 0.9.0 and older) is not supported; recompress the image with a current bzip2',
      { layer: 'bzip2', offset },
    );
  }

  // Bytes in use: 16 flags, then 16 bits for each flagged range of 16 byte values.
  const seqToUnseq = ws.seqToUnseq;
  let inUse = 0;
  const ranges = reader.read(16);
  for (let i = 0; i < 16; i++) {
    if ((ranges & (0x8000 >>> i)) === 0) continue;
    const used = reader.read(16);
    for (let j = 0; j < 16; j++) if (used & (0x8000 >>> j)) seqToUnseq[inUse++] = i * 16 + j;
  }
  if (inUse === 0) throw corrupt('no byte values in use', reader);
  const alphabet = inUse + 2;

  const groups = reader.read(3);
  if (groups < 2 || groups > maxGroups) throw corrupt(`${groups} Huffman tables (must be 2..6)`, reader);
  const selectorCount = reader.read(15);
  if (selectorCount < 1) throw corrupt('no Huffman table selectors', reader);
  // Selectors: unary-coded move-to-front indices of the table to use for each 50 symbols.
  const selectors = ws.selectors;
  let order = 0x543210; // the MTF list of table numbers, 4 bits each, front in the low nibble
  for (let i = 0; i < selectorCount; i++) {
    let j = 0;
    while (reader.bit()) {
      if (++j >= groups) throw corrupt('Huffman table selector out of range', reader);
    }
    if (i < maxSelectors) {
      const shift = j * 4;
      const table = (order >>> shift) & 15;
      const below = order & ((1 << shift) - 1);
      order = (order & ~((16 << shift) - 1)) | (below << 4) | table;
      selectors[i] = table;
    }
  }
  if (reader.overran) return null;
  const usedSelectors = Math.min(selectorCount, maxSelectors);

  // Code lengths: a 5-bit start, then per symbol "0 = done, 10 = +1, 11 = -1".
  const lengths = ws.lengths;
  for (let g = 0; g < groups; g++) {
    let length = reader.read(5);
    const at = g * maxAlphabet;
    for (let s = 0; s < alphabet; s++) {
      for (;;) {
        if (length < 1 || length > maxCodeLength) throw corrupt('Huffman code length out of range', reader);
        if (!reader.bit()) break;
        length += reader.bit() ? -1 : 1;
      }
      lengths[at + s] = length;
    }
    if (reader.overran) return null;
    if (!buildTables(ws, g, alphabet)) throw corrupt('oversubscribed Huffman code lengths', reader);
  }

  const mtf = ws.mtf;
  for (let i = 0; i < inUse; i++) mtf[i] = seqToUnseq[i]!;
  ws.counts.fill(0);
  const blockLength = decodeSymbols(reader, ws, inUse + 1, usedSelectors, level * 100_000);
  if (blockLength < 0 || reader.overran) return null;
  if (origPtr >= blockLength) throw corrupt('BWT origin pointer beyond the block', reader);

  return { ...undoTransforms(ws, blockLength, origPtr), storedCrc, endBit: reader.bitOffset };
}

function corrupt(message: string, reader: BitReader): BlockCorrupt {
  return new BlockCorrupt(message, reader.bitOffset);
}

/**
 * Canonical Huffman decoding tables for group `g` from its code lengths (bzip2 assigns codes in
 * order of length, then symbol). Returns false for an oversubscribed (undecodable) code; an
 * incomplete code is accepted, and only fails if the data uses a missing code.
 */
function buildTables(ws: BlockWorkspace, g: number, alphabet: number): boolean {
  const lengths = ws.lengths;
  const perm = ws.perm;
  const at = g * maxAlphabet;
  const count = ws.lengthCount.fill(0);
  let maxLength = 0;
  for (let s = 0; s < alphabet; s++) {
    const length = lengths[at + s]!;
    count[length]!++;
    if (length > maxLength) maxLength = length;
  }
  ws.maxLength[g] = maxLength;

  const limit = ws.limit;
  const base = ws.base;
  const nextIndex = ws.nextIndex;
  const lb = g * (maxCodeLength + 1);
  let code = 0;
  let index = 0;
  for (let length = 1; length <= maxCodeLength; length++) {
    const n = count[length]!;
    limit[lb + length] = code + n;
    base[lb + length] = index - code;
    nextIndex[length] = index;
    code += n;
    index += n;
    if (code > 1 << length) return false;
    code <<= 1;
  }
  for (let s = 0; s < alphabet; s++) perm[at + nextIndex[lengths[at + s]!]!++] = s;

  const table = ws.table;
  const tb = g << tableBits;
  table.fill(0, tb, tb + (1 << tableBits));
  for (let length = 1; length <= tableBits && length <= maxLength; length++) {
    const stop = limit[lb + length]!;
    const span = tableBits - length;
    for (let c = stop - count[length]!; c < stop; c++) {
      const entry = (perm[at + base[lb + length]! + c]! << 5) | length;
      const from = tb + (c << span);
      table.fill(entry, from, from + (1 << span));
    }
  }
  return true;
}

/**
 * Huffman-decode the symbols into the BWT column `ws.tt` (one byte value per entry) and count
 * each byte value in `ws.counts`. Returns the column length, or -1 when it ran past the input.
 * HOT: the bit buffer lives in locals; one table lookup per symbol for codes up to tableBits.
 */
function decodeSymbols(
  reader: BitReader,
  ws: BlockWorkspace,
  endOfBlock: number,
  selectorCount: number,
  maxBlock: number,
): number {
  const data = reader.data;
  const end = reader.end;
  const endBits = end * 8;
  let pos = reader.pos;
  let bits = reader.bits;
  let count = reader.count;

  const table = ws.table;
  const limit = ws.limit;
  const base = ws.base;
  const perm = ws.perm;
  const maxLengths = ws.maxLength;
  const selectors = ws.selectors;
  const mtf = ws.mtf;
  const counts = ws.counts;
  const tt = ws.tt;

  let length = 0; // entries of tt filled
  let run = 0; // pending zero-run length from RUNA/RUNB
  let runShift = 0; // RUNA/RUNB digits seen in the pending run
  let left = 0; // symbols left in the current group of 50
  let selector = 0;
  let group = 0;
  let tb = 0;
  let symbol = 0;

  for (;;) {
    if (left === 0) {
      if (pos * 8 - count > endBits) return -1;
      if (selector >= selectorCount) throw new BlockCorrupt('more symbol groups than selectors', pos * 8 - count);
      group = selectors[selector++]!;
      tb = group << tableBits;
      left = groupSize;
    }
    left--;

    if (count < maxCodeLength) {
      do {
        bits = (bits << 8) | (pos < end ? data[pos]! : 0);
        pos++;
        count += 8;
      } while (count <= 24);
    }
    const entry = table[tb + ((bits >>> (count - tableBits)) & tableMask)]!;
    if (entry !== 0) {
      count -= entry & 31;
      symbol = entry >>> 5;
    } else {
      // A code longer than tableBits: walk the canonical limits.
      const peek = (bits >>> (count - maxCodeLength)) & ((1 << maxCodeLength) - 1);
      const lb = group * (maxCodeLength + 1);
      const maxLength = maxLengths[group]!;
      let codeLength = tableBits + 1;
      let code = 0;
      for (; codeLength <= maxLength; codeLength++) {
        code = peek >>> (maxCodeLength - codeLength);
        if (code < limit[lb + codeLength]!) break;
      }
      if (codeLength > maxLength) throw new BlockCorrupt('invalid Huffman code', pos * 8 - count);
      count -= codeLength;
      symbol = perm[group * maxAlphabet + base[lb + codeLength]! + code]!;
    }

    if (symbol <= 1) {
      // RUNA (0) / RUNB (1): bijective base-2 digits of a run of the MTF front byte.
      if (runShift >= maxRunShift) throw new BlockCorrupt('zero run too long', pos * 8 - count);
      run += (symbol + 1) << runShift;
      runShift++;
      continue;
    }
    if (runShift !== 0) {
      if (run > maxBlock - length) throw new BlockCorrupt('block longer than its size level', pos * 8 - count);
      const byte = mtf[0]!;
      counts[byte]! += run;
      if (run < 16) {
        for (const stop = length + run; length < stop; length++) tt[length] = byte;
      } else {
        tt.fill(byte, length, length + run);
        length += run;
      }
      run = 0;
      runShift = 0;
    }
    if (symbol === endOfBlock) break;

    if (length >= maxBlock) throw new BlockCorrupt('block longer than its size level', pos * 8 - count);
    // Move-to-front index symbol-1 (index 0 is only ever coded as a run). Measured: a plain
    // loop for near indices and copyWithin (native memmove) for far ones beats bzip2's segmented
    // list in JavaScript, where each element move costs more than the call.
    let index = symbol - 1;
    const byte = mtf[index]!;
    if (index < 32) {
      for (; index > 0; index--) mtf[index] = mtf[index - 1]!;
    } else {
      mtf.copyWithin(1, 0, index);
    }
    mtf[0] = byte;
    counts[byte]!++;
    tt[length++] = byte;
  }

  reader.pos = pos;
  reader.bits = bits;
  reader.count = count;
  return length;
}

/**
 * Inverse BWT (inverse-bwt.ts), then undo RLE1 over the pieces it returns, in order, into ws.out
 * (wholeOutputMax bytes). A block whose runs go past that is expanded through ws.out for its
 * CRC only, and its RLE1 form is returned instead of its bytes.
 * HOT: one pass over the block's bytes.
 */
function undoTransforms(ws: BlockWorkspace, blockLength: number, origPtr: number): Pick<DecodedBlock, 'data' | 'expandedLength' | 'computedCrc'> {
  BwtScratch.link(ws.tt, ws.counts, blockLength);
  const bwt = ws.bwt;
  const pieceCount = bwt.walk(ws.tt, blockLength, origPtr);
  const raw = bwt.raw;
  const pieces = bwt.pieces;

  const out = ws.out;
  let crc = crc32Initial;
  let flushed = 0; // bytes already folded into crc and dropped from out
  let o = 0;
  let last = -1; // previous byte of the current run, -1 after a run count
  let same = 0; // how many times `last` was just repeated (a 4th is followed by a count)
  let left = blockLength; // bytes of raw not yet read
  for (let p = 0; p < pieceCount; p++) {
    const from = pieces[2 * p]!;
    const to = pieces[2 * p + 1]!;
    for (let i = from; i < to; i++) {
      const byte = raw[i]!;
      if (same === 4) {
        if (byte !== 0) {
          // Invariant: o + left <= out.length, so plain bytes never overflow. A run that would
          // break it empties out into the CRC (never needed for blocks under the cap).
          if (o + byte + (left - (i - from) - 1) > out.length) {
            crc = crc32Update(crc, out, 0, o);
            flushed += o;
            o = 0;
          }
          out.fill(last, o, o + byte);
          o += byte;
        }
        same = 0;
        last = -1;
        continue;
      }
      out[o++] = byte;
      if (byte === last) {
        same++;
      } else {
        last = byte;
        same = 1;
      }
    }
    left -= to - from;
  }
  const computedCrc = crc32Final(crc32Update(crc, out, 0, o));
  if (flushed === 0) return { data: out.slice(0, o), computedCrc };
  const data = new Uint8Array(blockLength);
  let w = 0;
  for (let p = 0; p < pieceCount; p++) {
    data.set(raw.subarray(pieces[2 * p]!, pieces[2 * p + 1]!), w);
    w += pieces[2 * p + 1]! - pieces[2 * p]!;
  }
  return { data, expandedLength: flushed + o, computedCrc };
}
