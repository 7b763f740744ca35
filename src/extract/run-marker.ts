/**
 * The run marker: a file at the top of the tree while a run writes into it.
 *
 * A run that is killed (SIGKILL, the OOM killer, a power cut) cannot clean up after itself: it
 * can leave a temporary file of ours (`.zonep2v-<hex>`, made when a file is replaced), a stage
 * of device nodes (`.zonep2v-nodes-<hex>`) or an incremental dump's stash (`.zonep2v-stash-<hex>`)
 * anywhere in the tree. A re-run would not know them from the image's own files, and the zone
 * would keep them. So a run claims the tree first by creating the marker, and removes it once
 * every write of its own has landed or been taken back. A marker found at the start is
 * therefore either a live run's (we refuse to write the tree at the same time) or the trace of
 * a run that died: then the leftovers are removed, in every directory, before anything else.
 *
 * The marker says which process made it. On Linux a process is recognised by its pid and start
 * time (/proc), so a pid reused by another program after a crash does not keep the tree locked.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { P2VError } from '../errors.js';
import { pathBytes } from '../entry.js';
import { CREATE_NEW, O_NOFOLLOW, O_RDONLY, join } from './fs-bytes.js';

export const markerName = '.zonep2v-run';

/** The markers runs of this process hold now. */
const heldHere = new Set<string>();

/** Our temporary names: `.zonep2v-` then 12 hex digits (randomBytes(6)), plain or for a stage
 *  of nodes or a stash (zone-writer.ts, write-worker.ts, node-batch.ts, special-nodes.ts,
 *  incremental.ts). */
const leftoverName = /^\.zonep2v-(?:(?:nodes|stash)-)?[0-9a-f]{12}$/;

interface Holder {
  pid: number;
  host: string;
  /** the process's start time in clock ticks since boot (Linux), or null */
  start: string | null;
}

export interface RunClaim {
  /** leftovers of a run that died, removed before this one began */
  readonly removed: number;
  /** Remove the marker (once every write of this run has landed or been taken back). */
  release(): void;
  /** The run is over: a marker still there (its writes did not settle) is a dead run's now. */
  end(): void;
}

/**
 * Claim `root` (an existing directory, real path) for this run: refuse if another live run holds
 * it, clean up after a dead one. Nothing outside `root` is touched.
 */
export function claimTree(root: string): RunClaim {
  const markerPath = join(root, markerName);
  let removed = 0;
  for (let attempt = 0; ; attempt++) {
    const made = createMarker(markerPath);
    if (made) {
      heldHere.add(markerPath);
      return {
        removed,
        release: () => {
          heldHere.delete(markerPath);
          releaseMarker(markerPath, made);
        },
        end: () => heldHere.delete(markerPath),
      };
    }
    if (attempt >= 2) throw new P2VError('P2V_BUSY', `${markerPath} keeps coming back: another run is starting in this tree`);
    // the image's own member of that name (written over our marker by an earlier run): left
    // alone, and this run goes unmarked
    if (!isOurs(markerPath)) return { removed, release: () => undefined, end: () => undefined };
    const holder = readHolder(markerPath);
    if (holder && isAlive(holder, markerPath)) {
      throw new P2VError('P2V_BUSY', `another zonep2v run (pid ${holder.pid} on ${holder.host}) is writing ${root}: wait for it to end${holder.host === os.hostname() ? '' : `, or remove ${markerPath} if it is not running`}`);
    }
    removed += removeLeftovers(root);
    fs.rmSync(pathBytes(markerPath), { force: true, recursive: true });
  }
}

/** Has a run that died left its marker in `root`? (The settled check is not trusted then: the
 *  tree may hold leftovers no index knows.) */
export function markerPresent(root: string): boolean {
  return isOurs(join(root, markerName));
}

/** A marker of ours: a file that names its run (it never exists without its content:
 *  createMarker). Anything else there is a member of the image. */
function isOurs(markerPath: string): boolean {
  const stat = fs.lstatSync(pathBytes(markerPath), { throwIfNoEntry: false });
  return stat?.isFile() === true && readHolder(markerPath) !== undefined;
}

/** The new marker's inode, or undefined when one is there already. It is written under a
 *  temporary name of ours and linked into place, so another run never finds it empty (it took
 *  an empty one for a dead run's, swept the tree and wrote into it at the same time); a run
 *  killed in between leaves a temporary name the sweep knows. */
function createMarker(markerPath: string): bigint | undefined {
  const temporary = `${markerPath.slice(0, markerPath.length - markerName.length)}.zonep2v-${randomBytes(6).toString('hex')}`;
  const fd = fs.openSync(pathBytes(temporary), CREATE_NEW, 0o600);
  let ino: bigint;
  try {
    const holder: Holder = { pid: process.pid, host: os.hostname(), start: startTicks(process.pid) };
    fs.writeSync(fd, `${JSON.stringify(holder)}\n`);
    ino = fs.fstatSync(fd, { bigint: true }).ino;
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(pathBytes(temporary), pathBytes(markerPath));
    return ino;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  } finally {
    fs.unlinkSync(pathBytes(temporary));
  }
}

/** Only our own marker goes: an image may hold a member of that name, written over it. */
function releaseMarker(markerPath: string, ino: bigint): void {
  const now = fs.lstatSync(pathBytes(markerPath), { bigint: true, throwIfNoEntry: false });
  if (now?.isFile() && now.ino === ino) fs.unlinkSync(pathBytes(markerPath));
}

/** Who made the marker; undefined when it cannot be read as ours (a dead run's half-written
 *  marker, or not a file at all): nobody holds it then. */
function readHolder(markerPath: string): Holder | undefined {
  let fd: number;
  try {
    fd = fs.openSync(pathBytes(markerPath), O_RDONLY | O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const text = Buffer.alloc(4096);
    const length = fs.readSync(fd, text, 0, text.length, 0);
    const holder = JSON.parse(text.subarray(0, length).toString('utf8')) as Partial<Holder>;
    if (!Number.isInteger(holder.pid) || typeof holder.host !== 'string') return undefined;
    return { pid: holder.pid!, host: holder.host, start: typeof holder.start === 'string' ? holder.start : null };
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function isAlive(holder: Holder, markerPath: string): boolean {
  // a run on another host (a tree on NFS) cannot be looked at from here: assume it runs
  if (holder.host !== os.hostname()) return true;
  // this process: a run of it that holds the tree now (the library may run two at once), or
  // an earlier one that threw hard
  if (holder.pid === process.pid) return heldHere.has(markerPath);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists, but is not ours to signal; its start time still tells if it is the run
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // the pid exists; on Linux, is it still the process that made the marker?
  const start = startTicks(holder.pid);
  return holder.start === null || start === null || start === holder.start;
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTicks(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name (field 2) is in parentheses and may hold spaces: count from after it
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** Remove our temporary names from every directory of the tree (not crossing into another file
 *  system, never following a symlink); returns how many went. */
function removeLeftovers(root: string): number {
  const device = fs.lstatSync(pathBytes(root)).dev;
  let removed = 0;
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(pathBytes(dir), { withFileTypes: true, encoding: 'buffer' }) as unknown as fs.Dirent[];
    } catch {
      continue; // gone, or not readable: nothing of ours can be made there either
    }
    for (const dirent of names) {
      const name = (dirent.name as unknown as Buffer).toString('latin1');
      const path = join(dir, name);
      if (leftoverName.test(name)) {
        fs.rmSync(pathBytes(path), { recursive: true, force: true });
        removed++;
      } else if (dirent.isDirectory() && fs.lstatSync(pathBytes(path)).dev === device) {
        pending.push(path);
      }
    }
  }
  return removed;
}
