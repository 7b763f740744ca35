/**
 * Directory entries in dumped directory data (formats.md 6.6): the on-disk UFS form, as dump
 * wrote it (Linux dump rewrites ext2 directories into the same form).
 *
 *   u32 d_ino, u16 d_reclen, then either
 *     old (Solaris, 4.3BSD):       u16 d_namlen                      (in the dump's byte order)
 *     new (DR_NEWINODEFMT, UFS2):  u8 d_type, u8 d_namlen
 *   then the name (NUL-terminated, padded to 4).
 * Entries never cross a DIRBLKSIZ (512-byte) chunk; a d_reclen of 0 (or not a multiple of 4) or
 * one running past the chunk ends it (restore's rule), d_ino 0 is an unused slot.
 */
import { badArchive } from '../../errors.js';

export const DIRBLKSIZ = 512;
const DIRENT_HEADER = 8;

export interface DirentFormat {
  /** 8-bit d_type + d_namlen (true) or 16-bit d_namlen (false) */
  newFormat: boolean;
  le: boolean;
}

/**
 * Call `visit(ino, name)` for every used entry of one piece of directory data. `piece` must
 * start on a DIRBLKSIZ boundary of the directory (dump data blocks are multiples of 1 KiB);
 * `offset` is its stream offset, for messages. Names are byte strings (latin1).
 */
export function parseDirectoryPiece(piece: Uint8Array, format: DirentFormat, offset: number, layer: string, visit: (ino: number, name: string) => void): void {
  const view = new DataView(piece.buffer, piece.byteOffset, piece.byteLength);
  for (let chunk = 0; chunk < piece.length; chunk += DIRBLKSIZ) {
    const end = Math.min(chunk + DIRBLKSIZ, piece.length);
    let at = chunk;
    while (at + DIRENT_HEADER <= end) {
      const ino = view.getUint32(at, format.le);
      const reclen = view.getUint16(at + 4, format.le);
      const namlen = format.newFormat ? piece[at + 7]! : view.getUint16(at + 6, format.le);
      if (reclen < DIRENT_HEADER || reclen % 4 !== 0 || at + reclen > end) break;
      // a name longer than its record: Linux dump 0.4b47 stores d_reclen of a 244..255-byte name
      // modulo 256 and the name is not there; the next record starts at d_reclen all the same
      // (restore reads on too): that one name is lost (its inode is reported as an orphan)
      if (DIRENT_HEADER + namlen > reclen) {
        at += reclen;
        continue;
      }
      if (ino !== 0) {
        const name = piece.subarray(at + DIRENT_HEADER, at + DIRENT_HEADER + namlen);
        if (namlen === 0 || name.includes(0x2f) || name.includes(0)) {
          throw badArchive(`directory entry for inode ${ino} has an invalid name "${Buffer.from(name).toString('latin1')}" (empty, or holding "/" or NUL)`, { layer, offset: offset + at });
        }
        visit(ino, Buffer.from(name).toString('latin1'));
      }
      at += reclen;
    }
  }
}
