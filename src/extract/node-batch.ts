/**
 * Many device nodes and FIFOs for the price of one process.
 *
 * Node.js has no mknod(2), and a `mknod` process per node costs ~2.5 ms (fork of a large parent,
 * exec): a Solaris root holds hundreds to thousands of nodes under /devices, so 961 nodes took
 * 2.5 s where bsdcpio takes 0.03 s. Here a batch of nodes is described as a tiny ustar archive
 * (numbered names, no data) and made by one `tar -x` (GNU tar is part of every Debian system)
 * in a fresh directory of ours inside the root; each node is then renamed to its real name by
 * its exact bytes. tar only ever sees that private directory and names like "17": nothing it
 * does can reach a path of the image, and no name crosses argv.
 * Whatever tar did not make (no tar, a refused number, another file system) falls back to
 * `makeSpecialNode`, one process each, which also gives the precise error.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { pathBytes } from '../entry.js';
import { makeSpecialNode, type SpecialType } from './special-nodes.js';

export interface NodeRequest {
  /** absolute path of the node to make (its directory resolved inside the root) */
  path: string;
  type: SpecialType;
  mode: number;
  major: number;
  minor: number;
}

const blockBytes = 512;
/** largest number a 7-digit octal ustar field holds (device numbers beyond go one by one) */
const octalFieldMax = 0o7777777;

/**
 * Make every requested node, none of which exists yet. `stageIn` is a directory on the same
 * file system (the root). `made(i, error)` is called for each request in order, as soon as that
 * node is in place (error undefined) or has failed, so the caller settles its metadata at once,
 * as it would after a single mknod.
 */
export function makeSpecialNodes(stageIn: string, requests: readonly NodeRequest[], made: (index: number, error?: Error) => void, tarCommand = 'tar'): void {
  // once a device is refused for want of privilege, so is every other: no process each to learn it
  let devicesRefused: Error | undefined;
  const oneByOne = (i: number) => {
    const r = requests[i]!;
    if (devicesRefused && r.type !== 'fifo') return made(i, devicesRefused);
    try {
      makeSpecialNode(r.path, r.type, r.mode, r.major, r.minor);
    } catch (error) {
      if (r.type !== 'fifo' && (error as NodeJS.ErrnoException).code === 'EPERM') devicesRefused = error as Error;
      return made(i, error as Error);
    }
    made(i);
  };
  const stage = `${stageIn}/.zonep2v-nodes-${randomBytes(6).toString('hex')}`;
  if (requests.length < 2 || !makeStage(stage)) {
    for (let i = 0; i < requests.length; i++) oneByOne(i);
    return;
  }
  try {
    const batched = requests.map((r) => r.major <= octalFieldMax && r.minor <= octalFieldMax && r.major >= 0 && r.minor >= 0);
    runTar(stage, ustarOfNodes(requests, batched), tarCommand);
    for (let i = 0; i < requests.length; i++) {
      if (!batched[i]) {
        oneByOne(i);
        continue;
      }
      let error: Error | undefined;
      try {
        fs.renameSync(pathBytes(`${stage}/${i}`), pathBytes(requests[i]!.path));
      } catch (thrown) {
        const code = (thrown as NodeJS.ErrnoException).code;
        // ENOENT: tar did not make this one; EXDEV: its directory is another file system
        if (code === 'ENOENT' || code === 'EXDEV') {
          oneByOne(i);
          continue;
        }
        error = thrown as Error;
      }
      made(i, error);
    }
  } finally {
    removeStage(stage);
  }
}

function makeStage(stage: string): boolean {
  try {
    fs.mkdirSync(pathBytes(stage), { mode: 0o700 });
    return true;
  } catch {
    return false;
  }
}

/** One tar process makes the nodes in `stage`, handed over as descriptor 3 (see special-nodes.ts
 *  on why paths never cross argv). Its exit status is not needed: what it made is looked at. */
function runTar(stage: string, archive: Uint8Array, tarCommand: string): void {
  const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
  const dirFd = fs.openSync(pathBytes(stage), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    // owner, full mode and times are the writer's, after the rename: -m and --no-same-owner
    // spare tar that work
    spawnSync(tarCommand, ['-x', '-f', '-', '-C', '/proc/self/fd/3', '-m', '--no-same-owner'], { input: archive, stdio: ['pipe', 'ignore', 'ignore', dirFd] });
  } finally {
    fs.closeSync(dirFd);
  }
}

/** Whatever the batch left behind (nodes not renamed), then the stage itself. */
function removeStage(stage: string): void {
  try {
    for (const name of fs.readdirSync(pathBytes(stage), { encoding: 'buffer' })) {
      fs.rmSync(Buffer.concat([Buffer.from(`${stage}/`, 'latin1'), name]), { force: true });
    }
    fs.rmdirSync(pathBytes(stage));
  } catch {
    // a stage that cannot be removed is left, harmless and recognisable by its name
  }
}

/** A ustar archive with entry `i` for each batched request: the node's type, permission bits
 *  (mknod's -m, as one by one) and device numbers. */
export function ustarOfNodes(requests: readonly NodeRequest[], batched: readonly boolean[]): Uint8Array {
  const count = batched.filter(Boolean).length;
  const archive = new Uint8Array((count + 2) * blockBytes); // two zero blocks end it
  let at = 0;
  for (let i = 0; i < requests.length; i++) {
    if (!batched[i]) continue;
    const r = requests[i]!;
    const header = archive.subarray(at, at + blockBytes);
    putText(header, 0, String(i));
    putOctal(header, 100, 8, r.mode & 0o777);
    putOctal(header, 108, 8, 0);
    putOctal(header, 116, 8, 0);
    putOctal(header, 124, 12, 0);
    putOctal(header, 136, 12, 0);
    header[156] = r.type === 'char' ? 0x33 : r.type === 'block' ? 0x34 : 0x36; // '3' '4' '6'
    putText(header, 257, 'ustar');
    putText(header, 263, '00');
    putOctal(header, 329, 8, r.type === 'fifo' ? 0 : r.major);
    putOctal(header, 337, 8, r.type === 'fifo' ? 0 : r.minor);
    header.fill(0x20, 148, 156); // the checksum counts its own field as spaces
    let sum = 0;
    for (const byte of header) sum += byte;
    putOctal(header, 148, 7, sum);
    at += blockBytes;
  }
  return archive;
}

function putText(block: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) block[offset + i] = text.charCodeAt(i);
}

/** `width - 1` octal digits and a NUL. */
function putOctal(block: Uint8Array, offset: number, width: number, value: number): void {
  putText(block, offset, value.toString(8).padStart(width - 1, '0'));
  block[offset + width - 1] = 0;
}
