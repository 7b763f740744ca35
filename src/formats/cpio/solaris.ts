/**
 * Solaris cpio side entries (formats.md 4.5): ACL pseudo-entries (mode exactly 0o160200, same
 * name as the file that follows) and extended attributes (`/dev/null/<attr>.hdr` + value,
 * type bits 0o130000). Both become metadata of their file, never paths.
 */
import type { AclRecord } from '../../entry.js';

export const SOLARIS_ACL_MODE = 0o160200;
export const SOLARIS_XATTR_TYPE = 0o130000;
export const XATTR_PREFIX = '/dev/null/';

/** Parse an ACL blob: records of type digit, 6 octal digits + NUL (entry count), text, NUL. */
export function parseSolarisAcl(blob: Uint8Array): AclRecord[] {
  const records: AclRecord[] = [];
  let at = 0;
  while (at + 8 <= blob.length) {
    const type = blob[at]!;
    let end = blob.indexOf(0, at + 8);
    if (end < 0) end = blob.length;
    const text = Buffer.from(blob.subarray(at + 8, end)).toString('utf8');
    if (type === 0x31) records.push({ kind: 'posix', text });
    else if (type === 0x33) records.push({ kind: 'nfs4', text });
    else if (type === 0x30 || type === 0) break; // free / padding
    at = end + 1;
  }
  return records;
}

export interface SolarisXattrHeader {
  /** the file the attribute belongs to (byte string, as named in its own entry) */
  parent: string;
  /** attribute name; "." is the attribute directory itself */
  name: string;
  /** set for an attribute of an attribute (`cpio -@ -/`: a system attribute of `name`): its
   *  name; such entries are not attributes of the file */
  ofAttribute?: string;
  /** the attribute's real type: '0' file, '5' directory, ... */
  typeflag: string;
}

/** Parse the body of a `/dev/null/<attr>.hdr` entry; undefined for unknown versions. */
export function parseSolarisXattrHeader(blob: Uint8Array): SolarisXattrHeader | undefined {
  if (blob.length < 46) return undefined;
  const version = Buffer.from(blob.subarray(0, 7)).toString('latin1').replace(/\0.*$/s, '');
  if (version !== '1.0') return undefined;
  const typeflag = String.fromCharCode(blob[44]!);
  const names = Buffer.from(blob.subarray(45)).toString('latin1').split('\0');
  if (names.length < 2) return undefined;
  // h_names is "<file>\0<attr>\0", or "<file>\0<attr>\0<its attr>\0" one level down (the path
  // "attr/sysattr" with its slash made a NUL): a third name means the entry is not the file's
  const nested = names.length > 3 && names[2] !== '' ? { ofAttribute: names[2]! } : {};
  return { parent: names[0]!, name: names[1]!, typeflag, ...nested };
}
