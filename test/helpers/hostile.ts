/**
 * Running extract() on a hostile archive from a security test: the archive is bytes in memory
 * (test/helpers/cpio-writer.ts), the outcome is either a report or a P2VError. Anything else
 * thrown is a crash, and taking longer than `timeoutMs` is a hang: both fail the test.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extract, isP2VError, P2VError, type ExtractOptions, type ExtractReport } from '../../src/index.js';
import { bufferSource } from '../../src/io/source.js';
import type { CpioWriteFormat } from './cpio-writer.js';

/** Every cpio family the writer produces: each attack runs once per format (the sink is shared). */
export const FORMATS: readonly CpioWriteFormat[] = ['newc', 'odc', 'bin-le', 'bin-be', 'crc'];

export type Outcome = { report: ExtractReport; error?: undefined } | { report?: undefined; error: P2VError };

export interface HostileOptions extends Partial<Omit<ExtractOptions, 'image' | 'dest' | 'source'>> {
  /** feed the archive in pieces of this many bytes (default: one piece) */
  chunkBytes?: number;
  timeoutMs?: number;
}

export async function extractHostile(bytes: Uint8Array, dest: string, options: HostileOptions = {}): Promise<Outcome> {
  const { chunkBytes, timeoutMs = 60_000, ...rest } = options;
  const source = bufferSource('hostile.cpio', bytes, chunkBytes ?? Math.max(1, bytes.length));
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: extract() did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const report = await Promise.race([extract({ jobs: 2, ...rest, image: 'hostile.cpio', dest, source }), hang]);
    return { report };
  } catch (error) {
    if (isP2VError(error)) return { error };
    if (error instanceof Error && error.message.startsWith('HANG:')) assert.fail(error.message);
    assert.fail(`CRASH: extract() threw a non-P2VError: ${error instanceof Error ? error.stack : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The extraction must have completed (skipped members are warnings, not failures). */
export function expectReport(outcome: Outcome, context = ''): ExtractReport {
  if (outcome.error) assert.fail(`${context}${context ? ': ' : ''}expected the extraction to complete, got ${outcome.error.code}: ${outcome.error.oneLine()}`);
  return outcome.report;
}

/** The extraction must have been refused with a P2VError of one of `codes`. */
export function expectError(outcome: Outcome, codes: readonly string[], context = ''): P2VError {
  if (!outcome.error) {
    assert.fail(`${context}${context ? ': ' : ''}expected a P2VError (${codes.join(' or ')}), the extraction completed with warnings ${JSON.stringify(outcome.report.warnings.map((w) => w.code))}`);
  }
  assert.ok(codes.includes(outcome.error.code), `${context}: expected ${codes.join(' or ')}, got ${outcome.error.code}: ${outcome.error.oneLine()}`);
  return outcome.error;
}

/** A warning naming `entry` (display form), optionally with one of `codes`. */
export function expectWarning(report: ExtractReport, entry: string, codes?: readonly string[], context = ''): void {
  const found = report.warnings.find((w) => w.entry === entry && (!codes || codes.includes(w.code)));
  const short = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…(${text.length} chars)` : text);
  assert.ok(found, short(`${context}${context ? ': ' : ''}expected a warning${codes ? ` (${codes.join('/')})` : ''} about "${short(entry)}", got ${JSON.stringify(report.warnings.map((w) => ({ ...w, entry: w.entry && short(w.entry) })))}`));
}

/** lstat or undefined. */
export function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** `rel` (may contain an absolute host path, mapped under the root) inside the root. */
export function inRoot(root: string, rel: string): string {
  return path.join(root, rel.replace(/^\/+/, ''));
}

/** Every path under `root`, relative, sorted (symlinks not followed). */
export function listRoot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      const st = fs.lstatSync(path.join(dir, name));
      if (st.isDirectory()) walk(path.join(dir, name), r);
    }
  };
  walk(root, '');
  return out;
}

/** No temporary file of the writer (".zonep2v-…") was left anywhere in the root. */
export function assertNoTemporaries(root: string): void {
  const left = listRoot(root).filter((p) => path.basename(p).startsWith('.zonep2v-'));
  assert.deepEqual(left, [], 'temporary files left in the root');
}

/**
 * A member written through a symlink must either land where in-root resolution puts it
 * (`expected`, inside the root, with `content`) or have been skipped with a warning naming it.
 * Returns which happened.
 */
export function assertInRootOrSkipped(outcome: Outcome, root: string, entry: string, expected: string, content: string | undefined): 'in-root' | 'skipped' | 'refused' {
  if (outcome.error) return 'refused';
  const at = inRoot(root, expected);
  const st = lstat(at);
  if (st) {
    assert.ok(st.isFile(), `${entry}: expected a regular file at ${expected} inside the root`);
    if (content !== undefined) assert.equal(fs.readFileSync(at, 'utf8'), content, `${entry}: content at ${expected}`);
    return 'in-root';
  }
  expectWarning(outcome.report, entry, undefined, `${entry} was neither placed at ${expected} nor reported`);
  return 'skipped';
}

/** Empty the root for the next case (the root itself stays, so nothing beside it changes). */
export function clearRoot(root: string): void {
  for (const name of fs.readdirSync(root)) fs.rmSync(path.join(root, name), { recursive: true, force: true });
}
