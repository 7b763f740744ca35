/**
 * Linux dump (0.4b47) extended attributes (formats.md 6.8): an extra TS_INODE for the inode,
 * flagged DR_EXTATTRIBUTES with c_extattributes = EXT_XATTR, whose data is an ext2 EA area:
 *
 *   block form     u32 magic 0xEA020000, refcount, blocks, hash, checksum, 3 reserved (32 bytes),
 *                  then entries; value offsets count from the start of the block
 *   in-inode form  u32 magic 0xEA020001 (dump's rewrite of the in-inode magic), then entries;
 *                  value offsets count from the first entry (byte 4)
 *   entry          u8 name_len, u8 name_index, u16 value_offs, u32 value_inum, u32 value_size,
 *                  u32 hash, name (padded to 4); the list ends with 4 zero bytes
 * ext2 keeps this little-endian whatever the CPU; a big-endian reading is tried when the magic
 * says so. POSIX ACLs (name index 2, 3) become AclRecords, everything else an xattr.
 */
import type { AclRecord } from '../../entry.js';
import { aclRecords, ACL_GROUP, ACL_USER, type AclEntry } from './acl-text.js';

const EA_BLOCK_MAGIC = 0xea020000;
const EA_INODE_MAGIC = 0xea020001;
const EA_BLOCK_HEADER = 32;
const EA_ENTRY_HEADER = 16;
const POSIX_ACL_VERSION = 1;

/** name_index → prefix; the ACL indexes are full names */
const prefixes: Record<number, string> = {
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  6: 'security.',
  7: 'system.',
  8: 'system.richacl',
};

export interface ExtAttributes {
  xattrs: Map<string, Uint8Array>;
  acls: AclRecord[];
  /** what could not be read (for a warning) */
  problems: string[];
}

export function parseExt2Attributes(data: Uint8Array): ExtAttributes {
  const out: ExtAttributes = { xattrs: new Map(), acls: [], problems: [] };
  if (data.length < 4) return out;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let le = true;
  let magic = view.getUint32(0, true);
  if (magic !== EA_BLOCK_MAGIC && magic !== EA_INODE_MAGIC) {
    le = false;
    magic = view.getUint32(0, false);
  }
  if (magic !== EA_BLOCK_MAGIC && magic !== EA_INODE_MAGIC) {
    out.problems.push(`unknown extended-attribute area (magic 0x${view.getUint32(0, true).toString(16)})`);
    return out;
  }
  const first = magic === EA_BLOCK_MAGIC ? EA_BLOCK_HEADER : 4;
  const valueBase = magic === EA_BLOCK_MAGIC ? 0 : 4;
  let at = first;
  while (at + 4 <= data.length && view.getUint32(at, le) !== 0) {
    if (at + EA_ENTRY_HEADER > data.length) {
      out.problems.push('extended-attribute entry runs past the area');
      break;
    }
    const nameLength = data[at]!;
    const index = data[at + 1]!;
    const valueOffset = view.getUint16(at + 2, le);
    const valueInode = view.getUint32(at + 4, le);
    const valueSize = view.getUint32(at + 8, le);
    const nameEnd = at + EA_ENTRY_HEADER + nameLength;
    if (nameEnd > data.length) {
      out.problems.push('extended-attribute name runs past the area');
      break;
    }
    const suffix = Buffer.from(data.subarray(at + EA_ENTRY_HEADER, nameEnd)).toString('latin1');
    at = (nameEnd + 3) & ~3;
    const prefix = prefixes[index];
    const valueStart = valueBase + valueOffset;
    if (prefix === undefined || valueInode !== 0 || valueStart + valueSize > data.length) {
      out.problems.push(prefix === undefined ? `attribute "${suffix}" has an unknown name index ${index}` : `attribute "${prefix}${suffix}" has its value outside the area`);
      continue;
    }
    const value = Uint8Array.from(data.subarray(valueStart, valueStart + valueSize));
    if (index === 2 || index === 3) {
      const entries = parsePosixAcl(value, le);
      if (entries) out.acls.push(...aclRecords(entries, index === 3));
      else out.problems.push(`${prefix}: not a version 1 POSIX ACL`);
    } else {
      out.xattrs.set(prefix + suffix, value);
    }
  }
  return out;
}

/** ext2's on-disk ACL: u32 version 1, then u16 tag, u16 perm, and a u32 id for USER/GROUP only. */
function parsePosixAcl(value: Uint8Array, le: boolean): AclEntry[] | undefined {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  if (value.length < 4 || view.getUint32(0, le) !== POSIX_ACL_VERSION) return undefined;
  const entries: AclEntry[] = [];
  let at = 4;
  while (at + 4 <= value.length) {
    const tag = view.getUint16(at, le);
    const perm = view.getUint16(at + 2, le);
    if (tag === ACL_USER || tag === ACL_GROUP) {
      if (at + 8 > value.length) return undefined;
      entries.push({ tag, perm, id: view.getUint32(at + 4, le) });
      at += 8;
    } else {
      entries.push({ tag, perm, id: 0 });
      at += 4;
    }
  }
  return entries;
}
