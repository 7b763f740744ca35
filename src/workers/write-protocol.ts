/**
 * Messages between the writer (main thread) and the write workers. Plain data only: these
 * cross a thread boundary by structured clone, the byte buffers by transfer.
 */

/** One small regular file whose whole body travels in the batch buffer. */
export interface FileOp {
  /** absolute physical parent directory (byte string), verified to be a real directory */
  dir: string;
  /** final component (byte string) */
  name: string;
  /** body = arena[start, start + length) */
  start: number;
  length: number;
  mode: number;
  uid: number;
  gid: number;
  /** apply uid/gid (only when running as root) */
  chown: boolean;
  mtimeSeconds: number;
  /** false when the directory was created by this run: the name is then (almost always) free */
  mayExist: boolean;
  /** what the content index says of the file already there, if anything */
  known?: { hash: string; size: number; mtimeSeconds: number };
  /** how many names the content index says the file there has (itself and the hard links the
   *  last run made to it): a file of several names is kept only when they are that group */
  names?: number;
  /** copy this file (absolute byte path) instead of taking the body from the arena */
  source?: string;
  /** the source's "dev:ino" as listed: another file found there is not copied (ESOURCECHANGED) */
  sourceIdentity?: string;
}

export interface BatchTask {
  kind: 'batch';
  ops: FileOp[];
}

/** A piece of a large file, arena[start, start + length), written at `position` of an fd the
 *  main thread opened (workers share the process' file descriptors). */
export interface PwriteTask {
  kind: 'pwrite';
  fd: number;
  position: number;
  start: number;
  length: number;
}

/** Given to every worker once, at start (piscina workerData). */
export interface WorkerSetup {
  /** the ring's memory (its buffer is the ring): the xxh64 kernel hashes bodies in it */
  arena: WebAssembly.Memory;
  /** the process umask is 0 while extracting: a file created with its mode has exactly that
   *  mode, so fchmod is needed only after a chown (which clears set-id bits) */
  umaskZero: boolean;
  /** shared counters the worker adds its busy time to (BigInt64Array, stats.ts workerMeterSlots) */
  meter: SharedArrayBuffer;
  /** one Int32 the writer sets to 1 when the run is stopped: a long copy gives up between pieces */
  stop: SharedArrayBuffer;
  /** added to the worker thread's nice value at start (thread-priority.ts), 0 for none */
  nice: number;
}

export type WriteTask = BatchTask | PwriteTask;

export type FileStatus = 'written' | 'unchanged' | 'error';

export interface FileResult {
  status: FileStatus;
  /** bytes actually copied, when they differ from the size announced (a file changing while
   *  a live tree is copied) */
  copiedSize?: number;
  /** XXH64 of the body, 16 hex digits */
  hash: string;
  /** errno code or our message when status is 'error' */
  error?: string;
  /** the owner could not be set here (fs-bytes.ts tryChown: EINVAL or EPERM); the file is
   *  there without its owner and set-id bits */
  ownerRefused?: string;
  syscall?: string;
}
