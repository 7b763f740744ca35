/**
 * The inode a dump header carries (c_dinode, 128 bytes at record offset 32), in the three
 * layouts of formats.md 6.5, decoded to one shape.
 *
 *   solaris  Solaris icommon (also SunOS and 4.3BSD "old format"): 16-bit uid/gid at 4/6 with
 *            32-bit copies at 116/120 used when the short one is 0xFFFF, times as seconds +
 *            MICROseconds, ic_shadow (ACL inode) at 112, ic_oeftflag (xattr dir) at 124, the
 *            device in db[0] (big-endian dumps) or db[1] (little-endian: USL SVR4 compatibility)
 *   bsd      4.4BSD ufs1 / Linux new_bsd_inode: 32-bit uid/gid at 112/116, seconds +
 *            NANOseconds; rdev in db[0], or (Linux, a number too big for 8+8 bits) the new
 *            Linux encoding in db[1]
 *   ufs2     FreeBSD 5+: the header's expanded fields (mode 0, size 8, rdev 40, 64-bit mtime
 *            at 64 + nanoseconds at 28, extsize 72, uid/gid 112/116)
 * Which one applies is the dump's, decided once from its first header (header.ts).
 */
import { badArchive } from '../../errors.js';
import { C_DINODE, type DumpFamily, type DumpHeader } from './header.js';

export type InodeLayout = 'solaris' | 'bsd' | 'ufs2';

export function layoutOf(family: DumpFamily): InodeLayout {
  return family === 'solaris' ? 'solaris' : family === 'ufs2' ? 'ufs2' : 'bsd';
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
/** Solaris: ACL shadow inode */
export const S_IFSHAD = 0o130000;
/** Solaris: extended-attribute directory (4.4BSD uses the value for whiteouts) */
export const S_IFATTRDIR = 0o160000;

/** Bytes of the block-pointer area (db[12] + ib[3]) where a short symlink's target may live. */
export const BLOCK_AREA_BYTES = 60;
const DB = 40;

export interface DumpInode {
  /** type and permission bits */
  mode: number;
  nlink: number;
  size: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  devMajor: number;
  devMinor: number;
  /** Solaris: inode of the ACL shadow (0: none) */
  shadow: number;
  /** Solaris: inode of the extended-attribute directory (0: none) */
  attrDir: number;
  /** UFS2: bytes of extended-attribute data stored after the file data */
  extSize: number;
  /** the db/ib area: a short (fast) symlink's target when no data block was dumped */
  blockArea: Uint8Array;
}

export function isDirectoryMode(mode: number, layout: InodeLayout): boolean {
  const type = mode & S_IFMT;
  return type === S_IFDIR || (layout === 'solaris' && type === S_IFATTRDIR);
}

/** Sizes beyond 2^53 - 1 cannot be a Number; no file system here holds one. */
const maxSafeHigh = 2 ** 21; // high 32 bits of a 64-bit size below 2^53

/**
 * Called once per inode record (tens of thousands in a system dump), so it builds one object of
 * one shape: no spreads (a spread copy per field set cost ~9 us a call, a fifth of the parse) and
 * one BigInt product for the time.
 */
export function decodeInode(header: DumpHeader, layout: InodeLayout): DumpInode {
  const v = header.view;
  const le = header.le;
  const lowAt = C_DINODE + (le ? 8 : 12);
  const highAt = C_DINODE + (le ? 12 : 8);
  const high = v.getUint32(highAt, le);
  if (high >= maxSafeHigh) {
    const big = v.getBigUint64(C_DINODE + 8, le);
    throw badArchive(`inode ${header.inumber}: size ${big} is beyond what this reader handles (corrupt header?)`, { offset: header.offset + C_DINODE + 8 });
  }
  const size = high * 2 ** 32 + v.getUint32(lowAt, le);
  const u16 = (offset: number) => v.getUint16(C_DINODE + offset, le);
  const u32 = (offset: number) => v.getUint32(C_DINODE + offset, le);
  const i32 = (offset: number) => v.getInt32(C_DINODE + offset, le);
  const mode = u16(0);
  let nlink = v.getInt16(C_DINODE + 2, le);
  let uid: number;
  let gid: number;
  let mtimeNs: bigint;
  let device: { devMajor: number; devMinor: number };
  let shadow = 0;
  let attrDir = 0;
  let extSize = 0;
  let blockArea = header.raw.subarray(C_DINODE + DB, C_DINODE + DB + BLOCK_AREA_BYTES);
  if (layout === 'solaris') {
    const suid = u16(4);
    const sgid = u16(6);
    uid = suid === 0xffff ? u32(116) : suid;
    gid = sgid === 0xffff ? u32(120) : sgid;
    mtimeNs = BigInt(i32(24)) * 1_000_000_000n + BigInt(clampFraction(i32(28), 999_999) * 1000);
    device = solarisDevice(le ? u32(DB + 4) : u32(DB));
    shadow = u32(112);
    attrDir = u32(124);
  } else if (layout === 'bsd') {
    uid = u32(112);
    gid = u32(116);
    mtimeNs = BigInt(i32(24)) * 1_000_000_000n + BigInt(clampFraction(i32(28), 999_999_999));
    device = bsdDevice(u32(DB), u32(DB + 4));
  } else {
    // ufs2: the dinode area is FreeBSD's expanded header (header.ts names the record offsets)
    nlink = 1;
    uid = u32(112);
    gid = u32(116);
    mtimeNs = v.getBigInt64(C_DINODE + 64, le) * 1_000_000_000n + BigInt(clampFraction(i32(28), 999_999_999));
    device = bsdDevice(u32(40), 0);
    extSize = u32(72);
    blockArea = new Uint8Array(0);
  }
  return { mode, nlink, size, uid, gid, mtimeNs, devMajor: device.devMajor, devMinor: device.devMinor, shadow, attrDir, extSize, blockArea };
}

/** A fraction field outside its range is garbage: ignore it rather than shift the second. */
function clampFraction(value: number, max: number): number {
  return value >= 0 && value <= max ? value : 0;
}

/** Solaris expdev: an old 16-bit dev_t (7-bit major) or an SVR4 32-bit one (14 + 18 bits). */
export function solarisDevice(value: number): { devMajor: number; devMinor: number } {
  const high = value >>> 16;
  if (high === 0 || high === 0xffff) return { devMajor: (value >>> 8) & 0x7f, devMinor: value & 0xff };
  return { devMajor: value >>> 18, devMinor: value & 0x3ffff };
}

/** 4.4BSD dev_t in db[0] (major 8 bits at 8, minor the rest); Linux puts numbers that do not
 *  fit 8+8 bits in db[1] in its new encoding, with db[0] = 0. */
export function bsdDevice(db0: number, db1: number): { devMajor: number; devMinor: number } {
  if (db0 !== 0 || db1 === 0) return { devMajor: (db0 >>> 8) & 0xff, devMinor: (db0 & 0xffff00ff) >>> 0 };
  return { devMajor: (db1 & 0xfff00) >>> 8, devMinor: (db1 & 0xff) | ((db1 >>> 12) & 0xfff00) };
}
