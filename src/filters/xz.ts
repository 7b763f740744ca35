/**
 * xz (.xz container, LZMA2): single- and multi-block streams (xz -T), concatenated streams and
 * stream padding, CRC32 / CRC64 / SHA-256 / no check, the Delta and BCJ pre-filters.
 *
 * Engine: a TypeScript LZMA2 decoder (./xz/lzma-decoder.ts), chosen by measurement. Decoding a
 * 64 MiB system tar (xz -6; and -T2 --block-size=1MiB) on this kind of machine, 2026-11-26, CPU
 * seconds, median of 3 fresh processes (wall times were skewed by a load average near 10):
 *   xz -dc 0.92 / 0.95; this decoder 1.90 / 1.98 (1.64 once warm); xz-decompress (WASM
 *   xz-embedded) 1.53 / 1.55; @napi-rs/lzma 1.58 / 1.56; node-liblzma 4 (native) 1.47 / 1.42.
 * None of the faster ones is usable: xz-decompress rejects SHA-256 streams and serialises every
 * decoder in a process behind one lock, so an xz inside an xz (or an abandoned decoder)
 * deadlocks; @napi-rs/lzma only decodes whole buffers; node-liblzma and lzma-native build native
 * code from an install script (and node-liblzma 5 needs Node 22). Owning the decoder also gives
 * exact compressed offsets in errors and no dependency.
 *
 * Reading, as a state machine over a ByteReader (memory: the LZMA window, one LZMA2 chunk of
 * input, under 3 MiB of pending output):
 *   STREAM_HEADER -> (BLOCK_HEADER -> LZMA2 chunks... -> block padding, check)* -> INDEX
 *   -> STREAM_FOOTER -> stream padding (zero bytes, 4 at a time) -> STREAM_HEADER | end.
 * Every size, CRC32 and check is verified as it comes; the index is compared with the blocks
 * through running sums and a hash of its records rather than a list, so it costs no memory.
 * Errors are P2VErrors (layer "xz", offset = compressed byte offset where the fault was found).
 */
import { ByteReader } from '../io/byte-reader.js';
import { badArchive, isP2VError, P2VError } from '../errors.js';
import type { Filter } from './filter.js';
import { xzBid, xzHeaderMagic, xzStreamFlagsValid } from './sniff.js';
import { createBlockFilter, filterNames, type BlockFilter } from './xz/bcj.js';
import { checkNames, checkSize, crc32, createCheck } from './xz/checks.js';
import { LzmaDataError, LzmaDecoder } from './xz/lzma-decoder.js';
import { XzBlockPool, type XzBlockResult, type XzBlockSlot, maxParallelBlockBytes, xzThreads } from './xz/block-pool.js';

const layer = 'xz';
const headerMagic = xzHeaderMagic;
const LZMA2_ID = 0x21;
/** xz's own encoder tops out at 1.5 GiB; anything larger is not a file xz(1) writes. */
const maxDictBytes = 1536 * 1024 * 1024;
/** History kept for a block whatever dictionary it declares (memory stays bounded: a block
 *  declaring 1.5 GiB over 1.4 GB of zeros grew the window to 2.5 GB RSS). 64 MiB is xz -9's
 *  dictionary, the largest of any preset; a block with a larger one decodes as long as its
 *  matches reach back no further, and is refused (P2V_LIMIT) at the first that does. */
const maxWindowBytes = 64 * 1024 * 1024;

function fail(message: string, offset: number): P2VError {
  return badArchive(message, { layer, offset });
}

function readUint32LE(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** A variable-length integer (xz file format 1.2) inside `bytes` at `at`; undefined if invalid. */
function parseVli(bytes: Uint8Array, at: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 9 && at + i < end; i++) {
    const b = bytes[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) return undefined; // not the shortest encoding
      return value > Number.MAX_SAFE_INTEGER ? undefined : { value, next: at + i + 1 };
    }
  }
  return undefined;
}

/** Reads stream-level bytes, keeping a CRC32 of them (for the index). */
class IndexReader {
  crc = 0;
  size = 0;
  constructor(private readonly reader: ByteReader) {}

  async bytes(n: number, what: string): Promise<Uint8Array> {
    const view = await this.reader.readExact(n, what);
    this.crc = crc32(view, this.crc);
    this.size += n;
    return view;
  }

  async vli(what: string): Promise<number> {
    let value = 0;
    const at = this.reader.offset;
    for (let i = 0; i < 9; i++) {
      const b = (await this.bytes(1, what))[0]!;
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if ((b === 0 && i > 0) || value > Number.MAX_SAFE_INTEGER) break;
        return value;
      }
    }
    throw fail(`invalid variable-length integer in the ${what}`, at);
  }
}

/** What the blocks of a stream added up to, compared with the index at its end. */
class RecordTally {
  count = 0;
  unpadded = 0;
  uncompressed = 0;
  hash = 0;
  add(unpadded: number, uncompressed: number): void {
    this.count++;
    this.unpadded += unpadded;
    this.uncompressed += uncompressed;
    const record = new Uint8Array(16);
    const view = new DataView(record.buffer);
    view.setFloat64(0, unpadded, true);
    view.setFloat64(8, uncompressed, true);
    this.hash = crc32(record, this.hash);
  }
  equals(other: RecordTally): boolean {
    return (
      this.count === other.count &&
      this.unpadded === other.unpadded &&
      this.uncompressed === other.uncompressed &&
      this.hash === other.hash
    );
  }
}

const streamFlagsValid = xzStreamFlagsValid;

async function readStreamHeader(reader: ByteReader): Promise<number> {
  const at = reader.offset;
  const header = await reader.readExact(12, 'xz stream header');
  for (let i = 0; i < 6; i++) {
    if (header[i] !== headerMagic[i]) throw fail('not an xz stream header (bad magic)', at);
  }
  if (crc32(header.subarray(6, 8)) !== readUint32LE(header, 8)) {
    throw fail('xz stream header CRC32 mismatch', at + 8);
  }
  if (!streamFlagsValid(header, 6)) {
    throw new P2VError('P2V_UNSUPPORTED', 'xz stream header has flags this reader does not know', {
      layer,
      offset: at + 6,
    });
  }
  return header[7]! & 0x0f;
}

interface BlockHeader {
  size: number;
  compressedSize: number | undefined;
  uncompressedSize: number | undefined;
  dictSize: number;
  filters: BlockFilter[];
}

async function readBlockHeader(reader: ByteReader, first: number): Promise<BlockHeader> {
  const at = reader.offset;
  const size = (first + 1) * 4;
  return parseBlockHeader(await reader.readExact(size, 'xz block header'), at);
}

/** A whole block header (`header.length` = its size) that starts at compressed offset `at`. */
function parseBlockHeader(header: Uint8Array, at: number): BlockHeader {
  const size = header.length;
  const end = size - 4;
  if (crc32(header.subarray(0, end)) !== readUint32LE(header, end)) {
    throw fail('xz block header CRC32 mismatch', at + end);
  }
  const flags = header[1]!;
  if ((flags & 0x3c) !== 0) {
    throw new P2VError('P2V_UNSUPPORTED', 'xz block header has flags this reader does not know', {
      layer,
      offset: at + 1,
    });
  }
  let p = 2;
  const field = (what: string): number => {
    const vli = parseVli(header, p, end);
    if (!vli) throw fail(`invalid ${what} in an xz block header`, at + p);
    p = vli.next;
    return vli.value;
  };
  const compressedSize = flags & 0x40 ? field('compressed size') : undefined;
  const uncompressedSize = flags & 0x80 ? field('uncompressed size') : undefined;
  if (compressedSize === 0) throw fail('xz block header declares a compressed size of 0', at + 2);
  const count = (flags & 3) + 1;
  const filters: BlockFilter[] = [];
  let dictSize = 0;
  for (let n = 0; n < count; n++) {
    const idAt = at + p;
    const id = field('filter ID');
    const propsSize = field('filter properties size');
    if (p + propsSize > end) throw fail('xz block header filter properties overrun the header', idAt);
    const props = header.subarray(p, p + propsSize);
    p += propsSize;
    const last = n === count - 1;
    if (id === LZMA2_ID) {
      if (!last) throw fail('LZMA2 is not the last filter of an xz block', idAt);
      if (propsSize !== 1 || props[0]! > 40) throw fail('invalid LZMA2 dictionary size', idAt);
      const bits = props[0]!;
      dictSize = bits === 40 ? 0xffffffff : (2 | (bits & 1)) * 2 ** (Math.floor(bits / 2) + 11);
      if (dictSize > maxDictBytes) {
        throw new P2VError(
          'P2V_UNSUPPORTED',
          `xz block needs a ${Math.round(dictSize / 2 ** 20)} MiB dictionary, more than the 1536 MiB xz itself writes`,
          { layer, offset: idAt },
        );
      }
      continue;
    }
    if (last) {
      const name = filterNames[id];
      throw new P2VError('P2V_UNSUPPORTED', `xz block ends with ${name ? `the ${name}` : `unknown filter 0x${id.toString(16)}`}, not LZMA2`, {
        layer,
        offset: idAt,
      });
    }
    const made = createBlockFilter(id, props);
    if ('invalid' in made) throw fail(made.invalid, idAt);
    if ('unsupported' in made) throw new P2VError('P2V_UNSUPPORTED', made.unsupported, { layer, offset: idAt });
    filters.push(made);
  }
  for (; p < end; p++) {
    if (header[p] !== 0) throw fail('non-zero padding in an xz block header', at + p);
  }
  // decoding applies the filters in reverse order of the header (LZMA2 first)
  filters.reverse();
  return { size, compressedSize, uncompressedSize, dictSize, filters };
}

/** Decode one block whose first header byte `first` has been peeked; adds it to `tally`. */
async function* decodeBlock(
  reader: ByteReader,
  lzma: LzmaDecoder,
  first: number,
  checkType: number,
  tally: RecordTally,
): AsyncGenerator<Uint8Array> {
  const header = await readBlockHeader(reader, first);
  const check = createCheck(checkType);
  const dataStart = reader.offset;
  let produced = 0;

  const emit = function* (pieces: Uint8Array[], last: boolean): Generator<Uint8Array> {
    for (let piece of pieces) {
      for (const filter of header.filters) piece = filter.process(piece);
      if (piece.length === 0) continue;
      check.update(piece);
      produced += piece.length;
      yield piece;
    }
    if (last) {
      // each filter's unconverted tail goes through the filters after it
      for (let f = 0; f < header.filters.length; f++) {
        let tail = header.filters[f]!.finish();
        for (const filter of header.filters.slice(f + 1)) {
          tail = filter.process(tail);
        }
        if (tail.length === 0) continue;
        check.update(tail);
        produced += tail.length;
        yield tail;
      }
    }
  };

  // nothing converts the output afterwards: a sink (block worker) can hold the history itself
  lzma.startBlock(Math.min(header.dictSize, maxWindowBytes), header.filters.length === 0);
  // LZMA2 output so far (the filters keep sizes): a chunk that would pass the declared size is
  // refused at its header, before decoding - the same verdict wherever the block decodes
  let chunkOutput = 0;
  const declared = header.uncompressedSize ?? Number.POSITIVE_INFINITY;
  let needDictReset = true;
  let needProps = true;
  for (;;) {
    const chunkAt = reader.offset;
    if (header.compressedSize !== undefined && chunkAt - dataStart >= header.compressedSize) {
      throw fail('xz block data runs past the compressed size in its header', chunkAt);
    }
    const control = (await reader.readExact(1, 'LZMA2 chunk header'))[0]!;
    if (control === 0x00) break;
    if (control >= 0xe0 || control === 0x01) {
      needProps = true;
      needDictReset = false;
      lzma.resetDictionary();
    } else if (needDictReset) {
      throw fail('LZMA2 data does not start with a dictionary reset', chunkAt);
    }
    if (control >= 0x80) {
      const sizes = await reader.readExact(control >= 0xc0 ? 5 : 4, 'LZMA2 chunk header');
      const outSize = (control & 0x1f) * 65536 + ((sizes[0]! << 8) | sizes[1]!) + 1;
      const inSize = ((sizes[2]! << 8) | sizes[3]!) + 1;
      chunkOutput += outSize;
      if (chunkOutput > declared) throw fail('xz block decodes to more than its header declares', chunkAt);
      if (control >= 0xc0) {
        if (!lzma.setProperties(sizes[4]!)) throw fail('invalid LZMA properties in an LZMA2 chunk', chunkAt + 5);
        needProps = false;
        lzma.resetState();
      } else if (needProps) {
        throw fail('LZMA2 chunk lacks the properties its dictionary reset requires', chunkAt);
      } else if (control >= 0xa0) {
        lzma.resetState();
      }
      const dataAt = reader.offset;
      const data = await reader.readExact(inSize, 'LZMA2 chunk');
      // always a plain Uint8Array view (upstream chunks are often Buffers): one receiver shape
      // keeps the decoder's optimized code from being thrown away when the other one turns up
      const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      try {
        lzma.decodeLzmaChunk(view, 0, inSize, outSize);
      } catch (error) {
        if (error instanceof LzmaDataError && header.dictSize > maxWindowBytes && /distance beyond the dictionary/.test(error.message)) {
          throw new P2VError('P2V_LIMIT', `xz block with a ${Math.round(header.dictSize / 2 ** 20)} MiB dictionary reaches back further than the ${maxWindowBytes / 2 ** 20} MiB kept (xz -9 and below fit): recompress it with a smaller dictionary`, { layer, offset: dataAt + error.at });
        }
        if (error instanceof LzmaDataError) throw fail(`corrupt LZMA2 data: ${error.message}`, dataAt + error.at);
        throw error;
      }
    } else if (control <= 0x02) {
      const sizes = await reader.readExact(2, 'LZMA2 chunk header');
      const size = ((sizes[0]! << 8) | sizes[1]!) + 1;
      chunkOutput += size;
      if (chunkOutput > declared) throw fail('xz block decodes to more than its header declares', chunkAt);
      const data = await reader.readExact(size, 'LZMA2 chunk');
      lzma.copyUncompressed(data);
    } else {
      throw fail(`invalid LZMA2 control byte 0x${control.toString(16)}`, chunkAt);
    }
    yield* emit(lzma.takeOutput(false), false);
  }
  yield* emit(lzma.takeOutput(true), true);

  const compressed = reader.offset - dataStart;
  if (header.compressedSize !== undefined && compressed !== header.compressedSize) {
    throw fail('xz block compressed size differs from its header', reader.offset);
  }
  if (header.uncompressedSize !== undefined && produced !== header.uncompressedSize) {
    throw fail('xz block uncompressed size differs from its header', reader.offset);
  }
  const paddingAt = reader.offset;
  const padding = await reader.readExact((4 - (compressed % 4)) % 4, 'xz block padding');
  if (padding.some((b) => b !== 0)) throw fail('non-zero xz block padding', paddingAt);
  const checkAt = reader.offset;
  const stored = await reader.readExact(checkSize(checkType), 'xz block check');
  const expected = check.digest();
  if (expected && !expected.every((b, i) => b === stored[i])) {
    throw fail(`xz block ${checkNames[checkType]} check mismatch: the data is corrupt`, checkAt);
  }
  tally.add(header.size + compressed + stored.length, produced);
}

/** Does the first block header, right after the 12-byte stream header, state both sizes? */
function firstBlockSized(head: Uint8Array): boolean {
  return head.length > 13 && head[12] !== 0 && (head[13]! & 0xc0) === 0xc0;
}

/** Pieces of a whole decoded block handed downstream. */
const outputPieceBytes = 1024 * 1024;

/**
 * Where the block at the reader's position can go to the pool: its header parses and states
 * both sizes, and its output is at most `maxParallelBlockBytes`. Returns its total length
 * (header, data, padding, check) or undefined (decode in place). Only the header is peeked: the
 * block itself is copied once, straight into a pool slot.
 */
async function peekWholeBlock(
  reader: ByteReader,
  first: number,
  checkType: number,
): Promise<{ length: number; offset: number; uncompressedSize: number } | undefined> {
  const size = (first + 1) * 4;
  const bytes = await reader.peek(size);
  if (bytes.length < size) return undefined;
  let header: BlockHeader;
  try {
    header = parseBlockHeader(bytes, reader.offset);
  } catch {
    return undefined; // the in-place decoder reports it, in order
  }
  const { compressedSize, uncompressedSize } = header;
  if (compressedSize === undefined || uncompressedSize === undefined || uncompressedSize > maxParallelBlockBytes) return undefined;
  const padded = compressedSize + ((4 - (compressedSize % 4)) % 4);
  return { length: size + padded + checkSize(checkType), offset: reader.offset, uncompressedSize };
}

/** The index (its indicator byte already peeked as 0x00) and the stream footer. */
async function readIndexAndFooter(reader: ByteReader, blocks: RecordTally, checkType: number): Promise<void> {
  const index = new IndexReader(reader);
  await index.bytes(1, 'xz index');
  const count = await index.vli('xz index');
  if (count !== blocks.count) {
    throw fail(`xz index lists ${count} blocks, the stream has ${blocks.count}`, reader.offset);
  }
  const listed = new RecordTally();
  for (let n = 0; n < count; n++) {
    const unpadded = await index.vli('xz index');
    const uncompressed = await index.vli('xz index');
    listed.add(unpadded, uncompressed);
  }
  if (!listed.equals(blocks)) throw fail('xz index does not match the blocks of the stream', reader.offset);
  const paddingAt = reader.offset;
  const padding = await index.bytes((4 - (index.size % 4)) % 4, 'xz index padding');
  if (padding.some((b) => b !== 0)) throw fail('non-zero xz index padding', paddingAt);
  const crc = index.crc;
  const size = index.size + 4;
  const crcAt = reader.offset;
  if (readUint32LE(await reader.readExact(4, 'xz index CRC32'), 0) !== crc) {
    throw fail('xz index CRC32 mismatch', crcAt);
  }

  const footerAt = reader.offset;
  const footer = await reader.readExact(12, 'xz stream footer');
  if (footer[10] !== 0x59 || footer[11] !== 0x5a) throw fail('bad xz stream footer magic', footerAt + 10);
  if (crc32(footer.subarray(4, 10)) !== readUint32LE(footer, 0)) throw fail('xz stream footer CRC32 mismatch', footerAt);
  if ((readUint32LE(footer, 4) + 1) * 4 !== size) {
    throw fail('xz stream footer backward size does not match the index', footerAt + 4);
  }
  if (!streamFlagsValid(footer, 8) || (footer[9]! & 0x0f) !== checkType) {
    throw fail('xz stream footer flags differ from the stream header', footerAt + 8);
  }
}

/**
 * Decode one whole block (header to check) held in `bytes`, which starts at compressed offset
 * `offset`, into `output` (exactly the uncompressed size its header declares): what a block
 * worker does (workers/xz-worker.ts). Errors name absolute offsets.
 */
export async function decodeWholeBlock(
  bytes: Uint8Array,
  offset: number,
  checkType: number,
  lzma: LzmaDecoder,
  output: Uint8Array,
): Promise<{ unpadded: number; produced: number }> {
  const reader = new ByteReader(once(bytes), layer, offset);
  const tally = new RecordTally();
  // the decoder writes into `output` (LzmaDecoder.setSink); pieces that are not views of it
  // (uncompressed chunks, filtered pieces, a block longer than declared) are copied
  let at = 0;
  lzma.setSink(output);
  try {
    for await (const piece of decodeBlock(reader, lzma, bytes[0]!, checkType, tally)) {
      const inPlace = piece.buffer === output.buffer && piece.byteOffset === output.byteOffset + at;
      if (!inPlace && at + piece.length <= output.length) output.set(piece, at); // (more than declared: decodeBlock throws)
      at += piece.length;
    }
  } finally {
    lzma.setSink(undefined);
  }
  if (reader.offset !== offset + bytes.length) throw fail('xz block is shorter than its header says', reader.offset);
  return { unpadded: tally.unpadded, produced: tally.uncompressed };
}

/**
 * Blocks whose headers state both sizes (xz -T writes them) are copied whole into a pool slot
 * and decoded on the block pool, several at once; the outputs are yielded (as copies: the slot
 * is reused) and tallied strictly in order. Any other block (or a header that does not parse)
 * first lets every block before it finish, then decodes in place - so output order, and which
 * error is reported first, are the serial decoder's.
 */
async function* decodeStreams(reader: ByteReader, pool: XzBlockPool | undefined): AsyncGenerator<Uint8Array> {
  const lzma = new LzmaDecoder();
  for (;;) {
    const checkType = await readStreamHeader(reader);
    const tally = new RecordTally();
    const pending: { result: Promise<XzBlockResult>; slot: XzBlockSlot; declaredSize: number }[] = [];
    const takeNext = async function* (): AsyncGenerator<Uint8Array> {
      const { result: next, slot, declaredSize } = pending.shift()!;
      try {
        const result = await next;
        if (result.kind === 'error') throw new P2VError(result.code, result.message, { layer, offset: result.offset });
        tally.add(result.unpadded, result.produced);
        const output = new Uint8Array(slot.output, 0, declaredSize);
        for (let at = 0; at < declaredSize; at += outputPieceBytes) yield output.slice(at, at + outputPieceBytes);
      } finally {
        pool!.release(slot);
      }
    };
    const drain = async function* (): AsyncGenerator<Uint8Array> {
      while (pending.length > 0) yield* takeNext();
    };
    for (;;) {
      const first = (await reader.peek(1))[0];
      if (first === undefined) {
        yield* drain();
        throw fail('truncated xz stream: no index', reader.offset);
      }
      if (first === 0x00) break;
      let whole: Awaited<ReturnType<typeof peekWholeBlock>>;
      try {
        whole = pool ? await peekWholeBlock(reader, first, checkType) : undefined;
      } catch (error) {
        yield* drain(); // (the layer below failed) earlier blocks first, as in place
        throw error;
      }
      if (whole) {
        let slot: XzBlockSlot | undefined;
        while ((slot = pool!.acquire(whole.length, whole.uncompressedSize)) === undefined) yield* takeNext();
        const input = new Uint8Array(slot.input, 0, whole.length);
        let got: number;
        try {
          got = await reader.readInto(input);
        } catch (error) {
          pool!.release(slot);
          yield* drain();
          throw error;
        }
        if (got < whole.length) {
          // cut short: decode what there is in place, after the blocks before it, for the
          // in-place error ("truncated LZMA2 chunk" and its offset)
          const partial = input.slice(0, got);
          pool!.release(slot);
          yield* drain();
          yield* decodeBlock(new ByteReader(once(partial), layer, whole.offset), lzma, first, checkType, tally);
          throw fail('truncated xz block', reader.offset);
        }
        const task = { input: slot.input, inputLength: whole.length, output: slot.output, offset: whole.offset, checkType, declaredSize: whole.uncompressedSize };
        pending.push({ result: pool!.decode(task), slot, declaredSize: whole.uncompressedSize });
        continue;
      }
      yield* drain();
      yield* decodeBlock(reader, lzma, first, checkType, tally);
    }
    yield* drain();
    await readIndexAndFooter(reader, tally, checkType);
    // stream padding: zero bytes in groups of four, then the end or another stream
    for (;;) {
      const next = await reader.peek(4);
      if (next.length === 0) return;
      if (next.length === 4 && next.every((b) => b === 0)) {
        await reader.readExact(4, 'xz stream padding');
        continue;
      }
      if (next[0] === 0) throw fail('xz stream padding is not a multiple of 4 bytes', reader.offset);
      break;
    }
  }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

export const xzFilter: Filter = {
  name: 'xz',
  // xz -T streams (sized blocks) decode on the block pool: the thread would only add a copy
  offThread: (head) => !(xzThreads() > 1 && firstBlockSized(head)),
  module: { url: import.meta.url, exportName: 'xzFilter' },
  bid: xzBid,
  async *decode(input) {
    const upstream = input[Symbol.asyncIterator]();
    // errors from the layer below pass through untouched; only our own faults are relabelled
    const upstreamErrors = new WeakSet<object>();
    const source: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          try {
            return await upstream.next();
          } catch (error) {
            if (typeof error === 'object' && error !== null) upstreamErrors.add(error);
            throw error;
          }
        },
      }),
    };
    const reader = new ByteReader(source, layer);
    const pool = xzThreads() > 1 ? new XzBlockPool(xzThreads()) : undefined;
    try {
      yield* decodeStreams(reader, pool);
    } catch (error) {
      if (isP2VError(error)) throw error;
      if (typeof error === 'object' && error !== null && upstreamErrors.has(error)) throw error;
      if (error instanceof RangeError) {
        // an allocation the input asked for (the window) did not fit
        throw new P2VError('P2V_LIMIT', `xz decoding needs more memory than is available (${error.message})`, {
          layer,
          offset: reader.offset,
          cause: error,
        });
      }
      throw badArchive(`xz decoding failed (${(error as Error)?.message ?? String(error)})`, {
        layer,
        offset: reader.offset,
        cause: error,
      });
    } finally {
      await pool?.close();
      await upstream.return?.();
    }
  },
};
