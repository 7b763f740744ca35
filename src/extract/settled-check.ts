/**
 * The settled check of a re-run (extract.ts): is the tree still what the index's records say?
 * The index's lines are checked as they are (IndexLineChecker, index-check.ts), in chunks,
 * without a map of all records first: a settled re-run never needs one (the map is parsed only
 * when the run is not settled). For a directory image the chunks are interleaved with the walk
 * of the source (`interleave`), which this thread answers between them.
 *
 * (A helper thread taking half of the chunks was measured on these 2-core machines: the same
 * wall time, 0.1 s more CPU on a cpio re-run, and slower on a directory re-copy, where the walk
 * thread already takes the other core: 0.77 against 0.68 s, median of 5. Not kept.)
 */
import type { RootMetadata } from '../store/content-index.js';
import { IndexLineChecker, rootMatches } from './index-check.js';

/** Lines per chunk: ~1 ms of lstat calls, between two turns of the walk when interleaved. */
export const linesPerChunk = 512;

export interface CheckOptions {
  /** hand the thread back to the event loop between chunks (a directory image's walk) */
  interleave?: boolean;
  /** the answer is no longer wanted: stop at the next chunk with "no" */
  abandon?: AbortSignal;
}

/** Does the index hold 'attrs' records? (Their members must then be kept track of.) */
function hasAttrs(bytes: Buffer): boolean {
  return bytes.includes('"type":"attrs"');
}

/** Is the tree under `root` what the index (`bytes`) records? */
export async function treeMatchesIndexBytes(bytes: Buffer, root: string, owners: boolean, rootMetadata: RootMetadata | undefined, options: CheckOptions = {}): Promise<boolean> {
  return (await compareTreeWithIndex(bytes, root, owners, rootMetadata, options)).settled;
}

/** How the tree compares with the index, member by member (compareTreeWithIndex). */
export interface TreeComparison {
  /** every member as recorded, the root too: a full run would change nothing */
  settled: boolean;
  /** the members (physical paths) not as recorded, and directories members sit in that are not
   *  directories; undefined when they were too many, or the index has attributes (which are
   *  never checked), so that no member can be trusted */
  differing?: Set<string>;
}

/**
 * The tree against the index. With `differingLimit`, what differs is noted instead of stopping
 * at it, so that a re-run of the same image can trust the rest (partial-trust.ts); past the
 * limit the check stops, and nothing is trusted: the full run is as cheap as noting more.
 */
export async function compareTreeWithIndex(bytes: Buffer, root: string, owners: boolean, rootMetadata: RootMetadata | undefined, options: CheckOptions & { differingLimit?: number } = {}): Promise<TreeComparison> {
  const differingLimit = options.differingLimit ?? 0;
  try {
    const rootAsRecorded = rootMetadata === undefined || rootMatches(root, rootMetadata, owners);
    if (!rootAsRecorded && differingLimit === 0) return { settled: false }; // nothing to note: no need to look further
    const attrs = hasAttrs(bytes);
    const checker = new IndexLineChecker(root, owners, attrs, differingLimit);
    if (!(await checkAllLines(bytes, checker, options))) return { settled: false };
    return { settled: rootAsRecorded && checker.differing.size === 0, differing: attrs ? undefined : checker.differing };
  } catch {
    return { settled: false }; // the root not readable, say: the full run deals with it
  }
}

async function checkAllLines(bytes: Buffer, checker: IndexLineChecker, options: CheckOptions): Promise<boolean> {
  for (let start = 0; start < bytes.length; ) {
    if (options.abandon?.aborted) return false;
    const end = chunkEnd(bytes, start);
    if (!checker.checkLines(bytes.toString('utf8', start, end))) return false;
    start = end;
    if (options.interleave) await new Promise((resolve) => setImmediate(resolve));
  }
  return checker.finish();
}

/** Where the chunk starting at `start` ends: after its `linesPerChunk`-th line, or the end. */
function chunkEnd(bytes: Buffer, start: number): number {
  let at = start;
  for (let lines = 0; lines < linesPerChunk; lines++) {
    const newline = bytes.indexOf(10, at);
    if (newline < 0) return bytes.length;
    at = newline + 1;
  }
  return at;
}
