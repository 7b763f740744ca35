/**
 * Content sniffing for every codec: the magic checks alone, so that the registry can bid on a
 * stream without loading any decoder (registry.ts loads the winner; a .Z image never loads the
 * xz or bzip2 code, ~40 ms of start-up). Each codec's Filter uses the same function as its bid.
 * A bid is the number of header bits checked, 0 for "not mine".
 */
import { crc32 } from './xz/checks.js';

export function gzipBid(head: Uint8Array): number {
  // magic 1f 8b, method 8 (deflate), reserved flag bits clear
  if (head.length < 4 || head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8) return 0;
  return (head[3]! & 0xe0) === 0 ? 27 : 0;
}

const bzip2BlockMagic = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
const bzip2EndMagic = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];

export function bzip2Bid(head: Uint8Array): number {
  // "BZh", level '1'..'9', then a block magic (or end-of-stream magic: an empty stream)
  if (head.length < 10 || head[0] !== 0x42 || head[1] !== 0x5a || head[2] !== 0x68) return 0;
  if (head[3]! < 0x31 || head[3]! > 0x39) return 0;
  const magic = head.subarray(4, 10);
  const matches = (expected: number[]) => expected.every((byte, i) => magic[i] === byte);
  return matches(bzip2BlockMagic) || matches(bzip2EndMagic) ? 72 : 0;
}

export const xzHeaderMagic = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/** xz stream flags: the first byte zero, the check type in the low nibble of the second. */
export function xzStreamFlagsValid(flags: Uint8Array, at: number): boolean {
  return flags[at] === 0 && (flags[at + 1]! & 0xf0) === 0;
}

export function xzBid(head: Uint8Array): number {
  if (head.length < 8) return 0;
  for (let i = 0; i < 6; i++) if (head[i] !== xzHeaderMagic[i]) return 0;
  if (!xzStreamFlagsValid(head, 6)) return 0;
  if (head.length < 12) return 64;
  const stored = (head[8]! | (head[9]! << 8) | (head[10]! << 16) | (head[11]! << 24)) >>> 0;
  return crc32(head.subarray(6, 8)) === stored ? 96 : 0;
}

export function compressBid(head: Uint8Array): number {
  // magic 1f 9d; flags: maxbits (low 5 bits) 9..16, bits 0x60 reserved (0x80 = block mode)
  if (head.length < 3 || head[0] !== 0x1f || head[1] !== 0x9d) return 0;
  const flags = head[2]!;
  const maxBits = flags & 0x1f;
  if ((flags & 0x60) !== 0 || maxBits < 9 || maxBits > 16) return 0;
  return 16 + 8;
}
