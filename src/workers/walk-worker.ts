/**
 * Walk thread for directory images: lists the tree (formats/dir/tree-lister.ts) and posts it to
 * the main thread in batches, at most `maxUnread` batches ahead of what the main thread has
 * taken (a shared counter, waited on with Atomics), so a tree of millions of names is never
 * held whole.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { listTree } from '../formats/dir/tree-lister.js';
import type { WalkFromWorker, WalkWorkerData } from '../formats/dir/walk-protocol.js';

const { root, rootDev, batchSize, maxUnread, unread } = workerData as WalkWorkerData;
const counter = new Int32Array(unread);
const post = (message: WalkFromWorker) => parentPort!.postMessage(message);

try {
  for (const batch of listTree(root, BigInt(rootDev), batchSize)) {
    for (let seen = Atomics.load(counter, 0); seen >= maxUnread; seen = Atomics.load(counter, 0)) Atomics.wait(counter, 0, seen);
    Atomics.add(counter, 0, 1);
    post({ kind: 'batch', batch });
  }
  post({ kind: 'end' });
} catch (error) {
  const e = error as NodeJS.ErrnoException;
  post({ kind: 'error', message: e.code ? `${e.syscall ?? 'walk'} failed: ${e.code}` : String(e.message ?? e) });
}
