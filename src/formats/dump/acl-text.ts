/**
 * POSIX-draft ACL entries (Solaris aclent_t, Linux posix_acl) as text, the form AclRecord
 * carries: "user::rw-,user:1234:rwx,group::r--,mask:r-x,other:r--" (Solaris acltotext spelling,
 * which setfacl also reads). Default entries become a second record whose entries carry the
 * "default:" prefix, as the tar reader does for SCHILY.acl.default. Ids stay numeric: names
 * belong to the image's passwd, not ours.
 */
import type { AclRecord } from '../../entry.js';

/** Tag values shared by Solaris ufs_acl and Linux posix_acl_xattr entries. */
export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
/** Solaris: the entry belongs to the default ACL (a directory's inherited ACL) */
export const ACL_DEFAULT = 0x1000;

export interface AclEntry {
  tag: number;
  perm: number;
  id: number;
}

function perms(perm: number): string {
  return `${perm & 4 ? 'r' : '-'}${perm & 2 ? 'w' : '-'}${perm & 1 ? 'x' : '-'}`;
}

/** One entry as text; undefined for a tag we do not know. */
function entryText(entry: AclEntry): string | undefined {
  const p = perms(entry.perm);
  switch (entry.tag & ~ACL_DEFAULT) {
    case ACL_USER_OBJ: return `user::${p}`;
    case ACL_USER: return `user:${entry.id}:${p}`;
    case ACL_GROUP_OBJ: return `group::${p}`;
    case ACL_GROUP: return `group:${entry.id}:${p}`;
    case ACL_MASK: return `mask:${p}`;
    case ACL_OTHER: return `other:${p}`;
    default: return undefined;
  }
}

/** Entries → records: the access ACL, then (if any entry is a default one) the default ACL.
 *  `forceDefault` marks every entry default (Linux keeps the default ACL in its own xattr). */
export function aclRecords(entries: AclEntry[], forceDefault = false): AclRecord[] {
  const access: string[] = [];
  const defaults: string[] = [];
  for (const entry of entries) {
    const text = entryText(entry);
    if (text === undefined) continue;
    if (forceDefault || (entry.tag & ACL_DEFAULT) !== 0) defaults.push(`default:${text}`);
    else access.push(text);
  }
  const records: AclRecord[] = [];
  if (access.length > 0) records.push({ kind: 'posix', text: access.join(',') });
  if (defaults.length > 0) records.push({ kind: 'posix', text: defaults.join(',') });
  return records;
}
