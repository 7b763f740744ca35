/**
 * LZMA decoding for xz's LZMA2 filter: the range decoder, the LZMA symbol decoder and the
 * dictionary window, in plain TypeScript over typed arrays.
 *
 * The LZMA2 chunk framing (control bytes, sizes, reset rules) is parsed by the caller
 * (../xz.ts), which hands this class one chunk at a time:
 *   - `decodeLzmaChunk` for an LZMA chunk (at most 64 KiB in, 2 MiB out, a fresh range coder),
 *   - `copyUncompressed` for a stored chunk,
 *   - `resetDictionary` / `resetState` / `setProperties` as the control byte says.
 * Because an LZMA2 chunk is small and bounded, a whole chunk is decoded synchronously; the
 * caller only awaits input between chunks.
 *
 * Window: a flat buffer holding the dictionary plus room for the next chunk's output. When a
 * chunk does not fit, pending output is copied out and the last `dictSize` bytes slide to the
 * front, so a match never wraps and the hot loop checks no edges (the slide costs one memmove of
 * the dictionary per few MiB of output). The buffer starts at 1 MiB and doubles on demand up
 * to dictionary + slack, so a header that claims a 1.5 GiB dictionary costs memory only once
 * that much data has been decoded. Memory: the buffer plus under 3 MiB of pending output.
 *
 * Hot path, tuned by measurement: `decodeLzmaChunk` keeps the range coder, the window and the
 * LZMA state in locals and inlines every bit decode by hand; uint32 arithmetic is spelled with
 * `>>> 0` and `Math.imul` so V8 keeps it in 32-bit registers; the layout offsets are a const
 * enum so they compile to literals. Field writes in the constructor and the int32 dictionary
 * size keep V8 from discarding the optimized code mid-stream (see there).
 */

/** Decoding failed at `at`, an index into the input buffer the caller passed. */
export class LzmaDataError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
    this.name = 'LzmaDataError';
  }
}

// Probability array layout (one Uint16Array, offsets as in the LZMA SDK's CLzmaDec). A const
// enum, so tsc writes the numbers into the hot loop instead of module-scope loads.
const enum P {
  IS_MATCH = 0, // [state << 4 | posState], 12 * 16
  IS_REP = 192, // [state]
  IS_REP_G0 = 204,
  IS_REP_G1 = 216,
  IS_REP_G2 = 228,
  IS_REP0_LONG = 240, // [state << 4 | posState]
  POS_SLOT = 432, // [lenState << 6 | tree index], 4 * 64
  SPEC_POS = 688, // 114 reverse-tree probabilities for distance slots 4..13
  ALIGN = 802, // 16
  LEN_MATCH = 818, // length coder for matches, 514 entries
  LEN_REP = 1332, // length coder for repeated matches
  LITERAL = 1846, // 0x300 per literal coder, at most 16 coders (lc + lp <= 4)
  LEN_CHOICE = 0,
  LEN_CHOICE2 = 1,
  LEN_LOW = 2, // [posState << 3 | index], 16 * 8
  LEN_MID = 130,
  LEN_HIGH = 258, // 256
  SIZE = 1846 + 0x300 * 16,
  /** the range coder renormalises when its range drops below 2^24 */
  TOP = 0x1000000,
}

/** Windows of this size and more are allocated whole (startBlock). */
const EAGER_WINDOW = 16 * 1024 * 1024;
const INITIAL_WINDOW = 1 << 20;
/** Room beyond the dictionary: more than one chunk's output (2 MiB), so a slide always makes room. */
const MIN_SLACK = 4 << 20;
/** Pending output is copied out once it reaches this size (fewer, larger pieces downstream). */
const OUTPUT_PIECE = 1 << 20;

export class LzmaDecoder {
  /** where decoding happens: `ownWindow`, or the sink itself (startBlock's `historyInSink`) */
  private window: Uint8Array = new Uint8Array(0);
  private ownWindow = new Uint8Array(0);
  /** the window is the sink from where the dictionary was last reset: no copy, no own window */
  private inSink = false;
  /** largest the window may grow: dictionary + slack */
  private maxWindow = 0;
  private dictSize = 0;
  private pos = 0;
  /** window[flushed, pos) is decoded but not yet copied out */
  private flushed = 0;
  /** bytes available as match history: min(bytes since the dictionary reset, dictSize); <= pos */
  private full = 0;
  private output: Uint8Array[] = [];
  /** when set, output is copied here and handed out as views of it (setSink) */
  private sink: Uint8Array | undefined;
  private sinkAt = 0;

  private readonly probs = new Uint16Array(P.SIZE);
  private lc = 0;
  private lp = 0;
  private pb = 0;
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;

  constructor() {
    // Write every mutable field a second time now. V8 treats a field written once as constant
    // and may fold it into optimized code; the first later write (a window growth, say) then
    // throws that code away ("wrong map" in --trace-deopt) and a ~100 ms recompile follows.
    this.window = new Uint8Array(0);
    this.ownWindow = new Uint8Array(0);
    this.inSink = false;
    this.output = [];
    this.sink = undefined;
    this.maxWindow = this.dictSize = this.pos = this.flushed = this.full = this.sinkAt = 0;
    this.lc = this.lp = this.pb = this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  /**
   * Start a block whose LZMA2 filter declares `dictSize`. `historyInSink`: with a sink set, decode
   * right into it - the block's output so far is its history (a block starts with a dictionary
   * reset), so no window of our own and no copy out of it. Only for blocks whose output nothing
   * converts in place afterwards (no BCJ/delta filter), since the history must stay as decoded.
   */
  startBlock(dictSize: number, historyInSink = false): void {
    // an int32, not the double `2 ** n` made it: a Smi field stays a Smi field (see constructor)
    this.dictSize = dictSize | 0;
    this.maxWindow = Math.ceil(dictSize / 16) * 16 + Math.max(MIN_SLACK, Math.ceil(dictSize / 64) * 16);
    this.inSink = historyInSink && this.sink !== undefined;
    if (!this.inSink) {
      // a large window is made at its full size at once: its pages become resident only as
      // they are written (a fresh allocation this big is mapped zero pages), while growing it
      // by doubling held the old and the new copy at once (xz -9: 64 + 80 MiB at the peak)
      if (this.ownWindow.length === 0 || (this.maxWindow >= EAGER_WINDOW && this.ownWindow.length < this.maxWindow)) {
        this.ownWindow = new Uint8Array(this.maxWindow >= EAGER_WINDOW ? this.maxWindow : INITIAL_WINDOW);
      }
      this.window = this.ownWindow;
    }
    this.startHistory();
  }

  /** LZMA2 dictionary reset: the history is forgotten (pending output is kept). */
  resetDictionary(): void {
    this.flush();
    this.startHistory();
  }

  /** Positions count from the last dictionary reset (`pos & pbMask` depends on it): in the sink,
   *  the window is the sink from there on. */
  private startHistory(): void {
    if (this.inSink) this.window = this.sink!.subarray(this.sinkAt);
    this.pos = 0;
    this.flushed = 0;
    this.full = 0;
  }

  /** The lc/lp/pb properties byte; false when invalid for LZMA2 (lc + lp > 4, pb > 4). */
  setProperties(props: number): boolean {
    if (props >= 9 * 5 * 5) return false;
    const lc = props % 9;
    const rest = (props / 9) | 0;
    const lp = rest % 5;
    const pb = (rest / 5) | 0;
    if (lc + lp > 4 || pb > 4) return false;
    this.lc = lc;
    this.lp = lp;
    this.pb = pb;
    return true;
  }

  /** LZMA state reset: probabilities, state and repeat distances. */
  resetState(): void {
    this.probs.fill(1024);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  /** A stored LZMA2 chunk: the bytes go into the dictionary as they are. */
  copyUncompressed(data: Uint8Array): void {
    this.makeRoom(data.length);
    this.window.set(data, this.pos);
    this.pos += data.length;
    this.full = Math.min(this.full + data.length, this.dictSize);
  }

  /** Decoded pieces ready to hand on (copies, owned by the caller). `all` at the end of a block. */
  takeOutput(all: boolean): Uint8Array[] {
    if (all || this.pos - this.flushed >= OUTPUT_PIECE) this.flush();
    const out = this.output;
    this.output = [];
    return out;
  }

  /**
   * Decode into `sink` from now on (undefined: back to pieces of their own). A block worker
   * knows the block's size and wants one buffer of it: pieces are then views of that buffer,
   * already in place, instead of copies made only to be copied again (24 MiB of garbage per
   * xz -T block, which two workers' heaps held on to: ~145 MB of peak RSS).
   */
  setSink(sink: Uint8Array | undefined): void {
    this.sink = sink;
    this.sinkAt = 0;
    if (this.inSink) {
      this.inSink = false;
      this.window = this.ownWindow;
      this.pos = this.flushed = this.full = 0;
    }
  }

  private flush(): void {
    if (this.inSink) {
      // already in place: hand out the view
      if (this.pos > this.flushed) {
        this.output.push(this.window.subarray(this.flushed, this.pos));
        this.sinkAt += this.pos - this.flushed;
      }
      this.flushed = this.pos;
      return;
    }
    if (this.pos > this.flushed) {
      const piece = this.window.subarray(this.flushed, this.pos);
      const sink = this.sink;
      if (sink !== undefined && this.sinkAt + piece.length <= sink.length) {
        sink.set(piece, this.sinkAt);
        this.output.push(sink.subarray(this.sinkAt, this.sinkAt + piece.length));
        this.sinkAt += piece.length;
      } else {
        this.output.push(piece.slice()); // (past the sink's end: the block's size check reports it)
      }
    }
    this.flushed = this.pos;
  }

  /** Make room for `n` more bytes at `pos`: slide the history to the front, or grow. */
  private makeRoom(n: number): void {
    if (this.pos + n <= this.window.length) return;
    this.flush();
    // (decodeBlock refuses a chunk that would run past the size the block declares, which is
    // the sink's length: in the sink, the room is always there)
    if (this.inSink) throw new Error('LZMA2 output runs past the end of the sink');
    // keep `full` bytes of history; move by a multiple of 16 so `pos & mask` keeps its meaning
    const shift = (this.pos - this.full) & ~15;
    if (shift > 0) {
      this.window.copyWithin(0, shift, this.pos);
      this.pos -= shift;
      this.flushed = this.pos;
    }
    if (this.pos + n > this.window.length) {
      let size = this.window.length;
      while (size < this.pos + n) size *= 2;
      const grown = new Uint8Array(Math.max(this.pos + n, Math.min(size, this.maxWindow)));
      grown.set(this.window.subarray(0, this.pos));
      this.window = this.ownWindow = grown;
    }
  }

  /**
   * Decode one LZMA chunk: `input[start, end)` is its compressed data (a fresh range coder),
   * `outSize` the bytes it must produce. Throws LzmaDataError on corrupt data.
   */
  decodeLzmaChunk(input: Uint8Array, start: number, end: number, outSize: number): void {
    if (end - start < 5 || input[start] !== 0) throw new LzmaDataError('bad LZMA range coder start', start);
    const probs = this.probs;
    const lc = this.lc;
    const literalShift = 8 - lc;
    const lpMask = (1 << this.lp) - 1;
    const pbMask = (1 << this.pb) - 1;
    const dictSize = this.dictSize;
    this.makeRoom(outSize);
    const win = this.window;
    let pos = this.pos;
    let full = this.full;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let ip = start + 5;
    let range = 0xffffffff;
    let code =
      ((input[start + 1]! << 24) | (input[start + 2]! << 16) | (input[start + 3]! << 8) | input[start + 4]!) >>> 0;
    let remaining = outSize;
    let p = 0;
    let bound = 0;
    let i = 0;
    let sym = 0;

    while (remaining > 0) {
      const posState = pos & pbMask;
      // is_match[state][posState]
      i = P.IS_MATCH + (state << 4) + posState;
      if (range < P.TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | input[ip++]!) >>> 0;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p) >>> 0;
      if (code < bound) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        // literal
        const prev = full === 0 ? 0 : win[pos - 1]!;
        const base = P.LITERAL + 0x300 * (((pos & lpMask) << lc) + (prev >>> literalShift));
        sym = 1;
        if (state < 7) {
          do {
            i = base + sym;
            if (range < P.TOP) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]!) >>> 0;
            }
            p = probs[i]!;
            bound = Math.imul(range >>> 11, p) >>> 0;
            if (code < bound) {
              range = bound;
              probs[i] = p + ((2048 - p) >>> 5);
              sym <<= 1;
            } else {
              range = (range - bound) >>> 0;
              code = (code - bound) >>> 0;
              probs[i] = p - (p >>> 5);
              sym = (sym << 1) | 1;
            }
          } while (sym < 0x100);
        } else {
          let matchByte = win[pos - rep0 - 1]!;
          let offs = 0x100;
          do {
            matchByte <<= 1;
            const matchBit = matchByte & offs;
            i = base + offs + matchBit + sym;
            if (range < P.TOP) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]!) >>> 0;
            }
            p = probs[i]!;
            bound = Math.imul(range >>> 11, p) >>> 0;
            if (code < bound) {
              range = bound;
              probs[i] = p + ((2048 - p) >>> 5);
              sym <<= 1;
              offs &= ~matchBit;
            } else {
              range = (range - bound) >>> 0;
              code = (code - bound) >>> 0;
              probs[i] = p - (p >>> 5);
              sym = (sym << 1) | 1;
              offs = matchBit;
            }
          } while (sym < 0x100);
        }
        win[pos++] = sym & 0xff;
        if (full < dictSize) full++;
        remaining--;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      range = (range - bound) >>> 0;
      code = (code - bound) >>> 0;
      probs[i] = p - (p >>> 5);

      // is_rep[state]
      let lenBase: number;
      let isMatch = false;
      i = P.IS_REP + state;
      if (range < P.TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | input[ip++]!) >>> 0;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p) >>> 0;
      if (code < bound) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        // a new match: length and distance follow
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        state = state < 7 ? 7 : 10;
        lenBase = P.LEN_MATCH;
        isMatch = true;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[i] = p - (p >>> 5);
        // a repeated match: is_rep_g0[state]
        i = P.IS_REP_G0 + state;
        if (range < P.TOP) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]!) >>> 0;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p) >>> 0;
        if (code < bound) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          // is_rep0_long[state][posState]: 0 = one byte at rep0 ("short rep")
          i = P.IS_REP0_LONG + (state << 4) + posState;
          if (range < P.TOP) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]!) >>> 0;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p) >>> 0;
          if (code < bound) {
            range = bound;
            probs[i] = p + ((2048 - p) >>> 5);
            state = state < 7 ? 9 : 11;
            if (rep0 >= full) throw new LzmaDataError('match distance beyond the dictionary', ip);
            win[pos] = win[pos - rep0 - 1]!;
            pos++;
            if (full < dictSize) full++;
            remaining--;
            continue;
          }
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[i] = p - (p >>> 5);
        } else {
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[i] = p - (p >>> 5);
          // is_rep_g1[state]
          i = P.IS_REP_G1 + state;
          if (range < P.TOP) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]!) >>> 0;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p) >>> 0;
          let dist: number;
          if (code < bound) {
            range = bound;
            probs[i] = p + ((2048 - p) >>> 5);
            dist = rep1;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[i] = p - (p >>> 5);
            // is_rep_g2[state]
            i = P.IS_REP_G2 + state;
            if (range < P.TOP) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | input[ip++]!) >>> 0;
            }
            p = probs[i]!;
            bound = Math.imul(range >>> 11, p) >>> 0;
            if (code < bound) {
              range = bound;
              probs[i] = p + ((2048 - p) >>> 5);
              dist = rep2;
            } else {
              range = (range - bound) >>> 0;
              code = (code - bound) >>> 0;
              probs[i] = p - (p >>> 5);
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
        state = state < 7 ? 8 : 11;
        lenBase = P.LEN_REP;
      }

      // match length: choice bits, then a 3-, 3- or 8-bit tree
      let len: number;
      let treeBase: number;
      let treeLimit: number;
      i = lenBase + P.LEN_CHOICE;
      if (range < P.TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | input[ip++]!) >>> 0;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p) >>> 0;
      if (code < bound) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        treeBase = lenBase + P.LEN_LOW + (posState << 3);
        treeLimit = 8;
        len = 2;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[i] = p - (p >>> 5);
        i = lenBase + P.LEN_CHOICE2;
        if (range < P.TOP) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]!) >>> 0;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p) >>> 0;
        if (code < bound) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          treeBase = lenBase + P.LEN_MID + (posState << 3);
          treeLimit = 8;
          len = 10;
        } else {
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[i] = p - (p >>> 5);
          treeBase = lenBase + P.LEN_HIGH;
          treeLimit = 256;
          len = 18;
        }
      }
      sym = 1;
      do {
        i = treeBase + sym;
        if (range < P.TOP) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]!) >>> 0;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p) >>> 0;
        if (code < bound) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          sym <<= 1;
        } else {
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[i] = p - (p >>> 5);
          sym = (sym << 1) | 1;
        }
      } while (sym < treeLimit);
      len += sym - treeLimit;

      if (isMatch) {
        // distance: a 6-bit slot, then reverse-tree bits, or direct bits and 4 aligned bits
        const lenState = len < 5 ? len - 2 : 3;
        treeBase = P.POS_SLOT + (lenState << 6);
        sym = 1;
        do {
          i = treeBase + sym;
          if (range < P.TOP) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | input[ip++]!) >>> 0;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p) >>> 0;
          if (code < bound) {
            range = bound;
            probs[i] = p + ((2048 - p) >>> 5);
            sym <<= 1;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[i] = p - (p >>> 5);
            sym = (sym << 1) | 1;
          }
        } while (sym < 64);
        const slot = sym - 64;
        if (slot < 4) {
          rep0 = slot;
        } else {
          // slots 62 and 63 mean distances of 2^31 and up, beyond any dictionary we accept
          // (and the end marker, which LZMA2 forbids): stopping here keeps `dist` an int32
          if (slot >= 62) throw new LzmaDataError('match distance beyond the dictionary', ip);
          const directBits = (slot >>> 1) - 1;
          let dist = (2 | (slot & 1)) << directBits;
          if (slot < 14) {
            treeBase = P.SPEC_POS + dist - slot - 1;
            sym = 1;
            for (let bit = 0; bit < directBits; bit++) {
              i = treeBase + sym;
              if (range < P.TOP) {
                range = (range << 8) >>> 0;
                code = ((code << 8) | input[ip++]!) >>> 0;
              }
              p = probs[i]!;
              bound = Math.imul(range >>> 11, p) >>> 0;
              if (code < bound) {
                range = bound;
                probs[i] = p + ((2048 - p) >>> 5);
                sym <<= 1;
              } else {
                range = (range - bound) >>> 0;
                code = (code - bound) >>> 0;
                probs[i] = p - (p >>> 5);
                sym = (sym << 1) | 1;
                dist += 1 << bit;
              }
            }
          } else {
            let direct = 0;
            for (let bit = directBits - 4; bit > 0; bit--) {
              if (range < P.TOP) {
                range = (range << 8) >>> 0;
                code = ((code << 8) | input[ip++]!) >>> 0;
              }
              range >>>= 1;
              if (code >= range) {
                code = (code - range) >>> 0;
                direct = (direct << 1) | 1;
              } else {
                direct <<= 1;
              }
            }
            dist += direct << 4;
            sym = 1;
            for (let bit = 0; bit < 4; bit++) {
              i = P.ALIGN + sym;
              if (range < P.TOP) {
                range = (range << 8) >>> 0;
                code = ((code << 8) | input[ip++]!) >>> 0;
              }
              p = probs[i]!;
              bound = Math.imul(range >>> 11, p) >>> 0;
              if (code < bound) {
                range = bound;
                probs[i] = p + ((2048 - p) >>> 5);
                sym <<= 1;
              } else {
                range = (range - bound) >>> 0;
                code = (code - bound) >>> 0;
                probs[i] = p - (p >>> 5);
                sym = (sym << 1) | 1;
                dist += 1 << bit;
              }
            }
          }
          rep0 = dist;
        }
      }

      // copy `len` bytes from `rep0 + 1` back
      if (rep0 >= full) throw new LzmaDataError('match distance beyond the dictionary', ip);
      if (len > remaining) throw new LzmaDataError('match runs past the end of the LZMA2 chunk', ip);
      remaining -= len;
      full = full + len < dictSize ? full + len : dictSize;
      let src = pos - rep0 - 1;
      if (len < 64) {
        do win[pos++] = win[src++]!;
        while (--len > 0);
      } else if (src + len <= pos) {
        win.copyWithin(pos, src, src + len);
        pos += len;
      } else {
        // overlapping: the bytes repeat with period `d` (runs of zeros in sparse files land
        // here), so copy whole periods, doubling, instead of byte by byte
        const d = pos - src;
        if (d === 1) {
          win.fill(win[src]!, pos, pos + len);
        } else {
          for (let k = 0; k < len; ) {
            const m = k === 0 ? d : Math.min(k, len - k);
            win.copyWithin(pos + k, src, src + m);
            k += m;
          }
        }
        pos += len;
      }
    }

    if (range < P.TOP) {
      range = (range << 8) >>> 0;
      code = ((code << 8) | input[ip++]!) >>> 0;
    }
    if (ip !== end || code !== 0) {
      throw new LzmaDataError(
        ip > end ? 'LZMA chunk reads past its compressed size' : 'LZMA chunk does not end cleanly',
        Math.min(ip, end),
      );
    }
    this.pos = pos;
    this.full = full;
    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
  }
}
