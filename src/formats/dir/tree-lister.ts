/**
 * The file-system half of a directory walk: readdir and lstat of every name, depth first,
 * children in byte order, without crossing mount points (find's -xdev: a mount point itself is
 * listed, nothing below it). Runs in its own thread (workers/walk-worker.ts): those calls were
 * half of the main thread's time on a no-change re-copy. walk.ts turns the batches into entries.
 *
 * A batch is compact so that it crosses threads cheaply: per record one path, a few numbers and
 * at most one text (symlink target, hard-link target, or the file's source stamp).
 * Hard links: a file whose (dev, ino) came before with nlink > 1 is a 'hardlink' to the first name.
 */
import * as fs from 'node:fs';
import { pathBytes, typeFromMode, type EntryType } from '../../entry.js';
import type { Warning } from '../../extract/types.js';

/** Record kinds, as their index in `nums[i * RECORD_FIELDS]`: every type a mode can have
 *  (entry.ts typeFromMode), and 'hardlink' for a later name of a file met before. */
export const KINDS: readonly EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'socket'];

/** Numbers per record: kind, mode, uid, gid, size, mtime seconds, mtime nanoseconds, rdev. */
export const RECORD_FIELDS = 8;

export interface ListedBatch {
  /** relative byte paths, joined by NUL (no name holds one) */
  paths: string;
  nums: Float64Array;
  /** one per symlink (target), hard link (first name) and file ("identity|stamp"), in record order,
   *  joined by NUL (a symlink target holds no NUL either) */
  texts: string;
  count: number;
  warnings: Warning[];
}

class BatchBuilder {
  private paths: string[] = [];
  private texts: string[] = [];
  private nums: Float64Array;
  private warnings: Warning[] = [];

  constructor(private readonly capacity: number) {
    this.nums = new Float64Array(capacity * RECORD_FIELDS);
  }

  get full(): boolean {
    return this.paths.length >= this.capacity;
  }

  get empty(): boolean {
    return this.paths.length === 0 && this.warnings.length === 0;
  }

  warn(warning: Warning): void {
    this.warnings.push(warning);
  }

  add(path: string, kind: EntryType, stat: fs.BigIntStats, text: string | undefined): void {
    const at = this.paths.length * RECORD_FIELDS;
    const n = this.nums;
    n[at] = KINDS.indexOf(kind);
    n[at + 1] = Number(stat.mode) & 0o7777;
    n[at + 2] = Number(stat.uid);
    n[at + 3] = Number(stat.gid);
    n[at + 4] = kind === 'file' ? Number(stat.size) : 0;
    // seconds and nanoseconds apart: a time in ns is beyond a double's exact range
    n[at + 5] = Number(stat.mtimeNs / 1_000_000_000n);
    n[at + 6] = Number(stat.mtimeNs % 1_000_000_000n);
    n[at + 7] = Number(stat.rdev);
    this.paths.push(path);
    if (text !== undefined) this.texts.push(text);
  }

  take(): ListedBatch {
    const batch: ListedBatch = { paths: this.paths.join('\0'), nums: this.nums.slice(0, this.paths.length * RECORD_FIELDS), texts: this.texts.join('\0'), count: this.paths.length, warnings: this.warnings };
    this.paths = [];
    this.texts = [];
    this.warnings = [];
    return batch;
  }
}

function sameDirectory(absolute: string, identity: string): boolean {
  const stat = fs.lstatSync(pathBytes(absolute), { bigint: true, throwIfNoEntry: false });
  return stat !== undefined && stat.isDirectory() && `${stat.dev}:${stat.ino}` === identity;
}

const replaced = () => Object.assign(new Error('replaced'), { code: 'ESOURCECHANGED' });

/** A directory whose members are not listed: it is still copied (its parent listed it), empty. */
function warnUnlisted(batch: BatchBuilder, relative: string, error: unknown): void {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ESOURCECHANGED') {
    batch.warn({ code: 'P2V_SOURCE_CHANGED', message: 'directory replaced while the tree was copied (not the one listed): its members not copied; copy it again', entry: relative });
  } else batch.warn({ code: 'P2V_IO', message: `cannot list directory: ${code}`, entry: relative });
}

/** A source file changed within this long before the walk reached it gets no stamp. */
const racyMarginMs = 1000;

/**
 * Every name under `root` (a byte path to a directory, already checked), in batches of up to
 * `batchSize` records; `rootDev` is the root's device (mount points are not descended).
 */
export function* listTree(root: string, rootDev: bigint, batchSize: number): Generator<ListedBatch> {
  const batch = new BatchBuilder(batchSize);
  const links = new Map<string, string>();
  // a file changed this recently is not stamped (an empty stamp): file-system clocks tick
  // coarsely, so a second write in the same tick - after we read the file - would leave the
  // stamp as it is, and the next run would trust a copy of the first write ("racy git")
  const racyAfterNs = BigInt(Date.now() - racyMarginMs) * 1_000_000n;
  // depth-first with an explicit stack of directories still to list: relative byte path, and
  // the identity its parent's listing saw ("dev:ino"; the root's is checked by the caller)
  const pending: [string, string | undefined][] = [['', undefined]];
  while (pending.length > 0) {
    const [relative, identity] = pending.pop()!;
    const absolute = relative === '' ? root : `${root}/${relative}`;
    // the directory listed must be the one its parent's listing saw, before and after: one
    // replaced by a symlink (a live or hostile source) would lead the listing out of the tree
    const stillThere = () => identity === undefined || sameDirectory(absolute, identity);
    let names: Buffer[];
    try {
      if (!stillThere()) throw replaced();
      names = fs.readdirSync(pathBytes(absolute), { encoding: 'buffer' }) as Buffer[];
    } catch (error) {
      warnUnlisted(batch, relative, error);
      continue;
    }
    names.sort(Buffer.compare);
    const subdirectories: [string, string][] = [];
    const children: [string, EntryType, fs.BigIntStats, string | undefined][] = [];
    for (const nameBytes of names) {
      const name = nameBytes.toString('latin1');
      const path = relative === '' ? name : `${relative}/${name}`;
      const sourcePath = `${root}/${path}`;
      let stat: fs.BigIntStats;
      try {
        stat = fs.lstatSync(pathBytes(sourcePath), { bigint: true });
      } catch (error) {
        // vanished while we walked (a live system): not an error of the image
        batch.warn({ code: 'P2V_IO', message: `skipped: lstat failed: ${(error as NodeJS.ErrnoException).code}`, entry: path });
        continue;
      }
      const kind = typeFromMode(Number(stat.mode));
      if (kind === undefined) {
        batch.warn({ code: 'P2V_ENTRY_INVALID', message: 'unknown file type: skipped', entry: path });
        continue;
      }
      let text: string | undefined;
      let recorded: EntryType = kind;
      if (kind === 'dir') {
        if (stat.dev === rootDev) subdirectories.push([path, `${stat.dev}:${stat.ino}`]); // -xdev
      } else if (kind === 'symlink') {
        try {
          text = (fs.readlinkSync(pathBytes(sourcePath), { encoding: 'buffer' }) as Buffer).toString('latin1');
        } catch (error) {
          // no longer a symlink (a live system): skipped as a member that vanished is
          batch.warn({ code: 'P2V_IO', message: `skipped: readlink failed: ${(error as NodeJS.ErrnoException).code}`, entry: path });
          continue;
        }
      } else if (kind === 'file') {
        const first = stat.nlink > 1n ? links.get(`${stat.dev}:${stat.ino}`) : undefined;
        if (first !== undefined) {
          recorded = 'hardlink';
          text = first;
        } else {
          if (stat.nlink > 1n) links.set(`${stat.dev}:${stat.ino}`, path);
          // "identity|stamp": the identity the copy must find (entry.ts sourceIdentity); the
          // stamp - identity and change time - equal to the one in the content index means the
          // file has not changed since it was copied (entry.ts sourceStamp); none when racy
          const identity = `${stat.dev}:${stat.ino}`;
          text = `${identity}|${stat.ctimeNs > racyAfterNs ? '' : `${identity}:${stat.ctimeNs}:${stat.size}:${stat.mtimeNs}`}`;
        }
      }
      children.push([path, recorded, stat, text]);
    }
    if (!stillThere()) {
      warnUnlisted(batch, relative, replaced());
      continue;
    }
    for (const [path, kind, stat, text] of children) {
      batch.add(path, kind, stat, text);
      if (batch.full) yield batch.take();
    }
    // pop() takes the last: push in reverse so children come out in name order
    for (let i = subdirectories.length - 1; i >= 0; i--) pending.push(subdirectories[i]!);
  }
  if (!batch.empty) yield batch.take();
}
