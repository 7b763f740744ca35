/**
 * pax extended header records (`x`, `g`, and Sun's `X`, which means `x`): parsing, the
 * global/per-entry merge, and the keys we honour.
 *
 * A record is `"<len> <key>=<value>\n"`, len counting the whole record. Every record is checked
 * (digits, space, '=', the newline where len says) and a bad one fails the archive: a header we
 * misread would put the next member under the wrong name. Values stay bytes until a key says
 * what they are (SCHILY.xattr values are binary: GNU tar stores system.posix_acl_access raw).
 *
 * Merge rule (POSIX pax): `g` records hold for every later member, `x` records for the next one
 * only; a record with an empty value deletes the key (the header field then applies again).
 *
 * Keys honoured: path, linkpath, size, uid, gid, uname, gname, mtime (fraction and sign kept, in
 * ns), SUN.devmajor/devminor and SCHILY.devmajor/devminor, SCHILY.xattr.*, LIBARCHIVE.xattr.*
 * (URL-encoded name, base64 value), RHT.security.selinux, SCHILY.acl.access/default/ace, the
 * GNU.sparse.* family (handed to sparse.ts), SUN.holesdata (a hint only: the body holds the
 * full data). Everything else (atime, ctime, charset, comment, SCHILY.dev/ino/nlink/fflags …)
 * is ignored.
 */
import type { AclRecord } from '../../entry.js';
import { badArchive } from '../../errors.js';
import type { HeaderPlace } from './header.js';

export interface PaxRecord {
  /** key as a byte string (keys may carry UTF-8 xattr names) */
  key: string;
  value: Uint8Array;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const EQUALS = 0x3d;

/** Keys whose values are names: a NUL inside one is an attack or corruption (as in Go). */
const NAME_KEYS = new Set(['path', 'linkpath', 'uname', 'gname']);

/** Keys nearly every pax member carries, as strings made once: matched byte by byte, they are
 *  not decoded again for every record (a Buffer and a string per key). */
const COMMON_KEYS = ['atime', 'ctime', 'mtime', 'path', 'size', 'uid', 'gid', 'uname', 'gname', 'linkpath', 'SCHILY.dev', 'SCHILY.ino', 'SCHILY.nlink', 'LIBARCHIVE.creationtime'];
const commonKeysByLength: string[][] = [];
for (const key of COMMON_KEYS) (commonKeysByLength[key.length] ??= []).push(key);

function commonKey(body: Uint8Array, start: number, end: number): string | undefined {
  const candidates = commonKeysByLength[end - start];
  if (candidates === undefined) return undefined;
  for (const key of candidates) {
    let i = 0;
    while (i < key.length && body[start + i] === key.charCodeAt(i)) i++;
    if (i === key.length) return key;
  }
  return undefined;
}

/** Parse the body of an x/g/X member. `at` is the member's header (the body starts 512 later). */
export function parsePaxRecords(body: Uint8Array, at: HeaderPlace): PaxRecord[] {
  const records: PaxRecord[] = [];
  const bodyOffset = at.offset + 512;
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) {
      // some writers pad the body with NULs; only NULs may follow
      for (let i = pos; i < body.length; i++) {
        if (body[i] !== 0) throw badArchive('pax header: data after the NUL padding', { layer: at.layer, offset: bodyOffset + i });
      }
      break;
    }
    const where = { layer: at.layer, offset: bodyOffset + pos };
    let length = 0;
    let cursor = pos;
    while (cursor < body.length && body[cursor]! >= 0x30 && body[cursor]! <= 0x39 && cursor - pos < 16) {
      length = length * 10 + (body[cursor]! - 0x30);
      cursor++;
    }
    if (cursor === pos || body[cursor] !== SPACE) throw badArchive('pax header: a record does not start with "<length> "', where);
    if (length <= cursor - pos + 1 || pos + length > body.length) {
      throw badArchive(`pax header: record length ${length} does not fit the header (${body.length - pos} bytes left)`, where);
    }
    const end = pos + length - 1;
    if (body[end] !== NEWLINE) throw badArchive(`pax header: record of length ${length} does not end with a newline`, where);
    const keyStart = cursor + 1;
    const equals = body.indexOf(EQUALS, keyStart);
    if (equals < 0 || equals >= end || equals === keyStart) throw badArchive('pax header: record without "key="', where);
    let key = commonKey(body, keyStart, equals);
    if (key === undefined) {
      const keyBytes = body.subarray(keyStart, equals);
      if (keyBytes.includes(0)) throw badArchive('pax header: NUL byte in a key', where);
      key = latin1(keyBytes);
    }
    const value = body.subarray(equals + 1, end);
    if (NAME_KEYS.has(key) && value.includes(0)) throw badArchive(`pax header: NUL byte in the ${key} value`, where);
    records.push({ key, value });
    pos += length;
  }
  return records;
}

/** Apply `g` records to the global set (empty value = delete). */
export function applyGlobal(globals: Map<string, Uint8Array>, records: PaxRecord[]): void {
  for (const { key, value } of records) {
    if (value.length === 0) globals.delete(key);
    else globals.set(key, Uint8Array.from(value)); // outlives the member's buffer
  }
}

/** What the merged records say about the next member; undefined = the header field applies. */
export interface PaxFields {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtimeNs?: bigint;
  devMajor?: number;
  devMinor?: number;
  xattrs: Map<string, Uint8Array>;
  acls: AclRecord[];
  /** GNU.sparse.* keys, as text (sparse.ts interprets them) */
  sparse: Map<string, string>;
  /** GNU.sparse.offset / GNU.sparse.numbytes records (format 0.0), in archive order */
  sparsePairs: number[];
  /** SUN.holesdata: where the holes are; the body still holds the full data */
  holesData?: string;
}

export function emptyPaxFields(): PaxFields {
  return { xattrs: new Map(), acls: [], sparse: new Map(), sparsePairs: [] };
}

/** Keys writers add to nearly every member that say nothing we apply (bsdtar: atime and ctime
 *  on every member; GNU tar: atime, ctime beside mtime). */
const IGNORED_KEYS = new Set(['atime', 'ctime', 'charset', 'hdrcharset', 'comment', 'SCHILY.dev', 'SCHILY.ino', 'SCHILY.nlink', 'SCHILY.fflags', 'LIBARCHIVE.creationtime', 'LIBARCHIVE.symlinktype']);

/** True when a member's own records, with no globals in force, change nothing (the common pax
 *  member): the reader then takes the header fields as they are and skips resolvePax, its Map
 *  copy and its field object. */
export function onlyIgnoredKeys(own: PaxRecord[]): boolean {
  for (let i = 0; i < own.length; i++) if (!IGNORED_KEYS.has(own[i]!.key)) return false;
  return true;
}

/** Merge the globals and the member's own records (in order) and interpret the keys. */
export function resolvePax(globals: Map<string, Uint8Array>, own: PaxRecord[], at: HeaderPlace): PaxFields {
  const merged = new Map(globals);
  const fields = emptyPaxFields();
  for (const { key, value } of own) {
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      // repeated keys whose order is the data (format 0.0): not merged
      const expectOffset = fields.sparsePairs.length % 2 === 0;
      if ((key === 'GNU.sparse.offset') !== expectOffset) throw badArchive('pax header: GNU.sparse.offset/numbytes records out of order', at);
      fields.sparsePairs.push(decimal(value, key, at));
      continue;
    }
    if (value.length === 0) merged.delete(key);
    else merged.set(key, value);
  }
  for (const [key, value] of merged) interpret(fields, key, value, at);
  return fields;
}

function interpret(fields: PaxFields, key: string, value: Uint8Array, at: HeaderPlace): void {
  switch (key) {
    case 'path':
      fields.path = latin1(value);
      return;
    case 'linkpath':
      fields.linkpath = latin1(value);
      return;
    case 'size':
      fields.size = decimal(value, key, at);
      return;
    case 'uid':
      fields.uid = decimal(value, key, at);
      return;
    case 'gid':
      fields.gid = decimal(value, key, at);
      return;
    case 'uname':
      fields.uname = utf8(value);
      return;
    case 'gname':
      fields.gname = utf8(value);
      return;
    case 'mtime':
      fields.mtimeNs = paxTimeNs(latin1(value), at);
      return;
    case 'SUN.devmajor':
    case 'SCHILY.devmajor':
      fields.devMajor = decimal(value, key, at);
      return;
    case 'SUN.devminor':
    case 'SCHILY.devminor':
      fields.devMinor = decimal(value, key, at);
      return;
    case 'SUN.holesdata':
      fields.holesData = latin1(value);
      return;
    case 'RHT.security.selinux':
      fields.xattrs.set('security.selinux', Uint8Array.from(value));
      return;
    case 'SCHILY.acl.access':
      fields.acls.push({ kind: 'posix', text: aclText(utf8(value)) });
      return;
    case 'SCHILY.acl.default':
      // one record per ACL; default entries carry the "default:" prefix setfacl understands
      fields.acls.push({ kind: 'posix', text: defaultAclText(aclText(utf8(value))) });
      return;
    case 'SCHILY.acl.ace':
      fields.acls.push({ kind: 'nfs4', text: aclText(utf8(value)) });
      return;
  }
  if (key.startsWith('SCHILY.xattr.')) {
    fields.xattrs.set(key.slice('SCHILY.xattr.'.length), Uint8Array.from(value));
  } else if (key.startsWith('LIBARCHIVE.xattr.')) {
    const name = urlDecode(key.slice('LIBARCHIVE.xattr.'.length));
    if (name === undefined) throw badArchive(`pax header: bad URL encoding in ${JSON.stringify(key)}`, at);
    // a LIBARCHIVE value wins over the SCHILY copy bsdtar also writes: both carry the same bytes
    fields.xattrs.set(name, base64(value, key, at));
  } else if (key.startsWith('GNU.sparse.')) {
    fields.sparse.set(key, latin1(value));
  }
}

// views, not copies (Buffer.from(uint8Array) would copy): these run for every pax record
function latin1(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.length).toString('latin1');
}

function utf8(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.length).toString('utf8');
}

function decimal(value: Uint8Array, key: string, at: HeaderPlace): number {
  const text = latin1(value);
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw badArchive(`pax header: ${key}=${JSON.stringify(text.slice(0, 40))} is not a decimal number`, at);
  }
  return Number(text);
}

/** "1234567890.123456789", "-1.5", "12" → nanoseconds; digits beyond 9 decimals are dropped. */
export function paxTimeNs(text: string, at: HeaderPlace): bigint {
  const match = /^(-?)([0-9]{1,19})(?:\.([0-9]+))?$/.exec(text);
  if (!match) throw badArchive(`pax header: mtime=${JSON.stringify(text.slice(0, 40))} is not a time`, at);
  const ns = BigInt(match[2]!) * 1_000_000_000n + BigInt((match[3] ?? '').slice(0, 9).padEnd(9, '0'));
  return match[1] === '-' ? -ns : ns;
}

/** GNU tar separates ACL entries with newlines, star and libarchive with commas: use commas. */
function aclText(text: string): string {
  return text
    .split(/[,\n]/)
    .filter((e) => e.length > 0)
    .join(',');
}

function defaultAclText(text: string): string {
  return text
    .split(',')
    .filter((e) => e.length > 0)
    .map((e) => (e.startsWith('default:') ? e : `default:${e}`))
    .join(',');
}

/** %XX → byte; result as a byte string. undefined for a broken escape. */
function urlDecode(text: string): string | undefined {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

function base64(value: Uint8Array, key: string, at: HeaderPlace): Uint8Array {
  const text = latin1(value);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw badArchive(`pax header: ${key} is not base64`, at);
  return Uint8Array.from(Buffer.from(text, 'base64'));
}
