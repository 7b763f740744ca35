/**
 * Device nodes and FIFOs one at a time. Node.js has no mknod(2), so these go through the
 * system's `mknod` and `mkfifo` commands, a process each (~2.5 ms). The writer makes nodes in
 * batches with one process (node-batch.ts); this is its fallback, and the precise error when a
 * node cannot be made. The final component was checked not to exist; mknod creates, it never
 * follows a symlink there.
 *
 * The path never crosses argv as text: Node turns every argument into UTF-8, a Buffer included
 * (it is decoded first), so a name byte that is not UTF-8 (0xff) became U+FFFD, bytes ef bf bd:
 * another name, and with a symlink of that name in the root ("\xef\xbf\xbd" -> /outside) beside
 * a real directory "\xff", a FIFO member "\xff/p" was made as /outside/p (a device node too, as
 * root). So the parent directory is opened here (O_DIRECTORY|O_NOFOLLOW, by its exact bytes)
 * and handed to the command as descriptor 3, which names it /proc/self/fd/3; the node is made
 * there under its own name when that name is valid UTF-8 (it then survives argv), otherwise
 * under an ASCII temporary name that is renamed to the real one by its exact bytes.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { pathBytes } from '../entry.js';

export type SpecialType = 'char' | 'block' | 'fifo';

export function makeSpecialNode(path: string, type: SpecialType, mode: number, major = 0, minor = 0): void {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash) || '/';
  const name = path.slice(slash + 1);
  const bytes = Buffer.from(name, 'latin1');
  const text = bytes.toString('utf8');
  // the name as argv can carry it, or a temporary one to rename from
  const made = Buffer.from(text, 'utf8').equals(bytes) ? text : `.zonep2v-${randomBytes(6).toString('hex')}`;
  const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
  const dirFd = fs.openSync(pathBytes(dir), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    runMknod(`/proc/self/fd/3/${made}`, dirFd, type, mode, major, minor);
    if (made !== text) {
      try {
        fs.renameSync(pathBytes(`${dir}/${made}`), pathBytes(path));
      } catch (error) {
        fs.rmSync(pathBytes(`${dir}/${made}`), { force: true });
        throw error;
      }
    }
  } finally {
    fs.closeSync(dirFd);
  }
}

function runMknod(target: string, dirFd: number, type: SpecialType, mode: number, major: number, minor: number): void {
  // permission bits only: GNU mknod/mkfifo refuse set-id and sticky bits in -m ("mode must
  // specify only file permission bits"); the writer chmods the full mode afterwards
  const modeText = (mode & 0o777).toString(8);
  const args = type === 'fifo' ? ['-m', modeText, target] : ['-m', modeText, target, type === 'char' ? 'c' : 'b', String(major), String(minor)];
  const command = type === 'fifo' ? 'mkfifo' : 'mknod';
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe', dirFd] });
  if (result.error || result.status !== 0) {
    const why = result.error ? (result.error as NodeJS.ErrnoException).code ?? result.error.message : result.stderr.toString().trim().split('\n')[0];
    const error: NodeJS.ErrnoException = new Error(`${command} failed: ${why}`);
    error.code = (result.error as NodeJS.ErrnoException | undefined)?.code ?? errnoOf(why ?? '');
    error.syscall = command;
    throw error;
  }
}

/** The errno behind a mknod/mkfifo message (coreutils prints strerror), so that the caller can
 *  tell "not permitted here" (EPERM: no CAP_MKNOD, e.g. root in a container) from a real failure. */
const errnoTexts: readonly [string, string][] = [
  ['Operation not permitted', 'EPERM'],
  ['Permission denied', 'EACCES'],
  ['No space left on device', 'ENOSPC'],
  ['Disk quota exceeded', 'EDQUOT'],
  ['Read-only file system', 'EROFS'],
  ['File exists', 'EEXIST'],
  ['No such file or directory', 'ENOENT'],
  ['Invalid argument', 'EINVAL'],
  ['Value too large', 'EOVERFLOW'],
];

function errnoOf(message: string): string {
  return errnoTexts.find(([text]) => message.includes(text))?.[1] ?? 'EMKNOD';
}

/** Linux O_PATH (absent from fs.constants): a descriptor naming an inode without opening it. */
const O_PATH = 0o10000000;

/**
 * Set a special node's mode without following a symlink that may have replaced it since it was
 * checked (chmod(2) follows; Linux has no lchmod). A FIFO is opened O_RDONLY|O_NONBLOCK|
 * O_NOFOLLOW (returns at once, no writer needed) and fchmod-ed. A device is never opened for
 * I/O (that would talk to the hardware): on Linux an O_PATH|O_NOFOLLOW descriptor names it and
 * the mode goes through /proc/self/fd (as glibc's fchmodat(AT_SYMLINK_NOFOLLOW) does);
 * elsewhere chmod by path remains (a residual race). Returns false, changing nothing, when the
 * path no longer names a node of `type`.
 */
export function setNodeMode(path: string, type: SpecialType, mode: number): boolean {
  const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;
  const isType = (stat: fs.Stats) => (type === 'fifo' ? stat.isFIFO() : type === 'char' ? stat.isCharacterDevice() : stat.isBlockDevice());
  if (type !== 'fifo' && process.platform !== 'linux') {
    if (!isType(fs.lstatSync(pathBytes(path)))) return false;
    fs.chmodSync(pathBytes(path), mode);
    return true;
  }
  let fd: number;
  try {
    fd = fs.openSync(pathBytes(path), type === 'fifo' ? O_RDONLY | O_NONBLOCK | O_NOFOLLOW : O_PATH | O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') return false; // a symlink now
    throw error;
  }
  try {
    if (!isType(fs.fstatSync(fd))) return false;
    if (type === 'fifo') fs.fchmodSync(fd, mode);
    else fs.chmodSync(`/proc/self/fd/${fd}`, mode);
    return true;
  } finally {
    fs.closeSync(fd);
  }
}
