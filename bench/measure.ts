/**
 * Runs one timed command or pipeline: wall time from Node's hrtime, and per-process peak RSS and
 * exit status CPU time and exit status from GNU time
 * (`/usr/bin/time -f '%e %M %x %U %S' -o FILE`).
 *
 * Every process of a pipeline gets its own `time` wrapper, so `gzip -dc | cpio -idmu` reports the
 * peak of each process separately (a single `time sh -c '...'` would report only the largest
 * child's ru_maxrss, hiding the other). Callers report the max, and the JSON keeps all of them.
 * Note ru_maxrss of one process includes its threads (Node workers) and, per wait4(), the largest
 * of the descendants it waited for, not their sum.
 *
 * The pipeline runs under `sh -c` in its own process group (detached), registered with fresh-fs so
 * an interrupted benchmark kills it before unmounting. The wrappers cost ~2 ms of wall time.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { trackChild } from './fresh-fs.js';

export const GNU_TIME = '/usr/bin/time';

export interface TimedCommand {
  /** the processes of the pipeline, in order; each an argv */
  stages: string[][];
  /** file connected to the first stage's standard input */
  stdinFile?: string;
  cwd: string;
  /** where the time output files go */
  scratchDir: string;
}

export interface ProcStat {
  argv0: string;
  /** exit status, or null when killed by a signal */
  exit: number | null;
  signal?: number;
  /** GNU time's %e (10 ms resolution) */
  seconds: number;
  /** user + system CPU seconds (%U + %S), all threads */
  cpuSeconds: number;
  maxRssKiB: number;
}

export interface TimedResult {
  wallSeconds: number;
  ok: boolean;
  procs: ProcStat[];
  /** what went wrong, one line, when !ok */
  error?: string;
  stderrTail: string;
}

let seq = 0;

export async function runTimed(cmd: TimedCommand): Promise<TimedResult> {
  fs.mkdirSync(cmd.scratchDir, { recursive: true });
  const timeFiles = cmd.stages.map((_, i) => path.join(cmd.scratchDir, `time-${process.pid}-${++seq}-${i}.txt`));
  for (const f of timeFiles) fs.rmSync(f, { force: true });
  const parts = cmd.stages.map((argv, i) => [GNU_TIME, '-f', '%e %M %x %U %S', '-o', timeFiles[i]!, ...argv].map(shQuote).join(' '));
  const script = (cmd.stdinFile ? `exec <${shQuote(cmd.stdinFile)}; ` : '') + parts.join(' | ') + ' >/dev/null';

  const t0 = process.hrtime.bigint();
  const child = spawn('sh', ['-c', script], { cwd: cmd.cwd, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr = (stderr + s).slice(-8192);
  });
  const { code, t1 } = await new Promise<{ code: number | null; t1: bigint }>((resolve) => {
    child.once('error', () => resolve({ code: -1, t1: process.hrtime.bigint() }));
    child.once('exit', (c) => resolve({ code: c, t1: process.hrtime.bigint() }));
  });
  await new Promise<void>((resolve) => (child.stderr!.readableEnded ? resolve() : child.stderr!.once('close', () => resolve())));
  const wallSeconds = Number(t1 - t0) / 1e9;

  const procs = cmd.stages.map((argv, i) => readTimeFile(timeFiles[i]!, argv[0]!));
  for (const f of timeFiles) fs.rmSync(f, { force: true });
  // A failing reader makes the writer before it die of SIGPIPE (13): name the reader.
  const bad = procs.find((p) => p.exit !== 0 && p.signal !== 13) ?? procs.find((p) => p.exit !== 0);
  const tail = errorLine(stderr);
  let error: string | undefined;
  if (bad) {
    error = bad.signal !== undefined ? `${bad.argv0} killed by signal ${bad.signal}` : `${bad.argv0} exited ${bad.exit ?? '?'}`;
    if (tail) error += `: ${tail}`;
  } else if (code !== 0) {
    error = `sh exited ${code}${tail ? `: ${tail}` : ''}`;
  }
  return { wallSeconds, ok: error === undefined, procs, ...(error ? { error } : {}), stderrTail: stderr.slice(-2000) };
}

/**
 * GNU time writes "Command exited with non-zero status N" or "Command terminated by signal N"
 * before the format line when something went wrong; the last line is always our format.
 */
function readTimeFile(file: string, argv0: string): ProcStat {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { argv0, exit: null, seconds: NaN, cpuSeconds: NaN, maxRssKiB: NaN };
  }
  const lines = text.trim().split('\n');
  const m = /^([\d.]+) (\d+) (-?\d+) ([\d.]+) ([\d.]+)$/.exec(lines[lines.length - 1] ?? '');
  const sig = /terminated by signal (\d+)/.exec(text);
  if (!m) return { argv0, exit: null, seconds: NaN, cpuSeconds: NaN, maxRssKiB: NaN, ...(sig ? { signal: Number(sig[1]) } : {}) };
  const stat = { seconds: Number(m[1]), cpuSeconds: Number(m[4]) + Number(m[5]), maxRssKiB: Number(m[2]) };
  if (sig) return { argv0, exit: null, signal: Number(sig[1]), ...stat };
  return { argv0, exit: Number(m[3]), ...stat };
}

/** The line of stderr most likely to say what went wrong (Node prints a stack and its version last). */
function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^Node\.js v/.test(l) && !/^[{}]$/.test(l));
  const hit = lines.find((l) => /\b(error|ERR_[A-Z_]+|cannot|can't|denied|not found|no such)\b/i.test(l) && !/^at /.test(l));
  return (hit ?? lines[lines.length - 1] ?? '').slice(0, 300);
}

/** Reads files whole so they are in the page cache before a timed run (caches cannot always be
 *  dropped here; they can be filled, so every job reads its input warm). */
export function warmPageCache(files: string[]): void {
  const buf = Buffer.allocUnsafe(8 << 20);
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    try {
      while (fs.readSync(fd, buf, 0, buf.length, null) > 0) {
        /* read it all */
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

export function shQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Splits a command line the way a shell would for simple cases: spaces, '...' and "..." quoting. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new Error(`unbalanced quote in command: ${line}`);
  if (has) out.push(cur);
  return out;
}
