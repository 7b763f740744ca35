/**
 * The zone-root writer: takes Entries (from any format) and makes them real under the root,
 * never outside it. It knows no archive format.
 *
 * Safety model (../shared/reference/security.md):
 *   - names are checked lexically first (path-policy.ts): no "..", absolute names refused;
 *   - directories on the way are resolved inside the root (root-resolver.ts): symlinks in the
 *     image work as they would with the root as "/", and can never lead out of it;
 *   - the final component is never followed: files are created O_EXCL|O_NOFOLLOW (workers),
 *     anything else in the way is removed first (a non-empty directory is never removed);
 *   - hard links resolve their target the same way, so they only ever link inside the root;
 *   - owner before mode (chown clears setuid); directory metadata last (dir-fixups.ts);
 *   - extended attributes are set at the end, never through a symlink (xattrs.ts), on the
 *     physical paths placed here; whatever removes a path forgets its planned attributes.
 * Ordering: small files are written by workers later; `pending` remembers the paths in flight,
 * and anything that touches such a path first waits for that write. Device nodes and FIFOs are
 * queued and made in batches (node-batch.ts); touching a queued path, removing a directory
 * (which may hold one) or moving one to the stash makes the queue first.
 * Incremental dumps (incremental.ts): before a member lands on a path of the previous tree, what
 * must survive there goes to a stash inside the root; 'unchanged' entries keep, link or move
 * what the previous level extracted; removals come in `finish()`, after every write landed.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import xxhash from 'xxhash-wasm';
import type { Entry } from '../entry.js';
import { displayPath, pathBytes } from '../entry.js';
import { P2VError, errnoCode, isP2VError, ioError } from '../errors.js';
import type { Limits } from '../limits.js';
import { type IndexRecord, type SkippedSpecial, sameRecord } from '../store/content-index.js';
import type { RecordLookup } from '../store/recorded-index.js';
import type { FileOp, FileResult } from '../workers/write-protocol.js';
import { DirFixups } from './dir-fixups.js';
import type { IncrementalPlan } from './incremental.js';
import { CREATE_NEW, O_NOFOLLOW, O_RDONLY, alreadySet, closeQuietly, fsb, lstatOrUndefined, modeAfterChown, nsToSeconds, sameMtime, tryChown, utimeValue } from './fs-bytes.js';
import { memberComponents } from './path-policy.js';
import { RootResolver } from './root-resolver.js';
import { makeSpecialNodes } from './node-batch.js';
import { setNodeMode, type SpecialType } from './special-nodes.js';
import type { Warning, WriterCounters } from './types.js';
import { splitLinuxDev } from '../formats/common/dev.js';
import { smallFileMaxBytes, WritePool, type Pending } from './write-pool.js';
import { XattrPlan } from './xattrs.js';
import { type TrustedRecords, trustableType } from './partial-trust.js';

export interface WriterOptions {
  /** absolute root, byte string */
  root: string;
  stripAbsolute: boolean;
  devices: boolean;
  limits: Limits;
  /** records of an earlier run, by physical path */
  previous: RecordLookup;
  /** receives one record per member, as it completes; undefined when no index is kept (then
   *  no record is even built: this runs once per file) */
  record?: (record: IndexRecord) => void;
  warn: (warning: Warning) => void;
  /** stops a large file between pieces (the caller stops between members); the reason is thrown */
  signal?: AbortSignal;
  /** called by finish() once every write of the run has landed or been taken back, before the
   *  directories get their metadata (run-marker.ts: the marker's removal must not be the last
   *  change to the root's mtime) */
  writesSettled?: () => void;
  /** members that may be passed over on their record in `previous` (a re-run of the same image
   *  into a tree that differs from its index in a few places: partial-trust.ts) */
  trusted?: TrustedRecords;
}

export type { WriterCounters } from './types.js';

const pieceBytes = 1024 * 1024;
const notPermitted = 'mknod not permitted here: root without the privilege to make nodes, e.g. in a container';
/** Device nodes made by one process (node-batch.ts); a flush also comes before anything that
 *  touches a queued path. 512 headers are 256 KiB of archive. */
const nodeBatchSize = 512;
/** Large files are gathered here piece by piece; the pool copies each piece out before reuse. */
const scratch = new Uint8Array(pieceBytes);
/** Hashed in place of a hole's bytes; never written to. */
const zeroPiece = new Uint8Array(pieceBytes);
const hasher = await xxhash();
const hex64 = (value: bigint) => value.toString(16).padStart(16, '0');
/** Hashes of the files written last kept for hard links (ZoneWriter.noteHash): per generation. */
const recentHashCount = 16 * 1024;
const empty = new Uint8Array(0);

export interface PoolOptions {
  jobs?: number;
  arenaBytes: number;
  umaskZero: boolean;
}

/** What the writer remembers of a small file until its batch is written. */
interface FileTag {
  entry: Entry;
  physical: string;
}

export class ZoneWriter {
  readonly counters: WriterCounters = { entries: 0, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0, skippedSpecial: 0, dataBytes: 0, written: 0, unchanged: 0 };
  private readonly resolver: RootResolver;
  private readonly dirs = new DirFixups();
  /** extended attributes to set at the end, by physical path */
  private readonly xattrs: XattrPlan;
  private readonly pending = new Map<string, Promise<unknown>>();
  /** device nodes and FIFOs waiting to be made together, by physical path */
  private readonly queuedNodes = new Map<string, Entry>();
  /** mknod of a device was refused (EPERM) although we are root: later devices are skipped */
  private devicesRefused = false;
  /** a worker's error that ends the run (stopsTheRun): thrown by the next put() or by finish() */
  private stopError: P2VError | undefined;
  private readonly completions = new Set<Promise<unknown>>();
  private readonly isRoot = process.getuid?.() === 0;
  /** set when an incremental dump is applied to the previous level's tree */
  private incremental: IncrementalPlan | undefined;

  private readonly pool: WritePool<FileTag>;

  /** the write workers' busy-time counters, for --stats */
  get workerMeter(): BigInt64Array {
    return this.pool.meter;
  }

  constructor(private readonly options: WriterOptions, poolOptions: PoolOptions) {
    this.xattrs = new XattrPlan(options.limits.maxXattrPlanBytes);
    this.pool = new WritePool<FileTag>(poolOptions.jobs, poolOptions.arenaBytes, poolOptions.umaskZero, (tag, result, batchDone) => this.fileDone(tag, result, batchDone));
    if (options.signal?.aborted) this.pool.stop();
    else options.signal?.addEventListener('abort', () => this.pool.stop(), { once: true });
    this.resolver = new RootResolver(options.root, options.limits.maxSymlinkHops, {
      beforeTouch: (physical) => this.waitFor(physical),
    });
    if (!this.isRoot) {
      options.warn({ code: 'P2V_NOT_ROOT', message: 'not running as root: owners are not restored and device nodes are not created' });
    }
  }

  /** Place one entry. Returns a promise only when it had to wait (hot path: most small files
   *  of an image are placed synchronously, without a promise per file). */
  put(entry: Entry): Promise<void> | undefined {
    if (this.stopError) throw this.stopError;
    this.counters.entries++;
    if (entry.type === 'hardlink') entry = this.linkOrFile(entry);
    else if (this.unplacedFiles.size > 0) {
      // a member of that name again (another group, or a name used twice): what was learnt of
      // the earlier one is void
      this.unplacedFiles.delete(entry.path);
      this.linkRedirects.delete(entry.path);
    }
    try {
      const waiting = this.place(entry);
      return waiting?.catch((error) => this.failed(entry, error));
    } catch (error) {
      this.failed(entry, error);
      return undefined;
    }
  }

  /** Files of the image that could not be placed (by member name), and the member each one's
   *  later hard links go to instead (linkOrFile). */
  private readonly unplacedFiles = new Set<string>();
  private readonly linkRedirects = new Map<string, string>();

  /** A hard link whose target could not be placed: when it carries its own copy of the data
   *  (odc/bin/afio cpio), it becomes the file, and the group's later links go to it; else it
   *  stays a link (and fails as one, with the target missing). */
  private linkOrFile(entry: Entry): Entry {
    const group = entry.linkTarget ?? '';
    const target = this.linkRedirects.get(group) ?? group;
    if (entry.linkDataSize === undefined || entry.body === undefined || !this.unplacedFiles.has(target)) {
      return target === group ? entry : { ...entry, linkTarget: target };
    }
    this.linkRedirects.set(group, entry.path);
    return { ...entry, type: 'file', size: entry.linkDataSize, linkTarget: undefined, linkDataSize: undefined };
  }

  private failed(entry: Entry, error: unknown): void {
    if (entry.type === 'file') this.unplacedFiles.add(entry.path);
    const p2v = isP2VError(error) ? error : ioError(error, displayPath(entry.path), (error as NodeJS.ErrnoException).syscall ?? 'write');
    // a path too long for the file system is this member's problem, not the image's (the
    // workers already report it per file; on the main thread it aborted the whole extraction)
    if (!isP2VError(error) && (error as NodeJS.ErrnoException)?.code === 'ENAMETOOLONG') p2v.details.severity = 'skipped';
    p2v.withContext({ entry: displayPath(entry.path) });
    if (p2v.severity === 'fatal') throw p2v;
    this.options.warn({ code: p2v.code, message: p2v.message, entry: displayPath(entry.path) });
  }

  /** Stop the workers (after `finish`, or after a failure). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Apply an incremental dump to the previous level's tree (before the first entry). */
  applyIncremental(plan: IncrementalPlan): void {
    this.incremental = plan;
  }

  /** Wait for all writes, then (incremental dumps, when the image was `complete`) remove what
   *  the dump no longer has, then set extended attributes, then apply directory metadata. */
  async finish(complete = true): Promise<void> {
    // once: a run that fails after finishing (its index cannot be written, say) calls it again
    if (this.finished) return;
    this.makeQueuedNodes();
    try {
      await this.pool.drain(); // rethrows a write that failed, once everything in flight settled
    } catch (error) {
      if (complete) throw error;
      // a run that failed: still let the main thread's follow-ups land, and the rest below
    }
    while (this.completions.size > 0) await Promise.all([...this.completions]);
    if (complete && this.stopError) throw this.stopError;
    if (this.incremental) this.settleIncremental(complete);
    this.options.writesSettled?.();
    await this.xattrs.apply((p) => this.resolver.abs(p), this.options.warn);
    const dirs = this.dirs.apply((p) => this.resolver.abs(p), this.isRoot);
    for (const failure of dirs.failures) {
      this.options.warn({ code: 'P2V_IO', message: `directory metadata not applied: ${failure.code}`, entry: displayPath(failure.path) });
    }
    for (const refused of dirs.ownerRefused) this.ownerRefused(refused.path, refused.code);
    this.reportOwnerRefusals();
    this.finished = true;
  }

  private place(entry: Entry): Promise<void> | undefined {
    if (entry.type === 'attrs') {
      this.recordAttrs(entry);
      return entry.xattrs?.size ? this.planAttrs(entry, entry.xattrs) : undefined;
    }
    const components = memberComponents(entry.path, { stripAbsolute: this.options.stripAbsolute, maxPathDepth: this.options.limits.maxPathDepth });
    if (components.length === 0) {
      // the archive may describe the root directory itself, never replace it (node-tar CHECKPATH)
      if (entry.type === 'dir') {
        this.rootEntry = entry;
        this.incremental?.noteDump('', true);
        this.dirs.set('', this.dirMetadata(entry));
        if (entry.xattrs) this.xattrs.add('', entry.xattrs);
      } else this.options.warn({ code: 'P2V_ENTRY_UNSAFE', message: `a ${entry.type} named like the root itself: ignored`, entry: displayPath(entry.path) });
      return undefined;
    }
    const known = this.resolver.knownParentOf(components);
    if (known !== undefined) return this.placeIn(entry, known, components);
    return this.resolver.parentOf(components, true, entry.path).then((parent) => this.placeIn(entry, parent, components));
  }

  private placeIn(entry: Entry, parent: string, components: string[]): Promise<void> | undefined {
    const name = components[components.length - 1]!;
    const physical = parent === '' ? name : `${parent}/${name}`;
    // a re-run: a member that goes elsewhere than its own path (through a symlink the zone has
    // where the image has a directory) must not be judged by that path's record, nor may the
    // members after it that are
    if (this.options.previous.size > 0 && !isOwnParent(parent, components)) this.redirected.add(physical);
    if (this.options.trusted !== undefined) {
      if (this.passOver(entry, physical)) return undefined;
      this.notePlaced(physical);
    }
    if (this.incremental && entry.type !== 'unchanged' && entry.type !== 'socket') {
      const vacating = this.vacate(physical, entry.type === 'dir');
      if (vacating) {
        return vacating.then(() => {
          this.incremental!.noteDump(physical, entry.type === 'dir');
          return this.placeTyped(entry, parent, name, physical);
        });
      }
      this.incremental.noteDump(physical, entry.type === 'dir');
    }
    return this.placeTyped(entry, parent, name, physical);
  }

  /** members passed over on their record (passOver) */
  trustedMembers = 0;
  /** with trust: the paths members went to through the writer in this run, and the
   *  directories above them - no longer as the tree check found them */
  private readonly placedThisRun = new Set<string>();
  /** paths a member went to through a symlink in this run (placeIn): their records are void */
  private readonly redirected = new Set<string>();

  /** The record of the last run for `physical`, unless a member of this run went there through
   *  a symlink: the file there is then that member's, whatever its size and mtime say. */
  private previousRecord(physical: string): IndexRecord | undefined {
    if (this.options.previous.size === 0 || (this.redirected.size > 0 && this.redirected.has(physical))) return undefined;
    return this.options.previous.get(physical);
  }

  private notePlaced(physical: string): void {
    for (let path = physical; path !== '' && !this.placedThisRun.has(path); ) {
      this.placedThisRun.add(path);
      path = path.slice(0, Math.max(0, path.lastIndexOf('/')));
    }
  }

  /**
   * A member the tree check found as recorded, in a re-run of the same image (partial-trust.ts):
   * counted and recorded as its record stands, and its data, if any, left unread. Only when the
   * member is exactly what made the record (the same record would be built from it: type, size,
   * mode, owner, mtime, link target), a last guard against trusting the wrong record. Never a
   * member reached through a symlink (previousRecord: a directory of the image that the zone
   * replaced by a link, met before the image's directory member puts it right, in an image
   * listed children first), nor one at a path an earlier member of this run went to (through
   * such a link) or above one (its mtime moved): the check's word on those is out of date.
   */
  private passOver(entry: Entry, physical: string): boolean {
    if (this.incremental !== undefined || !trustableType(entry) || !this.options.trusted!.trusts(physical) || this.placedThisRun.has(physical)) return false;
    const previous = this.previousRecord(physical);
    if (previous === undefined || (entry.type === 'file' && previous.hash === undefined)) return false;
    const extra = entry.type === 'hardlink' ? { hash: previous.hash, size: previous.size, linkPath: previous.linkPath } : { hash: previous.hash };
    if (!sameRecord(this.recordOf(entry, physical, extra), previous)) return false;
    switch (entry.type) {
      case 'file':
        this.counters.files++;
        this.counters.dataBytes += entry.size;
        this.counters.unchanged++;
        this.noteHash(physical, previous.hash!); // for a later hard link's record
        break;
      case 'dir':
        this.resolver.noteDir(physical);
        this.counters.dirs++;
        break;
      case 'symlink':
        this.counters.symlinks++;
        break;
      default:
        this.counters.hardlinks++;
    }
    this.options.record?.(previous);
    this.trustedMembers++;
    return true;
  }

  private placeTyped(entry: Entry, parent: string, name: string, physical: string): Promise<void> | undefined {
    switch (entry.type) {
      case 'file':
        return this.placeFile(entry, parent, name, physical);
      case 'dir':
        return this.placeDir(entry, physical);
      case 'symlink':
        return this.placeSymlink(entry, physical);
      case 'hardlink':
        return this.placeHardlink(entry, physical);
      case 'unchanged':
        return this.placeUnchanged(entry, physical);
      case 'char':
      case 'block':
      case 'fifo':
        return this.placeSpecial(entry, physical);
      case 'socket':
        this.counters.skippedSpecial++;
        this.skippedSpecials.push({ type: 'socket', path: physical });
        this.options.warn({ code: 'P2V_ENTRY_INVALID', message: 'sockets cannot be restored from an archive: skipped', entry: displayPath(entry.path) });
        return;
    }
  }

  // ---- regular files -------------------------------------------------------------------------

  private placeFile(entry: Entry, parent: string, name: string, physical: string): Promise<void> | undefined {
    if (this.queuedNodes.size > 0 && this.queuedNodes.has(physical)) this.makeQueuedNodes();
    if (this.pending.has(physical)) return this.waitFor(physical).then(() => this.placeFile(entry, parent, name, physical));
    // a directory this run has made or walked through goes here, where the resolver forgets it
    // (a worker removes only an empty directory nobody has cached: write-worker.ts)
    if (this.resolver.isKnownDir(physical)) {
      const existing = lstatOrUndefined(this.resolver.abs(physical));
      if (existing?.isDirectory()) return this.clearPath(physical, existing).then(() => this.placeFile(entry, parent, name, physical));
    }
    if (entry.xattrs !== undefined || this.xattrs.size > 0) this.xattrs.replace(physical, entry.xattrs);
    this.counters.files++;
    this.counters.dataBytes += entry.size;
    const previous = this.previousRecord(physical);
    const op: FileOp = {
      dir: this.resolver.abs(parent),
      name,
      start: 0,
      length: entry.size,
      mode: entry.mode & 0o7777,
      uid: entry.uid,
      gid: entry.gid,
      chown: this.isRoot,
      mtimeSeconds: nsToSeconds(entry.mtimeNs),
      mayExist: !this.resolver.createdThisRun(parent),
      known: previous?.hash ? { hash: previous.hash, size: previous.size, mtimeSeconds: nsToSeconds(previous.mtimeNs) } : undefined,
    };
    const names = previous?.type === 'file' ? this.recordedNames(physical) : undefined;
    if (names !== undefined) op.names = names;
    const tag: FileTag = { entry, physical };
    // the tag keeps the entry until the file's result: its attribute values count like a body
    const held = entry.xattrs === undefined ? 0 : xattrBytes(entry.xattrs);
    if (entry.sourcePath !== undefined) {
      op.source = entry.sourcePath;
      op.sourceIdentity = entry.sourceIdentity;
      // the source's stamp as recorded (its content cannot have changed) and the destination
      // as recorded: settled here, the source is not even opened
      const sourceUnchanged = previous?.sourceStamp !== undefined && previous.sourceStamp === entry.sourceStamp;
      if (sourceUnchanged && previous?.hash !== undefined && this.destinationAsRecorded(op, previous, physical)) {
        this.fileDone(tag, { status: 'unchanged', hash: previous.hash }, undefined);
        return undefined;
      }
      const queued = this.pool.tryAddCopy(op, tag, held);
      if (queued) {
        this.pendingUntil(physical, queued);
        return undefined;
      }
      return this.pool.addCopy(op, tag, held).then(([done]) => this.pendingUntil(physical, done!));
    }
    if (entry.size > smallFileMaxBytes) {
      // a sparse body (pieces) leaves its holes unwritten
      const body = entry.body?.pieces?.() ?? entry.body?.chunks() ?? emptyChunks();
      return this.writeLarge(entry, op.dir, physical, body).then(({ done }) => {
        this.track(physical, done.then((result) => this.fileDone(tag, result, undefined)));
      });
    }
    // the hot path: body already in memory, room in the open batch → no promise at all
    const whole = entry.size === 0 ? empty : entry.body?.whole?.();
    if (whole && previous?.hash !== undefined && this.unchangedByIndex(op, previous, physical, whole, tag)) return undefined;
    if (whole && this.pool.hasRoomFor(entry.size, held)) {
      this.pendingUntil(physical, this.pool.addSmall(op, whole, tag, held));
      return undefined;
    }
    if (whole) return this.pool.makeRoom(entry.size, held).then(() => this.pendingUntil(physical, this.pool.addSmall(op, whole, tag, held)));
    return this.pool.addSmallStreamed(op, entry.body!.chunks(), tag, held).then(([done]) => this.pendingUntil(physical, done!));
  }

  /**
   * A re-run with the content index: when the body hashes to what the index recorded for this
   * path and the file there still looks as recorded (size and mtime, rsync's quick check) and as
   * the entry wants it (mode, owner), it is unchanged - settled here, without copying the body
   * to the ring or waking a worker (that round trip was most of a no-change re-run's main-thread
   * time). The workers make the same decision (write-worker.ts writeFile); anything less than
   * all of it equal goes to them as usual.
   */
  private unchangedByIndex(op: FileOp, previous: IndexRecord, physical: string, body: Uint8Array, tag: FileTag): boolean {
    if (previous.size !== body.length) return false;
    const hash = hex64(hasher.h64Raw(body));
    if (hash !== previous.hash || !this.destinationAsRecorded(op, previous, physical)) return false;
    this.fileDone(tag, { status: 'unchanged', hash }, undefined);
    return true;
  }

  /** The file at `physical` is still what the index recorded (size and mtime) and what `op`
   *  wants (mode, owner, mtime). Directory images use it alone when the source file's stamp is
   *  as recorded too (its content cannot have changed): the source is not even opened. */
  private destinationAsRecorded(op: FileOp, previous: IndexRecord, physical: string): boolean {
    const stat = lstatOrUndefined(this.resolver.abs(physical));
    if (!stat?.isFile() || (stat.nlink !== 1 && stat.nlink !== op.names) || stat.size !== op.length || stat.size !== previous.size) return false;
    if (!sameMtime(stat.mtimeMs, op.mtimeSeconds) || !sameMtime(stat.mtimeMs, nsToSeconds(previous.mtimeNs))) return false;
    return (stat.mode & 0o7777) === op.mode && !(op.chown && (stat.uid !== op.uid || stat.gid !== op.gid));
  }

  private linkCounts: ReadonlyMap<string, number> | undefined;

  /** How many names the content index records for the file at `physical` (itself and the hard
   *  links made to it), when it records any hard link to it. */
  private recordedNames(physical: string): number | undefined {
    return (this.linkCounts ??= this.options.previous.linkNames()).get(physical);
  }

  /** Remember that `physical` is being written until `done` (a batch) settles. */
  private pendingUntil(physical: string, done: Promise<void>): void {
    this.pending.set(physical, done);
  }

  /** A small file's result, called by the pool when its batch is written. */
  private fileDone(tag: FileTag, result: FileResult, batchDone: Promise<void> | undefined): void {
    const { entry, physical } = tag;
    if (batchDone !== undefined && this.pending.get(physical) === batchDone) this.pending.delete(physical);
    if (result.status === 'error') {
      if (entry.xattrs !== undefined) this.xattrs.replace(physical, undefined); // not for whatever is still there
      if (result.error === 'ESTOPPED') {
        // the run was stopped (write-pool.ts stop()) and this copy gave up: it says so itself
        this.copiesStopped++;
        return;
      }
      if (result.error !== undefined && stopsTheRun.has(result.error) && !result.syscall?.endsWith('(source)')) {
        // the disk is full, read-only or failing: every member after this one would fail the
        // same way, and a run that goes on reports success on a tree missing most of its files
        this.stopError ??= new P2VError('P2V_IO', `${result.syscall ?? 'write'} failed: ${result.error}`, { entry: displayPath(entry.path) });
        return;
      }
      if (result.error === 'ESOURCECHANGED') {
        this.options.warn({ code: 'P2V_SOURCE_CHANGED', message: 'not copied: the source file was replaced while the tree was copied (another file, or not a regular file, where the walk listed it); copy it again', entry: displayPath(entry.path) });
        return;
      }
      this.options.warn({ code: 'P2V_IO', message: `file not written: ${result.syscall ?? 'write'} failed: ${result.error}`, entry: displayPath(entry.path) });
      return;
    }
    if (result.status === 'written') this.counters.written++;
    else this.counters.unchanged++;
    if (result.ownerRefused !== undefined) this.ownerRefused(physical, result.ownerRefused);
    if (result.copiedSize !== undefined) {
      this.options.warn({ code: 'P2V_SOURCE_CHANGED', message: `the file changed size while it was copied (${entry.size} bytes announced); copy it again`, entry: displayPath(entry.path) });
    }
    if (this.options.record) {
      this.noteHash(physical, result.hash);
      this.options.record(this.recordOf(entry, physical, { hash: result.hash }));
    }
  }

  /**
   * Large files: the main thread hashes (xxh64 streams at ~10 GB/s, cheaper than shipping the
   * state around) and hands 1 MiB pieces to the pool. If a regular file of the same size is
   * already there, pieces are compared with it first and nothing is written while they match;
   * from the first difference on, a temporary file (holding the identical prefix) takes the
   * data and is renamed over the old file at the end.
   * Holes (a number in place of a piece, EntryBody.pieces) are hashed as the zeros they are but
   * not written: the offset moves on and the file is extended to its size at the end, so the
   * file system leaves them unallocated.
   */
  private async writeLarge(entry: Entry, dir: string, physical: string, chunks: AsyncIterable<Uint8Array | number>): Promise<Pending<FileResult>> {
    const path = this.resolver.abs(physical);
    const existing = lstatOrUndefined(path);
    if (existing?.isDirectory()) await this.clearPath(physical, existing);
    // (a file of several names is written anew unless they are the recorded group: write-worker.ts keepable)
    const keepable = existing?.isFile() && (existing.nlink === 1 || (this.previousRecord(physical)?.type === 'file' && existing.nlink === this.recordedNames(physical)));
    const compareFd = keepable && existing!.size === entry.size ? fsb.open(path, O_RDONLY | O_NOFOLLOW) : undefined;
    const target = existing && !existing.isDirectory() ? `${dir}/.zonep2v-${randomBytes(6).toString('hex')}` : path;
    let fd = compareFd === undefined ? fsb.open(target, CREATE_NEW, 0o600) : -1;
    // each descriptor closed exactly once, also when a step fails (a number closed twice may by
    // then be another file's); `discard` is the one way out of a failure: both closed, and the
    // file we were writing - a temporary one, or a new one under its own name - removed (an old
    // file stays as it was)
    let compareClosed = false;
    let targetClosed = false;
    const closeCompare = () => {
      if (compareFd === undefined || compareClosed) return;
      compareClosed = true;
      fs.closeSync(compareFd);
    };
    const closeTarget = () => {
      if (fd < 0 || targetClosed) return;
      targetClosed = true;
      fs.closeSync(fd);
    };
    const discard = () => {
      if (compareFd !== undefined && !compareClosed) closeQuietly(compareFd);
      if (fd >= 0 && !targetClosed) closeQuietly(fd);
      compareClosed = targetClosed = true;
      if (fd >= 0 && (target !== path || compareFd === undefined)) fs.rmSync(Buffer.from(target, 'latin1'), { force: true });
    };
    const hash = hasher.create64();
    const writes: Promise<unknown>[] = [];
    let position = 0;
    const buffer = scratch;
    let filled = 0;
    const ship = async () => {
      if (filled === 0) return;
      const piece = buffer.subarray(0, filled);
      const at = position - filled;
      if (fd < 0 && !sameBytes(compareFd!, piece, at)) {
        // first difference: switch to writing a temporary file that starts with the same prefix
        fd = fsb.open(target, CREATE_NEW, 0o600);
        copyPrefix(compareFd!, fd, at);
      }
      if (fd >= 0) writes.push((await this.pool.pwrite(fd, at, piece)).done); // copies the piece
      filled = 0;
    };
    let holes = false;
    let holeBytes = 0;
    const skipHole = async (length: number) => {
      await ship();
      holeBytes += length;
      if (holeBytes > this.options.limits.maxSparseHoleBytes) {
        throw new P2VError('P2V_LIMIT', `sparse file with more than ${this.options.limits.maxSparseHoleBytes} bytes of holes (maxSparseHoleBytes): each is hashed as the zeros it reads as`, { entry: displayPath(entry.path) });
      }
      for (let left = length, sinceTurn = 0; left > 0; left -= zeroPiece.length, sinceTurn += zeroPiece.length) {
        hash.update(zeroPiece.subarray(0, Math.min(left, zeroPiece.length)));
        // a long hole: let a stop (Ctrl-C, SIGTERM) be heard between gigabytes
        if (sinceTurn >= 1024 ** 3) {
          sinceTurn = 0;
          await new Promise((resolve) => setImmediate(resolve));
          this.options.signal?.throwIfAborted();
        }
      }
      if (fd < 0 && !zeroBytes(compareFd!, position, length)) {
        fd = fsb.open(target, CREATE_NEW, 0o600);
        copyPrefix(compareFd!, fd, position);
      }
      position += length;
      holes = true;
    };
    try {
      for await (const chunk of chunks) {
        this.options.signal?.throwIfAborted();
        if (typeof chunk === 'number') {
          await skipHole(chunk);
          continue;
        }
        hash.update(chunk);
        let from = 0;
        while (from < chunk.length) {
          const take = Math.min(chunk.length - from, buffer.length - filled);
          buffer.set(chunk.subarray(from, from + take), filled);
          filled += take;
          from += take;
          position += take;
          if (filled === buffer.length) await ship();
        }
      }
      await ship();
    } catch (error) {
      await Promise.allSettled(writes);
      discard();
      throw error;
    }
    const digest = hex64(hash.digest());
    const metadata = { mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid, mtimeSeconds: nsToSeconds(entry.mtimeNs) };
    // every piece settled before anything is closed: a failed piece must not let the file be
    // closed while others are still queued for its descriptor (they would land in whatever
    // file gets that number next)
    const finished = Promise.allSettled(writes).then((settled): FileResult => {
      const failed = settled.find((piece): piece is PromiseRejectedResult => piece.status === 'rejected');
      if (failed) throw failed.reason;
      if (compareFd !== undefined && fd < 0) {
        const ownerRefused = alreadySet(fs.fstatSync(compareFd), metadata, this.isRoot) ? undefined : applyFdMetadata(compareFd, metadata, this.isRoot);
        closeCompare();
        return { status: 'unchanged', hash: digest, ownerRefused };
      }
      closeCompare();
      if (holes) fs.ftruncateSync(fd, position); // a trailing hole: nothing was written there
      const ownerRefused = applyFdMetadata(fd, metadata, this.isRoot);
      closeTarget();
      if (target !== path) fsb.rename(target, path);
      return { status: 'written', hash: digest, ownerRefused };
    });
    return {
      done: finished.catch((error): FileResult => {
        discard(); // a piece not written (a full disk): nothing half done is left behind
        return { status: 'error', hash: digest, error: errnoCode(error) ?? String(error), syscall: (error as NodeJS.ErrnoException).syscall };
      }),
    };
  }

  // ---- directories, links, special files -----------------------------------------------------

  private async placeDir(entry: Entry, physical: string): Promise<void> {
    await this.waitFor(physical);
    const path = this.resolver.abs(physical);
    const existing = lstatOrUndefined(path);
    const create = !existing?.isDirectory();
    if (create) {
      if (existing) await this.clearPath(physical, existing);
      fsb.mkdir(path, 0o700); // opened up by the deferred metadata; 0700 until then
    }
    this.resolver.noteDir(physical, create);
    this.dirs.set(physical, this.dirMetadata(entry));
    if (entry.xattrs) this.xattrs.add(physical, entry.xattrs);
    this.counters.dirs++;
    this.options.record?.(this.recordOf(entry, physical, {}));
  }

  private async placeSymlink(entry: Entry, physical: string): Promise<void> {
    const target = entry.linkTarget ?? '';
    // no file system holds such a target (symlink(2) takes a C string): a corrupt member, not a
    // failed write that ends the run
    if (target.includes('\0') || target === '') {
      throw new P2VError('P2V_ENTRY_INVALID', `symlink target ${target === '' ? 'is empty' : 'holds a NUL byte'}: skipped`, { severity: 'skipped' });
    }
    await this.waitFor(physical);
    const path = this.resolver.abs(physical);
    const existing = lstatOrUndefined(path);
    const seconds = nsToSeconds(entry.mtimeNs);
    const same = existing?.isSymbolicLink() && fsb.readlink(path) === target;
    if (!same) {
      if (existing) await this.clearPath(physical, existing);
      fsb.symlink(target, path);
    }
    // a re-run leaves an identical link alone, metadata included
    if (!same || (this.isRoot && (existing!.uid !== entry.uid || existing!.gid !== entry.gid)) || existing!.mtimeMs !== seconds * 1000) {
      const refused = this.isRoot ? tryChown(() => fsb.lchown(path, entry.uid, entry.gid)) : undefined;
      if (refused !== undefined) this.ownerRefused(physical, refused);
      fsb.lutimes(path, seconds, seconds);
    }
    this.counters.symlinks++;
    this.options.record?.(this.recordOf(entry, physical, {}));
  }

  private async placeHardlink(entry: Entry, physical: string): Promise<void> {
    const targetComponents = memberComponents(entry.linkTarget ?? '', { stripAbsolute: this.options.stripAbsolute, maxPathDepth: this.options.limits.maxPathDepth });
    if (targetComponents.length === 0) throw new P2VError('P2V_ENTRY_UNSAFE', 'hard link to the root: skipped', { severity: 'skipped' });
    const targetParent = await this.resolver.parentOf(targetComponents, false, entry.path);
    const targetName = targetComponents[targetComponents.length - 1]!;
    const targetPhysical = targetParent === '' ? targetName : `${targetParent}/${targetName}`;
    const targetInFlight = this.pending.get(targetPhysical);
    const deferrable = targetInFlight !== undefined && !this.pending.has(physical) && !this.queuedNodes.has(physical);
    const existingNow = deferrable ? lstatOrUndefined(this.resolver.abs(physical)) : undefined;
    if (deferrable && !existingNow?.isDirectory()) {
      // The target is still being written, its batch maybe not even sent (newc carries a
      // group's data on its last name, so the other names follow it at once): link when it has
      // landed instead of holding up every entry behind this one for a worker round trip
      // (3,000 links took 0.39 s of main-thread time). Until then this path is pending too.
      // What this member replaces loses its planned attributes now, in member order (attributes
      // planned for the link by a later member must survive the late link).
      if (existingNow) this.xattrs.forget(physical, false);
      const linked = targetInFlight!.then(() => this.linkNow(entry, physical, targetPhysical, false));
      this.track(physical, linked.catch((error: unknown) => this.linkFailed(entry, error)));
      return;
    }
    await this.waitFor(targetPhysical);
    await this.waitFor(physical);
    const existing = lstatOrUndefined(this.resolver.abs(physical));
    if (existing?.isDirectory()) await this.clearPath(physical, existing);
    try {
      this.linkNow(entry, physical, targetPhysical, true);
    } catch (error) {
      this.linkFailed(entry, error);
    }
  }

  /** A hard link not made is a warning, whenever it failed (at once or after its target landed),
   *  as a file that could not be written is. */
  private linkFailed(entry: Entry, error: unknown): void {
    if (isP2VError(error)) {
      this.options.warn({ code: error.code, message: error.message, entry: displayPath(entry.path) });
      return;
    }
    const why = ioError(error, displayPath(entry.path), 'link').message;
    this.options.warn({ code: 'P2V_IO', message: `hard link not made: ${why}`, entry: displayPath(entry.path) });
  }

  /** Make the hard link (its target in place, nothing but a non-directory at `physical`);
   *  `forgetAttrs`: what it replaces loses its planned attributes here (the deferred caller did
   *  that when the member came). */
  private linkNow(entry: Entry, physical: string, targetPhysical: string, forgetAttrs: boolean): void {
    const targetPath = this.resolver.abs(targetPhysical);
    const targetStat = lstatOrUndefined(targetPath);
    if (!targetStat || targetStat.isDirectory()) {
      // a member lost (GNU tar and bsdtar exit non-zero too): the run is incomplete
      throw new P2VError('P2V_LINK_TARGET', `hard-link target "${displayPath(entry.linkTarget ?? '')}" ${targetStat ? 'is a directory' : 'does not exist'}: link not made`, { severity: 'skipped' });
    }
    const path = this.resolver.abs(physical);
    const existing = lstatOrUndefined(path);
    if (!(existing && existing.ino === targetStat.ino && existing.dev === targetStat.dev)) {
      if (existing?.isDirectory()) throw new P2VError('P2V_BLOCKED', 'a directory is in the way: skipped', { severity: 'skipped' });
      if (existing) {
        fsb.unlink(path);
        if (forgetAttrs) this.xattrs.forget(physical, false);
      }
      fsb.link(targetPath, path);
    }
    this.counters.hardlinks++;
    const record = this.options.record;
    if (record) record(this.recordOf(entry, physical, { hash: this.linkHash(targetPhysical, targetStat), size: targetStat.size, linkPath: targetPhysical }));
  }

  private async placeSpecial(entry: Entry, physical: string): Promise<void> {
    const isDevice = entry.type === 'char' || entry.type === 'block';
    if (!this.options.devices || (isDevice && (!this.isRoot || this.devicesRefused))) {
      this.skipSpecial(entry, physical, !this.options.devices ? '--no-devices' : !this.isRoot ? 'needs root' : notPermitted);
      return;
    }
    await this.waitFor(physical);
    const path = this.resolver.abs(physical);
    const existing = lstatOrUndefined(path);
    if (existing && sameNode(existing, entry)) {
      this.settleSpecial(entry, physical);
      return;
    }
    if (existing) await this.clearPath(physical, existing);
    // made later, with others, by one process (node-batch.ts); until then anything that touches
    // this path (or a directory that holds it) flushes the batch first: waitFor, barrier
    this.queuedNodes.set(physical, entry);
    if (this.queuedNodes.size >= nodeBatchSize) this.makeQueuedNodes();
  }

  /** Make the queued device nodes and FIFOs, then give each its owner, mode and times. Errors
   *  are each node's own; a fatal one is thrown once the others are settled. */
  private makeQueuedNodes(): void {
    if (this.queuedNodes.size === 0) return;
    const queued = [...this.queuedNodes];
    this.queuedNodes.clear();
    let fatal: unknown;
    const requests = queued.map(([physical, entry]) => ({ path: this.resolver.abs(physical), type: entry.type as SpecialType, mode: entry.mode, major: entry.devMajor ?? 0, minor: entry.devMinor ?? 0 }));
    makeSpecialNodes(this.resolver.abs(''), requests, (i, failure) => {
      const [physical, entry] = queued[i]!;
      const refused = failure as NodeJS.ErrnoException | undefined;
      if (refused?.code === 'EPERM' && (refused.syscall === 'mknod' || refused.syscall === 'mkfifo')) {
        // root without the privilege to make nodes (a container without CAP_MKNOD): the same
        // as not being root, for this node and (devices) every later one
        if (entry.type !== 'fifo') this.devicesRefused = true;
        this.skipSpecial(entry, physical, notPermitted);
        return;
      }
      if (refused?.code === 'EINVAL' && refused.syscall === 'mknod' && entry.type !== 'fifo') {
        // a device number this system cannot hold (Linux: major < 4096, minor < 2^20; Solaris
        // minors go higher): this member is not made, the run goes on (as GNU tar does)
        this.options.warn({ code: 'P2V_IO', message: `device ${entry.devMajor},${entry.devMinor} not made: mknod: EINVAL (a device number this system cannot hold)`, entry: displayPath(entry.path) });
        return;
      }
      try {
        if (failure) throw failure;
        this.settleSpecial(entry, physical);
      } catch (error) {
        try {
          this.failed(entry, error);
        } catch (thrown) {
          fatal ??= thrown;
        }
      }
    });
    if (fatal !== undefined) throw fatal;
  }

  /** Members whose owner could not be set here (tryChown), reported once at the end. */
  private ownersRefused = { count: 0, code: '', example: '' };

  private ownerRefused(physical: string, code: string): void {
    if (this.ownersRefused.count++ === 0) this.ownersRefused = { count: 1, code, example: physical };
  }

  private reportOwnerRefusals(): void {
    const { count, code, example } = this.ownersRefused;
    if (count === 0) return;
    const why = code === 'EINVAL' ? 'the uid or gid is not mapped here, e.g. a user namespace' : 'root without CAP_CHOWN, e.g. in a container';
    this.options.warn({
      code: 'P2V_OWNER_NOT_SET',
      message: `owner not restored on ${count} member(s), "${displayPath(example)}" first (chown: ${code}: ${why}); they keep the owner of the run, without set-uid/set-gid bits`,
    });
  }

  private skipSpecial(entry: Entry, physical: string, why: string): void {
    const isDevice = entry.type === 'char' || entry.type === 'block';
    this.counters.skippedSpecial++;
    this.skippedSpecials.push({ type: entry.type, path: physical });
    this.options.warn({ code: 'P2V_SKIPPED_SPECIAL', message: `${entry.type} ${isDevice ? `device ${entry.devMajor},${entry.devMinor} ` : ''}not created (${why})`, entry: displayPath(entry.path) });
  }

  /** A node in place (made now, or found identical): owner, full mode, times, record. */
  private settleSpecial(entry: Entry, physical: string): void {
    const path = this.resolver.abs(physical);
    const isDevice = entry.type === 'char' || entry.type === 'block';
    const refused = this.isRoot ? tryChown(() => fsb.lchown(path, entry.uid, entry.gid)) : undefined;
    if (refused !== undefined) this.ownerRefused(physical, refused);
    const mode = modeAfterChown(entry.mode & 0o7777, refused);
    // mknod -m set the permission bits before chown; the full mode (set-id bits, which chown
    // may clear and mknod -m refuses) is set after, when it differs, through a descriptor:
    // chmod by path would follow a symlink swapped in after the lstat check (a race seen in
    // test/security/raced-symlink-swap.test.ts).
    const replaced = () => new P2VError('P2V_ENTRY_UNSAFE', 'node replaced by a symlink while writing', { severity: 'skipped' });
    const now = fsb.lstat(path);
    if (now.isSymbolicLink()) throw replaced();
    if ((now.mode & 0o7777) !== mode && !setNodeMode(path, entry.type as SpecialType, mode)) throw replaced();
    const seconds = nsToSeconds(entry.mtimeNs);
    fsb.lutimes(path, seconds, seconds);
    if (isDevice) this.counters.devices++;
    else this.counters.fifos++;
    this.options.record?.(this.recordOf(entry, physical, {}));
  }

  // ---- incremental dumps ------------------------------------------------------------------------

  /** Before something is placed at `physical`: a node of the previous tree there that must
   *  survive (an unchanged inode, maybe named elsewhere now; a directory in the way of a
   *  non-directory) goes to the stash first. */
  private vacate(physical: string, incomingIsDir: boolean): Promise<void> | undefined {
    const plan = this.incremental!;
    const record = plan.untouched(physical);
    if (!record) return undefined;
    const existing = lstatOrUndefined(this.resolver.abs(physical));
    if (!existing || !plan.mustStash(record, existing.isDirectory(), incomingIsDir)) return undefined;
    // everything in flight lands first (queued nodes, file writes, deferred links): made later
    // by path, below a directory moved away and replaced by a symlink, they would follow it
    return this.barrier().then(() => this.stash(physical, incomingIsDir));
  }

  private stash(physical: string, incomingIsDir: boolean): void {
    const plan = this.incremental!;
    const record = plan.untouched(physical);
    const path = this.resolver.abs(physical);
    const existing = lstatOrUndefined(path);
    if (!record || !existing || !plan.mustStash(record, existing.isDirectory(), incomingIsDir)) return;
    if (!plan.stashMade) {
      fsb.mkdir(this.resolver.abs(plan.stashDir), 0o700);
      plan.stashMade = true;
    }
    const stash = plan.stashName();
    fsb.rename(path, this.resolver.abs(stash));
    if (existing.isDirectory()) {
      this.resolver.forgetAll();
      this.dirs.forget(physical);
    }
    this.xattrs.forget(physical, existing.isDirectory());
    plan.relocate(physical, stash, record);
  }

  /** A name of an inode that did not change since the previous level: kept where it is, else
   *  hard-linked (renamed, for a directory) from where the previous tree has it now. */
  private async placeUnchanged(entry: Entry, physical: string): Promise<void> {
    const plan = this.incremental;
    if (entry.keepPrevious) {
      const kept = plan?.keepPrevious(physical);
      if (kept && this.options.record) this.options.record(kept); // its attrs: carried by settle()
      return;
    }
    const found = plan && entry.inode !== undefined ? plan.sourceOf(entry.inode) : undefined;
    if (!plan || !found) {
      const why = plan ? 'the previous index does not know it' : 'no previous level to take it from';
      throw new P2VError('P2V_ENTRY_INVALID', `inode ${entry.inode ?? '?'} did not change since the previous dump, but ${why}: skipped`, { severity: 'skipped' });
    }
    const isDir = found.record.type === 'dir';
    const path = this.resolver.abs(physical);
    if (found.path !== physical) {
      await this.waitFor(physical);
      await this.vacate(physical, isDir);
      const existing = lstatOrUndefined(path);
      if (existing) await this.clearPath(physical, existing);
      // found.path comes from the last run's index: what it names is taken only through real
      // directories and only if it is still of its kind (link() and rename() do not follow a
      // last component, but they do follow symlinks on the way - out of the root)
      const from = this.resolver.abs(found.path);
      const kept = this.resolver.realDirectoriesAbove(found.path) ? lstatOrUndefined(from) : undefined;
      if (!kept || kept.isDirectory() !== isDir || kept.isSymbolicLink() !== (found.record.type === 'symlink')) {
        throw new P2VError('P2V_BLOCKED', `the previous level's "${displayPath(found.path)}" is no longer there as the index says (a symlink or another node on the way): not applied`, { severity: 'skipped' });
      }
      if (isDir) {
        await this.barrier(); // what is in flight below the directory lands before it moves (see vacate)
        fsb.rename(from, path);
        this.resolver.forgetAll();
        plan.relocate(found.record.path, physical, found.record);
      } else fsb.link(from, path);
    }
    plan.noteUnchanged(physical, found.path === physical ? 'same' : 'moved', entry.inode!);
    let record: IndexRecord = { ...found.record, path: physical, inode: entry.inode };
    if (entry.newMetadata) {
      this.applyMetadata(physical, entry);
      record = { ...record, mode: entry.mode, uid: entry.uid, gid: entry.gid, mtimeNs: entry.mtimeNs };
    }
    if (!this.options.record) return;
    this.options.record(record);
    if (found.path !== physical && !isDir) for (const attrs of plan.attrsOf(found.record.path)) this.options.record({ ...attrs, path: physical });
  }

  /** New owner, mode and times for a node kept from the previous level (never through a
   *  symlink: a descriptor for files, the deferred fix-ups for directories). */
  private applyMetadata(physical: string, entry: Entry): void {
    const path = this.resolver.abs(physical);
    const stat = fsb.lstat(path);
    const seconds = nsToSeconds(entry.mtimeNs);
    if (stat.isDirectory()) this.dirs.set(physical, this.dirMetadata(entry));
    else if (stat.isFile()) {
      const fd = fsb.open(path, O_RDONLY | O_NOFOLLOW);
      try {
        const refused = applyFdMetadata(fd, { mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid, mtimeSeconds: seconds }, this.isRoot);
        if (refused !== undefined) this.ownerRefused(physical, refused);
      } finally {
        fs.closeSync(fd);
      }
    } else {
      const refused = this.isRoot ? tryChown(() => fsb.lchown(path, entry.uid, entry.gid)) : undefined;
      if (refused !== undefined) this.ownerRefused(physical, refused);
      const special = stat.isFIFO() ? 'fifo' : stat.isCharacterDevice() ? 'char' : stat.isBlockDevice() ? 'block' : undefined;
      if (special) setNodeMode(path, special, modeAfterChown(entry.mode & 0o7777, refused));
      fsb.lutimes(path, seconds, seconds);
    }
  }

  /** The end of an incremental dump: remove what the dump no longer has (deepest first, never
   *  through a symlink, directories only when empty), carry the records of what stayed into the
   *  new index, drop the stash. After a failure only the stash goes. */
  private settleIncremental(complete: boolean): void {
    const plan = this.incremental!;
    if (complete) {
      const { remove, carry } = plan.settle();
      const realDir = new Map<string, boolean>();
      for (const physical of remove) {
        if (!this.resolver.realDirectoriesAbove(physical, realDir)) continue; // replaced by a file or a symlink: nothing of it is left there
        const path = this.resolver.abs(physical);
        const stat = lstatOrUndefined(path);
        if (!stat) continue;
        try {
          if (stat.isDirectory()) {
            fsb.rmdir(path);
            realDir.set(physical, false);
            this.resolver.forgetAll();
            this.dirs.forget(physical);
          } else fsb.unlink(path);
          this.xattrs.forget(physical, stat.isDirectory());
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? String(error);
          this.options.warn({ code: 'P2V_INCREMENTAL', message: `gone from the dump but not removed: ${code === 'ENOTEMPTY' || code === 'EEXIST' ? 'the directory holds files no index knows' : code}`, entry: displayPath(physical) });
        }
      }
      for (const record of carry) this.options.record?.(record);
    }
    if (plan.stashMade) fs.rmSync(pathBytes(this.resolver.abs(plan.stashDir)), { recursive: true, force: true });
    plan.stashMade = false;
  }

  /** An 'attrs' entry names an earlier member by its archive path: find where the writer put it
   *  (creating nothing, through in-root resolution like any member) and plan its attributes
   *  there. The node itself is looked at only at the end (xattrs.ts). */
  private planAttrs(entry: Entry, xattrs: Map<string, Uint8Array>): Promise<void> | undefined {
    let components: string[];
    try {
      components = memberComponents(entry.path, { stripAbsolute: this.options.stripAbsolute, maxPathDepth: this.options.limits.maxPathDepth });
    } catch (error) {
      // the member it belongs to was refused for its name already: no reason to stop the image
      if (!isP2VError(error)) throw error;
      throw new P2VError(error.code, `extended attributes not applied: ${error.message}`, { severity: 'skipped' });
    }
    if (components.length === 0) {
      this.xattrs.add('', xattrs);
      return undefined;
    }
    const name = components[components.length - 1]!;
    const plan = (parent: string) => this.xattrs.add(parent === '' ? name : `${parent}/${name}`, xattrs);
    const known = this.resolver.knownParentOf(components);
    if (known !== undefined) {
      plan(known);
      return undefined;
    }
    return this.resolver.parentOf(components, false, entry.path).then(plan);
  }

  private recordAttrs(entry: Entry): void {
    if (!this.options.record) return;
    this.options.record({ ...this.recordOf(entry, entry.path, {}), xattrs: base64Values(entry.xattrs ?? new Map()) });
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** Remove what is in the way of a new member at `physical` (never a non-empty directory). */
  private async clearPath(physical: string, existing: fs.Stats): Promise<void> {
    const path = this.resolver.abs(physical);
    if (existing.isDirectory()) {
      await this.barrier(); // writes may be in flight below it
      try {
        fsb.rmdir(path);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new P2VError('P2V_BLOCKED', `a ${code === 'ENOTEMPTY' || code === 'EEXIST' ? 'non-empty ' : ''}directory is in the way: skipped`, { severity: 'skipped' });
      }
      this.resolver.forgetAll();
      this.dirs.forget(physical);
      this.xattrs.forget(physical, true);
    } else {
      fsb.unlink(path);
      this.xattrs.forget(physical, false);
    }
  }

  /** Wait for a write in flight at `physical`, if any (flushing the batch it sits in). */
  private async waitFor(physical: string): Promise<void> {
    if (this.queuedNodes.has(physical)) this.makeQueuedNodes();
    const inFlight = this.pending.get(physical);
    if (!inFlight) return;
    await this.pool.flush();
    await inFlight;
  }

  private async barrier(): Promise<void> {
    this.makeQueuedNodes();
    await this.pool.drain();
    while (this.completions.size > 0) await Promise.all([...this.completions]);
  }

  /** Large files: remember the pending path until `work` (finalisation) is done. */
  private track(physical: string, work: Promise<void>): void {
    const guarded = work.catch((error) => {
      const code = errnoCode(error);
      if (code !== undefined && stopsTheRun.has(code)) this.stopError ??= ioError(error, displayPath(physical), (error as NodeJS.ErrnoException).syscall ?? 'write');
      else this.options.warn({ code: 'P2V_IO', message: String((error as Error).message ?? error), entry: displayPath(physical) });
    });
    this.pending.set(physical, guarded);
    this.completions.add(guarded);
    guarded.then(() => {
      this.completions.delete(guarded);
      if (this.pending.get(physical) === guarded) this.pending.delete(physical);
    });
  }

  /** special files not made (--no-devices, not root, sockets): they have no record, and the
   *  content index seals them so that a settled re-copy knows them (index-check.ts) */
  readonly skippedSpecials: SkippedSpecial[] = [];

  /** copies that gave up because the run was stopped: the tree is short of them */
  copiesStopped = 0;
  private finished = false;

  /** the image's member for the root directory itself, if it has one (its metadata is applied
   *  to the root; the content index seals it, as it has no record) */
  rootEntry: Entry | undefined;

  /** hash by physical path of the files written last, for the index records of hard links
   *  (kept only with an index). Two generations of `recentHashes`, the older dropped whole: a
   *  map of every file's hash held 100 MB of a 300k-file run (292 -> 192 MB peak). A link whose
   *  target is no longer in it (odc links far from their data) hashes the target on disk. */
  private recentHashes = new Map<string, string>();
  private olderHashes = new Map<string, string>();
  private linkHashBuffer: Uint8Array | undefined;

  /** A hard link's hash: its target's, when the target is a regular file. */
  private linkHash(targetPhysical: string, targetStat: fs.Stats): string | undefined {
    return targetStat.isFile() ? this.hashOf(targetPhysical) : undefined;
  }

  private noteHash(physical: string, hash: string): void {
    if (this.recentHashes.size >= recentHashCount) {
      this.olderHashes = this.recentHashes;
      this.recentHashes = new Map();
    }
    this.recentHashes.set(physical, hash);
  }

  /** The hash of the file at `physical` (written by this run), for a hard link's record. */
  private hashOf(physical: string): string {
    const known = this.recentHashes.get(physical) ?? this.olderHashes.get(physical);
    if (known !== undefined) return known;
    const hash = hasher.create64();
    const buffer = (this.linkHashBuffer ??= new Uint8Array(pieceBytes)); // not `scratch`: a large write may be using it
    const fd = fsb.open(this.resolver.abs(physical), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      for (let at = 0, n; (n = fs.readSync(fd, buffer, 0, buffer.length, at)) > 0; at += n) hash.update(buffer.subarray(0, n));
    } finally {
      closeQuietly(fd);
    }
    const digest = hex64(hash.digest());
    this.noteHash(physical, digest);
    return digest;
  }

  private recordOf(entry: Entry, physical: string, extra: { hash?: string; size?: number; linkPath?: string }): IndexRecord {
    const device = entry.type === 'char' || entry.type === 'block';
    return {
      path: physical,
      type: entry.type,
      size: extra.size ?? entry.size,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      mtimeNs: entry.mtimeNs,
      hash: extra.hash,
      linkTarget: entry.type === 'symlink' || entry.type === 'hardlink' ? entry.linkTarget : undefined,
      xattrs: entry.xattrs?.size ? base64Values(entry.xattrs) : undefined,
      acls: entry.acls,
      inode: entry.inode,
      sourceStamp: entry.sourceStamp,
      linkPath: extra.linkPath,
      devMajor: device ? entry.devMajor : undefined,
      devMinor: device ? entry.devMinor : undefined,
    };
  }

  private dirMetadata(entry: Entry) {
    return { mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid, mtimeSeconds: nsToSeconds(entry.mtimeNs) };
  }
}

/** Errors of a worker's file that are the destination's (or the machine's), not the member's;
 *  the same codes from reading a directory image's source file ("(source)" calls) are not. */
const stopsTheRun = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EMFILE', 'ENFILE']);

/** Is `stat` already the node `entry` describes (a re-run)? Linux dev_t split as glibc does it. */
function sameNode(stat: fs.Stats, entry: Entry): boolean {
  if (entry.type === 'fifo') return stat.isFIFO();
  const isType = entry.type === 'char' ? stat.isCharacterDevice() : stat.isBlockDevice();
  const [major, minor] = splitLinuxDev(stat.rdev);
  return isType && major === entry.devMajor && minor === entry.devMinor;
}

async function* emptyChunks(): AsyncGenerator<Uint8Array> {}

/** Bytes of an entry's extended attributes (names and values). */
function xattrBytes(xattrs: Map<string, Uint8Array>): number {
  let bytes = 0;
  for (const [name, value] of xattrs) bytes += name.length + value.length;
  return bytes;
}

/** xattrs as the content index keeps them: name → base64 value. */
function base64Values(xattrs: Map<string, Uint8Array>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of xattrs) out[key] = Buffer.from(value).toString('base64');
  return out;
}

/** Is `parent` the member's own parent path (its components but the last, joined by '/'),
 *  not somewhere a symlink on the way led? Compared in place: it runs for every member of a
 *  re-run. */
function isOwnParent(parent: string, components: readonly string[]): boolean {
  let at = 0;
  for (let i = 0; i < components.length - 1; i++) {
    const component = components[i]!;
    if (i > 0 && parent.charCodeAt(at++) !== 0x2f) return false;
    if (!parent.startsWith(component, at)) return false;
    at += component.length;
  }
  return at === parent.length;
}

function sameBytes(fd: number, piece: Uint8Array, position: number): boolean {
  const existing = Buffer.allocUnsafe(piece.length);
  let done = 0;
  while (done < piece.length) {
    const n = fs.readSync(fd, existing, done, piece.length - done, position + done);
    if (n === 0) return false;
    done += n;
  }
  return existing.equals(piece);
}

/** Are bytes [position, position + length) of `fd` all zero (an existing file matching a hole)? */
function zeroBytes(fd: number, position: number, length: number): boolean {
  const buffer = Buffer.allocUnsafe(Math.min(length, pieceBytes));
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, length - done), position + done);
    if (n === 0) return false;
    for (let i = 0; i < n; i++) if (buffer[i] !== 0) return false;
    done += n;
  }
  return true;
}

function copyPrefix(from: number, to: number, length: number): void {
  const buffer = Buffer.allocUnsafe(Math.min(length, pieceBytes) || 1);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(from, buffer, 0, Math.min(buffer.length, length - done), done);
    if (n === 0) break;
    let written = 0;
    while (written < n) written += fs.writeSync(to, buffer, written, n - written, done + written);
    done += n;
  }
}

/** Owner (unless refused here: returns the code, and the set-id bits go), mode, times. */
function applyFdMetadata(fd: number, metadata: { mode: number; uid: number; gid: number; mtimeSeconds: number }, chown: boolean): string | undefined {
  const refused = chown ? tryChown(() => fs.fchownSync(fd, metadata.uid, metadata.gid)) : undefined;
  fs.fchmodSync(fd, modeAfterChown(metadata.mode, refused));
  const mtime = utimeValue(metadata.mtimeSeconds);
  fs.futimesSync(fd, mtime, mtime);
  return refused;
}
