/**
 * compress(1) `.Z` decoder (LZW, ncompress 4.2.4 semantics), streaming, in bounded memory.
 *
 * State machine. HEADER collects the 3 header bytes (1F 9D, flags), then CODES runs until
 * `finish()`, which checks the end and moves to DONE; any error moves to FAILED for good.
 * Inside CODES each step is one of:
 *   - SKIP: drop `skip` padding bits. Encoders write codes in groups of 8 (n bytes at width n)
 *     and flush a partial group on a width change or CLEAR, so the reader skips to the next
 *     group boundary counted from where the current width began (`group` = codes read in the
 *     current group).
 *   - CODE: take n bits LSB-first. The first code of the stream must be a literal (< 256). In
 *     block mode code 256 is CLEAR: back to width 9, free code 256 (the next code re-adds
 *     entry 256, which is never looked up, so free ends up at 257), previous code kept.
 *     Otherwise code < free is a dictionary string, code == free is the KwKwK case
 *     (previous string + its own first byte), code > free is corrupt. After every code but
 *     the first, entry `free` = previous string + first byte of this one, while
 *     free < 2^maxbits; when free passes 2^n - 1 (and n < maxbits) the width grows (SKIP).
 * Input is never buffered beyond the 3 header bytes and the < 32 bits of an unfinished code.
 *
 * Output goes into a window (`win`); a string already in the window is copied from its most
 * recent occurrence (`where[code]`, refreshed every time the code is emitted), one that has
 * slid out is rebuilt backwards from the prefix/suffix chain. `read()` hands out copies of
 * ~256 KiB; when the window fills, the last 1 MiB is kept as history.
 *
 * Hot path: `read()` keeps all state in locals and allocates nothing per code. Benchmark
 * (bench/lzw-bench.ts) before changing it.
 */
import { badArchive } from '../errors.js';

/** Size of the pieces `read()` returns (each is at least this, except the last). */
export const outputPieceBytes = 256 * 1024;
/** The longest string a code can stand for is 65281 bytes (non-block mode, 16 bits). */
const maxStringBytes = 65536;
/** History kept when the window slides: strings older than this are rebuilt from the chain. */
const keepBytes = 1 << 20;
const windowBytes = 4 << 20;
const tableSize = 1 << 16;

const HEADER = 0;
const CODES = 1;
const DONE = 2;
const FAILED = 3;

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
  private group = 0;
  private nBits = 9;
  private maxCode = 511;
  private free = 256;
  private prev = -1;
  private prevPos = 0;
  private prevLen = 0;

  // dictionary: code -> prefix code, last byte, length, window index of a copy (-1: none)
  private readonly prefix = new Uint16Array(tableSize);
  private readonly suffix = new Uint8Array(tableSize);
  private readonly length = new Int32Array(tableSize);
  private readonly where = new Int32Array(tableSize);

  // output window
  private readonly win = new Uint8Array(windowBytes);
  private wp = 0;
  private emitted = 0;
  /** total bytes decoded so far (for callers that count) */
  get outputBytes(): number {
    return this.outputBase + this.wp;
  }
  private outputBase = 0;

  /** Hand the decoder the next compressed chunk; `read()` must have returned null before. */
  write(chunk: Uint8Array): void {
    if (this.state >= DONE) throw new Error('LzwDecoder: write after finish or failure');
    if (this.ip < this.input.length) throw new Error('LzwDecoder: write before the last chunk was consumed');
    this.inputBase += this.input.length;
    this.input = chunk;
    this.ip = 0;
  }

  /** Decode until ~256 KiB of output is ready (returned as a copy) or the chunk is used up (null). */
  read(): Uint8Array | null {
    if (this.state === HEADER && !this.readHeader()) return null;
    if (this.state !== CODES) {
      if (this.state === FAILED) throw new Error('LzwDecoder: read after failure');
      return null;
    }
    const input = this.input;
    const end = input.length;
    let ip = this.ip;
    let bitBuf = this.bitBuf;
    let bitCount = this.bitCount;
    let skip = this.skip;
    let group = this.group;
    let n = this.nBits;
    let mask = (1 << n) - 1;
    let maxCode = this.maxCode;
    let free = this.free;
    let prev = this.prev;
    let prevPos = this.prevPos;
    let prevLen = this.prevLen;
    let wp = this.wp;
    const nextEmit = this.emitted + outputPieceBytes;
    const maxBits = this.maxBits;
    const maxMax = this.maxMax;
    const blockMode = this.blockMode;
    const prefix = this.prefix;
    const suffix = this.suffix;
    const length = this.length;
    const where = this.where;
    const win = this.win;
    let ready = false;

    for (;;) {
      if (skip !== 0) {
        if (skip <= bitCount) {
          bitBuf >>>= skip;
          bitCount -= skip;
          skip = 0;
        } else {
          skip -= bitCount;
          bitBuf = 0;
          bitCount = 0;
          const bytes = skip >>> 3;
          if (end - ip < bytes) {
            skip -= (end - ip) * 8;
            ip = end;
            break;
          }
          ip += bytes;
          skip &= 7;
          if (skip !== 0) {
            if (ip >= end) break;
            bitBuf = input[ip++]! >>> skip;
            bitCount = 8 - skip;
            skip = 0;
          }
        }
      }
      if (bitCount < n) {
        if (ip >= end) break;
        bitBuf |= input[ip++]! << bitCount;
        bitCount += 8;
        if (bitCount < n) {
          if (ip >= end) break;
          bitBuf |= input[ip++]! << bitCount;
          bitCount += 8;
        }
      }
      const code = bitBuf & mask;
      bitBuf >>>= n;
      bitCount -= n;
      group = (group + 1) & 7;
      const start = wp;

      if (code < 256) {
        win[wp++] = code;
      } else {
        if (prev < 0) {
          this.fail(`the first code is ${code}, not a literal byte (corrupt data)`, ip, bitCount + n);
        }
        if (code === 256 && blockMode) {
          // CLEAR: pad to the group boundary at the old width, restart at 9 bits
          skip = ((8 - group) & 7) * n;
          group = 0;
          n = 9;
          mask = 511;
          maxCode = 511;
          free = 256;
          continue;
        }
        if (code < free) {
          const len = length[code]!;
          const src = where[code]!;
          if (src >= 0) {
            if (len < 32) {
              for (let i = 0; i < len; i++) win[wp + i] = win[src + i]!;
            } else {
              win.copyWithin(wp, src, src + len);
            }
          } else {
            // slid out of the window: rebuild backwards from the chain
            let p = wp + len - 1;
            let c = code;
            while (c >= 256) {
              win[p--] = suffix[c]!;
              c = prefix[c]!;
            }
            win[p] = c;
          }
          where[code] = wp;
          wp += len;
        } else if (code === free && free < maxMax) {
          // KwKwK: previous string + its own first byte
          if (prevLen < 32) {
            for (let i = 0; i < prevLen; i++) win[wp + i] = win[prevPos + i]!;
          } else {
            win.copyWithin(wp, prevPos, prevPos + prevLen);
          }
          win[wp + prevLen] = win[prevPos]!;
          wp += prevLen + 1;
        } else {
          this.fail(`code ${code} is beyond the next free code ${free} (corrupt data)`, ip, bitCount + n);
        }
      }

      if (prev >= 0 && free < maxMax) {
        prefix[free] = prev;
        suffix[free] = win[start]!;
        length[free] = prevLen + 1;
        where[free] = prevPos;
        free++;
        if (free > maxCode) {
          skip = ((8 - group) & 7) * n;
          group = 0;
          n++;
          mask = (1 << n) - 1;
          maxCode = n === maxBits ? maxMax : mask;
        }
      }
      prev = code;
      prevPos = start;
      prevLen = wp - start;
      if (wp >= nextEmit) {
        ready = true;
        break;
      }
    }

    this.ip = ip;
    this.bitBuf = bitBuf;
    this.bitCount = bitCount;
    this.skip = skip;
    this.group = group;
    this.nBits = n;
    this.maxCode = maxCode;
    this.free = free;
    this.prev = prev;
    this.prevPos = prevPos;
    this.prevLen = prevLen;
    this.wp = wp;
    return ready ? this.emit() : null;
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
    // A clean end leaves fewer than 8 bits (the last byte's padding) after the last code, or
    // stops inside group padding. A whole byte of an unfinished code means truncation.
    if (this.skip === 0 && this.bitCount >= 8) {
      this.fail(`truncated compress(1) stream: it ends inside a ${this.nBits}-bit code`, this.ip, this.bitCount);
    }
    this.state = DONE;
    return this.wp > this.emitted ? [this.emit()] : [];
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
    this.state = CODES;
    return true;
  }

  /** Copy out the pending output; slide the window when the next piece might not fit. */
  private emit(): Uint8Array {
    const piece = this.win.slice(this.emitted, this.wp);
    this.emitted = this.wp;
    if (this.wp + outputPieceBytes + maxStringBytes > windowBytes) this.slide();
    return piece;
  }

  private slide(): void {
    const shift = this.wp - keepBytes;
    this.win.copyWithin(0, shift, this.wp);
    const where = this.where;
    for (let i = 0; i < tableSize; i++) {
      const w = where[i]! - shift;
      where[i] = w < 0 ? -1 : w;
    }
    this.wp -= shift;
    this.emitted -= shift;
    this.prevPos -= shift;
    this.outputBase += shift;
  }

  /** `unread` = bits of the offending code (and what follows it) still counted in bitCount. */
  private fail(message: string, ip: number, unread: number): never {
    this.state = FAILED;
    const offset = Math.floor(((this.inputBase + ip) * 8 - unread) / 8);
    throw badArchive(message, { layer, offset });
  }
}
