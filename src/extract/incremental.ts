/**
 * Applying an incremental dump (level >= 1) to the tree extracted from the previous level, as
 * `restore -r` does: changed inodes replaced, new ones added, renamed ones moved, and whatever
 * the dump's directories and maps no longer know removed.
 *
 * What a level N dump holds (formats.md 6): every inode changed since the previous dump (TS_BITS),
 * every directory on the way to one of them with its complete list of names, and the map of
 * inodes in use (TS_CLRI). A directory that is not dumped did not change, nor did anything below
 * it. The dump reader emits changed inodes as usual and names of unchanged inodes as
 * 'unchanged' entries; the content index of the previous run (--index) says where each inode
 * is (inode → path) and which dump the tree holds ("dumpApplied", checked here first: the dump
 * must be relative to exactly that date, restore's rule).
 *
 * This plan is the bookkeeping; the writer does the file-system work:
 *   - before a member is placed over a path of the previous tree, the writer asks `vacate`: an
 *     unchanged inode there (still needed, maybe under another name) or a directory in the way
 *     of a non-directory is renamed into a stash directory inside the root first, so no order
 *     of renames, swaps or replacements loses anything;
 *   - an 'unchanged' entry is kept in place (same path), hard-linked from where the inode is now
 *     (files, symlinks, nodes) or renamed there (directories, with everything below them);
 *   - at the end (`settle`), once every write has landed: a previous path survives when this run
 *     placed it, or when its directory kept its listing (not dumped, not replaced) and its inode
 *     is still in use; the others are removed, deepest first, directories only when empty, never
 *     through a symlink; the stash goes; and the records of what survived untouched are carried
 *     into the new index, so it describes the whole tree again.
 */
import { randomBytes } from 'node:crypto';
import { P2VError } from '../errors.js';
import type { DumpLevel } from '../formats/format.js';
import type { IndexRecord } from '../store/content-index.js';
import type { RecordedIndex } from '../store/recorded-index.js';

type Placement = { how: 'dump' } | { how: 'same' | 'moved'; inode: number };

const when = (seconds: number) => new Date(seconds * 1000).toISOString();

/**
 * Check a dump against the index of the tree it will be applied to: undefined for a full
 * (level 0) dump, the plan for an incremental one. Refuses (P2V_USAGE) an incremental dump
 * without an index, with an index that records no dump, or relative to another dump than the
 * one the tree holds.
 */
export function planIncremental(level: DumpLevel, indexPath: string | undefined, index: RecordedIndex | undefined): IncrementalPlan | undefined {
  if (level.level === 0 && level.previousDate === 0) return undefined;
  const what = `a level ${level.level} dump (of ${when(level.date)}, relative to the dump of ${when(level.previousDate)})`;
  if (indexPath === undefined || index === undefined) {
    throw new P2VError('P2V_USAGE', `${what} holds only what changed since that dump: extract it into the tree of the previous level with --index FILE, the content index written when that level was extracted`);
  }
  if (!index.exists) throw new P2VError('P2V_USAGE', `${what} needs the index of the previous level, and ${indexPath} does not exist: extract the previous level with --index ${indexPath} first`);
  if (index.applying) {
    throw new P2VError(
      'P2V_USAGE',
      `the tree's index (${indexPath}) says a level ${index.applying.level} dump (of ${when(index.applying.date)}) was being applied and did not complete: the tree is partly one level, partly the other, and no incremental can follow; extract level 0 again into an empty directory, then the levels in order`,
    );
  }
  const stamp = index.stamp;
  if (!stamp) throw new P2VError('P2V_USAGE', `${what} needs the index of the previous level, and ${indexPath} records no dump: extract the previous level with --index ${indexPath} first`);
  if (stamp.date !== level.previousDate) {
    throw new P2VError(
      'P2V_USAGE',
      `${what} does not follow the tree's last dump (level ${stamp.level} of ${when(stamp.date)}, from ${indexPath}): apply the levels in the order they were taken, each relative to the one applied before (as restore -r)`,
    );
  }
  return new IncrementalPlan(index.allRecords(), level);
}

export class IncrementalPlan {
  /** a directory of ours inside the root, made on first use, removed at the end */
  readonly stashDir = `.zonep2v-stash-${randomBytes(6).toString('hex')}`;
  stashMade = false;
  /** the previous tree's members (not 'attrs') by path, and by inode in index order */
  private readonly atPath = new Map<string, IndexRecord>();
  private readonly byInode = new Map<number, IndexRecord[]>();
  private readonly attrsAt = new Map<string, IndexRecord[]>();
  /** what this run placed, by physical path */
  private readonly placed = new Map<string, Placement>();
  /** the directories this dump lists completely */
  private readonly dumpedDirs = new Set<string>();
  /** previous paths (directories, or anything stashed) → where that node is now */
  private readonly relocations = new Map<string, string>();
  private readonly stashedInodes = new Set<number>();
  private stashCount = 0;

  constructor(
    private readonly previous: readonly IndexRecord[],
    readonly level: DumpLevel,
  ) {
    for (const record of previous) {
      if (record.type === 'attrs') {
        const list = this.attrsAt.get(record.path);
        if (list) list.push(record);
        else this.attrsAt.set(record.path, [record]);
        continue;
      }
      this.atPath.set(record.path, record);
      if (record.inode === undefined) continue;
      const list = this.byInode.get(record.inode);
      if (list) list.push(record);
      else this.byInode.set(record.inode, [record]);
    }
  }

  /** A member of this dump placed at `physical` (a directory: one the dump lists completely). */
  noteDump(physical: string, isDir: boolean): void {
    this.placed.set(physical, { how: 'dump' });
    if (isDir) this.dumpedDirs.add(physical);
  }

  /** An unchanged inode kept at `physical` ('same': it was there already). */
  noteUnchanged(physical: string, how: 'same' | 'moved', inode: number): void {
    this.placed.set(physical, { how, inode });
  }

  /** The dump names `physical` but never delivered its inode: the previous tree's member there,
   *  if any and untouched, stays as it is (returned: its record goes on into the new index). */
  keepPrevious(physical: string): IndexRecord | undefined {
    const record = this.untouched(physical);
    if (record === undefined || record.type === 'dir') return undefined;
    this.placed.set(physical, { how: 'same', inode: record.inode ?? 0 });
    return record;
  }

  /** The previous tree's member at `physical` when it is still there untouched by this run. */
  untouched(physical: string): IndexRecord | undefined {
    if (this.placed.has(physical) || this.relocatedPath(physical) !== undefined) return undefined;
    return this.atPath.get(physical);
  }

  /** Must the node at `physical` (the previous tree's `record`) go to the stash before something
   *  else is placed there? Yes for a directory in the way of a non-directory (its contents are
   *  removed later, or it moves on), and for an unchanged inode not stashed yet. */
  mustStash(record: IndexRecord, existingIsDir: boolean, incomingIsDir: boolean): boolean {
    if (existingIsDir) return !incomingIsDir;
    const ino = record.inode;
    return ino !== undefined && !this.level.dumped(ino) && this.level.inUse(ino) && !this.stashedInodes.has(ino);
  }

  /** A fresh name in the stash (physical). */
  stashName(): string {
    return `${this.stashDir}/${++this.stashCount}`;
  }

  /** The node of the previous tree at `from` (and everything below it) is now at `to`. */
  relocate(from: string, to: string, record: IndexRecord | undefined): void {
    this.relocations.set(from, to);
    if (record?.inode !== undefined && to.startsWith(`${this.stashDir}/`)) this.stashedInodes.add(record.inode);
  }

  /** Where an unchanged inode is now (a path of the previous tree, moved or stashed), with its
   *  record; undefined when the previous index does not know it or it is gone. */
  sourceOf(inode: number): { record: IndexRecord; path: string } | undefined {
    const records = this.byInode.get(inode);
    if (!records) return undefined;
    const main = records.find((r) => r.type !== 'hardlink') ?? records[0]!;
    for (const record of records) {
      const moved = this.relocatedPath(record.path);
      if (moved !== undefined) return { record: main, path: moved };
      const placed = this.placed.get(record.path);
      if (!placed || (placed.how !== 'dump' && placed.inode === inode)) return { record: main, path: record.path };
    }
    // placed elsewhere in this run already (a second new name)
    for (const [path, placed] of this.placed) if (placed.how !== 'dump' && placed.inode === inode) return { record: main, path };
    return undefined;
  }

  /** The previous index's 'attrs' records of `path`. */
  attrsOf(path: string): IndexRecord[] {
    return this.attrsAt.get(path) ?? [];
  }

  /**
   * The end: which previous paths to remove (deepest first) and which records to carry into
   * the new index (what survived without being placed by this run).
   */
  settle(): { remove: string[]; carry: IndexRecord[] } {
    const remove: string[] = [];
    const carry: IndexRecord[] = [];
    const stashPrefix = `${this.stashDir}/`;
    for (const record of this.previous) {
      const moved = this.relocatedPath(record.path);
      if (moved !== undefined) {
        // gone with the stash, or moved with a directory (its own record was written then)
        if (moved.startsWith(stashPrefix) || (record.type !== 'attrs' && this.relocations.has(record.path))) continue;
        carry.push({ ...record, path: moved });
        continue;
      }
      const placed = this.placed.get(record.path);
      if (placed) {
        if (placed.how === 'same' && record.type === 'attrs') carry.push(record);
        continue;
      }
      if (this.exists(record.path)) carry.push(record);
      else if (record.type !== 'attrs') remove.push(record.path);
    }
    const depth = (p: string) => p.split('/').length;
    remove.sort((a, b) => depth(b) - depth(a));
    return { remove, carry };
  }

  private readonly existsMemo = new Map<string, boolean>();

  /** Is a previous path (not placed by this run) still part of the tree? */
  private exists(path: string): boolean {
    if (this.placed.has(path)) return true;
    let known = this.existsMemo.get(path);
    if (known === undefined) {
      const slash = path.lastIndexOf('/');
      const ino = this.atPath.get(path)?.inode;
      known = this.keepsListing(slash < 0 ? '' : path.slice(0, slash)) && (ino === undefined || this.level.inUse(ino));
      this.existsMemo.set(path, known);
    }
    return known;
  }

  /** Does directory `dir` still hold the names it had (not listed by this dump, not replaced)? */
  private keepsListing(dir: string): boolean {
    if (this.dumpedDirs.has(dir)) return false;
    if (dir === '') return true;
    if (this.atPath.get(dir)?.type !== 'dir' || this.relocatedPath(dir) !== undefined) return false;
    const placed = this.placed.get(dir);
    return placed ? placed.how === 'same' : this.exists(dir);
  }

  /** Where a previous path is now when it or a directory above it was moved; else undefined. */
  private relocatedPath(path: string): string | undefined {
    if (this.relocations.size === 0) return undefined;
    for (let end = path.length; end > 0; end = path.lastIndexOf('/', end - 1)) {
      const to = this.relocations.get(path.slice(0, end));
      if (to !== undefined) return to + path.slice(end);
    }
    return undefined;
  }
}
