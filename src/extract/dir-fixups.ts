/**
 * Directory metadata is applied last (creating files in a directory changes its mtime, and a
 * read-only directory would stop us writing into it), deepest first, each directory opened
 * with O_DIRECTORY|O_NOFOLLOW so a directory replaced by a symlink in the meantime is never
 * followed (libarchive CVE-2021-31566). O_NOFOLLOW guards the last name only: the directory
 * opened must also be the one at that very path, no symlink on the way (a directory above
 * replaced by a link under a spelling a case-folding file system takes for the same name, which
 * the writer's bookkeeping, keyed by bytes, cannot see).
 */
import * as fs from 'node:fs';
import { pathBytes } from '../entry.js';
import { alreadySet, modeAfterChown, tryChown, utimeValue } from './fs-bytes.js';

export interface DirMetadata {
  mode: number;
  uid: number;
  gid: number;
  mtimeSeconds: number;
}

export class DirFixups {
  private readonly pending = new Map<string, DirMetadata>();

  set(physical: string, metadata: DirMetadata): void {
    this.pending.set(physical, metadata);
  }

  /** Drop `physical` and everything below it (the directory was replaced). */
  forget(physical: string): void {
    this.pending.delete(physical);
    const prefix = `${physical}/`;
    for (const key of this.pending.keys()) if (key.startsWith(prefix)) this.pending.delete(key);
  }

  /** Apply all; returns the paths that could not be fixed, with the errno code, and those whose
   *  owner could not be set here (fs-bytes.ts tryChown; mode and times are set all the same). */
  apply(abs: (physical: string) => string, chown: boolean): { failures: { path: string; code: string }[]; ownerRefused: { path: string; code: string }[] } {
    const failures: { path: string; code: string }[] = [];
    const ownerRefused: { path: string; code: string }[] = [];
    // deepest first; each depth counted once (a comparator that split paths did it ~20 times
    // per directory)
    const depth = (p: string) => {
      let n = p === '' ? 0 : 1;
      for (let at = p.indexOf('/'); at >= 0; at = p.indexOf('/', at + 1)) n++;
      return n;
    };
    const order = [...this.pending.keys()].map((physical) => ({ physical, depth: depth(physical) })).sort((a, b) => b.depth - a.depth);
    for (const { physical } of order) {
      const metadata = this.pending.get(physical)!;
      let fd: number;
      try {
        fd = fs.openSync(pathBytes(abs(physical)), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
        // a later member of the image put a file there (a directory then a file of the same
        // name: the empty directory made way, write-worker.ts): the directory is gone, rightly
        if (code === 'ENOTDIR' && fs.lstatSync(pathBytes(abs(physical)), { throwIfNoEntry: false })?.isFile()) continue;
        failures.push({ path: physical, code });
        continue;
      }
      try {
        if (!openedAt(fd, abs(physical))) {
          failures.push({ path: physical, code: 'ELOOP' }); // a symlink on the way: not followed
          continue;
        }
        if (alreadySet(fs.fstatSync(fd), metadata, chown)) continue; // (the finally closes it)
        const refused = chown ? tryChown(() => fs.fchownSync(fd, metadata.uid, metadata.gid)) : undefined;
        if (refused !== undefined) ownerRefused.push({ path: physical, code: refused });
        fs.fchmodSync(fd, modeAfterChown(metadata.mode, refused));
        const mtime = utimeValue(metadata.mtimeSeconds);
        fs.futimesSync(fd, mtime, mtime);
      } catch (error) {
        failures.push({ path: physical, code: (error as NodeJS.ErrnoException).code ?? 'EIO' });
      } finally {
        fs.closeSync(fd);
      }
    }
    this.pending.clear();
    return { failures, ownerRefused };
  }
}

/** Is the directory open as `fd` the one at `path` (a real path: the root is resolved), reached
 *  through no symlink? Linux names an open file's path in /proc (one readlink); elsewhere, or
 *  without /proc, the path is resolved again and compared. */
function openedAt(fd: number, path: string): boolean {
  try {
    return (fs.readlinkSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' }) as Buffer).toString('latin1') === path;
  } catch {
    try {
      return (fs.realpathSync.native(pathBytes(path), { encoding: 'buffer' }) as Buffer).toString('latin1') === path;
    } catch {
      return false;
    }
  }
}
