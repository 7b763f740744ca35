/**
 * Directory images: a tree on a mounted file system (an NFS-mounted root, a ZFS dataset)
 * walked as an Entry stream, parents before children, without crossing mount points (find's
 * -xdev: a mount point itself is listed, nothing below it).
 *
 * Regular files carry `sourcePath`, so writers can copy them file to file in their own threads
 * (read, hash, compare, write) instead of funnelling the bytes through this thread; `body`
 * reads the file for consumers that want the bytes (list, tests).
 * Hard links: (dev, ino) seen before with nlink > 1 becomes a 'hardlink' to the first name.
 */
import * as fs from 'node:fs';
import type { Entry, EntryBody } from '../../entry.js';
import { pathBytes, typeFromMode } from '../../entry.js';
import { splitLinuxDev } from '../common/dev.js';
import { P2VError } from '../../errors.js';
import type { Warning } from '../../extract/types.js';

export interface DirWalkOptions {
  /** the tree's root, byte string */
  root: string;
  warn(warning: Warning): void;
}

const bytes = pathBytes;

export async function* walkDirectory(options: DirWalkOptions): AsyncGenerator<Entry> {
  const rootStat = fs.lstatSync(bytes(options.root), { bigint: true });
  if (!rootStat.isDirectory()) throw new P2VError('P2V_USAGE', 'not a directory', { image: options.root });
  const rootDev = rootStat.dev;
  const links = new Map<string, string>();
  // depth-first with an explicit stack of directories still to list (relative byte paths)
  const pending: string[] = [''];
  yield entryOf('.', '', rootStat)!;
  while (pending.length > 0) {
    const relative = pending.pop()!;
    const absolute = relative === '' ? options.root : `${options.root}/${relative}`;
    let names: Buffer[];
    try {
      names = fs.readdirSync(bytes(absolute), { encoding: 'buffer' }) as Buffer[];
    } catch (error) {
      options.warn({ code: 'P2V_IO', message: `cannot list directory: ${(error as NodeJS.ErrnoException).code}`, entry: relative });
      continue;
    }
    names.sort(Buffer.compare);
    const subdirectories: string[] = [];
    for (const nameBytes of names) {
      const name = nameBytes.toString('latin1');
      const path = relative === '' ? name : `${relative}/${name}`;
      const sourcePath = `${options.root}/${path}`;
      let stat: fs.BigIntStats;
      try {
        stat = fs.lstatSync(bytes(sourcePath), { bigint: true });
      } catch (error) {
        // vanished while we walked (a live system): not an error of the image
        options.warn({ code: 'P2V_IO', message: `skipped: lstat failed: ${(error as NodeJS.ErrnoException).code}`, entry: path });
        continue;
      }
      const entry = entryOf(path, sourcePath, stat);
      if (!entry) {
        options.warn({ code: 'P2V_ENTRY_INVALID', message: 'unknown file type: skipped', entry: path });
        continue;
      }
      if (entry.type === 'dir') {
        // -xdev: list the mount point, not what is mounted on it
        if (stat.dev === rootDev) subdirectories.push(path);
      } else if (entry.type === 'file' && stat.nlink > 1n) {
        const key = `${stat.dev}:${stat.ino}`;
        const first = links.get(key);
        if (first !== undefined) {
          yield { ...entry, type: 'hardlink', linkTarget: first, size: 0, body: undefined, sourcePath: undefined };
          continue;
        }
        links.set(key, path);
      }
      yield entry;
    }
    // pop() takes the last: push in reverse so children come out in name order
    for (let i = subdirectories.length - 1; i >= 0; i--) pending.push(subdirectories[i]!);
  }
}

function entryOf(path: string, sourcePath: string, stat: fs.BigIntStats): Entry | undefined {
  const mode = Number(stat.mode);
  const type = typeFromMode(mode);
  if (!type) return undefined;
  const entry: Entry = {
    path,
    type,
    mode: mode & 0o7777,
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    mtimeNs: stat.mtimeNs,
    size: type === 'file' ? Number(stat.size) : 0,
    offset: 0,
  };
  if (type === 'symlink') entry.linkTarget = (fs.readlinkSync(bytes(sourcePath), { encoding: 'buffer' }) as Buffer).toString('latin1');
  if (type === 'char' || type === 'block') [entry.devMajor, entry.devMinor] = splitLinuxDev(Number(stat.rdev));
  if (type === 'file') {
    entry.sourcePath = sourcePath;
    entry.sourceStamp = `${stat.dev}:${stat.ino}:${stat.ctimeNs}:${stat.size}:${stat.mtimeNs}`;
    entry.body = fileBody(sourcePath);
  }
  return entry;
}

function fileBody(sourcePath: string): EntryBody {
  return {
    async *chunks() {
      const handle = await fs.promises.open(bytes(sourcePath), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        for (;;) {
          const buffer = Buffer.allocUnsafe(1024 * 1024);
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) return;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close();
      }
    },
  };
}
