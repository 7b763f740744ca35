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
 * Window: a circular buffer of the dictionary size (rounded up to 16 so `pos & mask` is the
 * LZMA position state). It starts at 1 MiB and doubles on demand up to the dictionary size,
 * so a header that claims a 1.5 GiB dictionary costs memory only once that much data has been
 * decoded. Decoded bytes are copied out (`takeOutput`) before the window wraps over them, so
 * memory is the window plus at most one chunk of pending output.
 *
 * Hot path, tuned by measurement: `decodeLzmaChunk` keeps the range coder, the window and the
 * LZMA state in locals and inlines every bit decode by hand; uint32 arithmetic is spelled with
 * `>>> 0` and `Math.imul` so V8 keeps it in 32-bit registers. A helper function per bit (or
 * state kept on `this`) measured about 2x slower.
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

// Probability array layout (one Uint16Array, offsets as in the LZMA SDK's CLzmaDec).
const IS_MATCH = 0; // [state << 4 | posState], 12 * 16
const IS_REP = 192; // [state]
const IS_REP_G0 = 204;
const IS_REP_G1 = 216;
const IS_REP_G2 = 228;
const IS_REP0_LONG = 240; // [state << 4 | posState]
const POS_SLOT = 432; // [lenState << 6 | tree index], 4 * 64
const SPEC_POS = 688; // 114 reverse-tree probabilities for distance slots 4..13
const ALIGN = 802; // 16
const LEN_MATCH = 818; // length coder for matches, 514 entries
const LEN_REP = 1332; // length coder for repeated matches
const LITERAL = 1846; // 0x300 per literal coder, at most 16 coders (lc + lp <= 4)
const LEN_CHOICE = 0;
const LEN_CHOICE2 = 1;
const LEN_LOW = 2; // [posState << 3 | index], 16 * 8
const LEN_MID = 130;
const LEN_HIGH = 258; // 256
const PROBS_SIZE = LITERAL + 0x300 * 16;

const TOP = 0x1000000; // renormalise when range drops below 2^24
const INITIAL_WINDOW = 1 << 20;
/** Pending output is copied out once it reaches this size (fewer, larger pieces downstream). */
const OUTPUT_PIECE = 1 << 20;

export class LzmaDecoder {
  private window = new Uint8Array(0);
  /** active window size: grows by doubling up to `limit`, then wraps */
  private size = 0;
  /** dictionary size rounded up to a multiple of 16 */
  private limit = 0;
  private dictSize = 0;
  private pos = 0;
  /** window[flushed, pos) is decoded but not yet copied out */
  private flushed = 0;
  /** bytes available as match history: min(bytes since the dictionary reset, dictSize) */
  private full = 0;
  private output: Uint8Array[] = [];

  private readonly probs = new Uint16Array(PROBS_SIZE);
  private lc = 0;
  private lp = 0;
  private pb = 0;
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;

  /** Start a block whose LZMA2 filter declares `dictSize`. */
  startBlock(dictSize: number): void {
    this.dictSize = dictSize;
    this.limit = Math.max(4096, Math.ceil(dictSize / 16) * 16);
    this.size = Math.min(this.limit, Math.max(this.window.length, INITIAL_WINDOW));
    if (this.window.length < this.size) this.window = new Uint8Array(this.size);
    this.pos = 0;
    this.flushed = 0;
    this.full = 0;
  }

  /** LZMA2 dictionary reset: the history is forgotten (pending output is kept). */
  resetDictionary(): void {
    this.flush();
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
    let done = 0;
    while (done < data.length) {
      const n = Math.min(data.length - done, this.size - this.pos);
      this.window.set(data.subarray(done, done + n), this.pos);
      this.pos += n;
      done += n;
      if (this.pos === this.size) this.edge();
    }
    this.full = Math.min(this.full + data.length, this.dictSize);
  }

  /** Decoded pieces ready to hand on (copies, owned by the caller). `all` at the end of a block. */
  takeOutput(all: boolean): Uint8Array[] {
    if (all || this.pos - this.flushed >= OUTPUT_PIECE) this.flush();
    const out = this.output;
    this.output = [];
    return out;
  }

  private flush(): void {
    if (this.pos > this.flushed) this.output.push(this.window.slice(this.flushed, this.pos));
    this.flushed = this.pos;
  }

  /** `pos` reached the end of the active window: grow it if the dictionary allows, else wrap. */
  private edge(): void {
    this.flush();
    if (this.size < this.limit) {
      const grown = Math.min(this.limit, this.size * 2);
      if (this.window.length < grown) {
        const next = new Uint8Array(grown);
        next.set(this.window.subarray(0, this.size));
        this.window = next;
      }
      this.size = grown;
    } else {
      this.pos = 0;
      this.flushed = 0;
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
    let win = this.window;
    let size = this.size;
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
      i = IS_MATCH + (state << 4) + posState;
      if (range < TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | input[ip++]!) >>> 0;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p) >>> 0;
      if (code < bound) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        // literal
        const prev = full === 0 ? 0 : win[pos === 0 ? size - 1 : pos - 1]!;
        const base = LITERAL + 0x300 * (((pos & lpMask) << lc) + (prev >>> literalShift));
        sym = 1;
        if (state < 7) {
          do {
            i = base + sym;
            if (range < TOP) {
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
          let src = pos - rep0 - 1;
          if (src < 0) src += size;
          let matchByte = win[src]!;
          let offs = 0x100;
          do {
            matchByte <<= 1;
            const matchBit = matchByte & offs;
            i = base + offs + matchBit + sym;
            if (range < TOP) {
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
        if (pos === size) {
          this.pos = pos;
          this.edge();
          win = this.window;
          size = this.size;
          pos = this.pos;
        }
        continue;
      }
      range = (range - bound) >>> 0;
      code = (code - bound) >>> 0;
      probs[i] = p - (p >>> 5);

      // is_rep[state]
      let lenBase: number;
      let isMatch = false;
      i = IS_REP + state;
      if (range < TOP) {
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
        lenBase = LEN_MATCH;
        isMatch = true;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[i] = p - (p >>> 5);
        // a repeated match: is_rep_g0[state]
        i = IS_REP_G0 + state;
        if (range < TOP) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]!) >>> 0;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p) >>> 0;
        if (code < bound) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          // is_rep0_long[state][posState]: 0 = one byte at rep0 ("short rep")
          i = IS_REP0_LONG + (state << 4) + posState;
          if (range < TOP) {
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
            let src = pos - rep0 - 1;
            if (src < 0) src += size;
            win[pos++] = win[src]!;
            if (full < dictSize) full++;
            remaining--;
            if (pos === size) {
              this.pos = pos;
              this.edge();
              win = this.window;
              size = this.size;
              pos = this.pos;
            }
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
          i = IS_REP_G1 + state;
          if (range < TOP) {
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
            i = IS_REP_G2 + state;
            if (range < TOP) {
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
        lenBase = LEN_REP;
      }

      // match length: choice bits, then a 3-, 3- or 8-bit tree
      let len: number;
      let treeBase: number;
      let treeLimit: number;
      i = lenBase + LEN_CHOICE;
      if (range < TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | input[ip++]!) >>> 0;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p) >>> 0;
      if (code < bound) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        treeBase = lenBase + LEN_LOW + (posState << 3);
        treeLimit = 8;
        len = 2;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[i] = p - (p >>> 5);
        i = lenBase + LEN_CHOICE2;
        if (range < TOP) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | input[ip++]!) >>> 0;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p) >>> 0;
        if (code < bound) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          treeBase = lenBase + LEN_MID + (posState << 3);
          treeLimit = 8;
          len = 10;
        } else {
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[i] = p - (p >>> 5);
          treeBase = lenBase + LEN_HIGH;
          treeLimit = 256;
          len = 18;
        }
      }
      sym = 1;
      do {
        i = treeBase + sym;
        if (range < TOP) {
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
        treeBase = POS_SLOT + (lenState << 6);
        sym = 1;
        do {
          i = treeBase + sym;
          if (range < TOP) {
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
            treeBase = SPEC_POS + dist - slot - 1;
            sym = 1;
            for (let bit = 0; bit < directBits; bit++) {
              i = treeBase + sym;
              if (range < TOP) {
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
              if (range < TOP) {
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
              i = ALIGN + sym;
              if (range < TOP) {
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
      if (src < 0) src += size;
      // copy in spans that wrap neither source nor destination; byte by byte when short or
      // overlapping (distance < length repeats the pattern, which copyWithin would not)
      for (;;) {
        let n = len;
        if (n > size - pos) n = size - pos;
        if (n > size - src) n = size - src;
        if (n >= 64 && (src >= pos || src + n <= pos)) {
          win.copyWithin(pos, src, src + n);
          pos += n;
          src += n;
        } else {
          for (const stop = pos + n; pos < stop; ) win[pos++] = win[src++]!;
        }
        len -= n;
        if (src === size) src = 0;
        if (pos === size) {
          // growing keeps positions; wrapping happens only at the full size
          this.pos = pos;
          this.edge();
          win = this.window;
          size = this.size;
          pos = this.pos;
        }
        if (len === 0) break;
      }
    }

    if (range < TOP) {
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
