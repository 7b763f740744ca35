/**
 * One gzip member's framing (RFC 1952): the header before the deflate data and the trailer after
 * it. Shared by the member workers (which decode a member whole) and the parallel driver (which
 * looks for where members may start).
 */
import { crc32 } from 'node:zlib';

export const gzipMagic = [0x1f, 0x8b, 0x08] as const;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const reservedFlags = 0xe0;
const fixedHeaderBytes = 10;
export const trailerBytes = 8;

/** Could a member start at `at`? (magic, deflate, no reserved flag: what zlib itself checks) */
export function maybeMemberStart(bytes: Uint8Array, at: number): boolean {
  return at + 3 < bytes.length && bytes[at] === 0x1f && bytes[at + 1] === 0x8b && bytes[at + 2] === 0x08 && (bytes[at + 3]! & reservedFlags) === 0;
}

/** Length of the member header at `at`: a number, 'short' when `bytes` ends inside it, or an
 *  error message in zlib's words (what the serial decoder would report). */
export function memberHeaderLength(bytes: Uint8Array, at: number): number | 'short' | { error: string } {
  // the magic first, as far as it has arrived: a stray byte or two after the last member is
  // garbage, not a header cut short
  if ((bytes.length > at && bytes[at] !== 0x1f) || (bytes.length > at + 1 && bytes[at + 1] !== 0x8b)) return { error: 'incorrect header check' };
  if (bytes.length - at < fixedHeaderBytes) return 'short';
  if (bytes[at + 2] !== 0x08) return { error: 'unknown compression method' };
  const flags = bytes[at + 3]!;
  if (flags & reservedFlags) return { error: 'unknown header flags set' };
  let p = at + fixedHeaderBytes;
  if (flags & FEXTRA) {
    if (p + 2 > bytes.length) return 'short';
    p += 2 + (bytes[p]! | (bytes[p + 1]! << 8));
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const nul = bytes.indexOf(0, p);
    if (nul < 0) return 'short';
    p = nul + 1;
  }
  if (flags & FHCRC) {
    if (p + 2 > bytes.length) return 'short';
    // zlib checks it: the low 16 bits of the CRC-32 of the header before it
    const stored = bytes[p]! | (bytes[p + 1]! << 8);
    if (stored !== (crc32(bytes.subarray(at, p)) & 0xffff)) return { error: 'header crc mismatch' };
    p += 2;
  }
  return p > bytes.length ? 'short' : p - at;
}

/** The trailer's CRC-32 and ISIZE (input size mod 2^32), little-endian. */
export function readTrailer(bytes: Uint8Array, at: number): { crc: number; size: number } {
  const u32 = (i: number) => (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
  return { crc: u32(at), size: u32(at + 4) };
}
