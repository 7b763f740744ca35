/**
 * `--stats`: where an extraction's time goes, per pipeline stage.
 *
 * Main thread. The pipeline is pull-based (write ← parse ← decode ← read), so the main thread is
 * in exactly one stage at any moment; a clock with a stack of stages charges the time between two
 * transitions to the stage on top. Iterators are wrapped (`timed`) so that each pull enters the
 * stage that produces the chunk and leaves it when the chunk arrives; time spent awaiting the
 * file system counts for `read`, time spent awaiting room in the ring counts for its own stage
 * (`queue wait`). Microtasks that run while a stage awaits (worker results) are charged to it:
 * the figures are a profile, not an accounting to the microsecond.
 *
 * Worker threads report their own busy time (decode workers per task, write workers through
 * shared counters), so the report shows both sides of every queue.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface StageReport {
  stage: string;
  /** main-thread milliseconds charged to the stage, or worker busy milliseconds (summed) */
  busyMs: number;
  /** bytes out of the stage (decoded bytes, bytes written), when it moves bytes */
  bytes?: number;
  /** chunks, entries, tasks or files */
  items?: number;
  /** where the stage runs */
  thread: 'main' | 'workers';
}

interface Stage {
  busyMs: number;
  bytes: number;
  items: number;
  thread: 'main' | 'workers';
}

export class PipelineStats {
  private readonly stages = new Map<string, Stage>();
  private readonly stack: Stage[] = [];
  private last = performance.now();
  private readonly started = this.last;

  private stage(name: string, thread: 'main' | 'workers' = 'main'): Stage {
    let stage = this.stages.get(name);
    if (!stage) {
      stage = { busyMs: 0, bytes: 0, items: 0, thread };
      this.stages.set(name, stage);
    }
    return stage;
  }

  /** Charge the time since the last transition to the stage on top. */
  private tick(): void {
    const now = performance.now();
    const top = this.stack[this.stack.length - 1];
    if (top) top.busyMs += now - this.last;
    this.last = now;
  }

  enter(name: string): void {
    this.tick();
    this.stack.push(this.stage(name));
  }

  leave(): void {
    this.tick();
    this.stack.pop();
  }

  /** Run `work` (sync or async) as stage `name`. */
  async during<T>(name: string, work: () => T | Promise<T>): Promise<T> {
    this.enter(name);
    try {
      return await work();
    } finally {
      this.leave();
    }
  }

  /** Count bytes/items out of a stage without timing it. */
  count(name: string, bytes: number, items = 1): void {
    const stage = this.stage(name);
    stage.bytes += bytes;
    stage.items += items;
  }

  /** Busy time measured on worker threads. */
  addWorkerTime(name: string, busyMs: number, bytes = 0, items = 1): void {
    const stage = this.stage(name, 'workers');
    stage.busyMs += busyMs;
    stage.bytes += bytes;
    stage.items += items;
  }

  /** Wrap a byte stream: each pull runs as stage `name`; chunks and bytes are counted. */
  timedBytes(name: string, source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    return this.timed(name, source, (chunk) => chunk.length);
  }

  /** Wrap any async iterable: each pull runs as stage `name`. */
  timed<T>(name: string, source: AsyncIterable<T>, size: (item: T) => number = () => 0): AsyncIterable<T> {
    const stats = this;
    const stage = this.stage(name);
    return {
      [Symbol.asyncIterator](): AsyncIterator<T> {
        const inner = source[Symbol.asyncIterator]();
        return {
          async next() {
            stats.enter(name);
            let result: IteratorResult<T>;
            try {
              result = await inner.next();
            } finally {
              stats.leave();
            }
            if (!result.done) {
              stage.items++;
              stage.bytes += size(result.value);
            }
            return result;
          },
          async return(value?: unknown) {
            return (await inner.return?.(value)) ?? { done: true, value: undefined };
          },
        };
      },
    };
  }

  /** Wall time since the collector started. */
  get elapsedMs(): number {
    return performance.now() - this.started;
  }

  report(): StageReport[] {
    this.tick();
    return [...this.stages].map(([stage, s]) => ({
      stage,
      busyMs: Math.round(s.busyMs * 10) / 10,
      ...(s.bytes > 0 ? { bytes: s.bytes } : {}),
      ...(s.items > 0 ? { items: s.items } : {}),
      thread: s.thread,
    }));
  }
}

/**
 * Where the CPU went during a run: the whole process (every thread, user + system), and on Linux
 * the main thread's own time on a CPU and time runnable but waiting for one
 * (/proc/thread-self/schedstat). On a machine with few cores the second number says whether the
 * run is bound by CPU rather than by its stages: the parse thread then spends much of the wall
 * time waiting for a core that workers, compilers and collectors hold.
 */
export interface CpuReport {
  /** user + system milliseconds of the whole process */
  processMs: number;
  /** the main thread on a CPU, and runnable but not running (Linux only) */
  mainOnCpuMs?: number;
  mainWaitingMs?: number;
  cores: number;
}

interface CpuMark {
  usage: NodeJS.CpuUsage;
  schedule: [number, number] | undefined;
}

/** Nanoseconds on a CPU and waiting in the run queue, for the calling thread; undefined where
 *  /proc/thread-self does not exist. */
function threadSchedule(): [number, number] | undefined {
  try {
    const [onCpu, waiting] = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ');
    return [Number(onCpu), Number(waiting)];
  } catch {
    return undefined;
  }
}

export function cpuMark(): CpuMark {
  return { usage: process.cpuUsage(), schedule: threadSchedule() };
}

export function cpuSince(mark: CpuMark): CpuReport {
  const usage = process.cpuUsage(mark.usage);
  const now = threadSchedule();
  const report: CpuReport = { processMs: Math.round((usage.user + usage.system) / 1000), cores: availableParallelism() };
  if (now && mark.schedule) {
    report.mainOnCpuMs = Math.round((now[0] - mark.schedule[0]) / 1e6);
    report.mainWaitingMs = Math.round((now[1] - mark.schedule[1]) / 1e6);
  }
  return report;
}

/** The collector of the extraction running in this thread, if it asked for one. Decoders deep in
 *  the filter chain report their workers' time here without every layer passing it along. */
let active: PipelineStats | undefined;

export function activeStats(): PipelineStats | undefined {
  return active;
}

export function setActiveStats(stats: PipelineStats | undefined): void {
  active = stats;
}

/** Shared counters that worker threads add to (busy µs, hashing µs, bytes, files). */
export const workerMeterSlots = { busyMicros: 0, hashMicros: 1, bytes: 2, files: 3 } as const;

export function newWorkerMeter(): SharedArrayBuffer {
  return new SharedArrayBuffer(8 * 4);
}

export function addToMeter(meter: BigInt64Array, slot: number, value: number): void {
  Atomics.add(meter, slot, BigInt(Math.round(value)));
}
