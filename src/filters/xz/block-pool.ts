/**
 * The xz block pool: whole blocks (their headers state both sizes, as xz -T writes them) decoded
 * by piscina workers (workers/xz-worker.ts), several at once. xz.ts decides which blocks come
 * here and takes the results strictly in order.
 *
 * Memory: every block in flight owns a *slot*, a pair of SharedArrayBuffers made once and reused
 * for the whole run: the reader copies the compressed block into the slot's input, the worker
 * decodes into the slot's output, and the reader copies the output out in 1 MiB pieces before
 * the slot takes the next block. Nothing of block size is allocated per block. Fresh per-block
 * buffers (a 7 MiB input, a 24 MiB output transferred from the worker) peaked at 480-505 MB RSS
 * on a 256 MiB xz -6 -T2 image: once glibc has freed one mmapped 24 MiB buffer it raises its mmap
 * threshold to that size, after which every such buffer lands in a heap (main's and each
 * worker's) that keeps its high-water mark. A slot is taken per block, and at most one per
 * thread exists (fewer when their outputs would pass `slotOutputBudget`): a third slot, so
 * that every worker decodes while the oldest block is read out, took 25-35 MB more and no less
 * time (256 MiB xz -6 -T2 image, tmpfs, 4 alternating runs each: median 4.78 vs 4.77 s). The
 * workers decode straight into the slot, with no window of their own (LzmaDecoder's
 * `historyInSink`). Blocks larger than `maxParallelBlockBytes` (xz -8/-9 -T make 96/192 MiB
 * blocks) decode in place, streaming.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { workerExecArgv } from '../../workers/exec-argv.js';
import { activeStats } from '../../stats.js';

export const maxParallelBlockBytes = 48 * 1024 * 1024;
/** The outputs of all slots together stay under this: 4 threads of xz -6 -T blocks (24 MiB), 2 of -7 (48 MiB). */
const slotOutputBudget = 96 * 1024 * 1024;
/** Slot buffers are made in whole MiB so the last, shorter block of a stream fits an earlier slot. */
const slotGrain = 1024 * 1024;

/** Decode threads for xz blocks: ZONEP2V_XZ_THREADS if set (1 = no pool), else the cores, at
 *  most `maxDefaultThreads`. */
export function xzThreads(): number {
  const fromEnv = Number(process.env.ZONEP2V_XZ_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return fromEnv;
  return Math.min(os.availableParallelism(), maxDefaultThreads);
}

/** The slot budget keeps at most a few xz -T blocks (24 MiB at -6) in flight whatever the
 *  thread count, so workers beyond that only cost memory (an isolate each, ~10 MB, plus a
 *  dictionary window). */
const maxDefaultThreads = 4;

/** A block's buffers: `input` receives the compressed block, the worker decodes into `output`. */
export interface XzBlockSlot {
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
}

/** What a worker gets: the slot (shared, not copied) and where the block sits in it. */
export interface XzBlockTask {
  input: SharedArrayBuffer;
  /** the whole block (header, compressed data, padding, check) is input[0, inputLength) */
  inputLength: number;
  output: SharedArrayBuffer;
  /** compressed offset of the block's first byte */
  offset: number;
  checkType: number;
  /** the uncompressed size its header declares: the output is output[0, declaredSize) */
  declaredSize: number;
}

export type XzBlockResult = { busyMs: number } & (
  | { kind: 'ok'; unpadded: number; produced: number }
  | { kind: 'error'; code: 'P2V_BAD_ARCHIVE' | 'P2V_UNSUPPORTED' | 'P2V_LIMIT'; message: string; offset: number }
);

/** The most an LZMA2 block of `uncompressed` bytes takes compressed: incompressible data is stored
 *  in chunks of up to 64 KiB with a 3-byte header each, plus the block header, padding and check. */
function maxCompressedBytes(uncompressed: number): number {
  return uncompressed + Math.ceil(uncompressed / 65536) * 3 + 1024 + 64;
}

function grain(bytes: number): number {
  return Math.max(slotGrain, Math.ceil(bytes / slotGrain) * slotGrain);
}

export class XzBlockPool {
  private piscina: Piscina | undefined;
  private readonly idle: XzBlockSlot[] = [];
  private busySlots = 0;
  private busyOutputBytes = 0;
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly threads: number) {}

  /**
   * A slot for a block of these sizes, or undefined when the reader must first read out the
   * oldest block (every slot is busy, or one more would pass the budget). A slot whose buffers
   * are too small for this block is replaced, not grown.
   */
  acquire(inputBytes: number, outputBytes: number): XzBlockSlot | undefined {
    if (this.busySlots > 0 && (this.busySlots >= this.threads || this.busyOutputBytes + outputBytes > slotOutputBudget)) return undefined;
    let slot = this.idle.pop();
    if (slot === undefined || slot.input.byteLength < inputBytes || slot.output.byteLength < outputBytes) {
      // made for the largest block of this output size, so a stream's blocks all fit the first
      // slot made: a replaced slot stays allocated until both this thread and the worker that
      // last used it collect garbage. Pages never written cost no memory.
      const output = Math.max(outputBytes, slot?.output.byteLength ?? 0);
      slot = {
        input: new SharedArrayBuffer(grain(Math.max(inputBytes, maxCompressedBytes(output), slot?.input.byteLength ?? 0))),
        output: new SharedArrayBuffer(grain(output)),
      };
    }
    this.busySlots++;
    this.busyOutputBytes += slot.output.byteLength;
    return slot;
  }

  /** The reader has read out (or dropped) the block in `slot`. */
  release(slot: XzBlockSlot): void {
    this.busySlots--;
    this.busyOutputBytes -= slot.output.byteLength;
    this.idle.push(slot);
  }

  /** Decode the block the reader has put into `task.input` on a worker. */
  decode(task: XzBlockTask): Promise<XzBlockResult> {
    // started on the first block: a stream without sized blocks never pays for the threads
    this.piscina ??= new Piscina({
      filename: new URL('../../workers/xz-worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      execArgv: workerExecArgv,
    });
    const done = this.piscina.run(task) as Promise<XzBlockResult>;
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

  /** After an error or an early stop tasks may still run: let them finish first (a pool destroyed
   *  under a running task gets its answer later and piscina throws "Unexpected message"). */
  async close(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    await this.piscina?.destroy();
  }
}
