/** Driving the real Linux dump/restore in tests: loop devices and restore -r into a directory. */
import * as fs from 'node:fs';
import path from 'node:path';
import { run } from './tools.js';

/** Attach `image` to a free loop device for `fn`; detached whatever happens. */
export function withLoop<T>(image: string, fn: (device: string) => T): T {
  const device = run('losetup', ['-f', '--show', image]).stdout.toString('latin1').trim();
  try {
    return fn(device);
  } finally {
    run('losetup', ['-d', device], { okStatus: 'any' });
  }
}

/** `restore -r` each dump in turn into `dir` (level 0 first), then drop restore's symbol table. */
export function restoreInto(dir: string, ...dumps: string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const dump of dumps) run('restore', ['-r', '-y', '-f', dump], { cwd: dir });
  fs.rmSync(path.join(dir, 'restoresymtable'), { force: true });
}
