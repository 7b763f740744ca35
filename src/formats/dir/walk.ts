/**
 * Directory images: a tree on a mounted file system (an NFS-mounted root, a ZFS dataset)
 * walked as an Entry stream, parents before children, without crossing mount points.
 *
 * The readdir and lstat calls run on a walk thread (tree-lister.ts, workers/walk-worker.ts) that
 * sends compact batches a few ahead of what is taken here; this thread only builds the entries.
 * (On a no-change re-copy those calls were half of this thread's time, and this thread was the
 * bottleneck.)
 *
 * Regular files carry `sourcePath`, so writers can copy them file to file in their own threads
 * (read, hash, compare, write) instead of funnelling the bytes through this thread; `body`
 * reads the file for consumers that want the bytes (list, tests).
 */
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Entry, EntryBody, EntryType } from '../../entry.js';
import { pathBytes } from '../../entry.js';
import { splitLinuxDev } from '../common/dev.js';
import { P2VError } from '../../errors.js';
import type { Warning } from '../../extract/types.js';
import { workerExecArgv } from '../../workers/exec-argv.js';
import { sameSource, sourceOpenFlags } from './source-file.js';
import { KINDS, RECORD_FIELDS, type ListedBatch } from './tree-lister.js';
import type { WalkFromWorker, WalkWorkerData } from './walk-protocol.js';

export interface DirWalkOptions {
  /** the tree's root, byte string */
  root: string;
  warn(warning: Warning): void;
}

const bytes = pathBytes;
/** records per batch from the walk thread, and batches it may be ahead of us */
const batchSize = 512;
const maxUnread = 8;

export async function* walkDirectory(options: DirWalkOptions): AsyncGenerator<Entry> {
  const rootStat = fs.lstatSync(bytes(options.root), { bigint: true });
  if (!rootStat.isDirectory()) throw new P2VError('P2V_USAGE', 'not a directory', { image: options.root });
  const unread = new SharedArrayBuffer(4);
  const counter = new Int32Array(unread);
  const data: WalkWorkerData = { root: options.root, rootDev: String(rootStat.dev), batchSize, maxUnread, unread };
  // started before the root is handed out, so that its start-up overlaps the root's placement
  const worker = new Worker(new URL('../../workers/walk-worker.js', import.meta.url), { workerData: data, execArgv: workerExecArgv });
  const inbox = new MessageQueue(worker);
  try {
    yield { path: '.', type: 'dir', mode: Number(rootStat.mode) & 0o7777, uid: Number(rootStat.uid), gid: Number(rootStat.gid), mtimeNs: rootStat.mtimeNs, size: 0, offset: 0 };
    for (;;) {
      const message = await inbox.next();
      if (message.kind === 'end') return;
      if (message.kind === 'error') throw new P2VError('P2V_IO', `walking the tree: ${message.message}`, { image: options.root });
      Atomics.sub(counter, 0, 1);
      Atomics.notify(counter, 0);
      const batch = message.batch;
      for (const warning of batch.warnings) options.warn(warning);
      yield* entriesOf(batch, options.root);
    }
  } finally {
    await worker.terminate();
  }
}

/** The walk thread's messages, one at a time; its death without an 'end' is an error. */
class MessageQueue {
  private readonly queued: WalkFromWorker[] = [];
  private waiting: ((message: WalkFromWorker) => void) | undefined;

  constructor(worker: Worker) {
    const deliver = (message: WalkFromWorker) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting) waiting(message);
      else this.queued.push(message);
    };
    worker.on('message', deliver);
    worker.on('error', (error) => deliver({ kind: 'error', message: String(error?.message ?? error) }));
    worker.on('exit', () => deliver({ kind: 'error', message: 'the walk thread stopped' }));
  }

  next(): Promise<WalkFromWorker> {
    const message = this.queued.shift();
    return message ? Promise.resolve(message) : new Promise((resolve) => (this.waiting = resolve));
  }
}

function* entriesOf(batch: ListedBatch, root: string): Generator<Entry> {
  const paths = batch.paths.split('\0');
  const texts = batch.texts.split('\0');
  const n = batch.nums;
  let text = 0;
  for (let i = 0; i < batch.count; i++) {
    const at = i * RECORD_FIELDS;
    const type: EntryType = KINDS[n[at]!]!;
    const path = paths[i]!;
    const entry: Entry = {
      path,
      type,
      mode: n[at + 1]!,
      uid: n[at + 2]!,
      gid: n[at + 3]!,
      mtimeNs: BigInt(n[at + 5]!) * 1_000_000_000n + BigInt(n[at + 6]!),
      size: n[at + 4]!,
      offset: 0,
    };
    if (type === 'symlink' || type === 'hardlink') entry.linkTarget = texts[text++]!;
    else if (type === 'char' || type === 'block') [entry.devMajor, entry.devMinor] = splitLinuxDev(n[at + 7]!);
    else if (type === 'file') {
      const sourcePath = `${root}/${path}`;
      entry.sourcePath = sourcePath;
      const identityAndStamp = texts[text++]!;
      const bar = identityAndStamp.indexOf('|');
      entry.sourceIdentity = identityAndStamp.slice(0, bar);
      if (bar + 1 < identityAndStamp.length) entry.sourceStamp = identityAndStamp.slice(bar + 1); // none: changed too recently to be trusted
      entry.body = fileBody(sourcePath, entry.sourceIdentity);
    }
    yield entry;
  }
}

function sourceReplaced(sourcePath: string): Error {
  return Object.assign(new Error(`${sourcePath}: not the file that was listed (replaced while the tree was copied)`), { code: 'ESOURCECHANGED', syscall: 'open (source)' });
}

function fileBody(sourcePath: string, identity: string): EntryBody {
  return {
    async *chunks() {
      const handle = await fs.promises.open(bytes(sourcePath), sourceOpenFlags);
      try {
        const stat = await handle.stat({ bigint: true });
        if (!sameSource(stat, identity)) throw sourceReplaced(sourcePath);
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
