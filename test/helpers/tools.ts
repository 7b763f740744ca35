/**
 * Running real tools (GNU cpio, bsdcpio, pax, afio, compressors) as oracles from tests.
 *
 * Everything is synchronous on purpose: the integration tests build archives and reference
 * extractions up front, and a synchronous child process keeps the order obvious. Outputs are
 * Buffers because archives and listings are bytes, not text.
 */
import { spawnSync, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const toolCache = new Map<string, boolean>();

/** True when `name` resolves to an executable on PATH (cached per process). */
export function haveTool(name: string): boolean {
  let found = toolCache.get(name);
  if (found === undefined) {
    const result = spawnSync('sh', ['-c', 'command -v "$1" >/dev/null 2>&1', 'sh', name], {
      stdio: 'ignore',
    });
    found = result.status === 0;
    toolCache.set(name, found);
  }
  return found;
}

/** The tools from `names` that are missing, for a skip reason ("missing: afio, pax"). */
export function missingTools(names: readonly string[]): string[] {
  return names.filter((name) => !haveTool(name));
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export interface RunOptions {
  cwd?: string;
  /** bytes or text fed to standard input */
  input?: string | Uint8Array;
  /** default: pipe all three (stdout/stderr are returned) */
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  /** exit statuses that count as success (default [0]); use 'any' to never throw */
  okStatus?: readonly number[] | 'any';
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Largest output a test expects to hold in memory (archives go to files, not stdout). */
const maxBuffer = 256 * 1024 * 1024;

/** Run `cmd args` without a shell; throw with the command, status and stderr when it fails. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  const result = spawnSync(cmd, args, {
    cwd: options.cwd,
    input: options.input,
    stdio: options.stdio ?? 'pipe',
    env: options.env,
    maxBuffer,
  });
  if (result.error) {
    throw new Error(`${describe(cmd, args, options.cwd)}: ${result.error.message}`, { cause: result.error });
  }
  const out: RunResult = {
    status: result.status,
    signal: result.signal,
    stdout: result.stdout ?? Buffer.alloc(0),
    stderr: result.stderr ? result.stderr.toString('utf8') : '',
  };
  const ok = options.okStatus ?? [0];
  if (ok !== 'any' && (out.status === null || !ok.includes(out.status))) {
    const why = out.signal ? `signal ${out.signal}` : `exit status ${out.status}`;
    throw new Error(`${describe(cmd, args, options.cwd)} failed (${why}): ${out.stderr.trim()}`);
  }
  return out;
}

/**
 * Run a shell pipeline such as `find . | sort | cpio -o -H newc > "$1"`. Extra `args` become
 * `$1`, `$2`... so paths never need quoting inside `script`. `set -o pipefail` is not POSIX sh,
 * so the script runs under bash: a failing writer in the middle of a pipe must fail the call.
 */
export function sh(script: string, args: readonly string[] = [], options: RunOptions = {}): RunResult {
  return run('bash', ['-o', 'pipefail', '-c', script, 'bash', ...args], options);
}

function describe(cmd: string, args: readonly string[], cwd: string | undefined): string {
  const text = [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
  return cwd ? `(cd ${cwd} && ${text})` : text;
}

/**
 * Remove a test tree. Trees hold 0555 directories, which a non-root user cannot empty, so
 * every directory is made writable first (never following symlinks).
 */
export function removeTree(dir: string): void {
  const open = (p: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    if ((st.mode & 0o700) !== 0o700) fs.chmodSync(p, (st.mode & 0o7777) | 0o700);
    for (const name of fs.readdirSync(p)) open(path.join(p, name));
  };
  open(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}
