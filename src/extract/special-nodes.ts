/**
 * Device nodes and FIFOs. Node.js has no mknod(2), so these go through the system's `mknod`
 * and `mkfifo` commands: a process each, acceptable because images hold few of them (and the
 * Solaris installer deletes block and character devices after every install anyway).
 * The final component was checked not to exist; mknod creates, it never follows a symlink there.
 */
import { spawnSync } from 'node:child_process';
import { pathBytes } from '../entry.js';

export type SpecialType = 'char' | 'block' | 'fifo';

export function makeSpecialNode(path: string, type: SpecialType, mode: number, major = 0, minor = 0): void {
  const modeText = (mode & 0o7777).toString(8);
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
