/**
 * Sniffing for every archive format: the header checks alone, so that the registry can bid on
 * the (decompressed) head without loading any reader (registry.ts loads the winner). Each
 * format's reader uses the same function as its bid. A bid is the number of header bits
 * checked, 0 for "not mine" (libarchive style).
 */
import { sniffVariant } from './cpio/headers.js';
import { CHECKSUM, MTB_MAGIC, TP_BSIZE, TS_TAPE, recordSum, sniffMagic } from './dump/header.js';
export { tarBid } from './tar/header.js';

export function cpioBid(head: Uint8Array): number {
  const variant = sniffVariant(head);
  if (!variant) return 0;
  // ASCII magics check 48 bits, binary ones 16 (libarchive bids the same way)
  return variant.startsWith('bin') ? 16 : 48;
}

export const flarCookiePrefix = 'FlAsH-aRcHiVe-';

export function flarBid(head: Uint8Array): number {
  if (head.length <= flarCookiePrefix.length) return 0;
  for (let i = 0; i < flarCookiePrefix.length; i++) if (head[i] !== flarCookiePrefix.charCodeAt(i)) return 0;
  const digit = head[flarCookiePrefix.length]!;
  return digit >= 0x30 && digit <= 0x39 ? 8 * (flarCookiePrefix.length + 1) : 0;
}

export function dumpBid(head: Uint8Array): number {
  const magic = sniffMagic(head);
  if (!magic || head.length < 4) return 0;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (view.getInt32(0, magic.order === 'le') !== TS_TAPE) return 0;
  // magic and record type: 64 bits; a verified checksum (1 KiB records) is worth 32 more, and
  // rules out the odd file with 60012 at offset 24 (GNU .mo catalogs can have it)
  const checked = magic.magic !== MTB_MAGIC && head.length >= TP_BSIZE && recordSum(head.subarray(0, TP_BSIZE), magic.order) === CHECKSUM;
  return checked ? 96 : 64;
}
