/**
 * A tiny dump writer for building dumps inside tests, record by record: what no tool on Linux
 * writes (Solaris ufsdump layouts in both byte orders, MTB record sizes, ACL shadow records,
 * extended-attribute directories, short symlinks kept in the block pointers, UFS2 headers) and
 * what no sane tool writes (bad checksums, dangling names, lying block counts) is spelled out
 * in the test. Everything it makes is SYNTHETIC: built from formats.md section 6, not captured
 * from a Solaris machine.
 *
 *   const w = new DumpWriter({ family: 'solaris', order: 'be' });
 *   w.tape(); w.maps([2, 3, 4]);
 *   w.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['f', 3]]);
 *   w.inode(3, { mode: 0o100644 }, Buffer.from('hello'));
 *   w.end();
 *   const bytes = w.bytes();           // or w.volumes(20) for a multi-volume set
 *
 * Layout: formats.md 6.2 (header), 6.3 (checksum), 6.4 (c_addr), 6.5 (dinode), 6.6 (directory
 * entries), 6.7 (Solaris shadow), 6.8 (Linux EA records). c_tapea is numbered and checksums are
 * computed when the bytes are taken (`bytes()` / `volumes()`), so a test may still patch fields.
 */

export type Family = 'solaris' | 'linux' | 'ufs2';
export type Order = 'le' | 'be';

export const NFS_MAGIC = 60012;
export const MTB_MAGIC = 60013;
export const FS_UFS2_MAGIC = 0x19540119;
export const TS_TAPE = 1;
export const TS_INODE = 2;
export const TS_BITS = 3;
export const TS_ADDR = 4;
export const TS_END = 5;
export const TS_CLRI = 6;
export const DR_NEWHEADER = 1;
export const DR_NEWINODEFMT = 2;
export const DR_HASMETA = 0x10;
export const DR_EXTATTRIBUTES = 0x8000;
export const CHECKSUM = 84446;

export interface WriterOptions {
  family: Family;
  order: Order;
  /** record size; > 1024 makes a Solaris MTB_MAGIC dump */
  tpBsize?: number;
  /** seconds; default 1_700_000_000 */
  date?: number;
  /** previous dump's date (0 = level 0) */
  ddate?: number;
  level?: number;
  /** entries per TS_INODE/TS_ADDR header (default 512; Linux dump used 256) */
  perHeader?: number;
}

export interface InodeSpec {
  /** type and permission bits */
  mode: number;
  uid?: number;
  gid?: number;
  /** seconds */
  mtime?: number;
  /** microseconds (Solaris) or nanoseconds (others) */
  mtimeFraction?: number;
  /** di_size; default: the content length */
  size?: number;
  nlink?: number;
  rdev?: { major: number; minor: number };
  /** Solaris: ic_shadow, ic_oeftflag */
  shadow?: number;
  attrDir?: number;
  /** 60 bytes for the db/ib area (a short symlink's target) */
  blockArea?: Uint8Array;
}

export interface HeaderOptions {
  type: number;
  ino: number;
  inode?: InodeSpec;
  /** c_addr entries (1 data, 0 hole); c_count = its length unless `count` is given */
  addr?: number[];
  count?: number;
  flags?: number;
  extattributes?: number;
  /** Solaris: bytes embedded at c_shadow (sets DR_HASMETA) */
  shadow?: Uint8Array;
  volume?: number;
}

interface Rec {
  bytes: Uint8Array;
  header: boolean;
}

/** One content block of an inode: bytes (padded to a record), or null for a hole. */
export type Block = Uint8Array | null;

export class DumpWriter {
  readonly tp: number;
  readonly magic: number;
  private readonly records: Rec[] = [];
  private readonly le: boolean;

  constructor(readonly options: WriterOptions) {
    this.tp = options.tpBsize ?? 1024;
    this.le = options.order === 'le';
    this.magic = options.family === 'ufs2' ? FS_UFS2_MAGIC : this.tp > 1024 ? MTB_MAGIC : NFS_MAGIC;
  }

  get date(): number {
    return this.options.date ?? 1_700_000_000;
  }

  /** A header record (checksum and c_tapea are filled in later). */
  header(options: HeaderOptions): Uint8Array {
    const r = new Uint8Array(this.tp);
    const v = new DataView(r.buffer);
    const le = this.le;
    const ufs2 = this.options.family === 'ufs2';
    const addr = options.addr ?? [];
    v.setInt32(0, options.type, le);
    if (ufs2) {
      v.setBigInt64(896, BigInt(this.date), le);
      v.setBigInt64(904, BigInt(this.options.ddate ?? 0), le);
    } else {
      v.setInt32(4, this.date, le);
      v.setInt32(8, this.options.ddate ?? 0, le);
    }
    v.setInt32(12, options.volume ?? 1, le);
    v.setUint32(20, options.ino, le);
    v.setUint32(24, this.magic, le);
    if (options.inode) this.writeInode(r, v, options.inode);
    v.setInt32(160, options.count ?? addr.length, le);
    addr.forEach((a, i) => (r[164 + i] = a));
    r.set(Buffer.from('synthetic'), 676);
    let flags = options.flags ?? this.defaultFlags(options.type);
    if (options.shadow) {
      r.set(options.shadow.subarray(0, 196), 692);
      flags |= DR_HASMETA;
    } else {
      v.setInt32(692, this.options.level ?? 0, le);
      r.set(Buffer.from('/export/synthetic'), 696);
      r.set(Buffer.from('/dev/dsk/c0t0d0s7'), 760);
      r.set(Buffer.from('testhost'), 824);
    }
    v.setUint32(888, flags, le);
    if (!ufs2) {
      if (this.magic === MTB_MAGIC) v.setInt32(896, this.tp, le);
      else if (this.options.family === 'linux') v.setInt32(896, 10, le); // c_ntrec
      v.setInt32(900, options.extattributes ?? 0, le);
    }
    this.records.push({ bytes: r, header: true });
    return r;
  }

  private defaultFlags(type: number): number {
    if (this.options.family === 'solaris') return type === TS_TAPE ? DR_NEWHEADER : 0;
    return type === TS_TAPE ? DR_NEWHEADER | DR_NEWINODEFMT : DR_NEWINODEFMT;
  }

  private writeInode(r: Uint8Array, v: DataView, spec: InodeSpec): void {
    const le = this.le;
    const d = 32;
    const uid = spec.uid ?? 0;
    const gid = spec.gid ?? 0;
    const size = BigInt(spec.size ?? 0);
    const family = this.options.family;
    v.setUint16(d + 0, spec.mode, le);
    v.setBigUint64(d + 8, size, le);
    if (family === 'ufs2') {
      v.setBigInt64(d + 64, BigInt(spec.mtime ?? 0), le);
      v.setInt32(d + 28, spec.mtimeFraction ?? 0, le);
      if (spec.rdev) v.setUint32(d + 40, ((spec.rdev.major & 0xff) << 8) | spec.rdev.minor, le);
      v.setUint32(d + 112, uid, le);
      v.setUint32(d + 116, gid, le);
      return;
    }
    v.setInt16(d + 2, spec.nlink ?? 1, le);
    v.setInt32(d + 24, spec.mtime ?? 0, le);
    v.setInt32(d + 28, spec.mtimeFraction ?? 0, le);
    if (spec.blockArea) r.set(spec.blockArea.subarray(0, 60), d + 40);
    if (family === 'solaris') {
      v.setUint16(d + 4, uid >= 0xffff ? 0xffff : uid, le);
      v.setUint16(d + 6, gid >= 0xffff ? 0xffff : gid, le);
      v.setUint32(d + 112, spec.shadow ?? 0, le);
      v.setUint32(d + 116, uid, le);
      v.setUint32(d + 120, gid, le);
      v.setUint32(d + 124, spec.attrDir ?? 0, le);
      if (spec.rdev) v.setUint32(d + 40 + (le ? 4 : 0), solarisDev(spec.rdev), le);
    } else {
      v.setUint16(d + 4, uid & 0xffff, le);
      v.setUint16(d + 6, gid & 0xffff, le);
      v.setUint32(d + 112, uid, le);
      v.setUint32(d + 116, gid, le);
      if (spec.rdev) {
        const { major, minor } = spec.rdev;
        if (major < 256 && minor < 256) v.setUint32(d + 40, (major << 8) | minor, le);
        else v.setUint32(d + 44, (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12), le);
      }
    }
  }

  /** Data blocks, each padded to a record. */
  data(...blocks: Uint8Array[]): void {
    for (const block of blocks) {
      for (let at = 0; at < Math.max(block.length, 1); at += this.tp) {
        const r = new Uint8Array(this.tp);
        r.set(block.subarray(at, at + this.tp));
        this.records.push({ bytes: r, header: false });
      }
    }
  }

  tape(options: Partial<HeaderOptions> = {}): void {
    this.header({ type: TS_TAPE, ino: 0, count: 1, ...options });
  }

  /** TS_CLRI (inodes in use) and TS_BITS (inodes dumped); by default both are `dumped`. */
  maps(dumped: number[], used: number[] = dumped, blocks = 1): void {
    for (const [type, inos] of [[TS_CLRI, used], [TS_BITS, dumped]] as const) {
      const map = new Uint8Array(blocks * this.tp);
      for (const ino of inos) map[(ino - 1) >> 3]! |= 1 << ((ino - 1) & 7);
      this.header({ type, ino: 0, count: blocks });
      this.data(map);
    }
  }

  /**
   * An inode: TS_INODE and as many TS_ADDR continuations as its blocks need. `content` is the
   * file's bytes (split into records) or explicit blocks (null = hole). `extraBlocks` adds
   * entries past di_size (as dump does for whole fragments).
   */
  inode(ino: number, spec: InodeSpec, content: Uint8Array | Block[] = new Uint8Array(0), options: { extraBlocks?: number; flags?: number; extattributes?: number; shadow?: Uint8Array; firstType?: number } = {}): void {
    const blocks: Block[] = content instanceof Uint8Array ? splitBlocks(content, this.tp) : content;
    const size = spec.size ?? (content instanceof Uint8Array ? content.length : blocks.length * this.tp);
    for (let i = 0; i < (options.extraBlocks ?? 0); i++) blocks.push(new Uint8Array(this.tp).fill(0xee));
    const per = this.options.perHeader ?? 512;
    let first = true;
    for (let at = 0; first || at < blocks.length; at += per) {
      const slice = blocks.slice(at, at + per);
      this.header({
        type: first ? (options.firstType ?? TS_INODE) : TS_ADDR,
        ino,
        inode: { ...spec, size },
        addr: slice.map((b) => (b ? 1 : 0)),
        flags: options.flags,
        extattributes: options.extattributes,
        shadow: first ? options.shadow : undefined,
      });
      for (const block of slice) if (block) this.data(block);
      first = false;
    }
  }

  /** A directory inode from its entries ([name, inode] with an optional d_type). */
  directory(ino: number, spec: Omit<InodeSpec, 'size'>, entries: Array<[string, number, number?]>): void {
    const data = directoryData(entries, this.options.family !== 'solaris', this.le);
    this.inode(ino, { ...spec, size: data.length }, data);
  }

  end(): void {
    this.header({ type: TS_END, ino: 0, count: 1 });
  }

  /** The dump as one stream, c_tapea numbered and checksums computed. */
  bytes(): Uint8Array {
    return concat(this.finish(this.records));
  }

  /**
   * The dump cut into volumes of `recordsPerVolume` records each (the last may be shorter). Every
   * volume after the first starts with a TS_TAPE header of the next volume number: a copy of the
   * header last written before the cut (as dump does), c_tapea = its record number.
   */
  volumes(recordsPerVolume: number): Uint8Array[] {
    const out: Rec[][] = [[]];
    let lastHeader: Rec | undefined;
    let volume = 1;
    for (const record of this.records) {
      if (out[out.length - 1]!.length === recordsPerVolume) {
        volume++;
        const copy = Uint8Array.from(lastHeader!.bytes);
        const v = new DataView(copy.buffer);
        v.setInt32(0, TS_TAPE, this.le);
        v.setInt32(12, volume, this.le);
        v.setUint32(888, v.getUint32(888, this.le) | DR_NEWHEADER, this.le);
        out.push([{ bytes: copy, header: true }]);
      }
      if (record.header) lastHeader = record;
      out[out.length - 1]!.push(record);
    }
    const numbered = this.finish(out.flat());
    const result: Uint8Array[] = [];
    let at = 0;
    for (const vol of out) {
      result.push(concat(numbered.slice(at, at + vol.length)));
      at += vol.length;
    }
    return result;
  }

  private finish(records: Rec[]): Uint8Array[] {
    return records.map((record, index) => {
      if (!record.header) return record.bytes;
      const r = Uint8Array.from(record.bytes);
      const v = new DataView(r.buffer);
      if (this.options.family === 'ufs2') v.setBigInt64(912, BigInt(index), this.le);
      else v.setInt32(16, index, this.le);
      setChecksum(r, this.le);
      return r;
    });
  }
}

/** Store c_checksum so that the record's 32-bit words sum to CHECKSUM. */
export function setChecksum(record: Uint8Array, le: boolean, tp = record.length): void {
  const v = new DataView(record.buffer, record.byteOffset, record.byteLength);
  v.setUint32(28, 0, le);
  let sum = 0;
  for (let at = 0; at < tp; at += 4) sum = (sum + v.getUint32(at, le)) >>> 0;
  v.setUint32(28, (CHECKSUM - sum) >>> 0, le);
}

/** Solaris dev32: an old 16-bit dev when it fits (7-bit major, 8-bit minor), else SVR4. */
export function solarisDev(rdev: { major: number; minor: number }): number {
  if (rdev.major < 0x80 && rdev.minor < 0x100) return (rdev.major << 8) | rdev.minor;
  return ((rdev.major << 18) | rdev.minor) >>> 0;
}

/** UFS directory data: entries packed into 512-byte chunks, the last of each chunk stretched. */
export function directoryData(entries: Array<[string, number, number?]>, newFormat: boolean, le: boolean): Uint8Array {
  const chunks: Uint8Array[] = [];
  let chunk = new Uint8Array(512);
  let at = 0;
  let lastAt = -1;
  const close = () => {
    if (lastAt >= 0) new DataView(chunk.buffer).setUint16(lastAt + 4, 512 - lastAt, le);
    chunks.push(chunk);
    chunk = new Uint8Array(512);
    at = 0;
    lastAt = -1;
  };
  for (const [name, ino, type] of entries) {
    const bytes = Buffer.from(name, 'latin1');
    const length = (8 + bytes.length + 1 + 3) & ~3;
    if (at + length > 512) close();
    const v = new DataView(chunk.buffer);
    v.setUint32(at, ino, le);
    v.setUint16(at + 4, length, le);
    if (newFormat) {
      chunk[at + 6] = type ?? 0;
      chunk[at + 7] = bytes.length;
    } else v.setUint16(at + 6, bytes.length, le);
    chunk.set(bytes, at + 8);
    lastAt = at;
    at += length;
  }
  close();
  return concat(chunks);
}

/** Solaris ufs_fsd shadow data holding one FSD_ACL record with these entries. */
export function solarisShadow(entries: Array<{ tag: number; perm: number; id: number }>, le: boolean): Uint8Array {
  const size = 8 + 12 * entries.length;
  const out = new Uint8Array((size + 3) & ~3);
  const v = new DataView(out.buffer);
  v.setInt32(0, 1, le);
  v.setInt32(4, size, le);
  entries.forEach((e, i) => {
    v.setUint16(8 + i * 12, e.tag, le);
    v.setUint16(8 + i * 12 + 4, e.perm, le);
    v.setUint32(8 + i * 12 + 8, e.id, le);
  });
  return out;
}

/** An ext2 EA area in Linux dump's in-inode form (magic 0xEA020001), little-endian. */
export function ext2Attributes(attributes: Array<{ index: number; name: string; value: Uint8Array }>): Uint8Array {
  const entries: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  let entriesBytes = 4; // the terminating zero word
  for (const a of attributes) entriesBytes += (16 + a.name.length + 3) & ~3;
  let valueAt = entriesBytes;
  for (const a of attributes) {
    const e = new Uint8Array((16 + a.name.length + 3) & ~3);
    const v = new DataView(e.buffer);
    e[0] = a.name.length;
    e[1] = a.index;
    v.setUint16(2, valueAt, true);
    v.setUint32(8, a.value.length, true);
    e.set(Buffer.from(a.name, 'latin1'), 16);
    entries.push(e);
    const padded = new Uint8Array((a.value.length + 3) & ~3);
    padded.set(a.value);
    values.push(padded);
    valueAt += padded.length;
  }
  const magic = new Uint8Array(4);
  new DataView(magic.buffer).setUint32(0, 0xea020001, true);
  return concat([magic, ...entries, new Uint8Array(4), ...values]);
}

/** A POSIX ACL xattr value (ext2 on-disk form, little-endian). */
export function posixAclValue(entries: Array<{ tag: number; perm: number; id?: number }>): Uint8Array {
  const out: Uint8Array[] = [Uint8Array.from([1, 0, 0, 0])];
  for (const e of entries) {
    const long = e.tag === 2 || e.tag === 8;
    const b = new Uint8Array(long ? 8 : 4);
    const v = new DataView(b.buffer);
    v.setUint16(0, e.tag, true);
    v.setUint16(2, e.perm, true);
    if (long) v.setUint32(4, e.id ?? 0, true);
    out.push(b);
  }
  return concat(out);
}

export function splitBlocks(content: Uint8Array, tp: number): Block[] {
  const blocks: Block[] = [];
  for (let at = 0; at < content.length; at += tp) blocks.push(content.subarray(at, Math.min(at + tp, content.length)));
  return blocks;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
