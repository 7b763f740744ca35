/**
 * Typed view over one 512-byte tar header block (Go's `block.V7()/USTAR()/GNU()` idea): field
 * offsets live here and nowhere else, numbers go through checked parsers that reject garbage and
 * overflow instead of guessing (tar-stream's parseInt would read "12x" as 10).
 *
 * Layouts (formats.md 5.1):
 *   v7/ustar  name 0/100 mode 100/8 uid 108/8 gid 116/8 size 124/12 mtime 136/12 chksum 148/8
 *             typeflag 156 linkname 157/100 | magic 257/6 version 263/2 uname 265/32
 *             gname 297/32 devmajor 329/8 devminor 337/8 prefix 345/155
 *   GNU       magic "ustar  \0" at 257; the prefix area holds atime 345/12 ctime 357/12
 *             offset 369/12 longnames 381/4, then the old sparse map: 4 × (offset 12, numbytes 12)
 *             at 386, isextended 482, realsize 483/12
 * Numbers are octal text ended by space or NUL, or GNU/star base-256 when the first byte has the
 * high bit set (bit 0x40 of that byte = negative, two's complement over the whole field).
 */
import { badArchive } from '../../errors.js';

export const BLOCK = 512;

export type TarFlavour = 'ustar' | 'gnu' | 'v7';

const MAGIC_AT = 257;
const USTAR_MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72, 0x00]; // "ustar\0"
const GNU_MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72, 0x20, 0x20, 0x00]; // "ustar  \0"

export const CHECKSUM_AT = 148;
export const CHECKSUM_LENGTH = 8;
export const TYPEFLAG_AT = 156;
export const SIZE_AT = 124;
export const SIZE_LENGTH = 12;

/** Where a field error points: the header's offset in the layer's stream. */
export interface HeaderPlace {
  layer: string;
  offset: number;
}

export interface TarHeader {
  /** name field, with the ustar prefix joined in front (byte string) */
  name: string;
  mode: number;
  uid: number;
  gid: number;
  /** size field: bytes of data that follow the header (before padding) */
  size: number;
  /** whole seconds; may be negative (base-256) */
  mtime: bigint;
  /** one character; '\0' for old v7 regular files */
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  /** only parsed for char/block devices (other writers leave junk there) */
  devMajor: number;
  devMinor: number;
  flavour: TarFlavour;
}

function matches(block: Uint8Array, at: number, bytes: readonly number[]): boolean {
  for (let i = 0; i < bytes.length; i++) if (block[at + i] !== bytes[i]) return false;
  return true;
}

export function flavourOf(block: Uint8Array): TarFlavour {
  if (matches(block, MAGIC_AT, GNU_MAGIC)) return 'gnu';
  if (matches(block, MAGIC_AT, USTAR_MAGIC)) return 'ustar';
  return 'v7';
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Text up to the first NUL, one char per byte (the byte-string form of entry.ts). */
export function fieldString(block: Uint8Array, start: number, length: number, encoding: 'latin1' | 'utf8' = 'latin1'): string {
  let end = start;
  const limit = start + length;
  while (end < limit && block[end] !== 0) end++;
  if (end === start) return ''; // linkname, prefix: empty in most headers
  return Buffer.from(block.buffer, block.byteOffset + start, end - start).toString(encoding);
}

/** The last owner name decoded from one header field, and its bytes. */
interface NameMemo {
  bytes: Uint8Array;
  text: string;
}

/** fieldString for uname/gname, which repeat in nearly every header ("root"): when the field
 *  holds the same bytes as last time, the same string, without decoding (no allocation). */
function ownerName(block: Uint8Array, start: number, memo: NameMemo): string {
  let end = start;
  const limit = start + OWNER_NAME_BYTES;
  while (end < limit && block[end] !== 0) end++;
  const length = end - start;
  const last = memo.bytes;
  if (length === last.length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (block[start + i] !== last[i]) {
        same = false;
        break;
      }
    }
    if (same) return memo.text;
  }
  memo.bytes = block.slice(start, end);
  memo.text = length === 0 ? '' : Buffer.from(block.buffer, block.byteOffset + start, length).toString('utf8');
  return memo.text;
}

const OWNER_NAME_BYTES = 32;
const unameMemo: NameMemo = { bytes: new Uint8Array(0), text: '' };
const gnameMemo: NameMemo = { bytes: new Uint8Array(0), text: '' };

/**
 * A numeric field as a bigint, or undefined when it is not a number: octal digits between
 * optional spaces/NULs (Go trims both the same way), or base-256.
 */
export function fieldNumber(block: Uint8Array, start: number, length: number): bigint | undefined {
  const first = block[start]!;
  if (first & 0x80) {
    // base-256: a (8·length − 1)-bit two's-complement number; 0x80 marks it, 0x40 is the sign
    let raw = BigInt(first & 0x7f);
    for (let i = start + 1; i < start + length; i++) raw = (raw << 8n) | BigInt(block[i]!);
    return first & 0x40 ? raw - (1n << BigInt(8 * length - 1)) : raw;
  }
  let from = start;
  let to = start + length;
  while (from < to && (block[from] === 0x20 || block[from] === 0)) from++;
  while (to > from && (block[to - 1] === 0x20 || block[to - 1] === 0)) to--;
  let value = 0n;
  let small = 0;
  const fast = to - from <= 17; // 17 octal digits < 2^53: plain numbers, no bigint per digit
  for (let i = from; i < to; i++) {
    const digit = block[i]! - 0x30;
    if (digit < 0 || digit > 7) return undefined;
    if (fast) small = small * 8 + digit;
    else value = value * 8n + BigInt(digit);
  }
  return fast ? BigInt(small) : value;
}

/**
 * fieldNumber for the common case, without a bigint (six numeric fields per header, two headers
 * per pax member: the bigints were a good share of a tar's garbage): the value of a plain octal
 * field of at most 17 digits; NaN when the field is base-256 or longer (use fieldNumber);
 * undefined when it is not a number.
 */
function octalField(block: Uint8Array, start: number, length: number): number | undefined {
  if (block[start]! & 0x80) return NaN;
  let from = start;
  let to = start + length;
  while (from < to && (block[from] === 0x20 || block[from] === 0)) from++;
  while (to > from && (block[to - 1] === 0x20 || block[to - 1] === 0)) to--;
  if (to - from > 17) return NaN;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = block[i]! - 0x30;
    if (digit < 0 || digit > 7) return undefined;
    value = value * 8 + digit;
  }
  return value;
}

function describeField(block: Uint8Array, start: number, length: number): string {
  return JSON.stringify(Buffer.from(block.subarray(start, start + length)).toString('latin1'));
}

/** A numeric field that must be a non-negative safe integer. */
export function fieldCount(block: Uint8Array, start: number, length: number, field: string, at: HeaderPlace): number {
  const plain = octalField(block, start, length);
  if (plain !== undefined && !Number.isNaN(plain)) return plain; // non-negative and safe by construction
  const value = plain === undefined ? undefined : fieldNumber(block, start, length);
  if (value === undefined) {
    throw badArchive(`bad tar ${field} field ${describeField(block, start, length)}: not an octal number`, { layer: at.layer, offset: at.offset + start });
  }
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw badArchive(`tar ${field} field is out of range (${value})`, { layer: at.layer, offset: at.offset + start });
  }
  return Number(value);
}

export interface ChecksumResult {
  ok: boolean;
  stored: number | undefined;
  unsigned: number;
  signed: number;
}

/**
 * The header checksum: the sum of all 512 bytes with the checksum field counted as spaces.
 * POSIX sums unsigned bytes; some old tars (SunOS 4, early Solaris) summed signed chars, so
 * either is accepted, as libarchive and GNU tar do.
 */
export function checkChecksum(block: Uint8Array): ChecksumResult {
  // the checksum field counts as eight spaces; the two loops around it have no branch per byte
  let unsigned = 0x20 * CHECKSUM_LENGTH;
  let high = 0;
  for (let i = 0; i < CHECKSUM_AT; i++) {
    const b = block[i]!;
    unsigned += b;
    high += b >> 7;
  }
  for (let i = CHECKSUM_AT + CHECKSUM_LENGTH; i < BLOCK; i++) {
    const b = block[i]!;
    unsigned += b;
    high += b >> 7;
  }
  const signed = unsigned - 256 * high;
  const plain = octalField(block, CHECKSUM_AT, CHECKSUM_LENGTH);
  const stored = plain === undefined ? undefined : Number.isNaN(plain) ? nonNegative(fieldNumber(block, CHECKSUM_AT, CHECKSUM_LENGTH)) : plain;
  // an all-blank field parses as 0, which no real header sums to (8 spaces alone make 256)
  return { ok: stored !== undefined && (stored === unsigned || stored === signed), stored, unsigned, signed };
}

function nonNegative(value: bigint | undefined): number | undefined {
  return value === undefined || value < 0n ? undefined : Number(value);
}

/** Decode the common fields (the caller has checked the checksum). */
export function decodeHeader(block: Uint8Array, at: HeaderPlace): TarHeader {
  const flavour = flavourOf(block);
  const typeflag = String.fromCharCode(block[TYPEFLAG_AT]!);
  let name = fieldString(block, 0, 100);
  if (flavour === 'ustar' && block[345] !== 0) {
    // star's xstar keeps atime/ctime at 476/488 inside the prefix area: stop at the first NUL
    name = `${fieldString(block, 345, 155)}/${name}`;
  }
  const mtime = fieldNumber(block, 136, 12);
  if (mtime === undefined) {
    throw badArchive(`bad tar mtime field ${describeField(block, 136, 12)}: not an octal number`, { layer: at.layer, offset: at.offset + 136 });
  }
  const device = typeflag === '3' || typeflag === '4';
  return {
    name,
    mode: fieldCount(block, 100, 8, 'mode', at) & 0o7777,
    uid: fieldCount(block, 108, 8, 'uid', at),
    gid: fieldCount(block, 116, 8, 'gid', at),
    size: fieldCount(block, SIZE_AT, SIZE_LENGTH, 'size', at),
    mtime,
    typeflag,
    linkname: fieldString(block, 157, 100),
    uname: flavour === 'v7' ? '' : ownerName(block, 265, unameMemo),
    gname: flavour === 'v7' ? '' : ownerName(block, 297, gnameMemo),
    devMajor: device && flavour !== 'v7' ? fieldCount(block, 329, 8, 'devmajor', at) : 0,
    devMinor: device && flavour !== 'v7' ? fieldCount(block, 337, 8, 'devminor', at) : 0,
    flavour,
  };
}

/**
 * How sure `head` is a tar header: ustar or GNU magic with a valid checksum, or a v7 header
 * (no magic) whose checksum and numeric fields are valid. 0 = not tar.
 */
export function tarBid(head: Uint8Array): number {
  if (head.length < BLOCK) return 0;
  if (!checkChecksum(head).ok) return 0;
  const flavour = flavourOf(head);
  if (flavour !== 'v7') return 48 + 16; // 48 magic bits + checksum
  // v7: the checksum plus plausible fields (cpio's binary magic bids 16, odc/newc 48)
  const typeflag = head[TYPEFLAG_AT]!;
  // a GNU volume label (tar -V) has no magic of its own: the member after it says what this is
  if (typeflag === 0x56) return head.length >= 2 * BLOCK && tarBid(head.subarray(BLOCK)) > 24 ? 48 + 16 : 0;
  if (!(typeflag === 0 || (typeflag >= 0x30 && typeflag <= 0x37))) return 0;
  if (head[0] === 0) return 0;
  for (const [start, length] of [[100, 8], [108, 8], [116, 8], [124, 12], [136, 12]] as const) {
    if (fieldNumber(head, start, length) === undefined) return 0;
  }
  return 24;
}

// ---- the old GNU sparse header area -----------------------------------------------------------

export const GNU_SPARSE_AT = 386;
export const GNU_SPARSE_ENTRIES = 4;
export const GNU_ISEXTENDED_AT = 482;
export const GNU_REALSIZE_AT = 483;
/** an extension block holds 21 (offset, numbytes) pairs, then isextended at 504 */
export const GNU_EXT_ENTRIES = 21;
export const GNU_EXT_ISEXTENDED_AT = 504;
