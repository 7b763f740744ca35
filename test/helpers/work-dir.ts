/** Temporary work directories for tests, removed when the test ends. */
import type { TestContext } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveTool } from './tools.js';

export function workDir(t: TestContext, label: string): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `zonep2v-${label}-`));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  return work;
}

/** A work directory for a test that makes its images with GNU cpio; undefined (skipped) without it. */
export function cpioWorkDir(t: TestContext, label: string): string | undefined {
  if (!haveTool('cpio')) {
    t.skip('needs GNU cpio');
    return undefined;
  }
  return workDir(t, label);
}
