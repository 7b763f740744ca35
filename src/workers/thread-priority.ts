/**
 * Lower the scheduling priority of the calling thread alone (the write workers call it at start).
 *
 * Why: the main thread parses the image and places every member; it is the pipeline's critical
 * path. The writers are fed through the ring (extract/arena.ts) and can lag behind it without
 * stalling anything: when the ring fills, the main thread waits and the writers get the CPU.
 * On a machine with fewer cores than busy threads (main, writers, V8's compiler and GC threads,
 * libuv's pool), the scheduler otherwise shares each core equally, and the main thread spent a
 * third of its time runnable but waiting for a CPU (--stats). Niced writers give it the core
 * first and take what it leaves; with a core each, nothing changes.
 * Measured on the 256 MiB corpus (2 cores, alternating runs, median wall, ZONEP2V_WRITER_NICE=0
 * against 10): fresh ext4 1.68 -> 1.56 s (5 runs), and again later 1.58 -> 1.50 s (6 runs);
 * tmpfs 1.44 -> 1.36 s (7 runs), though a later A/B against the commit before showed none.
 *
 * Linux only: there setpriority(PRIO_PROCESS, tid) applies to that one thread (a documented
 * departure from POSIX, where it is the whole process), and /proc/thread-self names the thread.
 * Elsewhere, or when refused, the thread keeps its priority: this is a tuning, never an error.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Nice increment of the write workers; ZONEP2V_WRITER_NICE=0 leaves them alone (comparison runs). */
export function writerNiceIncrement(): number {
  const fromEnv = Number(process.env.ZONEP2V_WRITER_NICE);
  return Number.isInteger(fromEnv) && fromEnv >= 0 ? fromEnv : 10;
}

/** The calling thread's kernel id, when the system says (Linux). */
function currentThreadId(): number | undefined {
  try {
    const id = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(id) && id > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Add `increment` to the calling thread's nice value (19 at most: only ever lower). Returns the
 *  nice value the thread has afterwards, or undefined when it could not be changed. */
export function lowerThisThreadPriority(increment: number): number | undefined {
  if (process.platform !== 'linux' || increment <= 0) return undefined;
  const tid = currentThreadId();
  // in the main thread the "thread" would be the whole process: never touch that
  if (tid === undefined || tid === process.pid) return undefined;
  try {
    const target = Math.min(19, getPriority(tid) + increment);
    setPriority(tid, target);
    return getPriority(tid);
  } catch {
    return undefined;
  }
}
