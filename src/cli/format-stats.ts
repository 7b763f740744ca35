/** The `--stats` table: one line per pipeline stage, main thread first. */
import type { CpuReport, StageReport } from '../stats.js';
import { humanBytes } from './progress.js';

export function formatStats(stages: StageReport[], elapsedMs: number, cpu?: CpuReport): string {
  const rows = [...stages].sort((a, b) => (a.thread === b.thread ? 0 : a.thread === 'main' ? -1 : 1));
  const lines = [`stage                             thread    busy s  % wall        bytes      MB/s    items`];
  for (const s of rows) {
    const seconds = s.busyMs / 1000;
    const rate = s.bytes && seconds > 0 ? (s.bytes / 1e6 / seconds).toFixed(1) : '';
    lines.push(
      `${s.stage.padEnd(32)}  ${s.thread.padEnd(7)}  ${seconds.toFixed(3).padStart(7)}  ${((100 * s.busyMs) / elapsedMs).toFixed(0).padStart(5)}%` +
        `  ${(s.bytes ? humanBytes(s.bytes) : '').padStart(11)}  ${rate.padStart(8)}  ${String(s.items ?? '').padStart(7)}`,
    );
  }
  lines.push(`wall ${(elapsedMs / 1000).toFixed(3)} s (main-thread stages add up to it; worker stages are summed over threads)`);
  if (cpu) {
    const s = (ms: number) => (ms / 1000).toFixed(3);
    const main = cpu.mainOnCpuMs !== undefined && cpu.mainWaitingMs !== undefined ? `; main thread ${s(cpu.mainOnCpuMs)} s on a CPU, ${s(cpu.mainWaitingMs)} s runnable but waiting for one` : '';
    lines.push(`cpu ${s(cpu.processMs)} s, all threads, on ${cpu.cores} core(s)${main}`);
  }
  return lines.join('\n');
}
