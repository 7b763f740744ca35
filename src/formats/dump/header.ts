/**
 * Dump record headers (struct s_spcl, formats.md 6.2-6.3): byte order from the magic, the
 * checksum, and a typed view of the fields every dump family shares.
 *
 * A dump is a sequence of tp_bsize records (1 KiB; Solaris MTB dumps say how big in c_tpbsize).
 * A header record carries the magic at 24 and sums to CHECKSUM as 32-bit words in the dump's
 * byte order; everything else in the stream is data blocks. The magic is not a palindrome, so
 * exactly one byte order reads it. Field offsets live here and nowhere else.
 */
import { badArchive, P2VError } from '../../errors.js';

export const TP_BSIZE = 1024;
export const TP_BSIZE_MAX = 65536;
/** c_addr entries in one header */
export const TP_NINDIR = 512;
export const CHECKSUM = 84446;

export const OFS_MAGIC = 60011; // pre-4.2BSD file systems (old header layout)
export const NFS_MAGIC = 60012; // ufsdump, Linux dump, 4.4BSD dump
export const MTB_MAGIC = 60013; // Solaris dumps > 2 TB: variable tp_bsize
export const FS_UFS2_MAGIC = 0x19540119; // FreeBSD 5+ (64-bit times, expanded dinode)
const magics = [OFS_MAGIC, NFS_MAGIC, MTB_MAGIC, FS_UFS2_MAGIC];

export const TS_TAPE = 1;
export const TS_INODE = 2;
export const TS_BITS = 3;
export const TS_ADDR = 4;
export const TS_END = 5;
export const TS_CLRI = 6;
export const TS_EOM = 7; // Solaris: end of this volume (old floppy dumps)
const typeNames = ['?', 'TS_TAPE', 'TS_INODE', 'TS_BITS', 'TS_ADDR', 'TS_END', 'TS_CLRI', 'TS_EOM'];

export const DR_NEWHEADER = 0x1;
/** BSD/Linux: the 4.4BSD inode layout and 8-bit d_type/d_namlen directory entries */
export const DR_NEWINODEFMT = 0x2;
/** Solaris: shadow (ACL) data embedded at c_shadow */
export const DR_HASMETA = 0x10;
/** Linux dump -z/-j: every tape record compressed */
export const DR_COMPRESSED = 0x80;
/** Linux: an inode whose data did not change (incremental): metadata only */
export const DR_METAONLY = 0x100;
/** Linux: this TS_INODE carries extended attributes of c_inumber (kind in c_extattributes) */
export const DR_EXTATTRIBUTES = 0x8000;
export const EXT_XATTR = 3;

// field offsets in a header record
const C_TYPE = 0;
const C_DATE = 4;
const C_DDATE = 8;
const C_VOLUME = 12;
const C_TAPEA = 16;
const C_INUMBER = 20;
export const C_MAGIC = 24;
export const C_DINODE = 32;
export const DINODE_BYTES = 128;
const C_COUNT = 160;
const C_ADDR = 164;
const C_LABEL = 676;
const C_LEVEL = 692;
/** Solaris: union u_shadow over c_level, c_filesys, c_dev, c_host */
export const C_SHADOW = 692;
export const C_SHADOW_BYTES = 196;
const C_FILESYS = 696;
const C_DEV = 760;
const C_HOST = 824;
const C_FLAGS = 888;
/** Solaris MTB: c_tpbsize; Linux: c_ntrec; FreeBSD UFS2: low half of the 64-bit c_date */
const C_TPBSIZE = 896;
const C_EXTATTRIBUTES = 900;
const C_UFS2_DATE = 896;
const C_UFS2_DDATE = 904;
const C_UFS2_TAPEA = 912;
const NAME_BYTES = 64;
const LABEL_BYTES = 16;

export type ByteOrder = 'le' | 'be';

export interface DumpMagic {
  order: ByteOrder;
  magic: number;
}

/** The magic at offset 24 and the byte order that reads it, or undefined. */
export function sniffMagic(head: Uint8Array): DumpMagic | undefined {
  if (head.length < C_MAGIC + 4) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const le = view.getUint32(C_MAGIC, true);
  if (magics.includes(le)) return { order: 'le', magic: le };
  const be = view.getUint32(C_MAGIC, false);
  if (magics.includes(be)) return { order: 'be', magic: be };
  return undefined;
}

/** The sum of the record's 32-bit words in `order`, mod 2^32 (CHECKSUM for a good header). */
export function recordSum(record: Uint8Array, order: ByteOrder): number {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const le = order === 'le';
  let sum = 0;
  for (let at = 0; at + 4 <= record.length; at += 4) sum = (sum + view.getUint32(at, le)) >>> 0;
  return sum;
}

/** Does this record look like a header of this dump (magic only; cheap, for data runs)? */
export function hasMagic(record: Uint8Array, at: number, magic: DumpMagic): boolean {
  const b = record;
  const m = magic.magic;
  return magic.order === 'le'
    ? b[at + 24] === (m & 0xff) && b[at + 25] === ((m >>> 8) & 0xff) && b[at + 26] === ((m >>> 16) & 0xff) && b[at + 27] === m >>> 24
    : b[at + 27] === (m & 0xff) && b[at + 26] === ((m >>> 8) & 0xff) && b[at + 25] === ((m >>> 16) & 0xff) && b[at + 24] === m >>> 24;
}

export function typeName(type: number): string {
  return typeNames[type] ?? `type ${type}`;
}

/** A decoded header record. `raw` is the record itself (dinode and c_addr are read from it). */
export interface DumpHeader {
  /** stream offset of the record */
  offset: number;
  raw: Uint8Array;
  view: DataView;
  le: boolean;
  type: number;
  /** seconds since the epoch: this dump, and the dump it is incremental to (0: level 0) */
  date: number;
  ddate: number;
  volume: number;
  /** record number of this record, counted from the start of volume 1 */
  tapea: number;
  inumber: number;
  magic: number;
  count: number;
  flags: number;
  level: number;
  /** Solaris MTB: tp_bsize; Linux: records per tape block (c_ntrec); else 0 */
  tpbsize: number;
  extattributes: number;
  readonly label: string;
  readonly filesys: string;
  readonly dev: string;
  readonly host: string;
}

function text(raw: Uint8Array, at: number, length: number): string {
  const field = raw.subarray(at, at + length);
  const nul = field.indexOf(0);
  return Buffer.from(nul >= 0 ? field.subarray(0, nul) : field).toString('latin1');
}

/**
 * A header record decoded: the numeric fields read once; the text fields (only the volume
 * header's are ever shown) decoded on demand. A class, not an object literal: the literal's
 * getters were four fresh closures per record, and a dump has one header per inode.
 */
class HeaderRecord implements DumpHeader {
  readonly view: DataView;
  readonly type: number;
  readonly date: number;
  readonly ddate: number;
  readonly volume: number;
  readonly tapea: number;
  readonly inumber: number;
  readonly magic: number;
  readonly count: number;
  readonly flags: number;
  readonly level: number;
  readonly tpbsize: number;
  readonly extattributes: number;

  constructor(
    readonly raw: Uint8Array,
    readonly le: boolean,
    readonly offset: number,
  ) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    this.view = view;
    const magic = view.getUint32(C_MAGIC, le);
    const ufs2 = magic === FS_UFS2_MAGIC;
    this.magic = magic;
    this.type = view.getInt32(C_TYPE, le);
    this.date = ufs2 ? Number(view.getBigInt64(C_UFS2_DATE, le)) : view.getInt32(C_DATE, le);
    this.ddate = ufs2 ? Number(view.getBigInt64(C_UFS2_DDATE, le)) : view.getInt32(C_DDATE, le);
    this.volume = view.getInt32(C_VOLUME, le);
    this.tapea = ufs2 ? Number(view.getBigInt64(C_UFS2_TAPEA, le)) : view.getInt32(C_TAPEA, le);
    this.inumber = view.getUint32(C_INUMBER, le);
    this.count = view.getInt32(C_COUNT, le);
    this.flags = view.getUint32(C_FLAGS, le);
    this.level = view.getInt32(C_LEVEL, le);
    this.tpbsize = ufs2 ? 0 : view.getInt32(C_TPBSIZE, le);
    this.extattributes = ufs2 ? 0 : view.getInt32(C_EXTATTRIBUTES, le);
  }

  get label(): string {
    return text(this.raw, C_LABEL, LABEL_BYTES);
  }

  get filesys(): string {
    return text(this.raw, C_FILESYS, NAME_BYTES);
  }

  get dev(): string {
    return text(this.raw, C_DEV, NAME_BYTES);
  }

  get host(): string {
    return text(this.raw, C_HOST, NAME_BYTES);
  }
}

/** Decode a record already known to be a header of a dump in `order` with `magic`. */
export function decodeHeader(raw: Uint8Array, order: ByteOrder, offset: number): DumpHeader {
  return new HeaderRecord(raw, order === 'le', offset);
}

/** c_addr[i] != 0: a data block follows for entry i (0: a hole). Beyond TP_NINDIR (maps only)
 *  every entry is present, as restore reads them. */
export function addrPresent(header: DumpHeader, i: number): boolean {
  return i >= TP_NINDIR || header.raw[C_ADDR + i] !== 0;
}

/** The shadow (ACL) bytes a Solaris header embeds when DR_HASMETA is set. */
export function embeddedShadow(header: DumpHeader): Uint8Array {
  return header.raw.subarray(C_SHADOW, C_SHADOW + C_SHADOW_BYTES);
}

/** Solaris MTB_MAGIC dumps give their record size in the first header; others use 1 KiB. */
export function recordSizeOf(head: Uint8Array, magic: DumpMagic, at: { layer: string; offset: number }): number {
  if (magic.magic !== MTB_MAGIC) return TP_BSIZE;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const size = head.length >= C_TPBSIZE + 4 ? view.getInt32(C_TPBSIZE, magic.order === 'le') : 0;
  if (size < TP_BSIZE || size > TP_BSIZE_MAX || size % TP_BSIZE !== 0) {
    throw badArchive(`MTB dump gives a record size of ${size} bytes (c_tpbsize must be a multiple of 1024 up to 65536)`, at);
  }
  return size;
}

/** The dump families, told apart by the first header (formats.md 6.2, 6.5). */
export type DumpFamily =
  /** Solaris ufsdump (and SunOS / 4.3BSD): old inode layout, 16-bit d_namlen */
  | 'solaris'
  /** Linux dump: 4.4BSD layout (DR_NEWINODEFMT) and c_ntrec set */
  | 'linux'
  /** 4.4BSD dump: DR_NEWINODEFMT, no c_ntrec */
  | 'bsd'
  /** FreeBSD 5+ dump (FS_UFS2_MAGIC): expanded dinode in the header, 64-bit times */
  | 'ufs2';

export interface DumpFlavour extends DumpMagic {
  family: DumpFamily;
  /** bytes per record */
  tpBsize: number;
}

/** Which family a dump belongs to, from its first record (needs bytes up to c_extattributes). */
export function flavourOf(head: Uint8Array, magic: DumpMagic, tpBsize: number): DumpFlavour {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const le = magic.order === 'le';
  let family: DumpFamily;
  if (magic.magic === FS_UFS2_MAGIC) family = 'ufs2';
  else if (head.length >= C_FLAGS + 4 && (view.getUint32(C_FLAGS, le) & DR_NEWINODEFMT) !== 0 && magic.magic === NFS_MAGIC) {
    family = head.length >= C_TPBSIZE + 4 && view.getInt32(C_TPBSIZE, le) !== 0 ? 'linux' : 'bsd';
  } else family = 'solaris';
  return { ...magic, family, tpBsize };
}

/** The layer label: `ufsdump(solaris-be)`, `ufsdump(solaris-mtb-le)`, `dump(linux-le)`, … */
export function labelOf(flavour: DumpFlavour): string {
  if (flavour.magic === OFS_MAGIC) return `dump(old-${flavour.order})`;
  if (flavour.family === 'solaris') return `ufsdump(solaris${flavour.magic === MTB_MAGIC ? '-mtb' : ''}-${flavour.order})`;
  return `dump(${flavour.family}-${flavour.order})`;
}

/** Refuse what we recognise but do not read, with the reason. */
export function checkSupported(flavour: DumpFlavour, first: DumpHeader, layer: string): void {
  if (flavour.magic === OFS_MAGIC) {
    throw new P2VError('P2V_UNSUPPORTED', 'a pre-4.2BSD file-system dump (OFS_MAGIC 60011): this old header and directory layout is not read; convert it with an old restore', { layer, offset: 0 });
  }
  if (flavour.family !== 'solaris' && (first.flags & DR_COMPRESSED) !== 0) {
    throw new P2VError('P2V_UNSUPPORTED', 'a dump written with dump -z/-j (every tape record compressed): not read; restore it with Linux restore, or dump again without -z/-j', { layer, offset: 0 });
  }
}
