/**
 * The xz block pool: whole blocks (their headers state both sizes, as xz -T writes them) decoded
 * by piscina workers (workers/xz-worker.ts), several at once. xz.ts decides which blocks come
 * here and takes the results strictly in order.
 *
 * Memory: a task holds its compressed block and, once decoded, its output; the pool counts the
 * declared output of every task from its start until the reader has handed the output on
 * (`consumed`), and reports `full()` past `maxInflightOutputBytes` (or at 2 tasks per thread),
 * so the reader waits for the oldest before reading further. Counting only the running tasks
 * let decoded blocks pile up behind a busy consumer: 360 MB peak RSS extracting an xz -T2 image
 * of the 64 MiB corpus (24 MiB blocks), over the 300 MB bound. Blocks larger
 * than `maxParallelBlockBytes` (xz -9 -T makes 192 MiB blocks) decode in place, streaming.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { workerExecArgv } from '../../workers/exec-argv.js';
import { activeStats } from '../../stats.js';

export const maxParallelBlockBytes = 64 * 1024 * 1024;
const maxInflightOutputBytes = 64 * 1024 * 1024;

/** Decode threads for xz blocks: ZONEP2V_XZ_THREADS if set (1 = no pool), else the cores, at
 *  most `maxDefaultThreads`. */
export function xzThreads(): number {
  const fromEnv = Number(process.env.ZONEP2V_XZ_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return fromEnv;
  return Math.min(os.availableParallelism(), maxDefaultThreads);
}

/** The output bound below keeps at most a few xz -T blocks (24 MiB at -6) in flight whatever
 *  the thread count, so workers beyond that only cost memory (an isolate each, ~10 MB, plus a
 *  dictionary and a block once used): xz extraction already peaks at ~330 MB RSS with 2. */
const maxDefaultThreads = 4;

export interface XzBlockTask {
  /** the whole block: header, compressed data, padding, check */
  bytes: Uint8Array;
  /** compressed offset of bytes[0] */
  offset: number;
  checkType: number;
  /** the uncompressed size its header declares */
  declaredSize: number;
}

export type XzBlockResult = { busyMs: number } & (
  | { kind: 'ok'; output: Uint8Array; unpadded: number; produced: number }
  | { kind: 'error'; code: 'P2V_BAD_ARCHIVE' | 'P2V_UNSUPPORTED' | 'P2V_LIMIT'; message: string; offset: number }
);

export class XzBlockPool {
  private piscina: Piscina | undefined;
  private inflightTasks = 0;
  private inflightBytes = 0;
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly threads: number) {}

  /** Decode a block on a worker. */
  decode(task: XzBlockTask): Promise<XzBlockResult> {
    const outputBytes = task.declaredSize;
    // started on the first block: a stream without sized blocks never pays for the threads
    this.piscina ??= new Piscina({
      filename: new URL('../../workers/xz-worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      execArgv: workerExecArgv,
    });
    this.inflightTasks++;
    this.inflightBytes += outputBytes;
    const done = (this.piscina.run(task, { transferList: [task.bytes.buffer as ArrayBuffer] }) as Promise<XzBlockResult>).finally(() => {
      this.inflightTasks--;
    });
    const stats = activeStats();
    if (stats) {
      done.then(
        (result) => stats.addWorkerTime('decode xz blocks (workers)', result.busyMs, result.kind === 'ok' ? result.produced : 0),
        () => undefined,
      );
    }
    done.catch(() => undefined); // awaited in order by the reader; abandoned ones must not report
    const settled = done.then(() => undefined, () => undefined);
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return done;
  }

  /** The reader has handed on the output of a task of `declaredSize` (or dropped it). */
  consumed(declaredSize: number): void {
    this.inflightBytes -= declaredSize;
  }

  /** True when the reader should wait for the oldest task before reading another block. */
  full(): boolean {
    return this.inflightTasks >= 2 * this.threads || this.inflightBytes >= maxInflightOutputBytes;
  }

  /** After an error or an early stop tasks may still run: let them finish first (a pool destroyed
   *  under a running task gets its answer later and piscina throws "Unexpected message"). */
  async close(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    await this.piscina?.destroy();
  }
}
