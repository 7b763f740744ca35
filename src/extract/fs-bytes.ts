/**
 * File-system calls on byte-string paths (see entry.ts): Solaris names need not be UTF-8, so
 * every path crosses into Node as a Buffer of its exact bytes.
 */
import * as fs from 'node:fs';
import { pathBytes } from '../entry.js';

export const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_TRUNC } = fs.constants;

/** Create a new file, never following or replacing anything already there. */
export const CREATE_NEW = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

export function lstatOrUndefined(path: string): fs.Stats | undefined {
  // no exception for a missing name: building one (stack trace included) cost more than the
  // lstat itself, and a first extraction asks this of every directory and symlink
  return fs.lstatSync(pathBytes(path), { throwIfNoEntry: false });
}

export function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

export const fsb = {
  lstat: (p: string) => fs.lstatSync(pathBytes(p)),
  mkdir: (p: string, mode: number) => fs.mkdirSync(pathBytes(p), { mode }),
  rmdir: (p: string) => fs.rmdirSync(pathBytes(p)),
  unlink: (p: string) => fs.unlinkSync(pathBytes(p)),
  readlink: (p: string) => (fs.readlinkSync(pathBytes(p), { encoding: 'buffer' }) as Buffer).toString('latin1'),
  symlink: (target: string, p: string) => fs.symlinkSync(pathBytes(target), pathBytes(p)),
  link: (existing: string, p: string) => fs.linkSync(pathBytes(existing), pathBytes(p)),
  rename: (from: string, to: string) => fs.renameSync(pathBytes(from), pathBytes(to)),
  lchown: (p: string, uid: number, gid: number) => fs.lchownSync(pathBytes(p), uid, gid),
  lutimes: (p: string, atime: number, mtime: number) => fs.lutimesSync(pathBytes(p), utimeValue(atime), utimeValue(mtime)),
  chmod: (p: string, mode: number) => fs.chmodSync(pathBytes(p), mode),
  open: (p: string, flags: number, mode?: number) => fs.openSync(pathBytes(p), flags, mode),
};

/**
 * Change an owner, unless owners cannot be set here: root in a user namespace where the uid/gid
 * is not mapped (EINVAL), or without CAP_CHOWN (EPERM), as in many containers. Returns that
 * code instead of throwing it; the caller keeps the member, drops its set-id bits (they belong
 * to an owner it does not have: GNU tar does the same) and reports it. Other errors throw.
 */
export function tryChown(change: () => void): string | undefined {
  try {
    change();
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'EPERM') return code;
    throw error;
  }
}

/** Set-uid and set-gid bits. */
export const SET_ID_BITS = 0o6000;

/** The mode to set after `tryChown`: as given, or without the set-id bits when the owner was
 *  refused (they belong to an owner the member does not have). */
export function modeAfterChown(mode: number, refused: string | undefined): number {
  return refused === undefined ? mode : mode & ~SET_ID_BITS;
}

/** Does a stat's mtime (ms) equal a time we set (seconds)? Times go through Node's utimes
 *  family as seconds in a double, so they come back within a microsecond, not exactly. */
export function sameMtime(statMtimeMs: number, seconds: number): boolean {
  // the time set lands in the microsecond asked for (nsToSeconds); both doubles are ~0.2 us
  // coarse in 2026, so a bound of exactly 1 us said "changed" for 0.3% of nanosecond times
  return Math.abs(statMtimeMs / 1000 - seconds) < 1.5e-6;
}

/** A time in seconds as Node's utimes family must be given it: Node replaces a *negative
 *  number* by the current time (a 1969 mtime became the time of extraction), while a numeric
 *  string - documented, and passed through as is - keeps it. */
export function utimeValue(seconds: number): number | string {
  return seconds < 0 ? String(seconds) : seconds;
}

/** Is a node's metadata what a member wants already (a re-run)? Then nothing is set, and its
 *  change time stays as it was. */
export function alreadySet(stat: fs.Stats, wanted: { mode: number; uid: number; gid: number; mtimeSeconds: number }, chown: boolean): boolean {
  return (stat.mode & 0o7777) === wanted.mode && (!chown || (stat.uid === wanted.uid && stat.gid === wanted.gid)) && sameMtime(stat.mtimeMs, wanted.mtimeSeconds);
}

/** Nanoseconds since the epoch → the seconds value Node's utimes family takes, whose first six
 *  decimals are those of `ns`. A double holds a 2026 time to ~0.2 us, and libuv cuts what it is
 *  given to whole microseconds (uv__fs_to_timespec): the nearest double to .519553099 could
 *  become .519552. When it would, the middle of the right microsecond is given instead. */
export function nsToSeconds(ns: bigint): number {
  const seconds = Number(ns) / 1e9;
  // whole seconds (cpio, ustar, dump): exact. (Not "seconds is a whole number": .999999999
  // rounds up to one.)
  if (ns % 1_000_000_000n === 0n) return seconds;
  const magnitude = (ns < 0n ? -ns : ns) / 1000n; // the six decimals, as written
  if (libuvMicros(seconds) === magnitude) return seconds;
  return (ns < 0n ? -1 : 1) * (Number(magnitude * 1000n + 500n) / 1e9);
}

/** What libuv makes of `seconds`, as |microseconds| the way decimals are written: its
 *  conversion, in the same double arithmetic (seconds and nanoseconds truncated, then the
 *  nanoseconds cut to microseconds and a negative remainder borrowed from the seconds). */
function libuvMicros(seconds: number): bigint {
  let whole = Math.trunc(seconds);
  let nanos = Math.trunc((seconds - whole) * 1e9);
  nanos -= nanos % 1000;
  if (nanos < 0) {
    nanos += 1e9;
    whole -= 1;
  }
  const total = BigInt(whole) * 1_000_000_000n + BigInt(nanos);
  return (total < 0n ? -total : total) / 1000n;
}

/** Close a descriptor on a path that already failed: the error being thrown says what went
 *  wrong, and a close that fails too (NFS reports a full disk there) still releases it. */
export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // released all the same
  }
}
