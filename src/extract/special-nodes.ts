/**
 * Device nodes and FIFOs. Node.js has no mknod(2), so these go through the system's `mknod`
 * and `mkfifo` commands: a process each, acceptable because images hold few of them (and the
 * Solaris installer deletes block and character devices after every install anyway).
 * The final component was checked not to exist; mknod creates, it never follows a symlink there.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { pathBytes } from '../entry.js';

export type SpecialType = 'char' | 'block' | 'fifo';

export function makeSpecialNode(path: string, type: SpecialType, mode: number, major = 0, minor = 0): void {
  // permission bits only: GNU mknod/mkfifo refuse set-id and sticky bits in -m ("mode must
  // specify only file permission bits"); the writer chmods the full mode afterwards
  const modeText = (mode & 0o777).toString(8);
  // pass the path as bytes: argv is bytes on Unix, and Node passes Buffers through unchanged
  const args: (string | Buffer)[] =
    type === 'fifo' ? ['-m', modeText, pathBytes(path)] : ['-m', modeText, pathBytes(path), type === 'char' ? 'c' : 'b', String(major), String(minor)];
  const command = type === 'fifo' ? 'mkfifo' : 'mknod';
  const result = spawnSync(command, args as string[], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.error || result.status !== 0) {
    const why = result.error ? (result.error as NodeJS.ErrnoException).code ?? result.error.message : result.stderr.toString().trim().split('\n')[0];
    const error: NodeJS.ErrnoException = new Error(`${command} failed: ${why}`);
    error.code = 'EMKNOD';
    error.syscall = command;
    throw error;
  }
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
