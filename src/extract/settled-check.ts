/**
 * The settled check of an image file's re-run (extract.ts), on two threads: is the tree still
 * what the index's records say? The index's lines are cut into chunks that this thread and a
 * helper thread take in turn from a shared counter, each with its own IndexLineChecker
 * (index-check.ts), so the check - parsing ~25k records and an lstat each, most of a settled
 * re-run - is shared by both cores. This thread starts at once; the helper joins when it is up
 * (~50 ms) and is not waited for if it arrives after the last chunk was taken. Small indexes
 * are checked here alone. Any failure of the helper counts as "not settled": the full run
 * that follows is always right.
 */
import { Worker } from 'node:worker_threads';
import type { RootMetadata } from '../store/content-index.js';
import { IndexLineChecker, rootMatches } from './index-check.js';
import { workerExecArgv } from '../workers/exec-argv.js';

/** Lines per chunk: small enough for the two threads to finish close together. */
export const linesPerChunk = 512;
/** Fewer chunks than this, and the helper would cost more than it saves. */
const minChunksForHelper = 8;

/** Slots of the shared state: the next chunk to take; the helper's gate (0 not yet, GATE_IN
 *  the helper is in, GATE_CLOSED it came too late); 1 once either side found a mismatch. */
export const CheckSlot = { next: 0, gate: 1, failed: 2 } as const;
export const GATE_IN = 1;
export const GATE_CLOSED = 2;

export interface TreeCheckData {
  root: string;
  owners: boolean;
  /** the index file's bytes */
  text: SharedArrayBuffer;
  length: number;
  /** chunk boundaries: chunk i is text[bounds[i], bounds[i + 1]) */
  bounds: SharedArrayBuffer;
  state: SharedArrayBuffer;
}

/** Take chunks (at most `limit`) until none is left or a mismatch is found; then the
 *  checker's own finish. */
export function checkChunks(checker: IndexLineChecker, text: Buffer, bounds: Float64Array, state: Int32Array, limit = Infinity): boolean {
  const chunks = bounds.length - 1;
  for (let taken = 0; taken < limit; taken++) {
    if (Atomics.load(state, CheckSlot.failed) !== 0) return false;
    const chunk = Atomics.add(state, CheckSlot.next, 1);
    if (chunk >= chunks) break;
    if (!checker.checkLines(text.toString('utf8', bounds[chunk]!, bounds[chunk + 1]!))) return false;
  }
  return checker.finish();
}

/** How the chunks are shared. `mainChunks` caps the chunks this thread takes (the helper must
 *  take the rest): 0 leaves this thread free for other work, as a directory image's re-copy
 *  wants (extract.ts); tests pin the helper's share with it. `helper` false checks everything
 *  here. `abandon`: the answer is no longer wanted (the helper stops at its next chunk). */
export interface CheckSplit {
  mainChunks?: number;
  helper?: boolean;
  abandon?: AbortSignal;
}

/** Is the tree under `root` what the index (`bytes`, in shared memory) records? */
export async function treeMatchesIndexBytes(bytes: Buffer, root: string, owners: boolean, rootMetadata: RootMetadata | undefined, split: CheckSplit = {}): Promise<boolean> {
  try {
    if (rootMetadata && !rootMatches(root, rootMetadata, owners)) return false;
    const bounds = chunkBounds(bytes);
    const state = new Int32Array(new SharedArrayBuffer(3 * 4));
    const wanted = split.helper ?? (split.mainChunks === 0 || bounds.length - 1 >= minChunksForHelper);
    const helper = wanted ? startHelper(bytes, bounds, state, root, owners) : undefined;
    split.abandon?.addEventListener('abort', () => Atomics.store(state, CheckSlot.failed, 1), { once: true });
    let here: boolean;
    try {
      here = checkChunks(new IndexLineChecker(root, owners, hasAttrs(bytes)), bytes, bounds, state, helper ? split.mainChunks : undefined);
    } catch (error) {
      Atomics.store(state, CheckSlot.failed, 1);
      void helper?.worker.terminate();
      throw error;
    }
    if (!here) Atomics.store(state, CheckSlot.failed, 1);
    if (helper === undefined || !here) {
      void helper?.worker.terminate();
      return here;
    }
    // a helper that is not in yet finds the gate closed and leaves: all chunks were taken here
    if (split.mainChunks === undefined && Atomics.compareExchange(state, CheckSlot.gate, 0, GATE_CLOSED) === 0) {
      void helper.worker.terminate();
      return here;
    }
    const there = await helper.answer;
    void helper.worker.terminate();
    return there;
  } catch {
    return false; // ENOTDIR where a directory became a file, EACCES: "no" - the full run deals with it
  }
}

/** Does the index hold 'attrs' records? (Their members must then be kept track of.) */
export function hasAttrs(bytes: Buffer): boolean {
  return bytes.includes('"type":"attrs"');
}

/** Offsets where every `linesPerChunk`-th line starts, plus the end. */
function chunkBounds(bytes: Buffer): Float64Array {
  const starts = [0];
  let lines = 0;
  for (let at = bytes.indexOf(10); at >= 0 && at + 1 < bytes.length; at = bytes.indexOf(10, at + 1)) {
    if (++lines % linesPerChunk === 0) starts.push(at + 1);
  }
  starts.push(bytes.length);
  const bounds = new Float64Array(new SharedArrayBuffer(starts.length * 8));
  bounds.set(starts);
  return bounds;
}

function startHelper(bytes: Buffer, bounds: Float64Array, state: Int32Array, root: string, owners: boolean): { worker: Worker; answer: Promise<boolean> } {
  const data: TreeCheckData = { root, owners, text: bytes.buffer as SharedArrayBuffer, length: bytes.length, bounds: bounds.buffer as SharedArrayBuffer, state: state.buffer as SharedArrayBuffer };
  const worker = new Worker(new URL('../workers/tree-check-worker.js', import.meta.url), { workerData: data, execArgv: workerExecArgv });
  worker.unref(); // never what keeps the process alive
  const answer = new Promise<boolean>((resolve) => {
    worker.once('message', (ok: boolean) => resolve(ok === true));
    worker.once('error', () => resolve(false));
    worker.once('exit', () => resolve(false));
  });
  return { worker, answer };
}
