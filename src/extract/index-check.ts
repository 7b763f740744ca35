/**
 * Is the tree under the root still what the content index says a run left there? Used when the
 * same image, unchanged, goes into the same tree again with the same settings (extract.ts): if
 * every member is still as recorded, a full run would rewrite nothing, so the image need not
 * even be read. Anything else, and the caller does the full run.
 *
 * What is compared, per record (the rsync quick check and more): the type; size for files;
 * permission bits, owner (when owners are restored) and mtime for all but hard links; link
 * targets byte for byte; device numbers; a hard link must be the same inode as its target. A
 * file's content is trusted when its size and mtime are as recorded - what the index re-run
 * already trusts per file (zone-writer.ts unchangedByIndex) and rsync always does.
 *
 * Only lstat and readlink, never a write. lstat follows the directories on the way, so every
 * directory a member sits in is checked to be a real directory too (recorded or implied):
 * a directory swapped for a symlink fails the check instead of leading the lstat elsewhere.
 * Records with extended attributes make the check fail: there is no cheap way to read them
 * back (xattrs.ts), so such trees always get the full run.
 */
import type * as fs from 'node:fs';
import type { IndexRecord } from '../store/content-index.js';
import { splitLinuxDev } from '../formats/common/dev.js';
import { fsb, lstatOrUndefined, nsToSeconds, sameMtime } from './fs-bytes.js';

/** `records`: one per physical path (indexByPath). `owners`: compare uid/gid too. Throws what
 *  lstat throws beyond ENOENT (ENOTDIR where a directory became a file, EACCES). */
export function treeMatchesIndex(root: string, records: ReadonlyMap<string, IndexRecord>, owners: boolean): boolean {
  const abs = (physical: string) => (physical === '' ? root : `${root}/${physical}`);
  const inodes = new Map<string, number>();
  const links: IndexRecord[] = [];
  for (const record of records.values()) {
    if (record.type === 'hardlink') {
      links.push(record);
      continue;
    }
    const stat = lstatOrUndefined(abs(record.path));
    if (!stat || !nodeMatches(stat, record, owners, abs)) return false;
    if (record.type === 'file') inodes.set(record.path, stat.ino);
  }
  for (const link of links) {
    const stat = lstatOrUndefined(abs(link.path));
    const target = link.linkPath === undefined ? undefined : inodes.get(link.linkPath) ?? lstatOrUndefined(abs(link.linkPath))?.ino;
    if (!stat?.isFile() || target === undefined || stat.ino !== target) return false;
  }
  return implicitDirectories(records).every((dir) => lstatOrUndefined(abs(dir))?.isDirectory());
}

function nodeMatches(stat: fs.Stats, record: IndexRecord, owners: boolean, abs: (physical: string) => string): boolean {
  switch (record.type) {
    case 'file':
      if (!stat.isFile() || stat.size !== record.size) return false;
      break;
    case 'dir':
      if (!stat.isDirectory()) return false;
      break;
    case 'symlink':
      if (!stat.isSymbolicLink() || record.linkTarget === undefined || stat.size !== record.linkTarget.length) return false;
      if (fsb.readlink(abs(record.path)) !== record.linkTarget) return false;
      break;
    case 'char':
    case 'block': {
      if (!(record.type === 'char' ? stat.isCharacterDevice() : stat.isBlockDevice()) || record.devMajor === undefined) return false;
      const [major, minor] = splitLinuxDev(stat.rdev);
      if (major !== record.devMajor || minor !== record.devMinor) return false;
      break;
    }
    case 'fifo':
      if (!stat.isFIFO()) return false;
      break;
    default:
      return false; // attrs, sockets, anything a later version may record
  }
  if (record.xattrs) return false;
  if (record.type !== 'symlink' && (stat.mode & 0o7777) !== (record.mode & 0o7777)) return false;
  if (owners && (stat.uid !== record.uid || stat.gid !== record.gid)) return false;
  return sameMtime(stat.mtimeMs, nsToSeconds(record.mtimeNs));
}

/** Directories that members sit in but that have no record of their own (the root excluded). */
function implicitDirectories(records: ReadonlyMap<string, IndexRecord>): string[] {
  const seen = new Set<string>();
  for (const path of records.keys()) {
    for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
      const dir = path.slice(0, at);
      if (seen.has(dir)) break; // and so are all of its ancestors
      seen.add(dir);
    }
  }
  return [...seen].filter((dir) => records.get(dir)?.type !== 'dir');
}
