/**
 * The integrity checks an xz stream can carry: CRC32 (also used for its headers), CRC64 (the
 * xz default) and SHA-256. Check IDs xz reserves but nobody implements are skipped, as xz does.
 *
 * CRC32 comes from node:zlib where it exists (Node >= 20.15), else from a table here. CRC64 is
 * slicing-by-8 over two 32-bit halves: every decoded byte of a default xz file passes through it,
 * and the bytewise loop measured about 4x slower.
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';

const crc32Table = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Plain-table CRC32 (the IEEE polynomial, as xz and gzip use). Exported for tests. */
export function crc32Portable(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = crc32Table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export const crc32: (data: Uint8Array, crc?: number) => number =
  typeof nativeCrc32 === 'function' ? (data, crc = 0) => nativeCrc32(data, crc) : crc32Portable;

// CRC64/XZ (ECMA-182 polynomial, reflected): tables[k * 256 + b] as (lo, hi) 32-bit halves.
// Int32Array, not Uint32Array: V8 loads a Uint32 element above 2^31 as a double, which costs
// about 3x here; xor of int32s gives the same bits.
const crc64Lo = new Int32Array(8 * 256);
const crc64Hi = new Int32Array(8 * 256);
{
  const polyLo = 0xd7870f42 | 0;
  const polyHi = 0xc96c5795 | 0;
  for (let n = 0; n < 256; n++) {
    let lo = n;
    let hi = 0;
    for (let k = 0; k < 8; k++) {
      const odd = lo & 1;
      lo = (lo >>> 1) | (hi << 31);
      hi = hi >>> 1;
      if (odd) {
        lo ^= polyLo;
        hi ^= polyHi;
      }
    }
    crc64Lo[n] = lo;
    crc64Hi[n] = hi;
  }
  for (let t = 1; t < 8; t++) {
    for (let n = 0; n < 256; n++) {
      const prevLo = crc64Lo[(t - 1) * 256 + n]!;
      const prevHi = crc64Hi[(t - 1) * 256 + n]!;
      const idx = prevLo & 0xff;
      crc64Lo[t * 256 + n] = ((prevLo >>> 8) | (prevHi << 24)) ^ crc64Lo[idx]!;
      crc64Hi[t * 256 + n] = (prevHi >>> 8) ^ crc64Hi[idx]!;
    }
  }
}

/** Running CRC64/XZ. */
export class Crc64 {
  private lo = -1;
  private hi = -1;

  constructor() {
    this.lo = this.hi = -1; // a second write: see LzmaDecoder's constructor
  }

  update(data: Uint8Array): void {
    const L = crc64Lo;
    const H = crc64Hi;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let lo = this.lo;
    let hi = this.hi;
    let i = 0;
    for (const end = data.length - 8; i <= end; i += 8) {
      const a = lo ^ view.getInt32(i, true);
      const b = hi ^ view.getInt32(i + 4, true);
      lo =
        L[1792 + (a & 0xff)]! ^ L[1536 + ((a >>> 8) & 0xff)]! ^ L[1280 + ((a >>> 16) & 0xff)]! ^ L[1024 + (a >>> 24)]! ^
        L[768 + (b & 0xff)]! ^ L[512 + ((b >>> 8) & 0xff)]! ^ L[256 + ((b >>> 16) & 0xff)]! ^ L[b >>> 24]!;
      hi =
        H[1792 + (a & 0xff)]! ^ H[1536 + ((a >>> 8) & 0xff)]! ^ H[1280 + ((a >>> 16) & 0xff)]! ^ H[1024 + (a >>> 24)]! ^
        H[768 + (b & 0xff)]! ^ H[512 + ((b >>> 8) & 0xff)]! ^ H[256 + ((b >>> 16) & 0xff)]! ^ H[b >>> 24]!;
    }
    for (; i < data.length; i++) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ L[idx]!;
      hi = (hi >>> 8) ^ H[idx]!;
    }
    this.lo = lo;
    this.hi = hi;
  }

  /** The 8 bytes as stored in an xz block (little-endian). */
  digest(): Uint8Array {
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    view.setUint32(0, ~this.lo >>> 0, true);
    view.setUint32(4, ~this.hi >>> 0, true);
    return out;
  }
}

/** A block check in progress: feed the block's decoded bytes, then compare with the stored field. */
export interface BlockCheck {
  update(data: Uint8Array): void;
  /** the expected stored bytes, or undefined when this check type is not verified */
  digest(): Uint8Array | undefined;
}

/** Size in bytes of the stored check field for check ID 0..15 (xz file format, 2.1.1.2). */
export function checkSize(id: number): number {
  return id === 0 ? 0 : 4 << Math.floor((id - 1) / 3);
}

export const checkNames: Record<number, string> = { 0: 'none', 1: 'CRC32', 4: 'CRC64', 10: 'SHA-256' };

export function createCheck(id: number): BlockCheck {
  switch (id) {
    case 1: {
      let crc = 0;
      return {
        update: (data) => {
          crc = crc32(data, crc);
        },
        digest: () => {
          const out = new Uint8Array(4);
          new DataView(out.buffer).setUint32(0, crc, true);
          return out;
        },
      };
    }
    case 4:
      return new Crc64();
    case 10: {
      const hash = createHash('sha256');
      return { update: (data) => hash.update(data), digest: () => new Uint8Array(hash.digest()) };
    }
    default:
      return { update: () => {}, digest: () => undefined };
  }
}
