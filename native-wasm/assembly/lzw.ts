// compress(1) LZW hot loop: the WebAssembly twin of LzwDecoder.run() in src/filters/lzw-decoder.ts.
// Same data layout, same steps, same exits; the TypeScript class keeps every rare path (header,
// CLEAR, width changes, padding, window slides, errors) and calls this for the common codes.
//
// Memory is laid out by the caller (src/native/lzw-kernel.ts) and passed as byte addresses:
//   entry  i32[2 * 65536]  packed strings or (window index, ~length), see the TypeScript twin
//   prefix u16[65536], suffix u8[65536]  the chain, for strings that slid out of the window
//   win    the output window;  input  the current compressed chunk
//   state  i32[16]  scalars in and out (the `S_` slots below)

const NEED_INPUT: i32 = 0;
const CHECK: i32 = 1;
const CLEAR: i32 = 2;
const BAD_CODE: i32 = 3;

// state slots (i32 each)
const S_IP: i32 = 0;
const S_END: i32 = 1;
const S_BITBUF: i32 = 2;
const S_BITCOUNT: i32 = 3;
const S_FREE: i32 = 4;
const S_PREV: i32 = 5;
const S_PREVPOS: i32 = 6;
const S_PREVLEN: i32 = 7;
const S_WP: i32 = 8;
const S_NBITS: i32 = 9;
const S_MAXCODE: i32 = 10;
const S_MAXMAX: i32 = 11;
const S_CLEARCODE: i32 = 12;
const S_NEXTEMIT: i32 = 13;
const S_BADCODE: i32 = 14;
const S_REBUILT: i32 = 15;

/** First address the caller may use (after this module's own static data). */
export function heapBase(): usize {
  return __heap_base;
}

@inline function get(state: usize, slot: i32): i32 {
  return load<i32>(state + (<usize>slot << 2));
}
@inline function put(state: usize, slot: i32, value: i32): void {
  store<i32>(state + (<usize>slot << 2), value);
}

/** Copy `length` bytes forward, byte by byte when short (overlap-safe for src < dst). */
@inline function copyBytes(dst: usize, src: usize, length: i32): void {
  if (length <= 16) {
    for (let i: i32 = 0; i < length; i++) store<u8>(dst + <usize>i, load<u8>(src + <usize>i));
  } else {
    memory.copy(dst, src, <usize>length);
  }
}

export function run(state: usize, entry: usize, prefix: usize, suffix: usize, win: usize, input: usize): i32 {
  const end = get(state, S_END);
  const n = get(state, S_NBITS);
  const mask = (1 << n) - 1;
  const maxCode = get(state, S_MAXCODE);
  const maxMax = get(state, S_MAXMAX);
  const clearCode = get(state, S_CLEARCODE);
  const nextEmit = get(state, S_NEXTEMIT);
  let ip = get(state, S_IP);
  let bitBuf = get(state, S_BITBUF);
  let bitCount = get(state, S_BITCOUNT);
  let free = get(state, S_FREE);
  let prev = get(state, S_PREV);
  let prevPos = get(state, S_PREVPOS);
  let prevLen = get(state, S_PREVLEN);
  let wp = get(state, S_WP);
  let rebuilt = get(state, S_REBUILT);
  let status = NEED_INPUT;

  while (true) {
    if (bitCount < n) {
      if (ip + 1 >= end) break;
      bitBuf |= <i32>load<u16>(input + <usize>ip) << bitCount; // little-endian: byte ip, then ip+1
      bitCount += 16;
      ip += 2;
    }
    const code = bitBuf & mask;
    bitBuf >>= n;
    bitCount -= n;
    const start = wp;

    if (code < free) {
      const at = entry + (<usize>code << 3);
      const hi = load<i32>(at, 4);
      if (hi >= 0) {
        store<i32>(win + <usize>wp, load<i32>(at));
        store<i32>(win + <usize>wp, hi, 4);
        wp += hi >>> 24;
      } else {
        if (code == clearCode) {
          status = CLEAR;
          break;
        }
        const v = ~hi;
        const src = load<i32>(at);
        if (src >= 0) {
          copyBytes(win + <usize>wp, win + <usize>src, v);
        } else {
          rebuilt++;
          let p = wp + v - 1;
          let c = code;
          while (c >= 256) {
            store<u8>(win + <usize>p, load<u8>(suffix + <usize>c));
            p--;
            c = <i32>load<u16>(prefix + (<usize>c << 1));
          }
          store<u8>(win + <usize>p, <u8>c);
        }
        store<i32>(at, wp);
        wp += v;
      }
    } else if (code == free && free < maxMax && code != clearCode) {
      copyBytes(win + <usize>wp, win + <usize>prevPos, prevLen);
      store<u8>(win + <usize>(wp + prevLen), load<u8>(win + <usize>prevPos));
      wp += prevLen + 1;
    } else {
      status = code == clearCode ? CLEAR : BAD_CODE;
      put(state, S_BADCODE, code);
      break;
    }

    if (free < maxMax) {
      store<u16>(prefix + (<usize>free << 1), <u16>prev);
      store<u8>(suffix + <usize>free, load<u8>(win + <usize>start));
      const len = prevLen + 1;
      const at = entry + (<usize>free << 3);
      if (len <= 7) {
        store<i32>(at, load<i32>(win + <usize>prevPos));
        store<i32>(at, (load<i32>(win + <usize>prevPos, 4) & 0xffffff) | (len << 24), 4);
      } else {
        store<i32>(at, prevPos);
        store<i32>(at, ~len, 4);
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

  put(state, S_IP, ip);
  put(state, S_BITBUF, bitBuf);
  put(state, S_BITCOUNT, bitCount);
  put(state, S_FREE, free);
  put(state, S_PREV, prev);
  put(state, S_PREVPOS, prevPos);
  put(state, S_PREVLEN, prevLen);
  put(state, S_WP, wp);
  put(state, S_REBUILT, rebuilt);
  return status;
}
