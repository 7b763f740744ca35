/**
 * Opening a directory image's source file, by its writer thread or for its body: the file the
 * walk listed, or nothing. A source tree can change under the copy (a live system, an NFS
 * server): a directory on the way replaced by a symlink would lead the open elsewhere (out of
 * the tree), a device or a FIFO put in a file's place would be read (or block the open).
 */
import * as fs from 'node:fs';

/** O_NONBLOCK: a FIFO swapped in for a listed file must not block the open (the identity check
 *  then refuses it); it changes nothing for a regular file. */
export const sourceOpenFlags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Is the opened source the regular file that was listed ("dev:ino")? */
export function sameSource(stat: fs.BigIntStats, identity: string | undefined): boolean {
  return stat.isFile() && (identity === undefined || `${stat.dev}:${stat.ino}` === identity);
}

