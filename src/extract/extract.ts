/**
 * extract(): image → zone root. Wires the source, the sniffed layers, the writer and the index;
 * see write-pool.ts for the threading and zone-writer.ts for the safety model.
 */
import { zonep2vVersion } from '../version.js';
import * as fs from 'node:fs';
import path from 'node:path';
import { P2VError, isP2VError } from '../errors.js';
import { toBytePath, type Entry } from '../entry.js';
import type { ByteSource } from '../io/source.js';
import { openSource } from '../io/open-source.js';
import { abortableSource } from '../io/abortable-source.js';
import { resolveLimits } from '../limits.js';
import type { DumpLevel, DumpStamp } from '../formats/format.js';
import { IndexWriter, type RootMetadata, type RunSeal, indexTrailer, markApplying, readIndexBytes } from '../store/content-index.js';
import { type RecordLookup, RecordedIndex } from '../store/recorded-index.js';
import { compareTreeWithIndex, treeMatchesIndexBytes } from './settled-check.js';
import { TrustedRecords } from './partial-trust.js';
import { planIncremental } from './incremental.js';
import { type RunClaim, claimTree, markerPresent } from './run-marker.js';
import { directoryMatchesIndex } from './index-check.js';
import { type ExtractOptions, type ExtractReport, WarningLog, incompleteMembers } from './types.js';
import { cpuMark, cpuSince, PipelineStats, type StageReport, setActiveStats, workerMeterSlots } from '../stats.js';

const progressIntervalMs = 250;

/** The real path `dest` will have, before it is created: its deepest existing ancestor
 *  resolved, plus the rest. */
function realPathOfNew(dest: string): string {
  let existing = path.resolve(dest);
  const rest: string[] = [];
  while (!fs.existsSync(existing)) {
    rest.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  return path.join(fs.realpathSync(existing), ...rest);
}

/** Copying a tree into itself (or the tree we write into being the one we read) never ends well.
 *  Compared by path, and by identity: a bind mount shows one directory under two paths, so the
 *  source directory must not be the destination nor any directory above it (cp -a's test). */
function checkNotNested(source: ByteSource, root: string): void {
  if (source.directory === undefined) return;
  const inside = (a: string, b: string) => a === b || a.startsWith(b.endsWith('/') ? b : `${b}/`);
  if (inside(root, source.directory) || inside(source.directory, root) || sameDirectoryAbove(source.directory, root)) {
    throw new P2VError('P2V_USAGE', 'the destination and the source directory overlap: choose a destination outside the source tree', { image: source.name });
  }
}

/** Is `directory` (byte path) `path` itself or one of the existing directories above it? */
function sameDirectoryAbove(directory: string, path: string): boolean {
  const identity = (p: string) => {
    const stat = fs.statSync(Buffer.from(p, 'latin1'), { bigint: true, throwIfNoEntry: false });
    return stat?.isDirectory() ? `${stat.dev}:${stat.ino}` : undefined;
  };
  const wanted = identity(directory);
  if (wanted === undefined) return false;
  for (let at = path; ; at = at.slice(0, Math.max(at.lastIndexOf('/'), 1))) {
    if (identity(at) === wanted) return true;
    if (at === '/') return false;
  }
}

export async function extract(options: ExtractOptions): Promise<ExtractReport> {
  const started = performance.now();
  const cpuAtStart = options.stats ? cpuMark() : undefined;
  const stats = options.stats ? new PipelineStats() : undefined;
  const limits = resolveLimits(options.limits);
  const warningLog = new WarningLog();
  const warn = warningLog.add;
  if (options.signal?.aborted) throw interrupted(0, false);
  const source = options.source ?? (await openSource(options.image, options.volumes));
  const imageName = source.name;

  checkNotNested(source, toBytePath(realPathOfNew(options.dest)));
  fs.mkdirSync(options.dest, { recursive: true });
  const root = toBytePath(fs.realpathSync(path.resolve(options.dest)));
  const indexBytes = options.indexFile ? readIndexBytes(options.indexFile) : undefined;
  const owners = process.getuid?.() === 0;
  // sealFormat: what a seal records (3: the root's own metadata, and the special files not
  // made); an older seal is not trusted, nor one of another version (it may extract the same
  // image differently)
  const settings = JSON.stringify({ version: zonep2vVersion, sealFormat: 3, root, stripAbsolute: options.stripAbsolute ?? false, devices: options.devices ?? true, owners, limits });

  // the same image file, unchanged, into the same tree with the same settings: if the tree is
  // still what the index recorded, a full run would rewrite nothing - check, and stop there
  const trailer = indexBytes !== undefined ? indexTrailer(indexBytes) : undefined;
  const seal = trailer?.seal;
  const imageIdentity = source.identity?.opened ?? (source.directory !== undefined ? directoryIdentity(source.directory) : undefined);
  // the records' lines, found once and only when wanted (a run settled from an image file never
  // does); each record is parsed when it is asked for (recorded-index.ts)
  let recorded: RecordedIndex | undefined;
  const readIndexOnce = () => (recorded ??= new RecordedIndex(indexBytes));
  // members that differ from their records, when the rest may be trusted (partial-trust.ts)
  let differing: Set<string> | undefined;
  if (seal && !trailer?.applying && !markerPresent(root) && imageIdentity !== undefined && seal.image === imageIdentity && seal.settings === settings) {
    const checkTree = async (): Promise<boolean> => {
      if (source.directory !== undefined) return directoryAndTreeStillMatch(source.directory, root, indexBytes!, readIndexOnce, owners, seal, options.signal);
      // (a seal whose members cannot be trusted one by one: the check stops at the first difference)
      const trustable = plainSeal(seal);
      const comparison = await compareTreeWithIndex(indexBytes!, root, owners, seal.root, { differingLimit: trustable ? differingLimit(indexBytes!) : 0 });
      if (trustable) differing = comparison.differing;
      return comparison.settled;
    };
    const settled = stats ? await stats.during('check the tree against the index', checkTree) : await checkTree();
    if (options.signal?.aborted) {
      await source.close?.();
      throw interrupted(0, false);
    }
    if (settled) {
      await source.close?.();
      stats?.count('check the tree against the index', 0, seal.counters.entries);
      return settledReport(seal, imageName, options.dest, started, stats?.report());
    }
  }
  stats?.enter('set up: index, writer, workers');
  const previous = readIndexOnce();
  const indexed = options.indexFile ? previous : undefined;
  // (a path recorded twice takes its final state from its last member only: no trust then)
  const trusted = differing !== undefined && previous.recordCount === previous.size ? new TrustedRecords(differing, previous.currentLinks()) : undefined;
  // loaded only now: the writer (and its worker pool, hashing kernel) and the format layers are
  // ~25 ms of module loading (main.js import 45 -> 21 ms) that a run settled by the index above never needs
  const [{ ZoneWriter }, { openImage }] = await Promise.all([import('./zone-writer.js'), import('../image.js')]);
  // the tree is ours from here until the writes have settled; a killed run's leftovers go first
  let claim: RunClaim;
  try {
    claim = claimTree(root);
  } catch (error) {
    await source.close?.();
    throw isP2VError(error) ? error.withContext({ image: imageName }) : error;
  }
  if (claim.removed > 0) {
    warn({ code: 'P2V_RECOVERED', message: `removed ${claim.removed} temporary name(s) left in the tree by a run that was killed` });
  }
  const index = options.indexFile ? new IndexWriter(options.indexFile, indexed) : undefined;

  // umask 0 while we write, so files are created with their final mode (one fchmod less per
  // file) and implied directories get exactly 0755; restored when done
  const savedUmask = process.umask(0);
  let counters: { entries: number } | undefined; // the writer's, for the message of an interrupted run
  const stopping = stopSignal(options.signal, () => interrupted(counters?.entries ?? 0, indexed?.applying !== undefined));
  const writerSignal = stopping.signal;
  let writer: InstanceType<typeof ZoneWriter>;
  try {
    writer = new ZoneWriter(
      {
        root,
        stripAbsolute: options.stripAbsolute ?? false,
        devices: options.devices ?? true,
        limits,
        previous,
        record: index ? (record) => index.add(record) : undefined,
        warn,
        signal: writerSignal,
        writesSettled: () => claim.release(),
        trusted,
      },
      { jobs: options.jobs, arenaBytes: limits.maxInflightBytes, umaskZero: true },
    );
  } catch (error) {
    // (the try below has not begun: undo what it would undo)
    process.umask(savedUmask);
    stopping.release();
    claim.release();
    await index?.abandon();
    await source.close?.();
    throw error;
  }
  counters = writer.counters;

  // dumps: an incremental level is applied to the previous level's tree (or refused, before
  // anything is written); the index then records which dump the tree holds
  let stamp: DumpStamp | undefined;
  const dumpLevel = (level: DumpLevel) => {
    const plan = planIncremental(level, options.indexFile, indexed);
    stamp = { level: level.level, date: level.date, previousDate: level.previousDate };
    if (plan) {
      // nothing is written yet; from here on, a run that does not complete leaves a tree no
      // later incremental may be applied to, and the index must say so
      markApplying(options.indexFile!, stamp);
      indexed!.applying = stamp; // what the file now says: the index writer must replace it
      writer.applyIncremental(plan);
    }
  };

  stats?.leave();
  setActiveStats(stats);
  let opened: Awaited<ReturnType<typeof openImage>> | undefined;
  const timer = options.onProgress
    ? setInterval(() => {
        options.onProgress!({ imageBytes: opened?.imageBytes ?? 0, imageSize: source.size, entries: writer.counters.entries, dataBytes: writer.counters.dataBytes });
      }, progressIntervalMs)
    : undefined;
  try {
    opened = await openImage(writerSignal ? abortableSource(source, writerSignal) : source, { limits, warn, dumpLevel, stats });
    await writeAll(opened.entries, writer, stats, writerSignal);
    if (stats) await stats.during('drain (wait for workers)', () => writer.finish());
    else await writer.finish();
    // stopped while the last writes landed: a long copy in a worker gave up (write-pool.ts
    // stop()), so the tree is short of it - an interrupted run, not a complete one (a stop that
    // found every write landed changes nothing: the run is complete)
    if (writer.copiesStopped > 0) throw writerSignal?.reason ?? interrupted(writer.counters.entries, false);
    if (stamp) index?.setStamp(stamp);
    const rootEntry = writer.rootEntry;
    const warnings = warningLog.all();
    if (index && imageIdentity !== undefined && incompleteMembers({ warnings }) === 0 && stillTheSameImage(source, imageIdentity)) {
      index.setSeal({ image: imageIdentity, settings, chain: opened.chain, format: opened.format, imageBytes: opened.imageBytes, counters: { ...writer.counters }, warnings: warnings.filter((warning) => warning.code !== 'P2V_RECOVERED'), ...(rootEntry ? { root: rootMetadataOf(rootEntry) } : {}), ...(writer.skippedSpecials.length > 0 ? { skipped: writer.skippedSpecials } : {}) });
    }
    await index?.commit();
  } catch (error) {
    // let writes in flight land (all inside the root) before reporting, so nothing runs on
    await writer.finish(false).catch(() => undefined);
    await index?.abandon();
    throw isP2VError(error) ? error.withContext({ image: imageName }) : new P2VError('P2V_IO', String((error as Error)?.message ?? error), { image: imageName, cause: error });
  } finally {
    setActiveStats(undefined);
    stopping.release();
    if (timer) clearInterval(timer);
    await writer.close();
    claim.end();
    process.umask(savedUmask);
    await source.close?.();
  }
  return {
    image: imageName,
    dest: options.dest,
    chain: opened.chain,
    format: opened.format,
    ...writer.counters,
    imageBytes: opened.imageBytes,
    warnings: warningLog.all(),
    elapsedMs: performance.now() - started,
    ...(writer.trustedMembers > 0 ? { trustedByIndex: writer.trustedMembers } : {}),
    ...(stats ? { stats: statsReport(stats, writer.workerMeter) } : {}),
    ...(cpuAtStart ? { cpu: cpuSince(cpuAtStart) } : {}),
  };
}

/** Every entry to the writer. A function of its own because its loop is the hot one: V8
 *  compiles the function around a hot loop (on-stack replacement), and inside extract() that
 *  was all of extract's setup and error handling too (19-59 ms of compiling per run). */
async function writeAll(entries: AsyncIterable<Entry>, writer: { put(entry: Entry): Promise<void> | undefined }, stats: PipelineStats | undefined, signal: AbortSignal | undefined): Promise<void> {
  for await (const entry of entries) {
    if (signal?.aborted) throw signal.reason; // our P2V_INTERRUPTED (stopSignal)
    stats?.enter('write (main thread)');
    try {
      const waiting = writer.put(entry);
      if (waiting) await waiting;
    } finally {
      stats?.leave();
    }
  }
}

/** A signal that aborts with our P2V_INTERRUPTED error when `signal` aborts; `release` drops
 *  its listener from `signal` (a caller's signal may outlive many runs). */
function stopSignal(signal: AbortSignal | undefined, reason: () => P2VError): { signal?: AbortSignal; release(): void } {
  if (!signal) return { release() {} };
  const controller = new AbortController();
  const stop = () => controller.abort(reason());
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  return { signal: controller.signal, release: () => signal.removeEventListener('abort', stop) };
}

function interrupted(entries: number, incremental: boolean): P2VError {
  const next = incremental ? 'the tree is partly one dump level, partly the other: extract level 0 again into an empty directory, then the levels in order' : 'run again to complete the tree';
  return new P2VError('P2V_INTERRUPTED', `interrupted after ${entries} members: every file written is whole, the rest is not there yet; ${next}`);
}

/** The main thread's stages plus what the write workers measured themselves. */
function statsReport(stats: PipelineStats, meter: BigInt64Array): StageReport[] {
  const ms = (slot: number) => Number(meter[slot]) / 1000;
  const files = Number(meter[workerMeterSlots.files]);
  stats.addWorkerTime('hash + write (workers)', ms(workerMeterSlots.busyMicros), Number(meter[workerMeterSlots.bytes]), 0);
  stats.addWorkerTime('  of which hashing', ms(workerMeterSlots.hashMicros), 0, files);
  return stats.report();
}

function rootMetadataOf(entry: Entry): RootMetadata {
  return { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtimeNs: String(entry.mtimeNs) };
}

/** An image file is the same when its identity is (and it was not written just before it was
 *  opened); a directory image when it is the same directory - its members are checked one by
 *  one against their records before a run is settled (directoryStillMatches). */
function stillTheSameImage(source: ByteSource, identity: string): boolean {
  if (source.identity) return !source.identity.racy && source.identity.current() === identity;
  return source.directory !== undefined && directoryIdentity(source.directory) === identity;
}

/** Which directory a directory image is: its device, inode and real path. */
function directoryIdentity(directory: string): string | undefined {
  const stat = fs.statSync(Buffer.from(directory, 'latin1'), { bigint: true, throwIfNoEntry: false });
  return stat?.isDirectory() ? `dir:${stat.dev}:${stat.ino}:${directory}` : undefined;
}

/**
 * A directory image has no identity that changes with its content: its members, walked afresh
 * (on the walk thread), are compared with the records (directoryMatchesIndex) while the tree is
 * checked against the index's lines in chunks on this thread, between the walk's batches
 * (settled-check.ts); the first side to fail stops the other. A walk that warns (a member
 * vanished, an unknown type) or fails is not a match: the full run deals with it as it would.
 */
async function directoryAndTreeStillMatch(directory: string, root: string, indexBytes: Buffer, records: () => RecordLookup, owners: boolean, seal: RunSeal, signal: AbortSignal | undefined): Promise<boolean> {
  const abandon = new AbortController();
  const fail = () => {
    abandon.abort();
    return false;
  };
  // a stop ends the check as a mismatch would (the caller then sees the signal)
  signal?.addEventListener('abort', fail, { once: true });
  try {
    const { walkDirectory } = await import('../formats/dir/walk.js');
    const tree = treeMatchesIndexBytes(indexBytes, root, owners, seal.root, { interleave: true, abandon: abandon.signal }).then((matches) => matches || fail());
    let warned = false;
    const walked = directoryMatchesIndex(walkDirectory({ root: directory, warn: () => (warned = true) }), records(), seal, () => abandon.signal.aborted);
    const source = await walked.then((matches) => (matches && !warned) || fail(), fail);
    return (await tree) && source;
  } finally {
    signal?.removeEventListener('abort', fail);
  }
}

/** How many differing members the tree check notes before it gives up and nothing is trusted:
 *  about one member in seven (an index line is ~150 bytes), at least 1024. Past that, noting
 *  saves less than the check costs (a tree emptied since: every member missing). */
function differingLimit(indexBytes: Buffer): number {
  return Math.max(1024, Math.ceil(indexBytes.length / 1024));
}

/** A sealing run whose members may be trusted one by one: it warned of nothing but of not
 *  being root (partial-trust.ts; a member it could not place, say, has no record to go by). */
function plainSeal(seal: RunSeal): boolean {
  return seal.warnings.every((warning) => warning.code === 'P2V_NOT_ROOT');
}

/** The report of a run settled by the index: what the sealing run found in the image, all of it
 *  unchanged, and its warnings again (the same image would give them again). */
function settledReport(seal: RunSeal, image: string, dest: string, started: number, stages: StageReport[] | undefined): ExtractReport {
  const elapsedMs = performance.now() - started;
  return {
    image,
    dest,
    chain: seal.chain,
    format: seal.format,
    ...seal.counters,
    written: 0,
    unchanged: seal.counters.written + seal.counters.unchanged,
    imageBytes: seal.imageBytes,
    warnings: seal.warnings,
    elapsedMs,
    settledByIndex: true,
    ...(stages ? { stats: stages } : {}),
  };
}
