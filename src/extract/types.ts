/** Options and results of `extract()`. */
import type { ByteSource } from '../io/source.js';
import type { Limits } from '../limits.js';
import type { CpuReport, StageReport } from '../stats.js';

export interface ExtractOptions {
  /** image path, or "-" for standard input (ignored when `source` is given) */
  image: string;
  /** destination directory (the zone root); created if missing */
  dest: string;
  /** further volumes of a multi-volume dump, in order, after `image` */
  volumes?: string[];
  /** a ready source instead of opening `image` (tests, embedded payloads) */
  source?: ByteSource;
  /** strip a leading "/" from member names instead of refusing the image (Solaris refuses) */
  stripAbsolute?: boolean;
  /** create char/block devices and FIFOs (default true; needs root for devices) */
  devices?: boolean;
  /** writer threads (default: number of cores) */
  jobs?: number;
  /** content index to read (for skip-if-identical) and to write afterwards */
  indexFile?: string;
  /** called now and then with counters, for a progress line */
  onProgress?: (progress: Progress) => void;
  /** time each pipeline stage (--stats); the report then carries `stats` */
  stats?: boolean;
  limits?: Partial<Limits>;
  /** Stop the run: no member after the current one is started, what is in flight lands (or is
   *  removed if it cannot), the index is not written, and extract() rejects with
   *  P2V_INTERRUPTED. Every file left in the tree is whole; a re-run completes it. */
  signal?: AbortSignal;
}

export interface Progress {
  /** bytes read from the image (compressed) */
  imageBytes: number;
  /** image size when known */
  imageSize?: number;
  entries: number;
  /** file data bytes handed to the writers */
  dataBytes: number;
}

export interface Warning {
  code: string;
  message: string;
  entry?: string;
  /** a summary standing for this many warnings of its code that are not listed (WarningLog) */
  count?: number;
}

/** Warnings listed one by one, at most; beyond, they are counted per code. A hostile image can
 *  make one per member (60k members with 4000-byte names held 600 MB of warnings). */
export const maxListedWarnings = 1000;

/** A run's warnings: the first `maxListedWarnings`, then a count per code. */
export class WarningLog {
  private readonly listed: Warning[] = [];
  private readonly beyond = new Map<string, number>();

  readonly add = (warning: Warning): void => {
    if (this.listed.length < maxListedWarnings) this.listed.push(warning);
    else this.beyond.set(warning.code, (this.beyond.get(warning.code) ?? 0) + 1);
  };

  /** The listed warnings, then one summary per code of those that were only counted. */
  all(): Warning[] {
    const summaries = [...this.beyond].map(([code, count]): Warning => ({ code, message: `${count} more warning(s) with this code, not listed`, count }));
    return [...this.listed, ...summaries];
  }
}

/** What the writer counts as it goes (part of the report). */
export interface WriterCounters {
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  fifos: number;
  /** device nodes / FIFOs not created (--no-devices, or not root) */
  skippedSpecial: number;
  /** regular-file bytes in the image */
  dataBytes: number;
  /** regular files whose content was written */
  written: number;
  /** regular files already identical on disk (nothing rewritten) */
  unchanged: number;
}

/** Warnings that mean the tree is not all the image says: a member not written or not fully
 *  applied (P2V_IO), a member something in the tree was in the way of (P2V_BLOCKED: a
 *  non-empty directory, a file where a directory must be), a hard link whose target is missing
 *  or a directory (P2V_LINK_TARGET: GNU tar and bsdtar fail too), an incremental step not applied, a
 *  source file that changed while it was copied. A run with any of them is incomplete: the CLI
 *  exits non-zero, the index is not sealed. */
export const incompleteRunCodes: ReadonlySet<string> = new Set(['P2V_IO', 'P2V_BLOCKED', 'P2V_LINK_TARGET', 'P2V_INCREMENTAL', 'P2V_SOURCE_CHANGED']);

export function incompleteMembers(report: { warnings: readonly Warning[] }): number {
  let members = 0;
  for (const warning of report.warnings) if (incompleteRunCodes.has(warning.code)) members += warning.count ?? 1;
  return members;
}

export interface ExtractReport extends WriterCounters {
  image: string;
  dest: string;
  /** compression layers then the format, outermost first, e.g. ["gzip", "cpio(newc)"] */
  chain: string[];
  format: string;
  imageBytes: number;
  warnings: Warning[];
  elapsedMs: number;
  /** true when the image was not read at all: the same image file, unchanged, had gone into this
   *  tree with the same settings, and the tree still matched the index (extract.ts) */
  settledByIndex?: boolean;
  /** a re-run of the same image into a tree that differed from the index in places: how many
   *  members were found as recorded and passed over on their records, their data not even
   *  compared (partial-trust.ts) */
  trustedByIndex?: number;
  /** per-stage busy time, bytes and items (with `stats: true`) */
  stats?: StageReport[];
  /** CPU used by the run (with `stats: true`) */
  cpu?: CpuReport;
}
