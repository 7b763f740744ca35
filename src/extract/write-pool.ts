/**
 * The write pool: piscina workers that hash and write, fed in batches, with bounded memory.
 *
 * Threads and buffers. The main thread parses the image and copies each small file's body into
 * a shared-memory ring (arena.ts); a batch of up to 1 MiB / 256 files goes to a worker as a list
 * of offsets, which hashes and writes its files in order and answers with one result per file.
 * One task per file would cost about as much as writing the file (measurements.md: ~36 µs per
 * piscina round trip), hence the batches. Large files do not go through batches: the writer
 * opens them and ships 1 MiB pieces that any worker writes at their offset (workers share the
 * process' file descriptors).
 *
 * Backpressure. The ring is the only place file data waits; when it is full the parser waits
 * for the oldest task to finish, so memory stays bounded whatever the image size, and the
 * decompressor is slowed to the disk's pace.
 *
 * Ordering. Two batches may run at once in different workers; the writer (zone-writer.ts)
 * waits for a path's pending write before it touches that path again, so order within a path
 * is kept.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import type { FileOp, FileResult, WorkerSetup, WriteTask } from '../workers/write-protocol.js';
import { Arena, type Region } from './arena.js';

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
  region: Region;
  used: number;
  settle: { resolve: (results: FileResult[]) => void; reject: (error: unknown) => void };
  results: Promise<FileResult[]>;
}

export class WritePool {
  private readonly piscina: Piscina;
  private readonly arena: Arena;
  private batch: OpenBatch | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  /** set when a task fails: the next call rethrows it on the main path */
  private failure: unknown;
  readonly threads: number;

  constructor(jobs: number | undefined, arenaBytes: number, umaskZero: boolean) {
    this.threads = Math.max(1, jobs ?? os.availableParallelism());
    this.arena = new Arena(Math.max(arenaBytes, 2 * batchBytes));
    const setup: WorkerSetup = { arena: this.arena.shared, umaskZero };
    this.piscina = new Piscina({
      filename: new URL('../workers/write-worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
      workerData: setup,
    });
  }

  /** Copy a small body into the open batch; resolves (once copied) to a handle on its result.
   *  (A handle, not a bare promise: an async function would flatten it and wait for the write.) */
  async addSmall(op: Omit<FileOp, 'start' | 'length'>, size: number, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<Pending<FileResult>> {
    this.rethrow();
    if (this.batch && (this.batch.used + size > this.batch.region.length || this.batch.ops.length >= batchMaxFiles)) {
      this.flush();
    }
    const batch = this.batch ?? (this.batch = await this.openBatch());
    const start = batch.region.start + batch.used;
    if (body instanceof Uint8Array) {
      this.arena.bytes.set(body, start);
      batch.used += body.length;
    } else {
      for await (const piece of body) {
        this.arena.bytes.set(piece, batch.region.start + batch.used);
        batch.used += piece.length;
      }
    }
    const index = batch.ops.push({ ...op, start, length: size }) - 1;
    return { done: batch.results.then((results) => results[index]!) };
  }

  /** Queue a file-to-file copy (directory images): the worker reads `source` itself. Large
   *  copies close their batch so one big file does not hold up the small ones queued with it. */
  async addCopy(op: Omit<FileOp, 'start' | 'length'>, size: number): Promise<Pending<FileResult>> {
    this.rethrow();
    if (this.batch && this.batch.ops.length >= batchMaxFiles) this.flush();
    const batch = this.batch ?? (this.batch = await this.openBatch());
    const index = batch.ops.push({ ...op, start: -1, length: size }) - 1;
    if (size > smallFileMaxBytes) this.flush();
    return { done: batch.results.then((results) => results[index]!) };
  }

  /** Write a copy of `data` at `position` of `fd`; resolves once copied (the caller may reuse `data`). */
  async pwrite(fd: number, position: number, data: Uint8Array): Promise<Pending<unknown>> {
    this.rethrow();
    this.flush(); // the open batch may be the oldest region: never wait for it while it is open
    const region = await this.arena.reserve(data.length);
    this.arena.bytes.set(data, region.start);
    return this.submit({ kind: 'pwrite', fd, position, start: region.start, length: data.length }, region);
  }

  /** Send the open batch to a worker now. */
  flush(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = undefined;
    if (batch.ops.length === 0) {
      this.arena.release(batch.region);
      batch.settle.resolve([]);
      return;
    }
    const { done } = this.submit({ kind: 'batch', ops: batch.ops }, batch.region);
    done.then((results) => batch.settle.resolve(results as FileResult[]), batch.settle.reject);
  }

  /** Flush and wait for every task in flight. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    this.rethrow();
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }

  private async openBatch(): Promise<OpenBatch> {
    const region = await this.arena.reserve(batchBytes);
    let settle!: OpenBatch['settle'];
    const results = new Promise<FileResult[]>((resolve, reject) => (settle = { resolve, reject }));
    results.catch(() => undefined); // failures surface through `failure`
    return { ops: [], region, used: 0, settle, results };
  }

  private submit(task: WriteTask, region: Region): Pending<unknown> {
    const running: Promise<unknown> = this.piscina.run(task).then(
      (value) => value,
      (error) => {
        this.failure ??= error;
        throw error;
      },
    );
    const tracked = running.finally(() => {
      this.arena.release(region);
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
