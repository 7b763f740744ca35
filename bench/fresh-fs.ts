/**
 * A freshly made filesystem for each timed extraction.
 *
 * Why: on this kind of machine the root filesystem (ext4, no journal, mounted with `discard`) makes
 * file creation 5-20x slower for minutes after many deletes (the recently-deleted-inode check), and
 * every unlink pays for a discard. Timing extractions there measures the previous run's `rm -rf`.
 * So every timed run gets its own filesystem (see shared/reference/measurements.md):
 *
 *   ext4:  truncate -s SIZE img; mkfs.ext4 -q -F -O ^has_journal img; mount -o loop img mnt
 *   tmpfs: mount -t tmpfs -o size=SIZE tmpfs mnt
 *
 * and it is unmounted and deleted afterwards, also when the run fails or the benchmark is
 * interrupted: `withFreshFs` cleans up in `finally`, and SIGINT/SIGTERM/exit handlers clean up
 * whatever is still mounted (synchronously, since a signal handler cannot wait for promises).
 * Needs root (mount). Loop devices may be missing in containers: check `loopAvailable()` first.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type FsKind = 'ext4' | 'tmpfs';

export interface FreshFsOptions {
  kind: FsKind;
  /** filesystem size in bytes */
  sizeBytes: number;
  /** where the mount point (and, for ext4, the image file) are created */
  workDir: string;
  /** directory for the ext4 image file (default: workDir) */
  imageDir?: string;
}

export interface FreshFs {
  kind: FsKind;
  mountPoint: string;
  /** the loop image file (ext4 only) */
  image?: string;
  /** seconds spent making and mounting it (not part of any timing) */
  setupSeconds: number;
}

const live = new Set<FreshFs>();
const children = new Set<ChildProcess>();
let handlersInstalled = false;
let counter = 0;

/** True when a free loop device can be found (`losetup -f`). */
export function loopAvailable(): boolean {
  const r = spawnSync('losetup', ['-f'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim().startsWith('/dev/loop');
}

/** Makes and mounts a new filesystem. Prefer `withFreshFs`, which always cleans up. */
export function createFreshFs(opts: FreshFsOptions): FreshFs {
  installCleanupHandlers();
  const t0 = process.hrtime.bigint();
  const id = `${process.pid}-${++counter}`;
  const mountPoint = path.join(opts.workDir, `mnt-${opts.kind}-${id}`);
  fs.mkdirSync(mountPoint, { recursive: true });
  const ffs: FreshFs = { kind: opts.kind, mountPoint, setupSeconds: 0 };
  live.add(ffs);
  try {
    if (opts.kind === 'ext4') {
      const image = path.join(opts.imageDir ?? opts.workDir, `fs-${id}.img`);
      ffs.image = image;
      run('truncate', ['-s', String(opts.sizeBytes), image]);
      run('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', image]);
      run('mount', ['-o', 'loop', image, mountPoint]);
    } else {
      run('mount', ['-t', 'tmpfs', '-o', `size=${opts.sizeBytes}`, 'tmpfs', mountPoint]);
    }
  } catch (err) {
    disposeFreshFs(ffs);
    throw err;
  }
  ffs.setupSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return ffs;
}

/** Unmounts and deletes. Synchronous so the signal and exit handlers can use it. Never throws. */
export function disposeFreshFs(ffs: FreshFs): string[] {
  const problems: string[] = [];
  if (isMounted(ffs.mountPoint)) {
    // A killed child may still hold files open for a moment: retry, then detach lazily.
    let ok = false;
    for (let i = 0; i < 5 && !ok; i++) {
      ok = spawnSync('umount', [ffs.mountPoint], { stdio: 'ignore' }).status === 0;
      if (!ok) sleepMs(200);
    }
    if (!ok && spawnSync('umount', ['-l', ffs.mountPoint], { stdio: 'ignore' }).status !== 0) {
      problems.push(`could not unmount ${ffs.mountPoint}`);
    }
  }
  try {
    fs.rmdirSync(ffs.mountPoint);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`rmdir ${ffs.mountPoint}: ${String(err)}`);
  }
  if (ffs.image) {
    try {
      fs.unlinkSync(ffs.image);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`unlink ${ffs.image}: ${String(err)}`);
    }
  }
  live.delete(ffs);
  return problems;
}

/** Runs `fn` on a fresh filesystem and always unmounts and deletes it afterwards. */
export async function withFreshFs<T>(opts: FreshFsOptions, fn: (ffs: FreshFs) => Promise<T>): Promise<T> {
  const ffs = createFreshFs(opts);
  try {
    return await fn(ffs);
  } finally {
    for (const p of disposeFreshFs(ffs)) process.stderr.write(`warning: ${p}\n`);
  }
}

/**
 * Registers a child process (started detached, in its own process group) to be killed with its
 * whole group if we are interrupted, before the filesystems are unmounted.
 */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Unmounts everything still mounted; used by the handlers, callable by tests. */
export function cleanupAll(): void {
  for (const child of children) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
  for (const ffs of [...live]) for (const p of disposeFreshFs(ffs)) process.stderr.write(`warning: ${p}\n`);
}

function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up ${live.size} mounted filesystem(s)\n`);
      cleanupAll();
      process.exit(code);
    });
  }
  process.once('exit', () => cleanupAll());
}

function isMounted(mountPoint: string): boolean {
  const abs = path.resolve(mountPoint);
  try {
    return fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .some((line) => line.split(' ')[1] === abs);
  } catch {
    return spawnSync('mountpoint', ['-q', abs]).status === 0;
  }
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()}`);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
