/** Messages of the walk thread (workers/walk-worker.ts) and what it is started with. */
import type { ListedBatch } from './tree-lister.js';

export interface WalkWorkerData {
  /** the tree's root, byte string, already checked to be a directory */
  root: string;
  /** the root's device, as a decimal string (a dev_t may exceed a double's exact range) */
  rootDev: string;
  batchSize: number;
  /** batches posted and not yet taken by the main thread, at most */
  maxUnread: number;
  /** Int32Array[1]: that count, shared */
  unread: SharedArrayBuffer;
}

export type WalkFromWorker = { kind: 'batch'; batch: ListedBatch } | { kind: 'end' } | { kind: 'error'; message: string };
