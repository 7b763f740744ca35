/**
 * Is the tree under the root still what the content index says a run left there? Used when the
 * same image, unchanged, goes into the same tree again with the same settings (extract.ts): if
 * every member is still as recorded, a full run would rewrite nothing, so the image need not
 * even be read. Anything else, and the caller does the full run.
 *
 * What is compared, per record (the rsync quick check and more): the type; size for files;
 * permission bits, owner (when owners are restored) and mtime for all but hard links; link
 * targets byte for byte; device numbers; a hard link must be the same inode as its target, and a
 * file must have as many names as the index records (no name added in the zone). A
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
import type { Entry } from '../entry.js';
import { type IndexRecord, type RootMetadata, type RunSeal, parseRecord } from '../store/content-index.js';
import { splitLinuxDev } from '../formats/common/dev.js';
import type { RecordLookup } from '../store/recorded-index.js';
import { fsb, lstatOrUndefined, nsToSeconds, sameMtime } from './fs-bytes.js';

/**
 * The check over an index's lines as they come, in chunks (settled-check.ts), without a map of
 * all records first. An 'attrs' record is passed over when its member has a record (as a map
 * by path would hide it), else it is a "no"; a record given twice is checked twice (a map would
 * keep the last). A "no" only costs the full run, which is always right.
 *
 * Up to `differingLimit` members that are not as recorded (0: none) are noted in `differing`
 * (and directories members sit in that are not directories) and the check goes on; the next
 * one is its "no" (see partial-trust.ts for what a re-run makes of the list). A failed lstat
 * (ENOTDIR where a directory became a file, EACCES) makes its member differ.
 */
export class IndexLineChecker {
  private readonly links: IndexRecord[] = [];
  /** member paths, kept only when the index has 'attrs' records (an index-wide search for
   *  them is cheaper than a set of all paths) */
  private readonly members: Set<string> | undefined;
  private readonly attrs: string[] = [];
  private readonly parents = new Set<string>();
  private lastParent = '';
  /** recorded as directories, and found so */
  private readonly dirs = new Set<string>();
  /** the members noted as not as recorded (physical paths) */
  readonly differing = new Set<string>();
  /** files found with more than one name, and how many: the index must record as many
   *  (finish). A name added in the zone makes the file differ - a full run writes it anew
   *  rather than keep an inode another name shares (write-worker.ts keepable). */
  private readonly multiLinked: [string, number][] = [];

  constructor(
    private readonly root: string,
    private readonly owners: boolean,
    hasAttrs: boolean,
    private readonly differingLimit = 0,
  ) {
    if (hasAttrs) this.members = new Set();
  }

  private abs(physical: string): string {
    return physical === '' ? this.root : `${this.root}/${physical}`;
  }

  /** `path` is not as recorded: go on (it is noted) or stop here (false). */
  private differs(path: string): boolean {
    if (this.differing.size >= this.differingLimit) return false;
    this.differing.add(path);
    return true;
  }

  /** Check the records among `text`'s lines (others are skipped, as parseIndex skips them);
   *  false once more of them do not match than may be noted. */
  checkLines(text: string): boolean {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const record = parseRecord(line);
      if (record === undefined) continue;
      const path = record.path;
      if (record.type === 'attrs') {
        this.attrs.push(path); // settled only if its member's record, which counts, is here too
        continue;
      }
      this.members?.add(path);
      const slash = path.lastIndexOf('/');
      // members come mostly directory by directory: a parent like the last one's is known
      if (slash > 0 && !(slash === this.lastParent.length && path.startsWith(this.lastParent))) {
        this.lastParent = path.slice(0, slash);
        for (let at = slash; at > 0; at = path.lastIndexOf('/', at - 1)) {
          const dir = path.slice(0, at);
          if (this.parents.has(dir)) break; // and so are all of its ancestors
          this.parents.add(dir);
        }
      }
      if (record.type === 'hardlink') {
        this.links.push(record);
        continue;
      }
      if (!this.matches(record)) {
        if (this.differs(path)) continue;
        return false;
      }
      if (record.type === 'dir') this.dirs.add(path);
    }
    return true;
  }

  private matches(record: IndexRecord): boolean {
    const stat = this.lstat(record.path);
    try {
      if (stat === undefined || !nodeMatches(stat, record, this.owners, (physical) => this.abs(physical))) return false;
    } catch {
      return false; // readlink of a symlink replaced since the lstat
    }
    if (record.type === 'file' && stat.nlink !== 1) this.multiLinked.push([record.path, stat.nlink]);
    return true;
  }

  /** After the last chunk: hard links, 'attrs' records, and the directories members sit in. */
  finish(): boolean {
    const names = new Map<string, number>();
    for (const link of this.links) if (link.linkPath !== undefined) names.set(link.linkPath, (names.get(link.linkPath) ?? 1) + 1);
    for (const [path, nlink] of this.multiLinked) if (nlink !== (names.get(path) ?? 1) && !this.differs(path)) return false;
    for (const link of this.links) {
      // the target's inode as it is now: the target itself was checked as a record
      const stat = this.lstat(link.path);
      const target = link.linkPath === undefined ? undefined : this.lstat(link.linkPath)?.ino;
      if ((!stat?.isFile() || target === undefined || stat.ino !== target) && !this.differs(link.path)) return false;
    }
    // (an attribute is never checked: with differences noted, the caller trusts no member)
    for (const path of this.attrs) if (!this.members?.has(path)) return false;
    for (const dir of this.parents) {
      if (!this.dirs.has(dir) && !this.lstat(dir)?.isDirectory() && !this.differs(dir)) return false;
    }
    return true;
  }

  /** The node at `physical`, or undefined: missing, or not to be reached (ENOTDIR, EACCES). */
  private lstat(physical: string): fs.Stats | undefined {
    try {
      return lstatOrUndefined(this.abs(physical));
    } catch {
      return undefined;
    }
  }
}

/** The root directory as the image's "." member left it (mode, owner, mtime). */
export function rootMatches(root: string, metadata: RootMetadata, owners: boolean): boolean {
  const stat = lstatOrUndefined(root);
  return stat !== undefined && nodeMatches(stat, rootRecord(metadata), owners, () => root);
}

/** The seal's root metadata as the record a directory would have. */
function rootRecord(metadata: RootMetadata): IndexRecord {
  return { path: '', type: 'dir', size: 0, mode: metadata.mode, uid: metadata.uid, gid: metadata.gid, mtimeNs: BigInt(metadata.mtimeNs) };
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

/**
 * Directory images: is the source tree, as walked now, what the index says the last run copied?
 * Every walked member must have a record at its own path that a run would write again as it is
 * (same type, mode, owner, mtime, link target, device; a file's source stamp - identity, size,
 * mtime and change time - as recorded, with its hash known), and no record may be left over.
 * The writer takes the same stamp as proof per file (zone-writer.ts placeFile); this is that
 * check for all members at once, before any writer exists. Walked names are clean relative
 * paths, the same as the physical paths the writer records; the root ('.') is compared with
 * the seal's `root`, and special files the sealing run did not make (the seal's `skipped`) have
 * no record.
 */
export async function directoryMatchesIndex(walked: AsyncIterable<Entry>, records: Pick<RecordLookup, 'get' | 'size'>, seal: Pick<RunSeal, 'root' | 'skipped'>, stop: () => boolean = () => false): Promise<boolean> {
  const skipped = new Set((seal.skipped ?? []).map((item) => `${item.type}\0${item.path}`));
  let members = 0;
  for await (const entry of walked) {
    if (stop()) return false;
    if (entry.path === '.') {
      // the root has no record: the seal keeps what the last run gave it
      if (!seal.root || !sameMember(entry, rootRecord(seal.root))) return false;
      continue;
    }
    const record = records.get(entry.path);
    if (record === undefined) {
      // a device, FIFO or socket the last run did not make (--no-devices, not root) has no
      // record; with the same settings the full run would skip it again
      if (skipped.has(`${entry.type}\0${entry.path}`)) continue;
      return false;
    }
    if (!sameMember(entry, record)) return false;
    members++;
  }
  return members === records.size;
}

function sameMember(entry: Entry, record: IndexRecord): boolean {
  if (record.type !== entry.type || record.mode !== entry.mode || record.uid !== entry.uid || record.gid !== entry.gid || record.mtimeNs !== entry.mtimeNs) return false;
  if (record.xattrs !== undefined || entry.xattrs !== undefined || record.acls !== undefined) return false;
  switch (entry.type) {
    case 'file':
      return entry.sourceStamp !== undefined && record.sourceStamp === entry.sourceStamp && record.hash !== undefined && record.size === entry.size;
    case 'dir':
    case 'fifo':
      return true;
    case 'symlink':
      return record.linkTarget === entry.linkTarget;
    case 'hardlink':
      return record.linkTarget === entry.linkTarget && record.linkPath === entry.linkTarget;
    case 'char':
    case 'block':
      return record.devMajor === entry.devMajor && record.devMinor === entry.devMinor;
    default:
      return false;
  }
}

