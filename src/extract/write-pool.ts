/**
 * The write pool: piscina workers that hash and write, fed in batches, with bounded memory.
 *
 * Threads and buffers. The main thread parses the image and copies each small file's body into
 * the open batch buffer (1 MiB; a memcpy is far cheaper than a task: one piscina round trip
 * costs about as much as writing a 4 KiB file, measurements.md). A full batch is transferred,
 * not cloned, to a worker, which hashes and writes its files in order and answers with one
 * result per file. Large files do not go through batches: the main thread opens them and ships
 * 1 MiB pieces that any worker writes at their offset (workers share the process' descriptors).
 *
 * Backpressure. Bytes handed to workers and not yet written are counted; past
 * `maxInflightBytes` the parser waits for the oldest task, so memory stays bounded whatever
 * the image size and the decompressor is slowed down to the disk's pace.
 *
 * Ordering. Two batches may run at once in different workers; the writer (zone-writer.ts)
 * waits for a path's pending write before it touches that path again, so order within a path
 * is kept.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import type { FileOp, FileResult, WriteTask } from '../workers/write-protocol.js';

/** Files up to this size travel whole in a batch; bigger ones are written piecewise. */
export const smallFileMaxBytes = 256 * 1024;
const batchBytes = 1024 * 1024;
const batchMaxFiles = 256;

/** A write handed to the pool; `done` settles when it is on disk. */
export interface Pending<T> {
  done: Promise<T>;
}

interface OpenBatch {
  ops: FileOp[];
  buffer: Uint8Array;
  used: number;
  settle: { resolve: (results: FileResult[]) => void; reject: (error: unknown) => void };
  results: Promise<FileResult[]>;
}

export class WritePool {
  private readonly piscina: Piscina;
  private batch: OpenBatch | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  private inflightBytes = 0;
  /** set when a task fails: the next call rethrows it on the main path */
  private failure: unknown;
  readonly threads: number;

  constructor(jobs: number | undefined, private readonly maxInflightBytes: number) {
    this.threads = Math.max(1, jobs ?? os.availableParallelism());
    this.piscina = new Piscina({
      filename: new URL('../workers/write-worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
    });
  }

  /** Copy a small body into the open batch; resolves (once copied) to a handle on its result.
   *  (A handle, not a bare promise: an async function would flatten it and wait for the write.) */
  async addSmall(op: Omit<FileOp, 'start' | 'length'>, size: number, chunks: AsyncIterable<Uint8Array>): Promise<Pending<FileResult>> {
    this.rethrow();
    if (this.batch && (this.batch.used + size > this.batch.buffer.length || this.batch.ops.length >= batchMaxFiles)) {
      await this.flush();
    }
    const batch = (this.batch ??= this.openBatch());
    const start = batch.used;
    for await (const piece of chunks) {
      batch.buffer.set(piece, batch.used);
      batch.used += piece.length;
    }
    const index = batch.ops.push({ ...op, start, length: size }) - 1;
    return { done: batch.results.then((results) => results[index]!) };
  }

  /** Write `data` (owned by the pool from now on) at `position` of `fd`. */
  async pwrite(fd: number, position: number, data: Uint8Array): Promise<Pending<unknown>> {
    this.rethrow();
    return this.submit({ kind: 'pwrite', fd, position, data }, data);
  }

  /** Send the open batch to a worker now. */
  async flush(): Promise<void> {
    const batch = this.batch;
    if (!batch || batch.ops.length === 0) return;
    this.batch = undefined;
    const data = batch.buffer.subarray(0, batch.used);
    const { done } = await this.submit({ kind: 'batch', ops: batch.ops, data }, data);
    done.then((results) => batch.settle.resolve(results as FileResult[]), batch.settle.reject);
  }

  /** Flush and wait for every task in flight. */
  async drain(): Promise<void> {
    await this.flush();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    this.rethrow();
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }

  private openBatch(): OpenBatch {
    let settle!: OpenBatch['settle'];
    const results = new Promise<FileResult[]>((resolve, reject) => (settle = { resolve, reject }));
    results.catch(() => undefined); // failures surface through `failure`
    return { ops: [], buffer: new Uint8Array(batchBytes), used: 0, settle, results };
  }

  private async submit(task: WriteTask, data: Uint8Array): Promise<Pending<unknown>> {
    while (this.inflightBytes > this.maxInflightBytes && this.inflight.size > 0) {
      await Promise.race(this.inflight);
    }
    const bytes = data.byteLength;
    this.inflightBytes += bytes;
    const transfer = data.buffer as ArrayBuffer;
    const running: Promise<unknown> = this.piscina.run(task, { transferList: [transfer] }).then(
      (value) => value,
      (error) => {
        this.failure ??= error;
        throw error;
      },
    );
    const tracked = running.finally(() => {
      this.inflightBytes -= bytes;
      this.inflight.delete(tracked);
    });
    tracked.catch(() => undefined);
    running.catch(() => undefined); // handled where awaited; this only silences the early report
    this.inflight.add(tracked);
    return { done: running };
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
