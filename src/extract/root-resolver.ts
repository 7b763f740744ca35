/**
 * In-root path resolution (containerd's fs.RootPath, Go's os.Root): every directory on the way
 * to a member is looked at with lstat; a symlink met on the way is interpreted as if the zone
 * root were "/" (absolute targets restart at the root, ".." stops at the root), so a system
 * image's absolute links keep working and nothing ever resolves outside the root.
 *
 * Paths here are "physical": relative to the root, made only of real directories, joined by
 * "/", "" being the root. `knownDirs` caches those verified in this run (node-tar's dirCache);
 * whoever replaces a path must call `forget()` so a cached directory later swapped for a
 * symlink is looked at again (CVE-2021-32803).
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
    this.knownDirs.add(physical);
    if (created) this.createdDirs.add(physical);
  }

  /** Did this run create the directory (so a name in it can only be one this run made)? */
  createdThisRun(physical: string): boolean {
    return this.createdDirs.has(physical);
  }

  isKnownDir(physical: string): boolean {
    return this.knownDirs.has(physical);
  }

  /** Forget `physical` and everything below it: it was removed or replaced. */
  forget(physical: string): void {
    this.knownDirs.delete(physical);
    this.createdDirs.delete(physical);
    const prefix = `${physical}/`;
    for (const dir of this.knownDirs) if (dir.startsWith(prefix)) this.knownDirs.delete(dir);
    for (const dir of this.createdDirs) if (dir.startsWith(prefix)) this.createdDirs.delete(dir);
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

    const queue = [...logical];
    const physical: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const component = queue.shift()!;
      if (component === '' || component === '.') continue;
      if (component === '..') {
        physical.pop(); // clamped at the root: ".." of the root is the root
        continue;
      }
      const candidate = physical.length === 0 ? component : `${physical.join('/')}/${component}`;
      if (this.knownDirs.has(candidate)) {
        physical.push(component);
        continue;
      }
      await this.hooks.beforeTouch(candidate);
      const stat = lstatOrUndefined(this.abs(candidate));
      if (!stat) {
        if (!create) throw skipped(entry, `"${displayPath(candidate)}" does not exist`);
        fsb.mkdir(this.abs(candidate), impliedDirMode);
        this.noteDir(candidate, true);
        physical.push(component);
      } else if (stat.isDirectory()) {
        this.knownDirs.add(candidate);
        physical.push(component);
      } else if (stat.isSymbolicLink()) {
        if (++hops > this.maxSymlinkHops) throw skipped(entry, `more than ${this.maxSymlinkHops} symlinks on the way (a loop?)`);
        const target = fsb.readlink(this.abs(candidate));
        if (target.startsWith('/')) physical.length = 0;
        queue.unshift(...target.split('/'));
      } else {
        throw skipped(entry, `"${displayPath(candidate)}" is in the way and is not a directory`, 'P2V_BLOCKED');
      }
    }
    return physical.join('/');
  }
}

function skipped(entry: string, why: string, code: 'P2V_ENTRY_INVALID' | 'P2V_BLOCKED' = 'P2V_ENTRY_INVALID'): P2VError {
  return new P2VError(code, `cannot place the member: ${why}; skipped`, { entry: displayPath(entry), severity: 'skipped' });
}
