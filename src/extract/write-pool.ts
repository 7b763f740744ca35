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
 * Priority. The workers lower their own threads' priority (workers/thread-priority.ts): the
 * main thread is the critical path, and the ring lets the writers lag behind it.
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
import { workerExecArgv } from '../workers/exec-argv.js';
import { writerNiceIncrement } from '../workers/thread-priority.js';
import { activeStats, newWorkerMeter } from '../stats.js';

/** Files up to this size travel whole in a batch; bigger ones are written piecewise. */
export const smallFileMaxBytes = 256 * 1024;
const batchBytes = 1024 * 1024;
/** Writers by default: the cores, at most eight. One parsing thread feeds ~150 MB/s and two
 *  writers are half idle here (2 cores); each more is an isolate (~10 MB resident), so dozens of
 *  cores would spend the process' memory bound on idle threads. `--jobs` sets any number. */
const maxDefaultWriters = 8;
const batchMaxFiles = 256;
/** at most this many bytes are skipped before a body to align it (addSmall) */
const alignmentSlack = 7;

/** A write handed to the pool; `done` settles when it is on disk. */
export interface Pending<T> {
  done: Promise<T>;
}

/** Room for `held` more bytes of tags in `batch` (a file with more than a batch's worth goes
 *  into a batch of its own rather than never). */
function heldFits(batch: { held: number }, held: number): boolean {
  return held === 0 || batch.held === 0 || batch.held + held <= batchBytes;
}

/** Called once per file when its batch is done (one callback per file, no promise per file:
 *  tens of thousands of promises were a measurable share of the main thread's time). */
export type ResultHandler<Tag> = (tag: Tag, result: FileResult, batchDone: Promise<void>) => void;

interface OpenBatch<Tag> {
  ops: FileOp[];
  tags: Tag[];
  region: Region;
  used: number;
  /** bytes the tags hold beyond the bodies (extended attribute values), bounded like the bodies */
  held: number;
  /** settles after every file's result was handled */
  done: Promise<void>;
  settle: { resolve: () => void; reject: (error: unknown) => void };
}

export class WritePool<Tag> {
  private readonly piscina: Piscina;
  private readonly arena: Arena;
  private batch: OpenBatch<Tag> | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  /** set when a task fails: the next call rethrows it on the main path */
  private failure: unknown;
  readonly threads: number;
  /** the workers' busy-time counters (stats.ts workerMeterSlots) */
  readonly meter = new BigInt64Array(newWorkerMeter());

  /** set once the run is stopped (stop()): the workers' long copies check it between pieces */
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));

  constructor(jobs: number | undefined, arenaBytes: number, umaskZero: boolean, private readonly onResult: ResultHandler<Tag>) {
    this.threads = Math.max(1, jobs ?? Math.min(os.availableParallelism(), maxDefaultWriters));
    this.arena = new Arena(Math.max(arenaBytes, 2 * batchBytes));
    const setup: WorkerSetup = { arena: this.arena.memory, umaskZero, meter: this.meter.buffer as SharedArrayBuffer, stop: this.stopFlag.buffer as SharedArrayBuffer, nice: writerNiceIncrement() };
    this.piscina = new Piscina({
      filename: new URL('../workers/write-worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
      // a worker gets its next batch while it writes this one: piscina otherwise hands it over
      // only once the main thread has taken the last result, between its runs of parsing
      // (256 MiB corpus, fresh ext4, 6 alternating runs: median 1.53 -> 1.45 s; tmpfs the same)
      concurrentTasksPerWorker: 2,
      workerData: setup,
      execArgv: workerExecArgv,
    });
  }

  /** True when a small file of `size` bytes, whose tag holds `held` more bytes until its result
   *  (writeless metadata such as extended attributes), can be added now without waiting. */
  hasRoomFor(size: number, held = 0): boolean {
    const batch = this.batch;
    return (
      batch !== undefined &&
      batch.used + size + alignmentSlack <= batch.region.length &&
      batch.ops.length < batchMaxFiles &&
      heldFits(batch, held)
    );
  }

  /** Make room for a small file (flushing a full batch, waiting for the ring). */
  async makeRoom(size: number, held = 0): Promise<void> {
    this.rethrow();
    if (this.batch && !this.hasRoomFor(size, held)) this.flush();
    this.batch ??= await this.openBatch();
  }

  /** Add a small file whose whole body is at hand; call only after `hasRoomFor`/`makeRoom`
   *  with the same sizes. `op.start` is filled in here. Returns the batch's completion (shared
   *  by its files). */
  addSmall(op: FileOp, body: Uint8Array, tag: Tag, held = 0): Promise<void> {
    const batch = this.batch!;
    batch.held += held;
    const free = batch.region.start + batch.used;
    // the body lands at the same offset modulo 8 as it has in its own buffer: V8 copies into
    // shared memory word by word only when both sides are equally aligned, otherwise byte by
    // byte - measured 3x slower, ~6% of the main thread's time on the 256 MiB corpus
    op.start = free + ((body.byteOffset - free) & alignmentSlack);
    this.arena.bytes.set(body, op.start);
    batch.used = op.start - batch.region.start + body.length;
    batch.ops.push(op);
    batch.tags.push(tag);
    return batch.done;
  }

  /** Same for a body that arrives in pieces (it spans input chunks). */
  async addSmallStreamed(op: FileOp, chunks: AsyncIterable<Uint8Array>, tag: Tag, held = 0): Promise<Promise<void>[]> {
    await this.makeRoom(op.length, held);
    const batch = this.batch!;
    batch.held += held;
    op.start = batch.region.start + batch.used;
    for await (const piece of chunks) {
      this.arena.bytes.set(piece, batch.region.start + batch.used);
      batch.used += piece.length;
    }
    batch.ops.push(op);
    batch.tags.push(tag);
    return [batch.done]; // in an array: an async function must not flatten it into a wait
  }

  /** Queue a file-to-file copy (directory images): the worker reads `op.source` itself. Large
   *  copies close their batch so one big file does not hold up the small ones queued with it. */
  async addCopy(op: FileOp, tag: Tag, held = 0): Promise<Promise<void>[]> {
    this.rethrow();
    if (this.batch && !this.copyFits(held)) this.flush();
    this.batch ??= await this.openBatch();
    return [this.queueCopy(op, tag, held)];
  }

  /** The same without waiting, when the open batch has room (the hot path of a re-copy, where
   *  most files turn out unchanged: no promise per file). Returns the batch's completion, or
   *  undefined when the caller must use `addCopy`. */
  tryAddCopy(op: FileOp, tag: Tag, held = 0): Promise<void> | undefined {
    this.rethrow();
    if (!this.batch || !this.copyFits(held)) return undefined;
    return this.queueCopy(op, tag, held);
  }

  private copyFits(held: number): boolean {
    const batch = this.batch!;
    return batch.ops.length < batchMaxFiles && heldFits(batch, held);
  }

  private queueCopy(op: FileOp, tag: Tag, held: number): Promise<void> {
    const batch = this.batch!;
    batch.held += held;
    batch.ops.push(op);
    batch.tags.push(tag);
    if (op.length > smallFileMaxBytes) this.flush();
    return batch.done;
  }

  /** Write a copy of `data` at `position` of `fd`; resolves once copied (the caller may reuse `data`). */
  async pwrite(fd: number, position: number, data: Uint8Array): Promise<Pending<unknown>> {
    this.rethrow();
    this.flush(); // the open batch may be the oldest region: never wait for it while it is open
    const region = await this.reserve(data.length);
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
      batch.settle.resolve();
      return;
    }
    const { done } = this.submit({ kind: 'batch', ops: batch.ops }, batch.region);
    done.then((value) => {
      const results = value as FileResult[];
      try {
        for (let i = 0; i < results.length; i++) this.onResult(batch.tags[i]!, results[i]!, batch.done);
        batch.settle.resolve();
      } catch (error) {
        this.failure ??= error;
        batch.settle.reject(error);
      }
    }, batch.settle.reject);
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

  /** The run was stopped: a long copy in a worker gives up at its next piece (and removes what
   *  it was writing) instead of holding the stop up for as long as the file takes. */
  stop(): void {
    Atomics.store(this.stopFlag, 0, 1);
  }

  private async openBatch(): Promise<OpenBatch<Tag>> {
    const region = await this.reserve(batchBytes);
    let settle!: OpenBatch<Tag>['settle'];
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined); // failures surface through `failure`
    return { ops: [], tags: [], region, used: 0, held: 0, settle, done };
  }

  /** Room in the ring; the time spent waiting for it (workers behind) shows in --stats. */
  private reserve(bytes: number): Promise<Region> {
    const stats = activeStats();
    return stats ? stats.during('queue wait (ring full)', () => this.arena.reserve(bytes)) : this.arena.reserve(bytes);
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
