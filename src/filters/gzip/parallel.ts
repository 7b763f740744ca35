/**
 * Member-parallel gzip: a file of several gzip members (`split | gzip` pipelines, `cat a.gz
 * b.gz`, bgzip) is cut into segments of whole members, decoded by piscina workers
 * (workers/gzip-worker.ts) and emitted strictly in order.
 *
 * Boundaries. A member carries no length, but members are byte-aligned and start with the magic
 * 1f 8b 08 (and no reserved flag), so every real boundary is among the places where those bytes
 * occur; the bytes can also occur by chance inside deflate data. A segment runs from a member
 * start to a candidate at least `segmentBytes` further on: a guess. Its worker inflates member
 * after member from the start (each one's end comes from decoding it, CRC-32 and ISIZE checked),
 * and the guess was right when the last one ends exactly at the segment's end.
 *   in order     the authoritative walk: from a confirmed member start, try its segment; if the
 *                last member runs past the end ("short": a false candidate), try again up to a
 *                candidate at least twice as far (a stream full of fake magics costs about twice
 *                the work, not quadratic). After a segment comes the next member, or what zlib
 *                reads there: a zero byte ends the data (tape padding), anything else must be a
 *                member header.
 *   speculation  dispatches the segments that follow, each from the end of the one before, at
 *                most `inflight` tasks not yet consumed; the walk takes a result when its attempt
 *                is the same (start, end); results for places the walk passed by are dropped.
 * Large members (no candidate within `maxSegmentBytes`, or more output than `maxOutputBytes`)
 * are not worth splitting: from there on the rest of the input goes to the serial decoder,
 * which reads any size in bounded memory. Single-member files (gzip, pigz) never start workers:
 * the first `minBytes` are looked at first.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { badArchive } from '../../errors.js';
import { InputWindow } from '../../io/input-window.js';
import { lookAhead, replayIterator } from '../../io/replay.js';
import { activeStats } from '../../stats.js';
import { workerExecArgv } from '../../workers/exec-argv.js';
import type { SegmentResult, SegmentTask } from '../../workers/gzip-protocol.js';
import { maybeMemberStart } from './member.js';
import { decodeGzipSerial } from './serial.js';

const layer = 'gzip';
const magicNeedle = Buffer.from([0x1f, 0x8b, 0x08]);
/** Output is handed downstream in views of at most this size (a member may be megabytes). */
const pieceBytes = 1024 * 1024;

export interface GzipParallelOptions {
  /** decode workers (default `gzipThreads()`); 1 means the serial decoder */
  threads?: number;
  /** member tasks dispatched and not yet consumed (default threads + 1) */
  inflight?: number;
  /** inputs smaller than this decode serially (default `parallelMinBytes`), as do inputs with no
   *  second member start within `maxSegmentBytes` (one member: gzip, pigz) */
  minBytes?: number;
  /** compressed bytes per task, at least (default 1 MiB: ~4 MiB of output, ~10 ms of work
   *  against ~0.1 ms of task overhead) */
  segmentBytes?: number;
  /** a member longer than this (compressed) is left to the serial decoder (default 4 MiB) */
  maxSegmentBytes?: number;
  /** likewise a segment whose output exceeds this (default 16 MiB) */
  maxOutputBytes?: number;
}

/** Below this much input the workers cost more than they save (as for bzip2: starting a worker
 *  is ~50 ms of CPU; node:zlib inflates ~270 MB/s per core here, ~15 ms per 4 MiB). */
export const parallelMinBytes = 4 * 1024 * 1024;
/** Memory: the input window reaches (inflight + 1) x this ahead of the walk, and every task
 *  undelivered holds up to `defaultMaxOutputBytes`: with 2 workers ~32 + 48 MiB at worst. */
const defaultMaxSegmentBytes = 4 * 1024 * 1024;
const defaultMaxOutputBytes = 16 * 1024 * 1024;

/**
 * Decode threads: ZONEP2V_GZIP_THREADS if set (1 = serial), else one core less than there are
 * (the main thread parses), at most `maxDefaultThreads`. node:zlib's serial inflater already
 * runs beside the main thread (libuv's pool) at ~270 MB/s, faster than an extraction consumes
 * its output, so on 2 cores workers only compete with parsing and writing: measured on the
 * 64 MiB corpus in 4 MiB members, extraction took 0.74-0.92 s serial vs 0.83-0.96 s with 2
 * workers, and peak RSS went from ~145 to ~255 MB (each worker keeps its own isolate and malloc
 * arena). Decode-only they do pay: 256 MiB of members in 0.55-0.64 s vs 0.82-0.85 s serial.
 */
export function gzipThreads(): number {
  const fromEnv = Number(process.env.ZONEP2V_GZIP_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return fromEnv;
  return Math.min(maxDefaultThreads, Math.max(1, os.availableParallelism() - 1));
}

/** Two workers inflate ~500 MB/s, several times what the rest of the pipeline takes (~150 MB/s
 *  here); more would only cost memory: decode-only of 256 MiB of members peaks at 240 MB RSS
 *  with two (91 MB serial), from the workers' heaps and the transferred outputs that wait for a
 *  GC on the main thread. */
const maxDefaultThreads = 2;

/** Decode a gzip file: members in parallel when there are several and enough input, else serially. */
export async function* decodeGzip(input: AsyncIterable<Uint8Array>, options: GzipParallelOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const threads = options.threads ?? gzipThreads();
  if (threads <= 1) {
    yield* decodeGzipSerial(input);
    return;
  }
  const minBytes = options.minBytes ?? parallelMinBytes;
  // enough input to be worth the workers, and a second member within the largest segment
  const probeBytes = Math.max(options.maxSegmentBytes ?? defaultMaxSegmentBytes, minBytes);
  let second = false;
  const { have, replay } = await lookAhead(input, (have, chunks) => {
    second ||= findCandidate(chunks[chunks.length - 1]!, chunks.length === 1 ? 1 : 0) >= 0;
    return have < minBytes || (!second && have < probeBytes);
  });
  // the decoders below return the input when they finish
  if (have < minBytes || !second) yield* decodeGzipSerial(replay);
  else yield* new MemberDriver(replay[Symbol.asyncIterator](), threads, options).run();
}

/** The first possible member start at or after `from`, or -1 (also when the 4th byte is not in yet). */
function findCandidate(bytes: Uint8Array, from: number): number {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let at = from; ; at++) {
    at = view.indexOf(magicNeedle, at);
    if (at < 0 || at + 3 >= bytes.length) return -1;
    if (maybeMemberStart(bytes, at)) return at;
  }
}

interface Task {
  start: number;
  result: Promise<SegmentResult>;
}

class MemberDriver {
  private readonly window: InputWindow;
  private readonly pool: Piscina;
  private readonly maxInflight: number;
  private readonly segmentBytes: number;
  private readonly maxSegmentBytes: number;
  private readonly maxOutputBytes: number;
  /** read ahead for speculation at most this far past the walk */
  private readonly maxAheadBytes: number;
  /** possible member starts, absolute offsets, ascending; those before `passed` are behind the walk */
  private candidates: number[] = [];
  private passed = 0;
  /** absolute offset where the next scan for candidates begins */
  private scanned = 1;
  /** tasks not yet consumed, by "start:end" */
  private readonly tasks = new Map<string, Task>();
  /** tasks the walk passed by that are still running (they hold a worker) */
  private staleRunning = 0;
  private handedOver = false;
  /** every task not yet answered, walked past or not: waited for before the pool is destroyed */
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly iterator: AsyncIterator<Uint8Array>,
    threads: number,
    options: GzipParallelOptions,
  ) {
    this.window = new InputWindow(iterator);
    this.maxInflight = Math.max(1, options.inflight ?? threads + 1);
    this.segmentBytes = options.segmentBytes ?? 1024 * 1024;
    this.maxSegmentBytes = Math.max(options.maxSegmentBytes ?? defaultMaxSegmentBytes, this.segmentBytes);
    this.maxOutputBytes = options.maxOutputBytes ?? defaultMaxOutputBytes;
    this.maxAheadBytes = (this.maxInflight + 1) * this.maxSegmentBytes;
    this.pool = new Piscina({
      filename: new URL('../../workers/gzip-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 1000,
      execArgv: workerExecArgv,
    });
  }

  private get windowEnd(): number {
    return this.window.offset + this.window.length;
  }

  async *run(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      let position = 0;
      for (;;) {
        this.window.discard(position - this.window.offset);
        this.pass(position);
        for (const [key, task] of this.tasks) if (task.start < position) this.dropTask(key, task);
        if (!(await this.window.ensure(1))) return; // the input ends with a member
        if (position > 0 && this.window.bytes()[0] === 0) return; // zero padding after a member: zlib stops here too
        let end = await this.candidateAfter(position, position + this.segmentBytes);
        let result: SegmentResult;
        for (;;) {
          if (end === 'none') {
            yield* this.serialFrom(position);
            return;
          }
          const final = end === 'eof';
          const stop = end === 'eof' ? this.windowEnd : end;
          result = await this.attempt(position, stop, final);
          if (result.kind !== 'short') break;
          end = await this.candidateAfter(position, position + 2 * (stop - position));
        }
        if (result.kind === 'big') {
          yield* this.serialFrom(position);
          return;
        }
        if (result.kind === 'error') throw badArchive(`corrupt or truncated gzip stream (${result.message})`, { layer, offset: result.offset });
        for (const output of result.outputs) {
          for (let at = 0; at < output.length; at += pieceBytes) yield output.subarray(at, Math.min(at + pieceBytes, output.length));
        }
        if (result.padded) return;
        position += result.segmentBytes;
      }
    } finally {
      // tasks still running (speculation past an error or an early stop) are let finish first,
      // at most `maxInflight`: a pool destroyed under a running task gets its answer later and
      // piscina reports it as an 'error' event ("Unexpected message from Worker"), which with no
      // listener is an uncaught exception (seen in CI after a damaged member)
      while (this.running.size > 0) await Promise.all([...this.running]);
      this.pool.on('error', () => undefined);
      await this.pool.destroy().catch(() => undefined);
      if (!this.handedOver && !this.window.ended) await this.iterator.return?.();
    }
  }

  /** The rest of the input, from `position`, through the serial decoder. */
  private async *serialFrom(position: number): AsyncGenerator<Uint8Array, void, undefined> {
    this.window.discard(position - this.window.offset);
    const rest = this.window.length > 0 ? [this.window.bytes()] : [];
    this.handedOver = true;
    const replayed = replayIterator(rest, this.window.ended ? undefined : this.iterator);
    yield* decodeGzipSerial({ [Symbol.asyncIterator]: () => replayed }, position);
  }

  /** Decode the member at `start` up to `stop` (a task speculation may already have sent). */
  private async attempt(start: number, stop: number, final: boolean): Promise<SegmentResult> {
    const key = `${start}:${stop}`;
    const task = this.tasks.get(key) ?? this.dispatch(start, stop, final);
    this.speculate(stop);
    // while the workers run, read ahead so that speculation has candidates to send
    while (this.tasks.size + this.staleRunning < this.maxInflight && !this.window.ended && this.windowEnd - start < this.maxAheadBytes) {
      await this.pull();
      this.speculate(stop);
    }
    const result = await task.result;
    this.tasks.delete(key);
    return result;
  }

  /** Send the segments that follow `from` (a candidate), each from the end of the one before
   *  (as the walk will cut them if the guesses are right), while there is room. */
  private speculate(from: number): void {
    let start = from;
    while (this.tasks.size + this.staleRunning < this.maxInflight) {
      if (this.candidates[this.firstAtLeast(start)] !== start) return; // the input ends there, or not scanned yet
      const next = this.candidates[this.firstAtLeast(start + this.segmentBytes)];
      const stop = next ?? (this.window.ended ? this.windowEnd : undefined);
      if (stop === undefined || stop - start > this.maxSegmentBytes) return;
      if (!this.tasks.has(`${start}:${stop}`)) this.dispatch(start, stop, next === undefined);
      start = stop;
    }
  }

  private dispatch(start: number, stop: number, final: boolean): Task {
    const from = start - this.window.offset;
    const data = this.window.bytes().slice(from, from + (stop - start)); // a copy of its own, transferred
    const task: SegmentTask = { data, offset: start, final, maxOutputBytes: this.maxOutputBytes };
    const movable = { [Piscina.transferableSymbol]: [data.buffer], [Piscina.valueSymbol]: task };
    const result = (this.pool.run(Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0])) as Promise<SegmentResult>).then(
      (value) => {
        const bytes = value.kind === 'ok' ? value.outputs.reduce((sum, output) => sum + output.length, 0) : 0;
        activeStats()?.addWorkerTime('decode gzip members (workers)', value.busyMs ?? 0, bytes);
        return value;
      },
      (error: unknown): SegmentResult => ({ kind: 'error', message: String((error as Error)?.message ?? error), offset: start }),
    );
    const answered = result.then(() => undefined); // `result` never rejects (see above)
    this.running.add(answered);
    void answered.then(() => this.running.delete(answered));
    const entry = { start, result };
    this.tasks.set(`${start}:${stop}`, entry);
    return entry;
  }

  /** Forget a task the walk passed by; it still holds a worker until it settles. */
  private dropTask(key: string, task: Task): void {
    this.tasks.delete(key);
    this.staleRunning++;
    void task.result.finally(() => this.staleRunning--);
  }

  /** The first candidate at or past `atLeast`; 'eof' when the input ends first; 'none' when
   *  there is none within `maxSegmentBytes` of `start` (a large member). */
  private async candidateAfter(start: number, atLeast: number): Promise<number | 'eof' | 'none'> {
    for (;;) {
      const found = this.candidates[this.firstAtLeast(atLeast)];
      if (found !== undefined) return found - start <= this.maxSegmentBytes ? found : 'none';
      if (this.windowEnd - start > this.maxSegmentBytes) return 'none';
      if (this.window.ended) return 'eof';
      await this.pull();
    }
  }

  /** Index of the first candidate >= `offset` not behind the walk (binary search: a hostile
   *  input can hold millions of fake magics). */
  private firstAtLeast(offset: number): number {
    let low = this.passed;
    let high = this.candidates.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.candidates[middle]! < offset) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The walk is at `position`: candidates up to there are behind it. */
  private pass(position: number): void {
    this.passed = this.firstAtLeast(position + 1);
    if (this.passed > 4096 && this.passed * 2 > this.candidates.length) {
      this.candidates = this.candidates.slice(this.passed);
      this.passed = 0;
    }
  }

  private async pull(): Promise<boolean> {
    const more = await this.window.pull();
    const bytes = this.window.bytes();
    const base = this.window.offset;
    let from = Math.max(this.scanned - base, 0);
    for (;;) {
      const at = findCandidate(bytes, from);
      if (at < 0) break;
      this.candidates.push(base + at);
      from = at + 1;
    }
    // a magic cut by the end of the window is found on the next scan
    this.scanned = base + Math.max(from, bytes.length - 3);
    return more;
  }
}
