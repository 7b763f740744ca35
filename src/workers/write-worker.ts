/**
 * Write worker (piscina): hashes and writes batches of small files, and pieces of large ones.
 *
 * Every file is created with O_CREAT|O_EXCL|O_NOFOLLOW in a directory the main thread resolved
 * inside the root: nothing that already exists is followed or truncated. When the name is taken
 * (a re-run, or a member listed twice) the existing file is compared first: identical content
 * is left alone (metadata fixed in place through an O_NOFOLLOW fd); different content goes to a
 * temporary name in the same directory that is renamed over the old one, so the old file stays
 * whole until the new one is complete (rsync's receiver does the same).
 * Owner before mode: chown clears setuid/setgid.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import xxhash from 'xxhash-wasm';
// piscina hands our workerData to the thread as worker_threads' own (its worker.js reads it there);
// importing it from 'piscina' would load the whole pool module in every write thread
import { workerData } from 'node:worker_threads';
import type { BatchTask, FileOp, FileResult, PwriteTask, WorkerSetup, WriteTask } from './write-protocol.js';
import { addToMeter, workerMeterSlots } from '../stats.js';
import { pathBytes } from '../entry.js';
import { SET_ID_BITS, closeQuietly, modeAfterChown, sameMtime, tryChown, utimeValue } from '../extract/fs-bytes.js';
import { defaultKernels } from '../native/wasm-kernels.js';
import { sameSource, sourceOpenFlags } from '../formats/dir/source-file.js';
import { memoryHasher } from '../native/xxh64-kernel.js';
import { lowerThisThreadPriority } from './thread-priority.js';

const setup = workerData as WorkerSetup;
// the main thread parses and is the critical path; the ring lets writers lag (thread-priority.ts)
lowerThisThreadPriority(setup.nice);
const arena = new Uint8Array(setup.arena.buffer);
// bodies in the ring are hashed where they lie (the xxh64 kernel shares the ring's memory);
// ZONEP2V_KERNELS=ts takes its twin, xxhash-wasm over a copy
const hashInRing = defaultKernels() === 'wasm' ? memoryHasher(setup.arena) : undefined;
const meter = new BigInt64Array(setup.meter);
const stopFlag = new Int32Array(setup.stop);

/** The run was stopped (write-pool.ts stop()): thrown between the pieces of a long copy. */
function checkStopped(): void {
  if (Atomics.load(stopFlag, 0) !== 0) throw Object.assign(new Error('the run was stopped'), { code: 'ESTOPPED', syscall: 'copy' });
}
// files we create belong to us: chown only when the image says otherwise (hot path: most
// files of a system image are root's, and every syscall saved is ~2 µs on 25k+ files)
const ourUid = process.geteuid?.() ?? -1;
const ourGid = process.getegid?.() ?? -1;

// No top-level await: Node 20 aborts (V8 "Check failed: (location_) != nullptr" in
// ExecuteAsyncModule) now and then when a worker is terminated while an async module is still
// evaluating - a pool closed right after a tiny image does that. The first task waits instead.
type Hashing = Awaited<ReturnType<typeof xxhash>>;
let h64Raw: Hashing['h64Raw'];
let create64: Hashing['create64'];
let hashingReady: Promise<void> | undefined = xxhash().then((hashing) => {
  ({ h64Raw, create64 } = hashing);
  hashingReady = undefined;
});
const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const CREATE_NEW = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

const bytes = pathBytes;
export const hex64 = (value: bigint) => value.toString(16).padStart(16, '0');

export default function run(task: WriteTask): FileResult[] | number | Promise<FileResult[] | number> {
  if (hashingReady) return hashingReady.then(() => run(task));
  const started = performance.now();
  try {
    return task.kind === 'batch' ? writeBatch(task) : writePiece(task);
  } finally {
    addToMeter(meter, workerMeterSlots.busyMicros, (performance.now() - started) * 1000);
  }
}

function writePiece(task: PwriteTask): number {
  const data = arena.subarray(task.start, task.start + task.length);
  let done = 0;
  while (done < data.length) done += fs.writeSync(task.fd, data, done, data.length - done, task.position + done);
  addToMeter(meter, workerMeterSlots.bytes, done);
  return done;
}

/** The owner refusal of the op being written, if any (set by applyMetadata). */
let ownerRefusal: string | undefined;

function writeBatch(task: BatchTask): FileResult[] {
  const results: FileResult[] = [];
  for (const op of task.ops) {
    ownerRefusal = undefined;
    const result = op.source !== undefined ? copyFile(op) : writeFromRing(op);
    if (ownerRefusal !== undefined) result.ownerRefused = ownerRefusal;
    results.push(result);
  }
  return results;
}

function writeFromRing(op: FileOp): FileResult {
  const body = arena.subarray(op.start, op.start + op.length);
  const hash = timedHash(body, op.length);
  try {
    return { status: writeFile(op, body, hash), hash };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { status: 'error', hash, error: e.code ?? e.message, syscall: e.syscall };
  }
}

/** Hash a file's body, counting the time, its bytes and the file for --stats. */
/** Where bodies are copied before hashing: see timedHash. */
let hashScratch = new Uint8Array(256 * 1024 + 8);

function timedHash(body: Uint8Array, size: number): string {
  const started = performance.now();
  // A body in the ring is hashed in place by the xxh64 kernel (11 ms for 20,000 bodies of
  // 0.2-9 KB at every alignment, micro-benchmark). The twin: h64Raw copies its input into the
  // hasher's memory, and from shared memory V8 copies byte by byte unless both sides are equally
  // aligned mod 8, so the body goes to a private buffer at its own alignment first (word by
  // word), which h64Raw then memcpys: 25 ms, against 36 for h64Raw on the ring directly.
  let hash: string;
  if (hashInRing !== undefined && body.buffer === arena.buffer) {
    hash = hex64(hashInRing(body.byteOffset, body.length));
  } else if (hashInCopy !== undefined && body.buffer === copyMemory!.buffer) {
    hash = hex64(hashInCopy(body.byteOffset, body.length));
  } else {
    const at = body.byteOffset & 7;
    if (hashScratch.length < at + body.length) hashScratch = new Uint8Array(at + body.length);
    const view = hashScratch.subarray(at, at + body.length);
    view.set(body);
    hash = hex64(h64Raw(view));
  }
  addToMeter(meter, workerMeterSlots.hashMicros, (performance.now() - started) * 1000);
  addToMeter(meter, workerMeterSlots.bytes, size);
  addToMeter(meter, workerMeterSlots.files, 1);
  return hash;
}

/** Files up to this size are read whole and written like arena bodies; larger ones stream. */
const wholeCopyMaxBytes = 8 * 1024 * 1024;
// Copies are read into memory of their own that the xxh64 kernel hashes in place, as bodies in
// the ring are: the twin below copied every body twice more before hashing it (to a scratch
// buffer, then into xxhash-wasm's memory). Room for the largest whole copy plus the byte that
// tells a file that grew; shared only because the kernel imports a shared memory.
const copyPages = Math.ceil((wholeCopyMaxBytes + 1) / 65536);
const copyMemory = hashInRing !== undefined ? new WebAssembly.Memory({ initial: copyPages, maximum: copyPages, shared: true }) : undefined;
const hashInCopy = copyMemory !== undefined ? memoryHasher(copyMemory) : undefined;
/** Reused read buffer for copies: the kernel's memory, or (twin kernels) grown to the largest
 *  file copied whole. */
let copyBuffer = copyMemory !== undefined ? Buffer.from(copyMemory.buffer) : Buffer.allocUnsafe(1024 * 1024);

/** A read of a directory image's source file; its errors say so ("read (source)"): a source
 *  that cannot be read is that member's problem, not the destination's (zone-writer.ts stops
 *  the run on a destination's EIO, but not on a source's). */
function readSource(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
  try {
    return fs.readSync(fd, buffer, offset, length, position);
  } catch (error) {
    (error as NodeJS.ErrnoException).syscall = 'read (source)';
    throw error;
  }
}

/** Directory images: read the source here (no trip through the main thread), hash, write. */
function copyFile(op: FileOp): FileResult {
  // (an unchanged source over an unchanged destination never gets here: the writer settles it,
  // zone-writer.ts placeFile)
  let fd: number;
  try {
    fd = fs.openSync(bytes(op.source!), sourceOpenFlags);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { status: 'error', hash: '', error: e.code ?? e.message, syscall: 'open (source)' };
  }
  try {
    // the file the walk listed, not one swapped in since (a directory on the way replaced by a
    // symlink to elsewhere, a device or a FIFO in its place)
    const stat = fs.fstatSync(fd, { bigint: true });
    if (!sameSource(stat, op.sourceIdentity)) return { status: 'error', hash: '', error: 'ESOURCECHANGED', syscall: 'open (source)' };
    // a sparse source (fewer blocks than bytes) goes the streaming way, which leaves its zero
    // blocks unwritten: the whole-buffer write would allocate every hole (a 1 MiB lastlog of
    // holes took 1 MiB of disk)
    if (op.length <= wholeCopyMaxBytes && stat.blocks * 512n >= stat.size) {
      if (copyBuffer.length < op.length + 1) copyBuffer = Buffer.allocUnsafe(Math.max(op.length + 1, copyBuffer.length * 2));
      // ask for one byte past the announced size, to notice a file that grew; a read that stops
      // at exactly the size is the end of the file (a regular file reads short only there), so
      // no second read is needed to see EOF (one syscall less per file)
      let done = 0;
      for (;;) {
        const n = readSource(fd, copyBuffer, done, op.length + 1 - done, done);
        done += n;
        if (n === 0 || done >= op.length) break;
      }
      const size = Math.min(done, op.length);
      const body = copyBuffer.subarray(0, size);
      const hash = timedHash(body, size);
      const status = writeFile({ ...op, length: size }, body, hash);
      return done === op.length ? { status, hash } : { status, hash, copiedSize: done > op.length ? -1 : size };
    }
    return copyLarge(op, fd);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { status: 'error', hash: '', error: e.code ?? e.message, syscall: e.syscall };
  } finally {
    closeQuietly(fd); // the source, read only: its close cannot lose data, nor fail the batch
  }
}

/** Large copies stream: compared with an existing same-size file first (nothing written while
 *  identical), else written to a temporary name and renamed over the destination. */
function copyLarge(op: FileOp, source: number): FileResult {
  const path = `${op.dir}/${op.name}`;
  const piece = Buffer.allocUnsafe(1024 * 1024);
  const existing = lstatOrUndefined(path);
  if (existing?.isFile() && keepable(existing, op) && existing.size === op.length) {
    const hasher = create64();
    const old = fs.openSync(bytes(path), O_RDONLY | O_NOFOLLOW);
    const other = Buffer.allocUnsafe(piece.length);
    let same = true;
    try {
      let at = 0;
      while (at < op.length) {
        checkStopped();
        const n = readSource(source, piece, 0, Math.min(piece.length, op.length - at), at);
        if (n === 0) break;
        hasher.update(piece.subarray(0, n));
        if (same) {
          const m = fs.readSync(old, other, 0, n, at);
          same = m === n && other.subarray(0, n).equals(piece.subarray(0, n));
        }
        at += n;
      }
      // a source that shrank or grew since it was listed is not "unchanged": the copy below
      // takes what is there now and reports the new size (P2V_SOURCE_CHANGED)
      if (same && (at < op.length || readSource(source, piece, 0, 1, at) > 0)) same = false;
      if (same) {
        if (metadataDiffers(op, existing)) applyMetadata(old, op);
        return { status: 'unchanged', hash: hex64(hasher.digest()) };
      }
    } finally {
      fs.closeSync(old);
    }
  }
  if (existing?.isDirectory()) removeEmptyDirectory(path);
  const target = existing && !existing.isDirectory() ? `${op.dir}/.zonep2v-${randomBytes(6).toString('hex')}` : path;
  const out = fs.openSync(bytes(target), CREATE_NEW, creationMode(op));
  const hasher = create64();
  // a sparse source (fewer blocks than bytes) stays sparse: its zero blocks are not written
  const sparse = isSparse(source);
  let copied = 0;
  try {
    for (;;) {
      checkStopped();
      const n = readSource(source, piece, 0, piece.length, copied);
      if (n === 0) break;
      hasher.update(piece.subarray(0, n));
      if (sparse) writeNonZero(out, piece.subarray(0, n), copied);
      else {
        let written = 0;
        while (written < n) written += fs.writeSync(out, piece, written, n - written, copied + written);
      }
      copied += n;
    }
    if (sparse) fs.ftruncateSync(out, copied); // a hole at the end: nothing was written there
    applyMetadata(out, op, true);
  } catch (error) {
    closeQuietly(out);
    removeUnfinished(target);
    throw error;
  }
  closeOrRemove(out, target);
  if (target !== path) renameOrRemove(target, path);
  const hash = hex64(hasher.digest());
  return copied === op.length ? { status: 'written', hash } : { status: 'written', hash, copiedSize: copied };
}

function writeFile(op: FileOp, body: Uint8Array, hash: string): 'written' | 'unchanged' {
  const path = `${op.dir}/${op.name}`;
  // in a directory older than this run (a re-run), look first: learning that the name is taken
  // from a failed exclusive create costs an exception, ~8 us against ~3 for the lstat
  const existing = op.mayExist ? lstatOrUndefined(path) : undefined;
  if (existing) return replaceExisting(op, path, body, hash, existing);
  let fd: number;
  try {
    fd = fs.openSync(bytes(path), CREATE_NEW, creationMode(op));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return replaceExisting(op, path, body, hash, fs.lstatSync(bytes(path)));
  }
  writeAndClose(fd, path, op, body);
  return 'written';
}

/** Write a file we created (at `path`); one that fails half-way is removed, not left behind. */
function writeAndClose(fd: number, path: string, op: FileOp, body: Uint8Array): void {
  try {
    let done = 0;
    while (done < body.length) done += fs.writeSync(fd, body, done, body.length - done);
    applyMetadata(fd, op, true);
  } catch (error) {
    closeQuietly(fd);
    removeUnfinished(path);
    throw error;
  }
  closeOrRemove(fd, path);
}

/** Close a file we created; a close that fails (NFS reports a full disk or quota only there)
 *  leaves the file unfinished. */
function closeOrRemove(fd: number, path: string): void {
  try {
    fs.closeSync(fd);
  } catch (error) {
    removeUnfinished(path);
    throw error;
  }
}

function renameOrRemove(temporary: string, path: string): void {
  try {
    fs.renameSync(bytes(temporary), bytes(path));
  } catch (error) {
    removeUnfinished(temporary);
    throw error;
  }
}



/** A file this run created and could not finish (a full disk): a half-written file under its
 *  own name, or a stray temporary one, is worse than none. */
function removeUnfinished(path: string): void {
  try {
    fs.unlinkSync(bytes(path));
  } catch {
    // gone already, or the file system refuses even that: the error being thrown says enough
  }
}

/** The mode to create with: the final one when the umask lets it through unchanged. */
function creationMode(op: FileOp): number {
  return setup.umaskZero ? op.mode : 0o600;
}

/** Owner, then mode (chown clears set-id bits), then times; on a file we just created with
 *  `creationMode`, only what creation did not already get right. */
function applyMetadata(fd: number, op: FileOp, created = false): void {
  const chown = op.chown && (!created || op.uid !== ourUid || op.gid !== ourGid);
  const refused = chown ? tryChown(() => fs.fchownSync(fd, op.uid, op.gid)) : undefined;
  if (refused !== undefined) ownerRefusal = refused;
  const mode = modeAfterChown(op.mode, refused);
  // set-id bits: chown clears them, and so does our write where the kernel does not count us
  // privileged for the file (root in a user namespace): set them again in any case
  if (!created || !setup.umaskZero || (op.mode & SET_ID_BITS) !== 0) fs.fchmodSync(fd, mode);
  const mtime = utimeValue(op.mtimeSeconds);
  fs.futimesSync(fd, mtime, mtime);
}

/** Something is at `path` already (`stat`): leave an identical file be (its metadata mended),
 *  else write a temporary file and rename it over. */
function replaceExisting(op: FileOp, path: string, body: Uint8Array, hash: string, stat: fs.Stats): 'written' | 'unchanged' {
  if (stat.isDirectory()) {
    removeEmptyDirectory(path);
    writeAndClose(fs.openSync(bytes(path), CREATE_NEW, creationMode(op)), path, op, body);
    return 'written';
  }
  if (stat.isFile() && keepable(stat, op) && stat.size === body.length && sameContent(op, path, stat, body, hash)) {
    if (metadataDiffers(op, stat)) {
      const fd = fs.openSync(bytes(path), O_RDONLY | O_NOFOLLOW);
      try {
        applyMetadata(fd, op);
      } finally {
        fs.closeSync(fd);
      }
    }
    return 'unchanged';
  }
  const temporary = `${op.dir}/.zonep2v-${randomBytes(6).toString('hex')}`;
  writeAndClose(fs.openSync(bytes(temporary), CREATE_NEW, creationMode(op)), temporary, op, body);
  renameOrRemove(temporary, path);
  return 'written';
}

/** May the file there be kept (if its content is right)? Not a file of several names, unless the
 *  content index says they are the hard-link group the last run made: its other names may be
 *  separate members of this image, each with its own metadata (the image's own hard links are
 *  made again after a file written anew). */
function keepable(stat: fs.Stats, op: FileOp): boolean {
  return stat.nlink === 1 || stat.nlink === op.names;
}

/** Holes are made in blocks of this size (a multiple of every file system's block size). */
const holeBlock = 64 * 1024;
const zeroBlock = Buffer.alloc(holeBlock);

function isSparse(fd: number): boolean {
  const stat = fs.fstatSync(fd);
  return stat.blocks * 512 < stat.size;
}

/** Write `data` at `at`, leaving out the whole blocks of zeros (cp --sparse=auto's way). */
function writeNonZero(fd: number, data: Buffer, at: number): void {
  for (let from = 0; from < data.length; from += holeBlock) {
    const block = data.subarray(from, Math.min(from + holeBlock, data.length));
    if (block.length === holeBlock && block.equals(zeroBlock)) continue;
    let written = 0;
    while (written < block.length) written += fs.writeSync(fd, block, written, block.length - written, at + from + written);
  }
}

/** A directory where the image now has a file: an empty one goes (as cpio -u does), a
 *  non-empty one stays and the file is not written (the caller reports it). Only a directory
 *  the main thread has not cached comes here (zone-writer.ts placeFile clears those itself):
 *  its resolver must never believe in a directory that is gone. */
function removeEmptyDirectory(path: string): void {
  try {
    fs.rmdirSync(bytes(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    throw Object.assign(new Error('a non-empty directory is in the way'), { code: 'EISDIR', syscall: 'open' });
  }
}

/** Identical content? Trust the content index when the file still looks as it recorded
 *  (size and mtime, rsync's quick check); otherwise read the file and compare. */
function sameContent(op: FileOp, path: string, stat: fs.Stats, body: Uint8Array, hash: string): boolean {
  const known = op.known;
  if (known && known.size === stat.size && sameMtime(stat.mtimeMs, known.mtimeSeconds)) {
    return known.hash === hash;
  }
  const fd = fs.openSync(bytes(path), O_RDONLY | O_NOFOLLOW);
  try {
    if (compareBuffer.length < body.length) compareBuffer = Buffer.allocUnsafe(Math.max(body.length, compareBuffer.length * 2));
    const existing = compareBuffer.subarray(0, body.length);
    let done = 0;
    while (done < body.length) {
      const n = fs.readSync(fd, existing, done, body.length - done, done);
      if (n === 0) return false;
      done += n;
    }
    return existing.equals(body);
  } finally {
    fs.closeSync(fd);
  }
}

/** Where sameContent reads the file already there: reused, grown to the largest compared (a
 *  fresh buffer per file was an allocation, and garbage, per file of a re-run). */
let compareBuffer = Buffer.allocUnsafe(256 * 1024);

function lstatOrUndefined(path: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(bytes(path), { throwIfNoEntry: false }); // ENOENT without an exception
  } catch {
    return undefined;
  }
}

function metadataDiffers(op: FileOp, stat: fs.Stats): boolean {
  if ((stat.mode & 0o7777) !== op.mode) return true;
  if (op.chown && (stat.uid !== op.uid || stat.gid !== op.gid)) return true;
  return !sameMtime(stat.mtimeMs, op.mtimeSeconds);
}
