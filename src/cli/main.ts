/**
 * The command line: parse flags, call the library, print text or JSON, map errors to exit codes
 * (0 ok, 1 failure, 2 usage). Nothing here knows formats or disks.
 */
import { formatStats } from './format-stats.js';
import os from 'node:os';
import { zonep2vVersion } from '../version.js';
import { Command, CommanderError, Option } from 'commander';
import { extract } from '../extract/extract.js';
import { type ExtractReport, type Warning, incompleteMembers } from '../extract/types.js';
import { displayPath, type Entry } from '../entry.js';
import { isP2VError, P2VError } from '../errors.js';
import { longLine } from './format-listing.js';
import { humanBytes, ProgressLine } from './progress.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
/** The signal that stopped the run: the exit status is then 128 + its number, as shells report
 *  a command a signal stopped (130 for Ctrl-C, 143 for SIGTERM). */
let stoppedBy: 'SIGINT' | 'SIGTERM' = 'SIGINT';
const interruptedStatus = () => 128 + os.constants.signals[stoppedBy];

/**
 * While `work` runs, the first SIGINT or SIGTERM stops it cleanly (through `controller`: what is
 * in flight lands, nothing half written is left); a second SIGINT ends the process at once.
 */
async function stoppable<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = (signal: 'SIGINT' | 'SIGTERM') => {
    if (controller.signal.aborted) process.exit(interruptedStatus());
    stoppedBy = signal;
    process.stderr.write('\nzonep2v: stopping: letting the writes in flight land (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new P2VError('P2V_USAGE', `expected a positive integer, got "${value}"`);
  return n;
}

const collect = (value: string, all: string[]) => [...all, value];
const volumeHelp = 'next volume of a multi-volume dump, in order (repeatable)';

function printWarnings(warnings: Warning[], quiet: boolean): void {
  if (quiet) return;
  const shown = warnings.slice(0, 20);
  for (const w of shown) process.stderr.write(`zonep2v: warning: ${w.entry ? `entry "${w.entry}": ` : ''}${w.message}\n`);
  const more = warnings.slice(shown.length).reduce((sum, w) => sum + (w.count ?? 1), 0);
  if (more > 0) process.stderr.write(`zonep2v: ... and ${more} more warnings (--json lists them)\n`);
}

function summary(report: ExtractReport): string {
  const seconds = report.elapsedMs / 1000;
  return (
    `${report.chain.join(' → ')}: ${report.entries} entries (${report.files} files, ${report.dirs} dirs, ${report.symlinks} symlinks, ` +
    `${report.hardlinks} hard links, ${report.devices + report.fifos} special${report.skippedSpecial ? `, ${report.skippedSpecial} special skipped` : ''}), ` +
    `${humanBytes(report.dataBytes)} of data; ${report.written} written, ${report.unchanged} unchanged; ` +
    `${seconds.toFixed(2)} s, ${humanBytes(report.dataBytes / Math.max(seconds, 1e-9))}/s` +
    (report.settledByIndex
      ? report.format === 'dir'
        ? ' (every source member as the index records it, and the tree too: nothing copied)'
        : ' (image unchanged since the index was written, tree as the index records it: image not read)'
      : report.trustedByIndex
        ? ` (image unchanged since the index was written: ${report.trustedByIndex} members found as the index records them, their data not compared)`
        : '')
  );
}

/** `outcome.exitCode`: what a command that completed wants the process to exit with. */
function buildProgram(outcome: { exitCode: number }): Command {
  const program = new Command('zonep2v')
    .description('Turn a physical Solaris system image (cpio, compressed cpio, ...) into a zone root.')
    .showHelpAfterError()
    .version(zonep2vVersion, '-V, --version', 'print the version and exit')
    .exitOverride();

  program
    .command('extract')
    .description('stream IMAGE ("-" for stdin) into directory DIR, hashing every file')
    .argument('<image>', 'image file, or - for standard input')
    .argument('<dir>', 'destination directory (created if missing)')
    .option('--volume <file>', volumeHelp, collect, [])
    .option('--strip-absolute', 'extract absolute member names relative to DIR instead of refusing the image')
    .option('--no-devices', 'do not create device nodes and FIFOs (they are reported)')
    .option('--index <file>', 'content index to compare against and to write (JSON lines)')
    .addOption(new Option('-j, --jobs <n>', 'writer threads').argParser(positiveInteger))
    .addOption(new Option('--max-ratio <n>', 'refuse images whose decompressed size exceeds N times the compressed size').argParser(positiveInteger))
    .option('-q, --quiet', 'no progress line, no summary, no warnings')
    .option('--stats', 'report where the time went: per pipeline stage busy time, bytes, queue waits, and the CPU used (with --json: in the report)')
    .option('--json', 'print the report as JSON')
    .action(async (image: string, dir: string, opts: { volume: string[]; stripAbsolute?: boolean; devices: boolean; index?: string; jobs?: number; maxRatio?: number; quiet?: boolean; stats?: boolean; json?: boolean }) => {
      const progress = !opts.quiet && !opts.json && process.stderr.isTTY ? new ProgressLine(process.stderr) : undefined;
      try {
        const report = await stoppable((signal) =>
          extract({
            signal,
            image,
            volumes: opts.volume,
            dest: dir,
            stripAbsolute: opts.stripAbsolute,
            devices: opts.devices,
            indexFile: opts.index,
            jobs: opts.jobs,
            limits: opts.maxRatio ? { maxDecompressionRatio: opts.maxRatio } : undefined,
            onProgress: progress ? (p) => progress.update(p) : undefined,
            stats: opts.stats,
          }),
        );
        progress?.clear();
        if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else if (!opts.quiet) {
          printWarnings(report.warnings, false);
          process.stderr.write(`${summary(report)}\n`);
        }
        if (report.stats && !opts.json) process.stderr.write(`${formatStats(report.stats, report.elapsedMs, report.cpu)}\n`);
        const missing = incompleteMembers(report);
        if (missing > 0) {
          // finished, but the tree is not all the image says: not a success for a script
          if (!opts.json) process.stderr.write(`zonep2v: incomplete: ${missing} member(s) not written or not fully applied (warnings above)\n`);
          outcome.exitCode = EXIT_FAILURE;
        }
      } finally {
        progress?.clear();
      }
    });

  program
    .command('list')
    .description('list the members of IMAGE')
    .argument('<image>', 'image file, or - for standard input')
    .option('--volume <file>', volumeHelp, collect, [])
    .option('-v, --verbose', 'long listing, like cpio -itv')
    .option('--json', 'one JSON object per member')
    .action(async (image: string, opts: { volume: string[]; verbose?: boolean; json?: boolean }) => {
      const warnings: Warning[] = [];
      const { listEntries } = await import('../list.js');
      const { entries } = await listEntries({ image, volumes: opts.volume }, warnings);
      const out: string[] = [];
      const flush = () => {
        // JSON lines are text; the listing is names as bytes, like cpio -t prints them
        if (out.length) process.stdout.write(opts.json ? out.join('') : Buffer.from(out.join(''), 'latin1'));
        out.length = 0;
      };
      // what was read before a damaged part is printed before the error, as tar -t does
      try {
        await listInto(entries, out, flush, opts);
      } finally {
        flush();
      }
      printWarnings(warnings, false);
    });

  program
    .command('inspect')
    .description('show the layers of IMAGE (e.g. compress → cpio(newc)), entry and byte counts')
    .argument('<image>', 'image file, or - for standard input')
    .option('--volume <file>', volumeHelp, collect, [])
    .option('--json', 'print the report as JSON')
    .action(async (image: string, opts: { volume: string[]; json?: boolean }) => {
      const { inspect } = await import('../list.js');
      const report = await inspect({ image, volumes: opts.volume });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const types = Object.entries(report.byType).map(([type, n]) => `${n} ${type}`).join(', ');
      process.stdout.write(`image:   ${report.image}${report.imageSize !== undefined ? ` (${humanBytes(report.imageSize)})` : ''}\n`);
      process.stdout.write(`layers:  ${report.chain.join(' → ')}\n`);
      process.stdout.write(`entries: ${report.entries}${types ? ` (${types})` : ''}\n`);
      process.stdout.write(`data:    ${humanBytes(report.dataBytes)} (${report.dataBytes} bytes)\n`);
      const base = report.archiveBase;
      const baseText: Record<string, string> = {
        zoneroot: 'members are relative to the zone root (a system or zone root)',
        zonepath: 'members start with root/ (archive made inside a zonepath)',
        'zonepath-parent': `members start with ${'top' in base ? base.top : ''}/root/ (archive of a zonepath directory)`,
        absolute: 'absolute member names: the Solaris installer refuses such images (see --strip-absolute)',
        mismatch: `a single top directory "${'top' in base ? base.top : ''}" that is no zonepath: the installer refuses such images`,
      };
      process.stdout.write(`base:    ${baseText[base.kind]}\n`);
      for (const description of report.descriptions) {
        process.stdout.write(`${description.layer} ${description.title}:\n`);
        for (const [key, value] of description.fields) process.stdout.write(`  ${key}=${value}\n`);
      }
      printWarnings(report.warnings, false);
    });
  return program;
}

/** Whole seconds, rounded down: BigInt division truncates toward zero (-100.25 s gave -100). */
function floorSeconds(ns: bigint): number {
  const seconds = ns / 1_000_000_000n;
  return Number(ns < 0n && seconds * 1_000_000_000n !== ns ? seconds - 1n : seconds);
}

/** The listing lines of `entries` into `out` (flushed every 512 lines). */
async function listInto(entries: AsyncIterable<Entry>, out: string[], flush: () => void, opts: { verbose?: boolean; json?: boolean }): Promise<void> {
  for await (const entry of entries) {
    if (opts.json) {
      out.push(
        `${JSON.stringify({
          path: displayPath(entry.path),
          type: entry.type,
          mode: `0${entry.mode.toString(8)}`,
          uid: entry.uid,
          gid: entry.gid,
          size: entry.size,
          mtime: floorSeconds(entry.mtimeNs),
          linkTarget: entry.linkTarget === undefined ? undefined : displayPath(entry.linkTarget),
          devMajor: entry.devMajor,
          devMinor: entry.devMinor,
        })}\n`,
      );
    } else if (entry.type !== 'attrs') {
      out.push(`${opts.verbose ? longLine(entry) : entry.path}\n`); // byte strings (flushed as latin1)
    }
    if (out.length >= 512) flush();
  }
}

let pipeGuarded = false;

export async function main(argv: string[]): Promise<number> {
  const outcome = { exitCode: 0 };
  // a reader that stops early (`zonep2v list X | head`): the rest of the output has nowhere to
  // go; end quietly instead of dying on the pipe's error event
  if (!pipeGuarded) {
    pipeGuarded = true;
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(outcome.exitCode);
      throw error;
    });
  }
  const program = buildProgram(outcome);
  try {
    await program.parseAsync(argv);
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version are not errors; everything else commander rejects is usage
      return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : EXIT_USAGE;
    }
    if (isP2VError(error)) {
      process.stderr.write(`zonep2v: ${error.oneLine()}\n`);
      return error.code === 'P2V_USAGE' ? EXIT_USAGE : error.code === 'P2V_INTERRUPTED' ? interruptedStatus() : EXIT_FAILURE;
    }
    const e = error as NodeJS.ErrnoException;
    if (e?.code === 'EPIPE') return 0;
    process.stderr.write(`zonep2v: ${e?.message ?? String(error)}\n`);
    return EXIT_FAILURE;
  }
}
