/**
 * compress(1) `.Z` decoder (LZW), streaming, in bounded memory. Semantics are those of the
 * ncompress 4.2.4 / gzip / libarchive decoders (see ../shared/reference/formats.md §2).
 *
 * State machine. HEADER collects the 3 header bytes (1F 9D, flags), then CODES runs until
 * `finish()`, which checks the end and moves to DONE; any error moves to FAILED for good.
 * Inside CODES each step is one of:
 *   - SKIP: drop `skip` padding bits. Encoders write codes in groups of 8 (n bytes at width n)
 *     and pad a partial group when the width changes or after CLEAR, so the reader moves on to
 *     the next multiple of 8n bits counted from where the current width began (`segmentStart`).
 *   - RESTART (`restart()`): the first code of the stream, or the first after a CLEAR, must
 *     be a literal (after a CLEAR it may also be another CLEAR). It adds no entry we keep
 *     (ncompress adds entry 256 there, which can never be looked up), so free becomes 257.
 *   - CODE (the hot loop, `run()`): take n bits LSB-first. A literal or a code < free is a
 *     known string; code == free is the KwKwK case (previous string + its own first byte);
 *     a larger code is corrupt. Each code adds entry `free` = previous string + first byte of
 *     this one, while free < 2^maxbits. In block mode code 256 is CLEAR: pad (SKIP), width 9,
 *     free 256, then RESTART.
 *   - GROW: when free passes 2^n - 1 the width becomes n + 1 (after SKIP). At n == maxbits the
 *     limit is 2^maxbits, so the width stops there - except for maxbits 9, where every decoder
 *     (ncompress, gzip, libarchive, compress 4.0) moves to 10 bits once the table is full.
 * Input is never held beyond the 3 header bytes and the < 32 bits of an unfinished code.
 *
 * Output goes into a window (`win`). The previous string and the current one are always
 * adjacent there, so a new entry is a window range. Strings of up to 7 bytes (~99% of codes
 * on a system image) live packed in `entry` itself and are written with two 32-bit stores;
 * longer ones are copied from their most recent occurrence in the window (refreshed each time
 * the code is emitted), or, once that has slid out, rebuilt backwards from the prefix/suffix
 * chain. `read()` hands out copies of ~256 KiB; when the window fills, 1 MiB of history stays.
 *
 * Two twins of the hot loop: `runTs()` below and the WebAssembly kernel native-wasm/assembly/lzw.ts,
 * chosen per decoder (`kernel` option, default ZONEP2V_KERNELS). With the kernel, the tables and the
 * window live in its memory and the rare paths here work on views of them; the differential tests
 * (test/unit/filters/lzw-kernels.test.ts) run both on the same streams.
 *
 * HOT PATH: `run()` keeps its state in locals, allocates nothing, and leaves the loop for
 * anything rare (CLEAR, width change, a full output piece, end of input, errors) so that the
 * optimised loop holds only the common cases. Its cost is mostly the cache miss on `entry`
 * (one line per code). Benchmark (bench/lzw-bench.ts) after any change.
 */
import { badArchive } from '../errors.js';
import { LzwSlot, WasmLzwKernel } from '../native/lzw-kernel.js';
import { type KernelChoice, defaultKernels } from '../native/wasm-kernels.js';

/** Size of the pieces `read()` returns (each is at least this, except the last). */
export const outputPieceBytes = 256 * 1024;
/** The longest string a code can stand for is 65281 bytes (non-block mode, 16 bits). */
const maxStringBytes = 65536;
/** History kept when the window slides: strings older than this are rebuilt from the chain. */
const keepBytes = 1 << 20;
const windowBytes = 4 << 20;
const tableSize = 1 << 16;

// decoder states
const HEADER = 0;
const CODES = 1;
const DONE = 2;
const FAILED = 3;

// why run() returned
const NEED_INPUT = 0;
const CHECK = 1; // free > maxCode (width change) and/or a full output piece
const CLEAR = 2;
const BAD_CODE = 3;

const layer = 'compress';

export class LzwDecoder {
  private state = HEADER;
  private readonly header = new Uint8Array(3);
  private headerHave = 0;

  // settings from the header
  private maxBits = 16;
  private blockMode = true;
  /** 2^maxbits: one past the last dictionary code */
  private maxMax = tableSize;

  // input
  private input: Uint8Array = new Uint8Array(0);
  private ip = 0;
  /** compressed-stream offset of input[0] */
  private inputBase = 0;

  // bit reader and code state
  private bitBuf = 0;
  private bitCount = 0;
  private skip = 0;
  /** absolute bit position where the current width (or the stream, or the last CLEAR) began */
  private segmentStart = 24;
  private nBits = 9;
  private maxCode = 511;
  private free = 256;
  /** the next code is the first of the stream or the first after a CLEAR */
  private restarting = true;
  private prev = 0;
  private prevPos = 0;
  private prevLen = 0;
  private badCode = 0;

  // dictionary, by code:
  //   entry[2c], entry[2c + 1] (side by side: one cache line per lookup):
  //     a string of 1..7 bytes: bytes 0-3 little-endian | bytes 4-6 + (length << 24)
  //     a longer string: window index of a copy (-1 when it slid out) | ~length
  //     (CLEAR in block mode: ~0, so it takes the slow path)
  //   prefix, suffix: the chain (previous code, last byte), for strings no longer in the window
  private entry!: Int32Array;
  private prefix!: Uint16Array;
  private suffix!: Uint8Array;

  // output window: win[emitted..wp) is decoded but not handed out yet
  private win!: Uint8Array;
  private view!: DataView;
  /** the WebAssembly twin of runTs(), holding the arrays above; null: TypeScript */
  private readonly kernel: WasmLzwKernel | null;
  private wp = 0;
  private emitted = 0;
  private outputBase = 0;

  /** CLEAR codes seen so far (for tests and statistics). */
  clears = 0;
  /** Strings rebuilt from the prefix/suffix chain because they had left the window (ditto). */
  rebuilt = 0;

  constructor(options: { kernel?: KernelChoice } = {}) {
    if ((options.kernel ?? defaultKernels()) === 'wasm') {
      const kernel = new WasmLzwKernel({ tableSize, windowBytes });
      this.kernel = kernel;
      kernel.onGrow = () => this.adoptKernelArrays(kernel);
      this.adoptKernelArrays(kernel);
    } else {
      this.kernel = null;
      this.entry = new Int32Array(2 * tableSize);
      this.prefix = new Uint16Array(tableSize);
      this.suffix = new Uint8Array(tableSize);
      this.win = new Uint8Array(windowBytes);
      this.view = new DataView(this.win.buffer);
    }
    for (let c = 0; c < 256; c++) {
      this.entry[2 * c] = c;
      this.entry[2 * c + 1] = 1 << 24;
    }
  }

  /** Total bytes decoded so far. */
  get outputBytes(): number {
    return this.outputBase + this.wp;
  }

  /** Compressed bytes consumed so far (including the header). */
  get inputBytes(): number {
    return this.inputBase + this.ip;
  }

  /** Hand the decoder the next compressed chunk; `read()` must have returned null before. */
  write(chunk: Uint8Array): void {
    if (this.state >= DONE) throw new Error('LzwDecoder: write after finish or failure');
    if (this.ip < this.input.length) throw new Error('LzwDecoder: write before the last chunk was consumed');
    this.inputBase += this.input.length;
    this.input = this.kernel ? this.kernel.load(chunk) : chunk;
    this.ip = 0;
  }

  private adoptKernelArrays(kernel: WasmLzwKernel): void {
    this.entry = kernel.entry;
    this.prefix = kernel.prefix;
    this.suffix = kernel.suffix;
    this.win = kernel.win;
    this.view = new DataView(this.win.buffer, this.win.byteOffset, this.win.byteLength);
  }

  /** The hot loop, on the chosen twin. */
  private run(): number {
    return this.kernel ? this.runWasm(this.kernel) : this.runTs();
  }

  /** Hand the scalars to the WebAssembly kernel, run it, take them back. */
  private runWasm(kernel: WasmLzwKernel): number {
    const state = kernel.state;
    state[LzwSlot.ip] = this.ip;
    state[LzwSlot.end] = this.input.length;
    state[LzwSlot.bitBuf] = this.bitBuf;
    state[LzwSlot.bitCount] = this.bitCount;
    state[LzwSlot.free] = this.free;
    state[LzwSlot.prev] = this.prev;
    state[LzwSlot.prevPos] = this.prevPos;
    state[LzwSlot.prevLen] = this.prevLen;
    state[LzwSlot.wp] = this.wp;
    state[LzwSlot.nBits] = this.nBits;
    state[LzwSlot.maxCode] = this.maxCode;
    state[LzwSlot.maxMax] = this.maxMax;
    state[LzwSlot.clearCode] = this.blockMode ? 256 : -1;
    state[LzwSlot.nextEmit] = this.emitted + outputPieceBytes;
    state[LzwSlot.rebuilt] = 0;
    const status = kernel.run();
    this.ip = state[LzwSlot.ip]!;
    this.bitBuf = state[LzwSlot.bitBuf]!;
    this.bitCount = state[LzwSlot.bitCount]!;
    this.free = state[LzwSlot.free]!;
    this.prev = state[LzwSlot.prev]!;
    this.prevPos = state[LzwSlot.prevPos]!;
    this.prevLen = state[LzwSlot.prevLen]!;
    this.wp = state[LzwSlot.wp]!;
    this.badCode = state[LzwSlot.badCode]!;
    this.rebuilt += state[LzwSlot.rebuilt]!;
    return status;
  }

  /** Decode until ~256 KiB of output is ready (returned as a copy) or the chunk is used up (null). */
  read(): Uint8Array | null {
    if (this.state === HEADER && !this.readHeader()) return null;
    if (this.state !== CODES) {
      if (this.state === FAILED) throw new Error('LzwDecoder: read after failure');
      return null;
    }
    for (;;) {
      if (this.wp - this.emitted >= outputPieceBytes) return this.emit();
      if (this.skip !== 0 && !this.skipPadding()) return null;
      let status: number;
      if (this.restarting) {
        status = this.restart();
      } else {
        status = this.run();
        if (status === NEED_INPUT) {
          // run() refills 2 bytes at a time; take a last odd byte here (bitCount < n <= 16)
          if (this.ip >= this.input.length || this.bitCount >= this.nBits) return null;
          this.bitBuf |= this.input[this.ip++]! << this.bitCount;
          this.bitCount += 8;
          continue;
        }
      }
      switch (status) {
        case NEED_INPUT:
          return null;
        case CHECK:
          if (this.free > this.maxCode) {
            // GROW (never any padding in practice: each width holds 2^k codes)
            this.padToGroup();
            this.nBits++;
            this.maxCode = this.nBits === this.maxBits ? this.maxMax : (1 << this.nBits) - 1;
          }
          break;
        case CLEAR:
          this.clears++;
          this.padToGroup();
          this.nBits = 9;
          this.maxCode = 511;
          this.free = 256;
          this.restarting = true;
          break;
        case BAD_CODE:
          this.fail(
            this.badCode > this.free
              ? `code ${this.badCode} is beyond the next free code ${this.free} (corrupt data)`
              : `code ${this.badCode} is not in the full ${this.maxBits}-bit table (corrupt data)`,
            this.nBits,
          );
      }
    }
  }

  /** write() + read() until the chunk is used up. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.write(chunk);
    const pieces: Uint8Array[] = [];
    for (let piece = this.read(); piece !== null; piece = this.read()) pieces.push(piece);
    return pieces;
  }

  /** End of input: check that the stream did not stop inside a code; return the last output. */
  finish(): Uint8Array[] {
    if (this.state === FAILED) throw new Error('LzwDecoder: finish after failure');
    if (this.state === DONE) return [];
    if (this.ip < this.input.length) throw new Error('LzwDecoder: finish before the last chunk was consumed');
    if (this.state === HEADER) {
      this.state = FAILED;
      throw badArchive(`truncated compress(1) header: ${this.headerHave} of 3 bytes`, {
        layer,
        offset: this.headerHave,
      });
    }
    // An encoder writes its last code and then at most 7 bits of filler to end the byte.
    // A whole byte of an unfinished code means the stream was cut. (Ending inside group
    // padding cannot be told from a clean end, and ncompress accepts it.)
    if (this.skip === 0 && this.bitCount >= 8) {
      this.fail(`truncated compress(1) stream: it ends inside a ${this.nBits}-bit code`, 0);
    }
    this.state = DONE;
    const pieces: Uint8Array[] = [];
    while (this.wp > this.emitted) pieces.push(this.emit());
    return pieces;
  }

  /**
   * The hot loop: decode codes until something rare happens. Returns NEED_INPUT (fewer than
   * 2 bytes left and no whole code in hand), CHECK (width change due and/or output piece full),
   * CLEAR (consumed) or BAD_CODE.
   */
  private runTs(): number {
    const input = this.input;
    const end = input.length;
    const entry = this.entry;
    const prefix = this.prefix;
    const suffix = this.suffix;
    const win = this.win;
    const view = this.view;
    const n = this.nBits;
    const mask = (1 << n) - 1;
    const maxCode = this.maxCode;
    const maxMax = this.maxMax;
    const clearCode = this.blockMode ? 256 : -1;
    const nextEmit = this.emitted + outputPieceBytes;
    let ip = this.ip;
    let bitBuf = this.bitBuf;
    let bitCount = this.bitCount;
    let free = this.free;
    let prev = this.prev;
    let prevPos = this.prevPos;
    let prevLen = this.prevLen;
    let wp = this.wp;
    let status = NEED_INPUT;

    for (;;) {
      if (bitCount < n) {
        // 16 bits at a time: bitCount <= 15, so at most 31 bits are held
        if (ip + 1 >= end) break;
        bitBuf |= (input[ip]! | (input[ip + 1]! << 8)) << bitCount;
        bitCount += 16;
        ip += 2;
      }
      const code = bitBuf & mask;
      bitBuf >>= n; // (>> keeps it a small integer: bit 31 is never set)
      bitCount -= n;
      const start = wp;

      if (code < free) {
        const hi = entry[2 * code + 1]!;
        if (hi >= 0) {
          // 1..7 bytes packed; the bytes past the length are overwritten by the next codes
          view.setInt32(wp, entry[2 * code]!, true);
          view.setInt32(wp + 4, hi, true);
          wp += hi >>> 24;
        } else {
          if (code === clearCode) {
            status = CLEAR;
            break;
          }
          const v = ~hi;
          const src = entry[2 * code]!;
          if (src >= 0) {
            if (v <= 16) {
              for (let i = 0; i < v; i++) win[wp + i] = win[src + i]!;
            } else {
              win.copyWithin(wp, src, src + v);
            }
          } else {
            // slid out of the window: rebuild backwards from the chain
            this.rebuilt++;
            let p = wp + v - 1;
            let c = code;
            while (c >= 256) {
              win[p--] = suffix[c]!;
              c = prefix[c]!;
            }
            win[p] = c;
          }
          entry[2 * code] = wp;
          wp += v;
        }
      } else if (code === free && free < maxMax && code !== clearCode) {
        // KwKwK: previous string + its own first byte
        if (prevLen <= 16) {
          for (let i = 0; i < prevLen; i++) win[wp + i] = win[prevPos + i]!;
        } else {
          win.copyWithin(wp, prevPos, prevPos + prevLen);
        }
        win[wp + prevLen] = win[prevPos]!;
        wp += prevLen + 1;
      } else {
        status = code === clearCode ? CLEAR : BAD_CODE;
        this.badCode = code;
        break;
      }

      if (free < maxMax) {
        // the new entry's string is win[prevPos .. prevPos + prevLen] (prev and this are adjacent)
        prefix[free] = prev;
        suffix[free] = win[start]!;
        const len = prevLen + 1;
        if (len <= 7) {
          entry[2 * free] = view.getInt32(prevPos, true);
          entry[2 * free + 1] = (view.getInt32(prevPos + 4, true) & 0xffffff) | (len << 24);
        } else {
          entry[2 * free] = prevPos;
          entry[2 * free + 1] = ~len;
        }
        free++;
      }
      prev = code;
      prevPos = start;
      prevLen = wp - start;
      if (free > maxCode || wp >= nextEmit) {
        status = CHECK;
        break;
      }
    }

    this.ip = ip;
    this.bitBuf = bitBuf;
    this.bitCount = bitCount;
    this.free = free;
    this.prev = prev;
    this.prevPos = prevPos;
    this.prevLen = prevLen;
    this.wp = wp;
    return status;
  }

  /** The first code of the stream or after a CLEAR (9 bits). Returns NEED_INPUT, CHECK or CLEAR. */
  private restart(): number {
    const input = this.input;
    while (this.bitCount < 9) {
      if (this.ip >= input.length) return NEED_INPUT;
      this.bitBuf |= input[this.ip++]! << this.bitCount;
      this.bitCount += 8;
    }
    const code = this.bitBuf & 511;
    this.bitBuf >>= 9;
    this.bitCount -= 9;
    const atStart = this.free !== 256 || !this.blockMode;
    if (code === 256 && this.blockMode && !atStart) return CLEAR;
    if (code >= 256) {
      this.fail(
        atStart
          ? `the first code is ${code}, not a literal byte (corrupt data)`
          : `code ${code} is beyond the next free code 256 (corrupt data)`,
        9,
      );
    }
    this.win[this.wp] = code;
    this.prev = code;
    this.prevPos = this.wp;
    this.prevLen = 1;
    this.wp++;
    if (!atStart) this.free = 257;
    this.restarting = false;
    return CHECK;
  }

  /** Set `skip` to the bits left in the current group of 8 codes; start a new segment there. */
  private padToGroup(): void {
    const position = (this.inputBase + this.ip) * 8 - this.bitCount;
    const groupBits = 8 * this.nBits;
    const used = (position - this.segmentStart) % groupBits;
    this.skip = used === 0 ? 0 : groupBits - used;
    this.segmentStart = position + this.skip;
  }

  /** Drop `skip` bits. False when the chunk ran out first (the rest is skipped later). */
  private skipPadding(): boolean {
    if (this.skip <= this.bitCount) {
      this.bitBuf >>= this.skip;
      this.bitCount -= this.skip;
      this.skip = 0;
      return true;
    }
    this.skip -= this.bitCount;
    this.bitBuf = 0;
    this.bitCount = 0;
    const available = this.input.length - this.ip;
    const bytes = this.skip >>> 3;
    if (available < bytes) {
      this.skip -= available * 8;
      this.ip = this.input.length;
      return false;
    }
    this.ip += bytes;
    this.skip &= 7;
    if (this.skip !== 0) {
      // (not reached: segments start on byte boundaries and groups are whole bytes)
      if (this.ip >= this.input.length) return false;
      this.bitBuf = this.input[this.ip++]! >> this.skip;
      this.bitCount = 8 - this.skip;
      this.skip = 0;
    }
    return true;
  }

  private readHeader(): boolean {
    const input = this.input;
    while (this.headerHave < 3 && this.ip < input.length) this.header[this.headerHave++] = input[this.ip++]!;
    if (this.headerHave < 3) return false;
    const h = this.header;
    if (h[0] !== 0x1f || h[1] !== 0x9d) {
      this.state = FAILED;
      throw badArchive('not a compress(1) stream: the magic is not 1F 9D', { layer, offset: 0 });
    }
    const flags = h[2]!;
    const maxBits = flags & 0x1f;
    if ((flags & 0x60) !== 0 || maxBits < 9 || maxBits > 16) {
      this.state = FAILED;
      const hex = flags.toString(16).padStart(2, '0');
      throw badArchive(`bad compress(1) header: flags byte 0x${hex} (maxbits must be 9..16, bits 0x60 clear)`, {
        layer,
        offset: 2,
      });
    }
    this.maxBits = maxBits;
    this.blockMode = (flags & 0x80) !== 0;
    this.maxMax = 1 << maxBits;
    this.nBits = 9;
    this.maxCode = 511;
    this.free = this.blockMode ? 257 : 256;
    if (this.blockMode) this.entry[2 * 256 + 1] = ~0; // CLEAR: never a packed string
    this.state = CODES;
    return true;
  }

  /** Copy out up to one piece of pending output; slide the window when the next might not fit. */
  private emit(): Uint8Array {
    const end = Math.min(this.wp, this.emitted + 2 * outputPieceBytes);
    const piece = this.win.slice(this.emitted, end);
    this.emitted = end;
    if (this.wp + outputPieceBytes + 2 * maxStringBytes > windowBytes) this.slide();
    return piece;
  }

  private slide(): void {
    const shift = this.wp - keepBytes;
    if (shift <= 0 || this.emitted < shift) return;
    this.win.copyWithin(0, shift, this.wp);
    const entry = this.entry;
    for (let i = 0; i < 2 * tableSize; i += 2) {
      if (entry[i + 1]! < 0) {
        const w = entry[i]! - shift;
        entry[i] = w < 0 ? -1 : w;
      }
    }
    this.wp -= shift;
    this.emitted -= shift;
    this.prevPos -= shift;
    this.outputBase += shift;
  }

  /** Throw for the code whose `codeBits` bits were the last taken (0: the unfinished code). */
  private fail(message: string, codeBits: number): never {
    this.state = FAILED;
    const bit = (this.inputBase + this.ip) * 8 - this.bitCount - codeBits;
    throw badArchive(message, { layer, offset: Math.floor(bit / 8) });
  }
}
