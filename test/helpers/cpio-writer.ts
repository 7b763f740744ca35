/**
 * A tiny cpio writer for building hostile archives inside tests (after containerd's
 * archive/tartest TarContext/TarAll, and node-tar's tests that encode `new Header({...})`):
 * the archive a test attacks with is written out in the test itself, field by field, instead of
 * being committed as an opaque binary.
 *
 *   cpioArchive([
 *     { name: 'localetc', type: 'symlink', target: '/etc' },
 *     { name: 'localetc/unbroken', type: 'file', data: 'x' },
 *   ], { format: 'newc' })
 *
 * Layouts (../../shared/reference/formats.md section 4; GNU cpio copyin.c/copyout.c):
 *   newc "070701" / crc "070702": 110-byte header of 13 eight-digit hex fields, header+name padded
 *       to 4, data padded to 4; crc's `check` is the byte sum of the data.
 *   odc "070707": 76-byte header of octal fields (dev ino mode uid gid nlink rdev 6 digits,
 *       mtime 11, namesize 6, filesize 11), no padding; rdev in glibc's dev_t encoding.
 *   bin: 13 16-bit words in the archive's byte order (bin-le / bin-be), 32-bit mtime and
 *       filesize as two words high word first, header+name padded to 2, data padded to 2;
 *       rdev as the old 8+8 bit (major << 8 | minor).
 *
 * Hard links: a `hardlink` member names an earlier or later `file` member (its `target`); all of
 * a group share one inode number and nlink = the group size, and a hardlink member repeats its
 * target's mode, owner and mtime unless given. newc/crc put the data on the LAST
 * member of a group only (as GNU cpio and bsdcpio do), odc/bin on EVERY member (GNU cpio);
 * `linkData` overrides. Explicit `ino`/`nlink` on any member write exactly those numbers.
 *
 * Hostile knobs: `rawMode` (the full mode word, type bits included, e.g. Solaris' 0o160200 ACL
 * entries), `fileSizeOverride` (declared size differing from the data written),
 * `nameSizeOverride` (declared namesize differing from the name bytes written), names as raw
 * bytes (embedded NULs, non-UTF-8), `trailer: false`, and `trailerName`. Overrides change only
 * the declared number: the bytes written and their padding follow what is actually written, so
 * a lying header is followed by exactly the bytes a naive writer would have produced.
 * Numbers that do not fit a field are an error (a test bug), except through the overrides,
 * which are written as given (and must still fit the field's digits / bits).
 */

export type CpioWriteFormat = 'newc' | 'odc' | 'bin-le' | 'bin-be' | 'crc';

export const cpioWriteFormats: readonly CpioWriteFormat[] = ['newc', 'odc', 'bin-le', 'bin-be', 'crc'];

export type CpioMemberType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

export interface CpioMember {
  /** member name; a string is written as UTF-8, bytes verbatim (a NUL terminator is added) */
  name: string | Uint8Array;
  type: CpioMemberType;
  /** permission bits (default 0644 files/nodes, 0755 dirs, 0777 symlinks) */
  mode?: number;
  uid?: number;
  gid?: number;
  /** seconds since the epoch (default 1_700_000_000) */
  mtime?: number;
  /** file body (strings as UTF-8); for a hardlink, the data it carries if it is a data member */
  data?: Uint8Array | string;
  /** symlink: the target (stored as the body); hardlink: the name of the file member it links to */
  target?: string;
  ino?: number;
  nlink?: number;
  /** device number of the file's filesystem (newc: devmajor, devminor 0) */
  dev?: number;
  rdevMajor?: number;
  rdevMinor?: number;
  /** the full mode word, type bits included, instead of type + mode */
  rawMode?: number;
  /** declared file size, instead of the length of the data written */
  fileSizeOverride?: number;
  /** declared name size, instead of the name bytes + NUL written */
  nameSizeOverride?: number;
  /** crc format: the stored checksum, instead of the data's byte sum */
  checkOverride?: number;
}

export interface CpioArchiveOptions {
  format: CpioWriteFormat;
  /** write the TRAILER!!! member (default true) */
  trailer?: boolean;
  /** name of the trailer member (default "TRAILER!!!") */
  trailerName?: string;
  /** pad the archive to a multiple of this many bytes after the trailer (default 512, as GNU
   *  cpio does; 0 or 1 for none). Not applied without a trailer. */
  blockSize?: number;
  /** which members of a hard-link group carry the data (default: newc/crc 'last', else 'every') */
  linkData?: 'first' | 'last' | 'every';
}

const SECONDS = 1_700_000_000;

const typeBits: Record<CpioMemberType, number> = {
  file: 0o100000,
  hardlink: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  fifo: 0o010000,
  char: 0o020000,
  block: 0o060000,
};

const defaultPerm: Record<CpioMemberType, number> = {
  file: 0o644,
  hardlink: 0o644,
  dir: 0o755,
  symlink: 0o777,
  fifo: 0o644,
  char: 0o644,
  block: 0o644,
};

/** The numbers one header carries, before encoding. */
interface HeaderFields {
  dev: number;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  mtime: number;
  nameSize: number;
  fileSize: number;
  check: number;
}

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
const toBytes = (value: Uint8Array | string | undefined): Uint8Array =>
  value === undefined ? new Uint8Array(0) : typeof value === 'string' ? utf8(value) : value;

function nameKey(name: string | Uint8Array): string {
  return Buffer.from(typeof name === 'string' ? utf8(name) : name).toString('latin1');
}

export function cpioArchive(members: readonly CpioMember[], options: CpioArchiveOptions): Uint8Array {
  const format = options.format;
  const dataLast = format === 'newc' || format === 'crc';
  const linkData = options.linkData ?? (dataLast ? 'last' : 'every');

  // inode numbers: members get 1, 2, ... unless given; hard links share their target's.
  const inos: number[] = [];
  let nextIno = 1;
  const inoByName = new Map<string, number>();
  const explicit = new Set(members.map((m) => m.ino).filter((ino): ino is number => ino !== undefined));
  members.forEach((m, i) => {
    if (m.type !== 'hardlink') {
      let ino = m.ino;
      if (ino === undefined) {
        while (explicit.has(nextIno)) nextIno++;
        ino = nextIno++;
      }
      inos[i] = ino;
      if (m.type === 'file' && !inoByName.has(nameKey(m.name))) inoByName.set(nameKey(m.name), ino);
    }
  });
  const groups = new Map<number, number[]>(); // ino → member indexes, archive order
  members.forEach((m, i) => {
    if (m.type === 'hardlink') {
      if (m.target === undefined) throw new Error(`cpio-writer: hardlink ${nameKey(m.name)} needs a target`);
      const ino = m.ino ?? inoByName.get(nameKey(m.target));
      if (ino === undefined) throw new Error(`cpio-writer: hardlink ${nameKey(m.name)} → ${m.target}: no file member of that name (give ino)`);
      inos[i] = ino;
    }
    if (m.type === 'file' || m.type === 'hardlink') {
      const list = groups.get(inos[i]!) ?? [];
      list.push(i);
      groups.set(inos[i]!, list);
    }
  });

  /** The body a member of a hard-link group carries: the group's data, on the chosen member(s). */
  const bodyOf = (m: CpioMember, i: number): Uint8Array => {
    if (m.type === 'symlink') return toBytes(m.target ?? '');
    if (m.type !== 'file' && m.type !== 'hardlink') return toBytes(m.data);
    const group = groups.get(inos[i]!)!;
    if (group.length === 1) return toBytes(m.data);
    // the group's data: from its file member (or a hardlink that brings its own)
    let data = m.data;
    if (data === undefined) {
      const fileIndex = group.find((j) => members[j]!.type === 'file' && members[j]!.data !== undefined);
      data = fileIndex === undefined ? undefined : members[fileIndex]!.data;
    }
    const carries = linkData === 'every' || (linkData === 'first' ? group[0] === i : group[group.length - 1] === i);
    return carries ? toBytes(data) : new Uint8Array(0);
  };

  const parts: Uint8Array[] = [];
  let length = 0;
  const push = (bytes: Uint8Array) => {
    parts.push(bytes);
    length += bytes.length;
  };

  // a hard link shares its target's inode, so its header repeats the target's metadata
  const fileByName = new Map<string, CpioMember>();
  for (const m of members) if (m.type === 'file' && !fileByName.has(nameKey(m.name))) fileByName.set(nameKey(m.name), m);
  const withInherited = (m: CpioMember): CpioMember => {
    if (m.type !== 'hardlink' || m.target === undefined) return m;
    const t = fileByName.get(nameKey(m.target));
    return t ? { mode: t.mode, uid: t.uid, gid: t.gid, mtime: t.mtime, ...stripUndefined(m) } : m;
  };

  members.forEach((original, i) => {
    const m = withInherited(original);
    const nameBytes = concat(typeof m.name === 'string' ? utf8(m.name) : m.name, new Uint8Array([0]));
    const body = bodyOf(m, i);
    const group = groups.get(inos[i]!);
    const fields: HeaderFields = {
      dev: m.dev ?? 0,
      ino: inos[i]!,
      mode: m.rawMode ?? (typeBits[m.type] | ((m.mode ?? defaultPerm[m.type]) & 0o7777)),
      uid: m.uid ?? 0,
      gid: m.gid ?? 0,
      nlink: m.nlink ?? (group && group.length > 1 ? group.length : m.type === 'dir' ? 2 : 1),
      rdevMajor: m.rdevMajor ?? 0,
      rdevMinor: m.rdevMinor ?? 0,
      mtime: m.mtime ?? SECONDS,
      nameSize: m.nameSizeOverride ?? nameBytes.length,
      fileSize: m.fileSizeOverride ?? body.length,
      check: m.checkOverride ?? (format === 'crc' ? byteSum(body) : 0),
    };
    writeMember(format, fields, nameBytes, body, push, nameKey(m.name));
  });

  if (options.trailer ?? true) {
    const nameBytes = concat(utf8(options.trailerName ?? 'TRAILER!!!'), new Uint8Array([0]));
    const fields: HeaderFields = { dev: 0, ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, rdevMajor: 0, rdevMinor: 0, mtime: 0, nameSize: nameBytes.length, fileSize: 0, check: 0 };
    writeMember(format, fields, nameBytes, new Uint8Array(0), push, 'TRAILER!!!');
    const block = options.blockSize ?? 512;
    if (block > 1 && length % block !== 0) push(new Uint8Array(block - (length % block)));
  }
  return concat(...parts);
}

function writeMember(format: CpioWriteFormat, f: HeaderFields, name: Uint8Array, body: Uint8Array, push: (b: Uint8Array) => void, label: string): void {
  const header = encodeHeader(format, f, label);
  const align = format === 'newc' || format === 'crc' ? 4 : format === 'odc' ? 1 : 2;
  push(header);
  push(name);
  push(new Uint8Array(pad(header.length + name.length, align)));
  push(body);
  push(new Uint8Array(pad(body.length, align)));
}

function encodeHeader(format: CpioWriteFormat, f: HeaderFields, label: string): Uint8Array {
  switch (format) {
    case 'newc':
    case 'crc': {
      const hex = (value: number, field: string) => digits(value, 16, 8, field, label);
      const text =
        (format === 'newc' ? '070701' : '070702') +
        hex(f.ino, 'ino') +
        hex(f.mode, 'mode') +
        hex(f.uid, 'uid') +
        hex(f.gid, 'gid') +
        hex(f.nlink, 'nlink') +
        hex(f.mtime, 'mtime') +
        hex(f.fileSize, 'filesize') +
        hex(f.dev, 'devmajor') +
        hex(0, 'devminor') +
        hex(f.rdevMajor, 'rdevmajor') +
        hex(f.rdevMinor, 'rdevminor') +
        hex(f.nameSize, 'namesize') +
        hex(f.check, 'check');
      return new Uint8Array(Buffer.from(text, 'latin1'));
    }
    case 'odc': {
      const oct = (value: number, width: number, field: string) => digits(value, 8, width, field, label);
      const text =
        '070707' +
        oct(f.dev, 6, 'dev') +
        oct(f.ino, 6, 'ino') +
        oct(f.mode, 6, 'mode') +
        oct(f.uid, 6, 'uid') +
        oct(f.gid, 6, 'gid') +
        oct(f.nlink, 6, 'nlink') +
        oct(linuxDev(f.rdevMajor, f.rdevMinor), 6, 'rdev') +
        oct(f.mtime, 11, 'mtime') +
        oct(f.nameSize, 6, 'namesize') +
        oct(f.fileSize, 11, 'filesize');
      return new Uint8Array(Buffer.from(text, 'latin1'));
    }
    case 'bin-le':
    case 'bin-be': {
      const out = new Uint8Array(26);
      const view = new DataView(out.buffer);
      const le = format === 'bin-le';
      const word = (i: number, value: number, field: string) => {
        if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new Error(`cpio-writer: ${label}: ${field} ${value} does not fit 16 bits`);
        view.setUint16(i * 2, value, le);
      };
      const long = (i: number, value: number, field: string) => {
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`cpio-writer: ${label}: ${field} ${value} does not fit 32 bits`);
        word(i, Math.floor(value / 65536), field);
        word(i + 1, value % 65536, field);
      };
      if (f.rdevMajor > 0xff || f.rdevMinor > 0xff) throw new Error(`cpio-writer: ${label}: rdev ${f.rdevMajor},${f.rdevMinor} does not fit bin's 8+8 bits`);
      word(0, 0o070707, 'magic');
      word(1, f.dev, 'dev');
      word(2, f.ino, 'ino');
      word(3, f.mode, 'mode');
      word(4, f.uid, 'uid');
      word(5, f.gid, 'gid');
      word(6, f.nlink, 'nlink');
      word(7, (f.rdevMajor << 8) | f.rdevMinor, 'rdev');
      long(8, f.mtime, 'mtime');
      word(10, f.nameSize, 'namesize');
      long(11, f.fileSize, 'filesize');
      return out;
    }
  }
}

/** glibc's dev_t encoding, as GNU cpio writes odc's rdev on Linux. */
function linuxDev(major: number, minor: number): number {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
}

function digits(value: number, radix: 8 | 16, width: number, field: string, label: string): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`cpio-writer: ${label}: ${field} ${value} is not a non-negative integer`);
  const text = value.toString(radix).toUpperCase();
  if (text.length > width) throw new Error(`cpio-writer: ${label}: ${field} ${value} does not fit ${width} ${radix === 8 ? 'octal' : 'hex'} digits`);
  return text.padStart(width, '0');
}

function stripUndefined(m: CpioMember): CpioMember {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as unknown as CpioMember;
}

function pad(length: number, align: number): number {
  return align === 1 ? 0 : (align - (length % align)) % align;
}

function byteSum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) % 2 ** 32;
  return sum;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
