/**
 * Block-parallel bzip2: the main thread finds block boundaries, piscina workers decode blocks,
 * the main thread checks and emits them strictly in order.
 *
 * Boundaries. bzip2 blocks carry no length and are not byte-aligned, so the main thread scans
 * the input for the 48-bit block and end-of-stream magics at every bit offset (findMagic, then a
 * full 48-bit check). A magic can also occur by chance inside compressed data, so a candidate
 * is only a guess: the block from one candidate to the next is shipped to a worker (a copy of
 * the bytes covering its bits, its start bit and the stream's level), and the boundary is
 * confirmed only when that block decodes and ends exactly there.
 *
 * Two roles, one thread:
 *   in order      the authoritative walk, the serial driver's state machine (stream.ts): header,
 *                 magic, block, end-of-stream CRC, next stream. A block starting at a confirmed
 *                 magic is decoded up to the next candidate; if the decoder runs out of bits
 *                 ("short"), that candidate was false and the attempt is retried up to a later
 *                 candidate at least twice as far (the serial driver's doubling: a hostile stream
 *                 full of fake magics costs about twice the work, not quadratic). A decoded block
 *                 ends where its end-of-block symbol is; the next magic is read there, as in
 *                 the serial driver, so errors and their offsets are the serial driver's too.
 *   speculation   runs ahead over the candidates, dispatching [candidate, next candidate) for
 *                 each in turn (following stream headers after end-of-stream candidates for the
 *                 level), at most `inflight` tasks at once. The in-order walk takes the result
 *                 from there when its attempt is the same (start, end, level); anything the walk
 *                 passed by (false boundaries) is dropped when it comes back.
 *
 * Memory: the input window keeps the bytes from the current block on, and read-ahead stops when
 * `inflight` tasks are out or when no candidate shows up within the largest block size, so it
 * holds a few blocks' worth. Tasks get their bytes copied into reusable shared input slots;
 * outputs come back by transfer.
 *
 * Absolute bit positions exceed 2^32 past 512 MiB of input: no bitwise operators on them.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { P2VError, badArchive } from '../../errors.js';
import type { BlockResult, BlockTask } from '../../workers/bzip2-protocol.js';
import { workerExecArgv } from '../../workers/exec-argv.js';
import { activeStats } from '../../stats.js';
import { lookAhead } from '../../io/replay.js';
import { BitReader } from './bit-reader.js';
import { combineStreamCrc } from './crc32.js';
import { blockPieces } from './rle1.js';
import {
  InputWindow,
  blockMagic,
  decodeBzip2,
  endMagic,
  findMagic,
  hex,
  isHeader,
  isHeaderPrefix,
  maxCompressedBlockBytes,
} from './stream.js';

const layer = 'bzip2';

export interface ParallelOptions {
  /** decode workers (default: `bzip2Threads()`); 1 still pipelines scanning and decoding */
  threads?: number;
  /** block tasks out at once (default 2 x threads) */
  inflight?: number;
  /** below this many compressed bytes the serial decoder runs instead: starting workers costs
   *  more than it saves (default `parallelMinBytes`; 0 forces the parallel path) */
  minBytes?: number;
}

/** Inputs smaller than this decode serially. Measured (Node 20, 2 cores): starting and closing
 *  a pool costs ~50 ms CPU per worker, and each worker's JIT warm-up ~100-150 ms CPU on its
 *  first blocks, against ~35 ms CPU per -9 block (~0.35 MB compressed) once warm: below ~12
 *  blocks the workers cannot win that back. */
export const parallelMinBytes = 4 * 1024 * 1024;

/** Decode threads: ZONEP2V_BZIP2_THREADS if set (1 = serial), else the available cores, at most
 *  `maxDefaultThreads`. */
export function bzip2Threads(): number {
  const fromEnv = Number(process.env.ZONEP2V_BZIP2_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return fromEnv;
  return Math.min(os.availableParallelism(), maxDefaultThreads);
}

/** Every worker is an isolate (~10 MB resident before any work). One decodes ~37 MB/s of bzip2
 *  output here (two: 74 MB/s), so eight would give ~300 MB/s (an estimate: no machine here has
 *  8 cores), about twice what parsing and writing take: on a machine with dozens of cores more
 *  would only push the process past its memory bound (issue 2: well under 300 MB). */
const maxDefaultThreads = 8;

/**
 * Decode a bzip2 file (one or more streams), blocks in parallel. Small inputs (under
 * `minBytes`, looked at before any worker starts) go to the serial decoder.
 */
export async function* decodeBzip2Parallel(
  input: AsyncIterable<Uint8Array>,
  options: ParallelOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const minBytes = options.minBytes ?? parallelMinBytes;
  // Look ahead: is there enough input to be worth the workers? (the decoders below return the
  // input when they finish)
  const { have, replay } = await lookAhead(input, (have) => have < minBytes);
  if (have < minBytes) yield* decodeBzip2(replay);
  else yield* new ParallelDriver(replay[Symbol.asyncIterator](), options).run();
}

/**
 * The tasks' input buffers: shared, made once and reused (at most one per task in flight). A
 * fresh copy per task, transferred, stayed allocated until the worker's next garbage collection,
 * which a worker that allocates little JavaScript seldom has: ~48 MB of them were alive at the
 * peak of a 256 MiB image.
 */
class InputSlots {
  private readonly free: SharedArrayBuffer[] = [];

  take(bytes: number): SharedArrayBuffer {
    const slot = this.free.pop();
    if (slot !== undefined && slot.byteLength >= bytes) return slot;
    // (a slot too small is dropped: blocks of one level need about the same room)
    return new SharedArrayBuffer(Math.max(bytes, maxCompressedBlockBytes(9)));
  }

  give(slot: SharedArrayBuffer): void {
    this.free.push(slot);
  }
}

/** A magic found by the scan: absolute bit of its first bit; `end` for end-of-stream. */
interface Candidate {
  bit: number;
  end: boolean;
}

/** A block task in flight (or done), keyed by start bit, end byte and level. */
interface Task {
  startBit: number;
  result: Promise<BlockResult>;
  settled: boolean;
}

type OkResult = Extract<BlockResult, { kind: 'ok' }>;

const floor8 = (bit: number) => Math.floor(bit / 8);
const ceil8 = (bit: number) => Math.ceil(bit / 8);

function read48(bytes: Uint8Array, bit: number): number {
  const reader = new BitReader(bytes, bit);
  return reader.read(24) * 2 ** 24 + reader.read(24);
}

class ParallelDriver {
  private readonly window: InputWindow;
  private readonly pool: Piscina;
  private readonly maxInflight: number;

  /** candidates found so far, in bit order; `head` = first one not yet passed */
  private candidates: Candidate[] = [];
  private head = 0;
  /** next absolute byte index k for findMagic (bytes k..k+3 inside a magic starting in k-1) */
  private scanFrom = 1;

  private readonly tasks = new Map<string, Task>();
  private readonly inputSlots = new InputSlots();
  private inflight = 0;
  private readonly running = new Set<Promise<BlockResult>>();
  /** resolves when any task settles; renewed each time */
  private wake!: Promise<void>;
  private wakeUp!: () => void;

  /** speculation: the next segment start (a candidate's bit), its kind, the stream level */
  private specBit = -1;
  private specEnd = false;
  private specLevel = 9;
  private specStopped = true;

  /** the in-order walk's position: the block magic being decoded */
  private position = 0;

  constructor(
    private readonly iterator: AsyncIterator<Uint8Array>,
    options: ParallelOptions,
  ) {
    this.window = new InputWindow(iterator);
    const threads = Math.max(1, options.threads ?? bzip2Threads());
    this.maxInflight = Math.max(1, options.inflight ?? 2 * threads);
    this.pool = new Piscina({
      filename: new URL('../../workers/bzip2-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 1000,
      // a worker gets its next block while it decodes this one: piscina otherwise hands it over
      // only when the main thread has taken the last result, and the main thread is busy parsing
      // (106 MB bzip2 -9 of the 256 MiB corpus, `list`, 2 cores, 7 alternating runs: median
      // 6.05 -> 5.77 s)
      concurrentTasksPerWorker: 2,
      execArgv: workerExecArgv,
    });
    this.renewWake();
  }

  async *run(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      yield* this.walk();
    } finally {
      try {
        await this.iterator.return?.();
      } finally {
        // Tasks still running (speculation past an error or an early stop) are let finish
        // (at most `inflight` blocks): piscina's destroy() with tasks running can deliver a
        // late answer as an 'error' event ("Unexpected message from Worker").
        await Promise.allSettled([...this.running]);
        this.pool.on('error', () => undefined);
        await this.pool.destroy();
      }
    }
  }

  // ---- the in-order walk: stream.ts's state machine over absolute positions ----

  private async *walk(): AsyncGenerator<Uint8Array, void, undefined> {
    const source = this.window;
    let streams = 0;
    let headerByte = 0;
    for (;;) {
      // HEADER at a byte boundary
      await this.ensureBytes(headerByte + 4);
      this.discardBefore(headerByte);
      const head = this.bytesAt(headerByte, headerByte + 4);
      if (!isHeader(head)) {
        if (streams === 0) {
          const what = head.length === 0 ? 'empty input' : 'no "BZh1".."BZh9" header';
          throw badArchive(`not a bzip2 stream: ${what}`, { layer, offset: headerByte });
        }
        if (head.length < 4 && head.length > 0 && isHeaderPrefix(head)) {
          throw badArchive('bzip2 stream truncated inside a stream header', { layer, offset: headerByte });
        }
        return; // end of input, or trailing garbage (bzip2 -dc ignores it too)
      }
      const level = head[3]! - 0x30;
      streams++;
      let streamCrc = 0;
      let magicBit = (headerByte + 4) * 8;

      for (;;) {
        // MAGIC
        const magicOffset = floor8(magicBit);
        this.discardBefore(magicOffset);
        if (!(await this.ensureBytes(ceil8(magicBit + 48)))) {
          throw badArchive('bzip2 stream truncated: input ends before the end-of-stream marker', {
            layer,
            offset: source.offset + source.length,
          });
        }
        const magic = read48(source.bytes(), magicBit - source.offset * 8);

        if (magic === endMagic) {
          // END: the stream CRC, then padding to a byte boundary
          if (!(await this.ensureBytes(ceil8(magicBit + 80)))) {
            throw badArchive('bzip2 stream truncated inside the end-of-stream marker', {
              layer,
              offset: source.offset + source.length,
            });
          }
          const reader = new BitReader(source.bytes(), magicBit + 48 - source.offset * 8);
          const stored = reader.read32();
          if (stored !== streamCrc) {
            throw badArchive(`bzip2 stream CRC mismatch (stored ${hex(stored)}, computed ${hex(streamCrc)})`, {
              layer,
              offset: magicOffset,
            });
          }
          headerByte = ceil8(magicBit + 80);
          this.passed(magicBit + 1);
          break;
        }
        if (magic !== blockMagic) {
          throw badArchive('bad bzip2 block magic: the stream is corrupt', { layer, offset: magicOffset });
        }

        // BLOCK
        this.position = magicBit;
        this.passed(magicBit);
        if (this.specStopped || this.specBit < magicBit) {
          this.specBit = magicBit;
          this.specEnd = false;
          this.specLevel = level;
          this.specStopped = false;
        }
        const block = await this.decodeInOrder(magicBit, level);
        if (block.computedCrc !== block.storedCrc) {
          throw badArchive(
            `bzip2 block CRC mismatch (stored ${hex(block.storedCrc)}, computed ${hex(block.computedCrc)}): the data is corrupt`,
            { layer, offset: magicOffset },
          );
        }
        streamCrc = combineStreamCrc(streamCrc, block.computedCrc);
        magicBit = block.endBit;
        for (const piece of blockPieces(block)) {
          await this.topUp(); // keep the workers busy while the consumer handles this block
          yield piece;
        }
      }
    }
  }

  /**
   * Decode the block whose magic starts at `magicBit`: up to the next candidate, and on "short"
   * up to a candidate at least twice as far, until it decodes, fails, or input runs out.
   * Returns the result with `endBit` made absolute.
   */
  private async decodeInOrder(magicBit: number, level: number): Promise<OkResult> {
    const source = this.window;
    const startByte = floor8(magicBit);
    const cap = maxCompressedBlockBytes(level);
    let minEnd = magicBit + 48 + 1;
    for (;;) {
      let endByte: number;
      let atEnd = false;
      let overCap = false;
      for (;;) {
        const candidate = this.candidateFrom(minEnd);
        if (candidate) {
          endByte = ceil8(candidate.bit);
          break;
        }
        const have = source.offset + source.length;
        if (source.ended) {
          endByte = have;
          atEnd = true;
          break;
        }
        if (have - startByte > cap) {
          endByte = have;
          overCap = true;
          break;
        }
        await this.pull();
      }
      const result = await this.settle(this.task(magicBit, endByte, level));
      if (result.kind === 'ok') return { ...result, endBit: result.endBit + startByte * 8 };
      if (result.kind === 'error') {
        throw new P2VError(result.code, result.message, { layer, offset: result.offset });
      }
      if (atEnd) {
        throw badArchive(
          `bzip2 stream truncated (or corrupt): input ends inside the block that starts at byte ${startByte}`,
          { layer, offset: source.offset + source.length },
        );
      }
      if (overCap) {
        throw badArchive(`bzip2 block is larger than ${cap} bytes, more than any encoder writes`, {
          layer,
          offset: startByte,
        });
      }
      // The candidate was a false match inside the compressed data: try twice as far.
      minEnd = magicBit + 2 * (endByte * 8 - magicBit);
    }
  }

  /** Wait for a task, dispatching speculative ones whenever a worker frees up. */
  private async settle(task: Task): Promise<BlockResult> {
    while (!task.settled) {
      await this.topUp();
      if (task.settled) break;
      await Promise.race([task.result, this.wake]);
    }
    return task.result;
  }

  // ---- tasks ----

  private key(startBit: number, endByte: number, level: number): string {
    return `${startBit}:${endByte}:${level}`;
  }

  /** The task for this block attempt: speculation's if it made one, else a new one (kept in
   *  the map until the walk moves past it, so speculation does not make it again). */
  private task(magicBit: number, endByte: number, level: number): Task {
    const key = this.key(magicBit, endByte, level);
    return this.tasks.get(key) ?? this.dispatch(magicBit, endByte, level, key);
  }

  private dispatch(magicBit: number, endByte: number, level: number, key: string): Task {
    const source = this.window;
    const startByte = floor8(magicBit);
    const bytes = source.bytes().subarray(startByte - source.offset, endByte - source.offset);
    const input = this.inputSlots.take(bytes.length);
    new Uint8Array(input, 0, bytes.length).set(bytes);
    const job: BlockTask = { input, length: bytes.length, startBit: magicBit - startByte * 8 + 48, level, offset: startByte };
    const task: Task = { startBit: magicBit, settled: false, result: undefined as unknown as Promise<BlockResult> };
    this.inflight++;
    task.result = (this.pool.run(job) as Promise<BlockResult>).finally(() => {
      task.settled = true;
      this.inflight--;
      this.inputSlots.give(input); // the worker is done with it
      this.wakeUp();
    });
    task.result.catch(() => undefined); // abandoned tasks must not report; awaited ones throw there
    const stats = activeStats();
    if (stats) {
      task.result.then((result) => {
        stats.addWorkerTime('decode bzip2 blocks (workers)', result.busyMs ?? 0, result.kind === 'ok' ? (result.expandedLength ?? result.data.length) : 0);
      }, () => undefined);
    }
    this.running.add(task.result);
    task.result.then(
      () => this.running.delete(task.result),
      () => this.running.delete(task.result),
    );
    this.tasks.set(key, task);
    return task;
  }

  private renewWake(): void {
    this.wake = new Promise<void>((resolve) => {
      this.wakeUp = () => {
        this.renewWake();
        resolve();
      };
    });
  }

  // ---- speculation ----

  /** Room for one more speculative task: `maxInflight` running, and no more than that many
   *  results waiting for the walk (a slow consumer must not let decoded blocks pile up). */
  private hasRoom(): boolean {
    return this.inflight < this.maxInflight && this.tasks.size <= this.maxInflight;
  }

  /** Dispatch speculative blocks while there is room, reading input as needed. */
  private async topUp(): Promise<void> {
    for (;;) {
      while (this.hasRoom() && this.speculate());
      if (!this.hasRoom() || this.specStopped || this.window.ended) return;
      // Needs more input to see the next boundary; but not without bound.
      const have = this.window.offset + this.window.length;
      if (have - floor8(this.specBit) > maxCompressedBlockBytes(this.specLevel)) return;
      await this.pull();
    }
  }

  /** One step of speculation; false when it needs more input or has stopped. */
  private speculate(): boolean {
    if (this.specStopped) return false;
    const source = this.window;
    if (this.specEnd) {
      // An end-of-stream candidate: follow the next stream's header, if there is one.
      const headerByte = ceil8(this.specBit + 80);
      const have = source.offset + source.length;
      if (have < headerByte + 10) {
        if (source.ended) this.specStopped = true;
        return false;
      }
      const head = this.bytesAt(headerByte, headerByte + 4);
      const next = (headerByte + 4) * 8;
      const magic = read48(source.bytes(), next - source.offset * 8);
      if (!isHeader(head) || (magic !== blockMagic && magic !== endMagic)) {
        this.specStopped = true; // trailing garbage, or the end-of-stream magic was a fake
        return false;
      }
      this.specLevel = head[3]! - 0x30;
      this.specBit = next;
      this.specEnd = magic === endMagic;
      return true;
    }
    const candidate = this.candidateFrom(this.specBit + 48 + 1);
    if (!candidate) return false;
    const endByte = ceil8(candidate.bit);
    const key = this.key(this.specBit, endByte, this.specLevel);
    if (!this.tasks.has(key) && this.specBit >= this.position) this.dispatch(this.specBit, endByte, this.specLevel, key);
    this.specBit = candidate.bit;
    this.specEnd = candidate.end;
    return true;
  }

  // ---- input and candidates ----

  /** Pull one chunk and scan it for magics; false at end of input. */
  private async pull(): Promise<boolean> {
    if (!(await this.window.pull())) return false;
    this.scan();
    return true;
  }

  private async ensureBytes(endByte: number): Promise<boolean> {
    while (this.window.offset + this.window.length < endByte) if (!(await this.pull())) return false;
    return true;
  }

  /** Find every magic (full 48-bit match, any bit offset) in the bytes not scanned yet. */
  private scan(): void {
    const bytes = this.window.bytes();
    const base = this.window.offset;
    let from = Math.max(this.scanFrom - base, 1);
    const to = bytes.length - 2; // a hit at k needs bytes k-1..k+5 for the 48-bit check
    for (;;) {
      const k = findMagic(bytes, from, to);
      if (k < 0) break;
      for (let shift = 0; shift < 8; shift++) {
        const bit = (k - 1) * 8 + shift;
        const magic = read48(bytes, bit);
        if (magic === blockMagic || magic === endMagic) {
          this.candidates.push({ bit: (base + k - 1) * 8 + shift, end: magic === endMagic });
        }
      }
      from = k + 1;
    }
    this.scanFrom = base + Math.max(from, to - 3);
  }

  /** First candidate at or after `bit` (among those scanned so far). */
  private candidateFrom(bit: number): Candidate | undefined {
    const list = this.candidates;
    for (let i = this.head; i < list.length; i++) if (list[i]!.bit >= bit) return list[i];
    return undefined;
  }

  /** The walk is at `bit`: forget candidates and speculative tasks before it. */
  private passed(bit: number): void {
    const list = this.candidates;
    while (this.head < list.length && list[this.head]!.bit < bit) this.head++;
    if (this.head > 1024) {
      this.candidates = list.slice(this.head);
      this.head = 0;
    }
    for (const [key, task] of this.tasks) if (task.startBit < bit) this.tasks.delete(key);
  }

  private discardBefore(byte: number): void {
    const n = byte - this.window.offset;
    if (n > 0) this.window.discard(Math.min(n, this.window.length));
  }

  /** Bytes [from, to) of the input, as far as they have arrived (a view: valid until a pull). */
  private bytesAt(from: number, to: number): Uint8Array {
    const source = this.window;
    const bytes = source.bytes();
    return bytes.subarray(Math.max(0, from - source.offset), Math.max(0, Math.min(bytes.length, to - source.offset)));
  }
}
