/**
 * In-root path resolution (containerd's fs.RootPath, Go's os.Root): every directory on the way
 * to a member is looked at with lstat; a symlink met on the way is interpreted as if the zone
 * root were "/" (absolute targets restart at the root, ".." stops at the root), so a system
 * image's absolute links keep working and nothing ever resolves outside the root.
 *
 * Paths here are "physical": relative to the root, made only of real directories, joined by
 * "/", "" being the root. `knownDirs` caches those verified in this run (node-tar's dirCache);
 * whoever replaces or moves a directory must call `forgetAll()` so a cached directory later
 * swapped for a symlink is looked at again (CVE-2021-32803).
 */
import { P2VError } from '../errors.js';
import { displayPath } from '../entry.js';
import { fsb, lstatOrUndefined } from './fs-bytes.js';

export interface ResolverHooks {
  /** called before looking at a path on disk: lets the writer wait for writes in flight there */
  beforeTouch(physical: string): Promise<void> | void;
}

/** Mode of directories the image implies but does not list (cpio -d uses the same default). */
const impliedDirMode = 0o755;

/** Components one resolution may walk, its own and those of the symlinks it follows. 40 hops
 *  of 4 KB targets are ~80k components: an image of such a chain and many members beneath it
 *  kept a run busy for hours (3,000 members: over 10 minutes unfinished). A system root's links
 *  ("../../usr/lib/x", two or three deep) walk a few dozen. */
const maxComponentsWalked = 4096;

export class RootResolver {
  private readonly knownDirs = new Set<string>(['']);
  /** the known directories this run created: nothing in them predates the run */
  private readonly createdDirs = new Set<string>();

  constructor(
    /** absolute path of the root, byte string, no trailing slash */
    readonly root: string,
    private readonly maxSymlinkHops: number,
    private readonly hooks: ResolverHooks,
  ) {}

  abs(physical: string): string {
    return physical === '' ? this.root : `${this.root}/${physical}`;
  }

  noteDir(physical: string, created = false): void {
    this.know(physical);
    if (created) this.createdDirs.add(physical);
  }

  private know(physical: string): void {
    this.knownDirs.add(physical);
  }

  /** Did this run create the directory (so a name in it can only be one this run made)? */
  createdThisRun(physical: string): boolean {
    return this.createdDirs.has(physical);
  }

  isKnownDir(physical: string): boolean {
    return this.knownDirs.has(physical);
  }

  /** Forget `physical` and everything below it: it was removed or replaced. */
  /** A directory was replaced or moved: nothing cached is trusted any more. */
  forgetAll(): void {
    // everything, not only `physical` and what lies below it: on a file system that folds names
    // (ZFS casesensitivity=insensitive or normalization=, casefold ext4/tmpfs) the member that
    // replaced a directory may spell its name otherwise than the cache does ("d" for "D"), and a
    // cached "D" would lead later members through the link now there (node-tar CVE-2021-32803
    // with CVE-2021-37712's folding). Directories are looked at again as members come; a
    // replaced directory is rare enough that the lstats do not matter.
    this.knownDirs.clear();
    this.createdDirs.clear();
    this.knownDirs.add(''); // the root is the destination itself, never a link
  }

  /** Is every directory above `physical` (a clean physical path) a real directory now, no
   *  symlink among them? Looked at afresh, not from the cache: for paths taken from the last
   *  run's index, where anything may have been put in the meantime. `seen` keeps the answers
   *  of a batch of such questions asked at one moment (its owner updates what it changes). */
  realDirectoriesAbove(physical: string, seen?: Map<string, boolean>): boolean {
    for (let at = physical.indexOf('/'); at > 0; at = physical.indexOf('/', at + 1)) {
      const dir = physical.slice(0, at);
      let real = seen?.get(dir);
      if (real === undefined) {
        real = lstatOrUndefined(this.abs(dir))?.isDirectory() ?? false;
        seen?.set(dir, real);
      }
      if (!real) return false;
    }
    return true;
  }

  /** The fast path of `parentOf`, without waiting: the logical parent when it is made only of
   *  real directories already checked (no symlink on the way), else undefined. */
  knownParentOf(components: readonly string[]): string | undefined {
    const joined = components.length === 1 ? '' : components.length === 2 ? components[0]! : components.slice(0, -1).join('/');
    return this.knownDirs.has(joined) ? joined : undefined;
  }

  /**
   * The physical directory that holds the member named by `components` (the last component is
   * the member itself and is never followed). Missing directories are created when `create`.
   */
  async parentOf(components: readonly string[], create: boolean, entry: string): Promise<string> {
    const logical = components.slice(0, -1);
    // fast path: a logical parent made only of real directories we already checked
    const joined = logical.join('/');
    if (this.knownDirs.has(joined)) return joined;

    // the components still to walk, next one last (a symlink's target is pushed in reverse)
    const pending = logical.reverse();
    let physical = '';
    let hops = 0;
    let walked = 0;
    while (pending.length > 0) {
      const component = pending.pop()!;
      if (++walked > maxComponentsWalked) throw skipped(entry, `more than ${maxComponentsWalked} path components to walk through its symlinks`);
      if (component === '' || component === '.') continue;
      if (component === '..') {
        physical = physical.slice(0, Math.max(0, physical.lastIndexOf('/'))); // clamped at the root
        continue;
      }
      const candidate = physical === '' ? component : `${physical}/${component}`;
      if (this.knownDirs.has(candidate)) {
        physical = candidate;
        continue;
      }
      await this.hooks.beforeTouch(candidate);
      const stat = lstatOrUndefined(this.abs(candidate));
      if (!stat) {
        if (!create) throw skipped(entry, `"${displayPath(candidate)}" does not exist`);
        fsb.mkdir(this.abs(candidate), impliedDirMode);
        this.noteDir(candidate, true);
        physical = candidate;
      } else if (stat.isDirectory()) {
        this.know(candidate);
        physical = candidate;
      } else if (stat.isSymbolicLink()) {
        if (++hops > this.maxSymlinkHops) throw skipped(entry, `more than ${this.maxSymlinkHops} symlinks on the way (a loop?)`);
        const target = fsb.readlink(this.abs(candidate));
        if (target.startsWith('/')) physical = '';
        const parts = target.split('/');
        for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]!);
      } else {
        throw skipped(entry, `"${displayPath(candidate)}" is in the way and is not a directory`, 'P2V_BLOCKED');
      }
    }
    return physical;
  }
}

function skipped(entry: string, why: string, code: 'P2V_ENTRY_INVALID' | 'P2V_BLOCKED' = 'P2V_ENTRY_INVALID'): P2VError {
  return new P2VError(code, `cannot place the member: ${why}; skipped`, { entry: displayPath(entry), severity: 'skipped' });
}
