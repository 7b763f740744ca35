/**
 * A tiny tar writer for building archives inside tests, field by field (after containerd's
 * tartest and node-tar's `new Header({...}).encode()`): what no Linux tool writes (Sun `X`,
 * Solaris `A`/`E` members, negative base-256 times, old-GNU sparse headers) and what no sane
 * tool writes (bad checksums, lying sizes, broken pax records) is spelled out in the test.
 *
 *   tarArchive([
 *     paxMember('x', [['path', 'a/long/name'], ['mtime', '-1.5']]),
 *     { name: 'short', data: 'hello' },
 *   ])
 *
 * Layout: formats.md 5.1 (ustar), 5.2 (pax records), 5.3 (Sun). Numbers are written as octal
 * text (zero-padded, NUL-terminated) unless given as `{ base256: n }`, which writes GNU/star
 * base-256 (two's complement, 0x80/0xFF marker). `flavour` picks the magic: "ustar\0" + "00"
 * (default), GNU "ustar  \0", or none (v7). The checksum is computed last (unsigned, or the
 * signed-char sum with `checksum: 'signed'`, or exactly the given number).
 */

export type TarNumber = number | bigint | { base256: bigint } | { raw: string };

export interface TarMember {
  /** name field (strings are written as UTF-8); longer than 100 bytes is an error: use prefix/pax */
  name: string | Uint8Array;
  /** typeflag character, default '0' */
  typeflag?: string;
  mode?: TarNumber;
  uid?: TarNumber;
  gid?: TarNumber;
  /** seconds */
  mtime?: TarNumber;
  /** declared size; defaults to the data length */
  size?: TarNumber;
  data?: Uint8Array | string;
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: TarNumber;
  devminor?: TarNumber;
  prefix?: string;
  flavour?: 'ustar' | 'gnu' | 'v7';
  checksum?: 'unsigned' | 'signed' | number;
  /** patch the header block before the checksum is computed */
  patch?: (block: Uint8Array) => void;
  /** bytes written between the header and the data (old GNU sparse extension blocks) */
  extraBlocks?: Uint8Array;
}

const enc = new TextEncoder();

function bytes(value: Uint8Array | string | undefined): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  return typeof value === 'string' ? enc.encode(value) : value;
}

function putString(block: Uint8Array, at: number, length: number, value: string | Uint8Array | undefined): void {
  const b = bytes(value);
  if (b.length > length) throw new Error(`tar-writer: ${b.length} bytes do not fit a ${length}-byte field at ${at}`);
  block.set(b, at);
}

export function putNumber(block: Uint8Array, at: number, length: number, value: TarNumber | undefined): void {
  if (value === undefined) value = 0;
  if (typeof value === 'object' && 'raw' in value) {
    putString(block, at, length, value.raw);
    return;
  }
  if (typeof value === 'object' && 'base256' in value) {
    let v = value.base256;
    const bits = BigInt(8 * length);
    if (v < 0n) v += 1n << bits; // two's complement over the whole field
    for (let i = length - 1; i >= 0; i--) {
      block[at + i] = Number(v & 0xffn);
      v >>= 8n;
    }
    block[at] = value.base256 < 0n ? block[at]! | 0xc0 : (block[at]! & 0x7f) | 0x80;
    return;
  }
  const text = BigInt(value).toString(8);
  if (text.length > length - 1) throw new Error(`tar-writer: ${value} does not fit ${length - 1} octal digits`);
  putString(block, at, length, `${text.padStart(length - 1, '0')}\0`);
}

export function tarHeader(member: TarMember): Uint8Array {
  const block = new Uint8Array(512);
  const data = bytes(member.data);
  putString(block, 0, 100, member.name);
  putNumber(block, 100, 8, member.mode ?? (member.typeflag === '5' ? 0o755 : 0o644));
  putNumber(block, 108, 8, member.uid ?? 0);
  putNumber(block, 116, 8, member.gid ?? 0);
  putNumber(block, 124, 12, member.size ?? data.length);
  putNumber(block, 136, 12, member.mtime ?? 1_700_000_000);
  block[156] = (member.typeflag ?? '0').charCodeAt(0);
  putString(block, 157, 100, member.linkname);
  const flavour = member.flavour ?? 'ustar';
  if (flavour === 'ustar') {
    putString(block, 257, 6, 'ustar\0');
    putString(block, 263, 2, '00');
  } else if (flavour === 'gnu') {
    putString(block, 257, 8, 'ustar  \0');
  }
  if (flavour !== 'v7') {
    putString(block, 265, 32, member.uname);
    putString(block, 297, 32, member.gname);
    putNumber(block, 329, 8, member.devmajor ?? 0);
    putNumber(block, 337, 8, member.devminor ?? 0);
    if (member.prefix !== undefined) putString(block, 345, 155, member.prefix);
  }
  member.patch?.(block);
  setChecksum(block, member.checksum ?? 'unsigned');
  return block;
}

/** (Re)compute the checksum field of a header block. */
export function setChecksum(block: Uint8Array, how: 'unsigned' | 'signed' | number = 'unsigned'): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) {
    const b = block[i]!;
    sum += how === 'signed' && b >= 0x80 ? b - 256 : b;
  }
  const value = typeof how === 'number' ? how : sum;
  putString(block, 148, 8, `${value.toString(8).padStart(6, '0')}\0 `);
}

/** One pax record with its length prefix computed ("<len> key=value\n"). */
export function paxRecord(key: string, value: string | Uint8Array): Uint8Array {
  const body = concat([enc.encode(` ${key}=`), bytes(value), enc.encode('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return concat([enc.encode(String(length)), body]);
}

/** An x/g/X member carrying these records (name is meaningless, as in real archives). */
export function paxMember(type: 'x' | 'g' | 'X', records: Array<[string, string | Uint8Array]>, name = 'PaxHeaders/entry'): TarMember {
  return { name, typeflag: type, data: concat(records.map(([k, v]) => paxRecord(k, v))) };
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function padTo512(n: number): number {
  return (512 - (n % 512)) % 512;
}

/** Header, extra blocks, data and padding of one member. */
export function tarMemberBytes(member: TarMember): Uint8Array {
  const data = bytes(member.data);
  return concat([tarHeader(member), member.extraBlocks ?? new Uint8Array(0), data, new Uint8Array(padTo512(data.length))]);
}

/** Members followed by `endBlocks` zero blocks (default 2) and optional trailing padding. */
export function tarArchive(members: TarMember[], options: { endBlocks?: number; trailing?: number } = {}): Uint8Array {
  const end = new Uint8Array(512 * (options.endBlocks ?? 2) + (options.trailing ?? 0));
  return concat([...members.map(tarMemberBytes), end]);
}

// ---- Solaris side members (formats.md 4.5, 5.3) ---------------------------------------------

/** The body of a Solaris ACL member: records of type digit, 6 octal digits + NUL, text + NUL. */
export function solarisAclBlob(acls: Array<{ type: '1' | '3'; count: number; text: string }>): Uint8Array {
  return concat(acls.map((a) => enc.encode(`${a.type}${a.count.toString(8).padStart(6, '0')}\0${a.text}\0`)));
}

/**
 * The body of a `/dev/null/<attr>.hdr` member: xattr_hdr (version "1.0", sizes as 9 digits +
 * NUL, namesz 6 digits + NUL, typeflag) then `<file>\0<attr>\0`. Matches the layout of the
 * Solaris 10 payload captured in borg's test suite (formats.md 4.5).
 */
export function solarisXattrHeader(file: string, attr: string, typeflag = '0', version = '1.0'): Uint8Array {
  const names = concat([bytes(file), new Uint8Array(1), bytes(attr), new Uint8Array(1)]);
  // xattr_buf is namesz[7] typeflag[1] names[1]: its size plus the names past the first byte
  const componentLength = 7 + 1 + 1 + names.length;
  const total = 37 + componentLength;
  const field = (value: number, width: number) => `${String(value).padStart(width, '0')}\0`;
  return concat([
    enc.encode(version.padEnd(7, '\0')),
    enc.encode(field(total, 9)),
    enc.encode(field(componentLength, 9)),
    enc.encode(field(0, 9)),
    enc.encode(field(names.length, 6)),
    enc.encode(typeflag),
    names,
  ]);
}
