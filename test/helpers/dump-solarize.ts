/**
 * Rewrite a real Linux dump into the Solaris ufsdump layout, in either byte order. The output
 * is SYNTHETIC: no Solaris machine wrote it. No real Solaris ufsdump image exists in any public
 * corpus (formats.md 7), so the Solaris code paths are exercised on real dumps converted field
 * by field from formats.md 6:
 *
 *   header   every 32-bit field in the new byte order; DR_NEWINODEFMT cleared (that flag is what
 *            tells the layouts apart); c_ntrec (Linux only) zeroed; checksum recomputed
 *   dinode   Linux new_bsd_inode → Solaris icommon: 16-bit uid/gid (0xFFFF when the id does not
 *            fit) plus 32-bit copies at 116/120, nanoseconds → microseconds, the device number
 *            re-encoded (old 16-bit or SVR4 32-bit) into db[0] (big-endian) or db[1] (little),
 *            other block pointers word-swapped, a symlink's block area kept as bytes
 *   dirents  BSD d_type/d_namlen bytes → 16-bit d_namlen in the new byte order
 *   dropped  Linux EA records (flag 0x8000): Solaris keeps attributes in attribute directories,
 *            which these dumps do not have. Padding after the first TS_END.
 * File data blocks and the inode maps are bytes and stay as they are.
 */
import { setChecksum, type Order } from './dump-writer.js';

const TP = 1024;
const NFS_MAGIC = 60012;
const TS_INODE = 2;
const TS_BITS = 3;
const TS_ADDR = 4;
const TS_END = 5;
const TS_CLRI = 6;
const DR_NEWINODEFMT = 2;
const DR_EXTATTRIBUTES = 0x8000;
const S_IFMT = 0o170000;

export function solarizeDump(linux: Uint8Array, order: Order): Uint8Array {
  const le = order === 'le';
  const out: Uint8Array[] = [];
  let at = 0;
  while (at + TP <= linux.length) {
    const record = linux.subarray(at, at + TP);
    const r = new DataView(record.buffer, record.byteOffset, TP);
    if (r.getUint32(24, true) !== NFS_MAGIC) throw new Error(`solarizeDump: no Linux dump header at byte ${at}`);
    const type = r.getInt32(0, true);
    const count = r.getInt32(160, true);
    const flags = r.getUint32(888, true);
    const mode = r.getUint16(32, true);
    let blocks = 0;
    if (type === TS_CLRI || type === TS_BITS) blocks = count;
    else if (type === TS_INODE || type === TS_ADDR) for (let i = 0; i < count; i++) if (record[164 + i]) blocks++;
    const dropped = (flags & DR_EXTATTRIBUTES) !== 0;
    const directory = (type === TS_INODE || type === TS_ADDR) && (mode & S_IFMT) === 0o040000;
    if (!dropped) out.push(convertHeader(record, le));
    at += TP;
    for (let b = 0; b < blocks; b++, at += TP) {
      if (dropped) continue;
      const block = Uint8Array.from(linux.subarray(at, at + TP));
      if (directory) convertDirectoryBlock(block, le);
      out.push(block);
    }
    if (type === TS_END) break;
  }
  const total = new Uint8Array(out.length * TP);
  out.forEach((block, i) => total.set(block, i * TP));
  return total;
}

function convertHeader(record: Uint8Array, le: boolean): Uint8Array {
  const r = new DataView(record.buffer, record.byteOffset, TP);
  const out = new Uint8Array(TP);
  const w = new DataView(out.buffer);
  const u32 = (offset: number) => w.setUint32(offset, r.getUint32(offset, true), le);
  for (const offset of [0, 4, 8, 12, 16, 20, 160, 692, 892]) u32(offset);
  w.setUint32(24, NFS_MAGIC, le);
  out.set(record.subarray(164, 692), 164); // c_addr, c_label
  out.set(record.subarray(696, 888), 696); // c_filesys, c_dev, c_host
  w.setUint32(888, r.getUint32(888, true) & ~(DR_NEWINODEFMT | DR_EXTATTRIBUTES), le);
  convertInode(record, out, le);
  setChecksum(out, le);
  return out;
}

function convertInode(record: Uint8Array, out: Uint8Array, le: boolean): void {
  const d = 32;
  const r = new DataView(record.buffer, record.byteOffset + d, 128);
  const w = new DataView(out.buffer, d, 128);
  const mode = r.getUint16(0, true);
  const uid = r.getUint32(112, true);
  const gid = r.getUint32(116, true);
  w.setUint16(0, mode, le);
  w.setInt16(2, r.getInt16(2, true), le);
  w.setUint16(4, uid >= 0xffff ? 0xffff : uid, le);
  w.setUint16(6, gid >= 0xffff ? 0xffff : gid, le);
  w.setBigUint64(8, r.getBigUint64(8, true), le);
  for (const at of [16, 24, 32]) {
    w.setInt32(at, r.getInt32(at, true), le);
    w.setInt32(at + 4, Math.floor(r.getInt32(at + 4, true) / 1000), le); // ns → µs
  }
  const type = mode & S_IFMT;
  if (type === 0o020000 || type === 0o060000) {
    const db0 = r.getUint32(40, true);
    const db1 = r.getUint32(44, true);
    const major = db0 !== 0 ? (db0 >>> 8) & 0xff : (db1 & 0xfff00) >>> 8;
    const minor = db0 !== 0 ? db0 & 0xff : (db1 & 0xff) | ((db1 >>> 12) & 0xfff00);
    const dev = major < 0x80 && minor < 0x100 ? (major << 8) | minor : ((major << 18) | minor) >>> 0;
    w.setUint32(le ? 44 : 40, dev, le);
  } else if (type === 0o120000) {
    out.set(record.subarray(d + 40, d + 100), d + 40);
  } else {
    for (let at = 40; at < 100; at += 4) w.setUint32(at, r.getUint32(at, true), le);
  }
  for (const at of [100, 104, 108]) w.setUint32(at, r.getUint32(at, true), le);
  w.setUint32(116, uid, le);
  w.setUint32(120, gid, le);
}

function convertDirectoryBlock(block: Uint8Array, le: boolean): void {
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  for (let chunk = 0; chunk < block.length; chunk += 512) {
    let at = chunk;
    while (at + 8 <= chunk + 512) {
      const ino = v.getUint32(at, true);
      const reclen = v.getUint16(at + 4, true);
      const namlen = block[at + 7]!;
      if (reclen === 0 || at + reclen > chunk + 512) break;
      v.setUint32(at, ino, le);
      v.setUint16(at + 4, reclen, le);
      v.setUint16(at + 6, namlen, le);
      at += reclen;
    }
  }
}
