/**
 * Solaris ufsdump metadata (formats.md 6.7): the ACL "shadow" data of a file, a list of ufs_fsd
 * records, found either embedded in the file's own header (DR_HASMETA, 196 bytes at c_shadow)
 * or as the data of a trailing TS_ADDR whose dinode is the IFSHAD shadow inode.
 *
 *   ufs_fsd:  i32 fsd_type (0 free, 1 FSD_ACL, 2 FSD_DFACL), i32 fsd_size (header included),
 *             then fsd_size - 8 bytes; the next record starts fsd_size rounded up to 4 later.
 *             Stop at type 0, at fsd_size <= 12, or at a record running past the end (ufsrestore).
 *   ufs_acl:  12 bytes: u16 tag (+2 pad), u16 perm (+2 pad), u32 id; in the dump's byte order.
 * ufsrestore parses FSD_DFACL exactly like FSD_ACL; default entries carry the 0x1000 tag flag.
 */
import type { AclRecord } from '../../entry.js';
import { aclRecords, type AclEntry } from './acl-text.js';

const FSD_FREE = 0;
const FSD_ACL = 1;
const FSD_DFACL = 2;
const FSD_HEADER = 8;
const FSD_MIN_SIZE = 12;
const UFS_ACL_BYTES = 12;

/** ACL records from shadow data; [] when it holds none. */
export function parseShadowAcls(data: Uint8Array, le: boolean): AclRecord[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const entries: AclEntry[] = [];
  let at = 0;
  while (at + FSD_HEADER <= data.length) {
    const type = view.getInt32(at, le);
    const size = view.getInt32(at + 4, le);
    if (type === FSD_FREE || size <= FSD_MIN_SIZE || at + size > data.length) break;
    if (type === FSD_ACL || type === FSD_DFACL) {
      for (let e = at + FSD_HEADER; e + UFS_ACL_BYTES <= at + size; e += UFS_ACL_BYTES) {
        entries.push({ tag: view.getUint16(e, le), perm: view.getUint16(e + 4, le), id: view.getUint32(e + 8, le) });
      }
    }
    at += (size + 3) & ~3;
  }
  return aclRecords(entries);
}
