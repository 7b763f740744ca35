/**
 * The content index: one JSON line per member (path, type, size, mode, owner, mtime, xxhash,
 * link target, xattrs/ACLs). `extract --index FILE` writes it; `install` will keep it beside
 * the zone root. When the file exists before a run, its hashes let the writer tell an
 * unchanged file without reading it back (see write-worker.ts, sameContent).
 *
 * Paths are byte strings (entry.ts); stored as UTF-8 text when they are valid UTF-8, otherwise
 * under "pathBase64", so no byte is lost.
 *
 * Dump images add the dump's inode number to each record ("inode") and one line of their own,
 * {"dumpApplied": {"level", "date", "previousDate"}} (dates in seconds since the epoch, as the
 * dump header has them), saying which dump the tree now holds: the next incremental level must
 * be relative to that date (src/extract/incremental.ts). Readers skip lines without a path.
 *
 * An incremental dump being applied appends {"dumpApplying": {...}} (the same fields) to the
 * index it starts from, before the first write: if the run does not complete, the index is left
 * as it was plus that line, and the tree is neither the previous level nor this one - the next
 * incremental is refused (incremental.ts). A run that completes replaces the whole file.
 *
 * A run from an image file or a directory that completed without a failed write ends the index
 * with one more line, {"runSeal": {...}} (RunSeal): the image's identity and the settings of the
 * run, so the next run of the same image into the same tree can check the tree against the
 * records and stop there, without reading the image (extract.ts, index-check.ts); a directory's
 * members are compared with their records instead (their source stamps).
 */
import * as fs from 'node:fs';
import path from 'node:path';
import type { AclRecord, EntryType } from '../entry.js';
import type { DumpStamp } from '../formats/format.js';
import type { Warning, WriterCounters } from '../extract/types.js';
import type { RecordedIndex } from './recorded-index.js';

export interface IndexRecord {
  path: string;
  type: EntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  hash?: string;
  linkTarget?: string;
  xattrs?: Record<string, string>; // base64 values
  acls?: AclRecord[];
  /** dump images: the inode number in the dumped file system */
  inode?: number;
  /** directory images: the source's stamp at the copy (Entry.sourceStamp) */
  sourceStamp?: string;
  /** hard links: where their target is in the tree (physical path; linkTarget is the name the
   *  image gave, which may go through symlinks) */
  linkPath?: string;
  /** char and block devices */
  devMajor?: number;
  devMinor?: number;
  /** read from an index file: the line it was read from (IndexWriter keeps an unchanged index) */
  line?: string;
}

/** The last line of an index written by a complete run from an image file or a directory. */
export interface RunSeal {
  /** the image file's identity when it was read (io/source.ts FileIdentity), or for a
   *  directory image "dir:<dev>:<ino>:<real path>" */
  image: string;
  /** everything else that decides the tree: version, options, limits, root, owners */
  settings: string;
  chain: string[];
  format: string;
  imageBytes: number;
  counters: WriterCounters;
  warnings: Warning[];
  /** the metadata the image gave the root directory itself (its "." member), which has no
   *  record of its own; absent when the image has no such member (the root is then left as is) */
  root?: RootMetadata;
  /** special files the run did not make (so without a record): their type and physical path */
  skipped?: SkippedSpecial[];
}

export interface SkippedSpecial {
  type: EntryType;
  path: string;
}

/** A root directory's metadata in a seal; mtimeNs as a decimal string (JSON has no bigint). */
export interface RootMetadata {
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

const asciiOnly = /^[\x00-\x7f]*$/;

/** `"key":"…"` for a byte-string path: UTF-8 text when it is valid UTF-8, else `"keyBase64":…`. */
function bytePathField(path: string, key: string): string {
  if (asciiOnly.test(path)) return `"${key}":${JSON.stringify(path)}`; // the common case, no decoder round trip
  const bytes = Buffer.from(path, 'latin1');
  try {
    return `"${key}":${JSON.stringify(utf8.decode(bytes))}`;
  } catch {
    return `"${key}Base64":"${bytes.toString('base64')}"`;
  }
}

/** `row[key]` as a byte path, or `row[base64Key]` (the two keys are constants at every call:
 *  a key built per call was a string allocation per record and field). */
function decodeBytePath(row: Record<string, unknown>, key: string, base64Key: string): string | undefined {
  const text = row[key];
  if (typeof text === 'string') return asciiOnly.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
  const base64 = row[base64Key];
  if (typeof base64 === 'string') return Buffer.from(base64, 'base64').toString('latin1');
  return undefined;
}

/**
 * One JSON line, built as text: it runs once per member, and building an object to stringify
 * cost ~30 µs a record (the computed keys sent it into dictionary mode) - the largest single
 * cost of a re-copy with --index. Same keys in the same order as JSON.stringify of the record.
 */
export function formatRecord(record: IndexRecord): string {
  let line =
    `{${bytePathField(record.path, 'path')},"type":${JSON.stringify(record.type)},"size":${record.size},` +
    `"mode":"0${record.mode.toString(8)}","uid":${record.uid},"gid":${record.gid},"mtimeNs":"${record.mtimeNs}"`;
  if (record.hash) line += `,"xxh64":${JSON.stringify(record.hash)}`;
  if (record.linkTarget !== undefined) line += `,${bytePathField(record.linkTarget, 'linkTarget')}`;
  if (record.xattrs) line += `,"xattrs":${JSON.stringify(record.xattrs)}`;
  if (record.acls) line += `,"acls":${JSON.stringify(record.acls)}`;
  if (record.inode !== undefined) line += `,"inode":${record.inode}`;
  if (record.sourceStamp !== undefined) line += `,"sourceStamp":${JSON.stringify(record.sourceStamp)}`;
  if (record.linkPath !== undefined) line += `,${bytePathField(record.linkPath, 'linkPath')}`;
  if (record.devMajor !== undefined) line += `,"devMajor":${record.devMajor},"devMinor":${record.devMinor ?? 0}`;
  return `${line}}`;
}

/** An empty, "." or ".." component, or a leading "/": not a physical path as a run records it. */
const uncleanPath = /(^|\/)\.{0,2}(\/|$)/;

export function parseRecord(line: string): IndexRecord | undefined {
  const common = commonLine.exec(line);
  return common ? commonRecord(common) : parseRecordAsJson(line);
}

/**
 * The line formatRecord writes for a member without extended attributes or ACLs whose names (and
 * source stamp) are printable ASCII without quote or backslash - nearly every member of a system
 * image, from an image file, a dump or a directory. Such lines are read with this one expression
 * instead of JSON.parse: a third of the time (17-27 against 52-70 ms for the 24,555 lines of an
 * image file's index; a directory's, with its source stamps, 188 ms through JSON.parse), which
 * counts when a re-run checks a whole tree against its index (index-check.ts). Keys in
 * formatRecord's order; numbers as JSON writes them (no sign, no leading zero), so a line that
 * JSON.parse would refuse or read otherwise does not match; anything else goes through JSON.parse.
 */
const plainText = '([\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*)';
const plainNumber = '(0|[1-9]\\d*)';
const commonLine = new RegExp(
  `^\\{"path":"${plainText}","type":"(file|dir|symlink|hardlink|char|block|fifo)","size":${plainNumber},"mode":"0([0-7]+)","uid":${plainNumber},"gid":${plainNumber},"mtimeNs":"(-?\\d+)"` +
    `(?:,"xxh64":"([0-9a-f]+)")?(?:,"linkTarget":"${plainText}")?(?:,"inode":${plainNumber})?(?:,"sourceStamp":"${plainText}")?(?:,"linkPath":"${plainText}")?(?:,"devMajor":${plainNumber},"devMinor":${plainNumber})?\\}$`,
);

/** The record of a `commonLine` match: what parseRecordAsJson makes of the same line. */
function commonRecord(match: RegExpExecArray): IndexRecord | undefined {
  const path = match[1]!;
  const linkPath = match[12];
  if (uncleanPath.test(path) || (linkPath !== undefined && uncleanPath.test(linkPath))) return undefined;
  const devMajor = match[13];
  return {
    path,
    type: match[2] as EntryType,
    size: Number(match[3]),
    mode: parseInt(match[4]!, 8),
    uid: Number(match[5]),
    gid: Number(match[6]),
    mtimeNs: BigInt(match[7]!),
    hash: match[8],
    linkTarget: match[9],
    xattrs: undefined,
    acls: undefined,
    inode: match[10] === undefined ? undefined : Number(match[10]),
    sourceStamp: match[11],
    linkPath,
    devMajor: devMajor === undefined ? undefined : Number(devMajor),
    devMinor: devMajor === undefined ? undefined : Number(match[14]),
  };
}

/** Any index line, read as JSON (exported for the test that holds the two readers to the same
 *  records). */
export function parseRecordAsJson(line: string): IndexRecord | undefined {
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const path = decodeBytePath(row, 'path', 'pathBase64');
  if (path === undefined || typeof row.type !== 'string') return undefined;
  const linkPath = decodeBytePath(row, 'linkPath', 'linkPathBase64');
  // a member's physical path is relative, made of real names: a record that says otherwise did
  // not come from a run (an index kept where the zone can write it) and is not followed
  // anywhere. ('attrs' records keep the image's own name of their member.)
  if (row.type !== 'attrs' && (uncleanPath.test(path) || (linkPath !== undefined && uncleanPath.test(linkPath)))) return undefined;
  // nor one whose time is no whole number of nanoseconds (BigInt would throw on "1.5")
  const mtimeNs = String(row.mtimeNs ?? '0');
  if (!/^-?\d+$/.test(mtimeNs)) return undefined;
  // every key, present or not, in one order: one object shape for all records (an index is read
  // whole, tens of thousands of records, before a re-run can start)
  return {
    path,
    type: row.type as EntryType,
    size: Number(row.size ?? 0),
    mode: parseInt(String(row.mode ?? '0'), 8),
    uid: Number(row.uid ?? 0),
    gid: Number(row.gid ?? 0),
    mtimeNs: BigInt(mtimeNs),
    hash: typeof row.xxh64 === 'string' ? row.xxh64 : undefined,
    linkTarget: decodeBytePath(row, 'linkTarget', 'linkTargetBase64'),
    xattrs: row.xattrs && typeof row.xattrs === 'object' ? (row.xattrs as Record<string, string>) : undefined,
    acls: Array.isArray(row.acls) ? (row.acls as AclRecord[]) : undefined,
    inode: typeof row.inode === 'number' ? row.inode : undefined,
    sourceStamp: typeof row.sourceStamp === 'string' ? row.sourceStamp : undefined,
    linkPath,
    devMajor: typeof row.devMajor === 'number' ? row.devMajor : undefined,
    devMinor: typeof row.devMajor === 'number' ? Number(row.devMinor ?? 0) : undefined,
  };
}

function validRoot(root: RootMetadata): boolean {
  return typeof root === 'object' && root !== null && [root.mode, root.uid, root.gid].every(Number.isSafeInteger) && typeof root.mtimeNs === 'string' && /^-?\d+$/.test(root.mtimeNs);
}

function validSkipped(skipped: SkippedSpecial[]): boolean {
  return Array.isArray(skipped) && skipped.every((item) => typeof item?.type === 'string' && typeof item.path === 'string');
}

/** The "runSeal" line, if `line` is one (a malformed one is ignored: the next run is then a
 *  full one, which is always right). */
function parseSeal(line: string): RunSeal | undefined {
  if (!line.startsWith('{"runSeal"')) return undefined;
  try {
    const seal = (JSON.parse(line) as { runSeal?: RunSeal }).runSeal;
    if (seal && typeof seal.image === 'string' && typeof seal.settings === 'string' && Array.isArray(seal.chain) && typeof seal.counters === 'object' && Array.isArray(seal.warnings) && (seal.root === undefined || validRoot(seal.root)) && (seal.skipped === undefined || validSkipped(seal.skipped))) return seal;
  } catch {
    // not ours
  }
  return undefined;
}

/** The "dumpApplied" line (or with `key` "dumpApplying", that line), if `line` is one. */
function parseStamp(line: string, key: 'dumpApplied' | 'dumpApplying' = 'dumpApplied'): DumpStamp | undefined {
  if (!line.startsWith(`{"${key}"`)) return undefined;
  try {
    const stamp = (JSON.parse(line) as Record<string, Record<string, unknown> | undefined>)[key];
    if (stamp && typeof stamp.level === 'number' && typeof stamp.date === 'number' && typeof stamp.previousDate === 'number') {
      return { level: stamp.level, date: stamp.date, previousDate: stamp.previousDate };
    }
  } catch {
    // not ours
  }
  return undefined;
}

export interface IndexFile {
  /** every record, in file order (a path may have several: its member, then 'attrs') */
  records: IndexRecord[];
  /** the dump the indexed tree holds, when a dump was extracted */
  stamp?: DumpStamp;
  /** which image, with which settings, the run that wrote the index read completely */
  seal?: RunSeal;
  /** false when the file does not exist */
  exists: boolean;
  /** an incremental dump that was being applied to the tree when its run stopped or failed */
  applying?: DumpStamp;
  /** the stamp and seal lines as read (IndexWriter compares them with its own) */
  stampLine?: string;
  sealLine?: string;
}

/** Note in the index file, before the first write, that an incremental dump is being applied
 *  (see the top of this file): a run that completes replaces the file, one that does not leaves
 *  this line behind. */
export function markApplying(file: string, stamp: DumpStamp): void {
  // O_NOFOLLOW: not into whatever a symlink put in the index's place points at
  const { O_WRONLY, O_APPEND, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_NOFOLLOW);
  try {
    fs.writeSync(fd, `${JSON.stringify({ dumpApplying: stamp })}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Read an index written earlier, completely. */
export function readIndexFile(file: string): IndexFile {
  const bytes = readIndexBytes(file);
  return bytes === undefined ? { records: [], exists: false } : parseIndex(bytes.toString('utf8'));
}

/** An index file's bytes; undefined when there is no such file. */
export function readIndexBytes(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * What a settled check needs of an index, found without decoding or parsing its records: the
 * seal (the last valid one, as parseIndex takes it) and whether an incremental dump was left
 * being applied. Those lines start a line and hold no newline (JSON escapes it), so they are
 * found by their opening.
 */
export function indexTrailer(bytes: Buffer): { seal?: RunSeal; applying: boolean } {
  let seal: RunSeal | undefined;
  for (let at = bytes.lastIndexOf('{"runSeal"'); at >= 0 && seal === undefined; at = at === 0 ? -1 : bytes.lastIndexOf('{"runSeal"', at - 1)) {
    if (at === 0 || bytes[at - 1] === 10) seal = parseSeal(lineAt(bytes, at));
  }
  let applying = false;
  for (let at = bytes.indexOf('{"dumpApplying"'); at >= 0 && !applying; at = bytes.indexOf('{"dumpApplying"', at + 1)) {
    if (at === 0 || bytes[at - 1] === 10) applying = parseStamp(lineAt(bytes, at), 'dumpApplying') !== undefined;
  }
  return { seal, applying };
}

function lineAt(bytes: Buffer, start: number): string {
  const end = bytes.indexOf(10, start);
  return bytes.toString('utf8', start, end < 0 ? bytes.length : end);
}

/** For the lazy reader (recorded-index.ts): the same tests as parseIndex and parseRecord. */
export const indexLine = {
  uncleanPath,
  /** a stamp, seal or "applying" line, as parseIndex takes them; undefined for anything else */
  special(line: string): { stamp?: DumpStamp; seal?: RunSeal; applying?: DumpStamp } | undefined {
    const stamp = parseStamp(line);
    if (stamp) return { stamp };
    const seal = parseSeal(line);
    if (seal) return { seal };
    const applying = parseStamp(line, 'dumpApplying');
    return applying ? { applying } : undefined;
  },
};

/** An index's text, every line, parsed whole (runs read an index lazily: recorded-index.ts;
 *  this is its reference, and what tests read an index back with). */
export function parseIndex(text: string): IndexFile {
  const out: IndexFile = { records: [], exists: true };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const stamp = parseStamp(line);
    const seal = stamp ? undefined : parseSeal(line);
    const applying = stamp || seal ? undefined : parseStamp(line, 'dumpApplying');
    if (applying) {
      out.applying = applying;
    } else if (stamp) {
      out.stamp = stamp;
      out.stampLine = line;
    } else if (seal) {
      out.seal = seal;
      out.sealLine = line;
    } else {
      const record = parseRecord(line);
      if (record) {
        record.line = line;
        out.records.push(record);
      }
    }
  }
  return out;
}

/** physical path → record; an 'attrs' record does not hide its member's */
export function indexByPath(records: readonly IndexRecord[]): Map<string, IndexRecord> {
  const byPath = new Map<string, IndexRecord>();
  for (const record of records) if (record.type !== 'attrs' || !byPath.has(record.path)) byPath.set(record.path, record);
  return byPath;
}

/** A run that was killed leaves its `<file>.tmp-<pid>` behind; each later run would add one.
 *  Those whose process is gone are removed (a live one may be another run's, writing now). */
function removeDeadTemporaries(file: string): void {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !/^\d+$/.test(name.slice(prefix.length))) continue;
    const pid = Number(name.slice(prefix.length));
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') fs.rmSync(path.join(dir, name), { force: true });
    }
  }
}

/** Writes records to `<file>.tmp-<pid>` and renames it over `file` on commit: a crash mid-run
 *  leaves the previous index intact. Lines are gathered and written synchronously in 256 KiB
 *  pieces (one record per file on the hot path: no promise, no stream per record).
 *
 *  A run that records exactly what the previous index holds (a no-change re-copy of a directory
 *  image: every member as recorded, none missing or twice, the same stamp and seal) leaves that
 *  file as it is: while the records match, only the previous records are kept, and nothing is
 *  formatted or written (that was ~45 ms of a 0.6 s re-copy of 24k files). The first record that
 *  differs writes the matched ones out and the run goes on as usual. */
export class IndexWriter {
  private readonly temporary: string;
  private readonly fd: number;
  private lines: string[] = [];
  private buffered = 0;
  private stamp: DumpStamp | undefined;
  private seal: RunSeal | undefined;
  /** still recording exactly the previous index, in some order */
  private matching: boolean;
  /** the previous index's lines matched so far (numbers, recorded-index.ts), and a mark each */
  private readonly matched: number[] = [];
  private matchedLines = new Set<number>();

  /** `previous`: the index file as read before the run. */
  constructor(
    private readonly file: string,
    private readonly previous?: RecordedIndex,
  ) {
    this.temporary = `${file}.tmp-${process.pid}`;
    removeDeadTemporaries(file);
    // never through a name someone else put there (an index kept inside the tree: the image may
    // have planted a symlink under every pid's temporary name); a dead run's file goes first
    try {
      fs.unlinkSync(this.temporary);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    this.fd = fs.openSync(this.temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    // (an index with 'attrs' records or a path twice is not compared: rewritten as usual)
    this.matching = previous !== undefined && previous.exists && previous.recordCount === previous.size;
  }

  add(record: IndexRecord): void {
    if (this.matching) {
      const previous = this.previous!;
      const line = previous.lineNumberOf(record.path);
      const before = line === undefined || this.matchedLines.has(line) ? undefined : previous.get(record.path);
      if (before !== undefined && sameRecord(record, before)) {
        this.matched.push(line!);
        this.matchedLines.add(line!);
        return;
      }
      this.stopMatching();
    }
    this.push(formatRecord(record));
  }

  /** The run differs from the previous index: write what matched so far, as read. */
  private stopMatching(): void {
    this.matching = false;
    for (const line of this.matched) this.push(this.previous!.lineText(line));
    this.matched.length = 0;
    this.matchedLines = new Set();
  }

  private push(text: string): void {
    const line = `${text}\n`;
    this.lines.push(line);
    this.buffered += line.length;
    if (this.buffered >= 256 * 1024) this.flush();
  }

  /** Record which dump the tree holds once this run commits (written as the last line). */
  setStamp(stamp: DumpStamp): void {
    this.stamp = stamp;
  }

  /** Seal the index with the run that wrote it (the last line). */
  setSeal(seal: RunSeal): void {
    this.seal = seal;
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    fs.writeSync(this.fd, this.lines.join(''));
    this.lines = [];
    this.buffered = 0;
  }

  async commit(): Promise<void> {
    const stampLine = this.stamp ? JSON.stringify({ dumpApplied: this.stamp }) : undefined;
    const sealLine = this.seal ? JSON.stringify({ runSeal: this.seal }) : undefined;
    const previous = this.previous;
    if (this.matching && !previous!.applying && this.matchedLines.size === previous!.size && stampLine === previous!.stampLine && sealLine === previous!.sealLine) {
      // the same records, stamp and seal: the index on disk already says all of it
      await this.abandon();
      return;
    }
    if (this.matching) this.stopMatching();
    if (stampLine) this.lines.push(`${stampLine}\n`);
    if (sealLine) this.lines.push(`${sealLine}\n`);
    this.flush();
    this.close();
    fs.renameSync(this.temporary, this.file);
  }

  async abandon(): Promise<void> {
    try {
      this.close();
    } catch {
      // released all the same
    }
    fs.rmSync(this.temporary, { force: true });
  }

  /** Once only: a descriptor number closed twice may by then be another file's. */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }

  private closed = false;
}

/** Would `a` be written as the line `b` was read from? Records with xattrs or ACLs are never
 *  taken as the same (compared field by field they would need a deep compare; they are rare). */
export function sameRecord(a: IndexRecord, b: IndexRecord): boolean {
  return (
    b.line !== undefined &&
    a.path === b.path &&
    a.type === b.type &&
    a.size === b.size &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.mtimeNs === b.mtimeNs &&
    a.hash === b.hash &&
    a.linkTarget === b.linkTarget &&
    a.inode === b.inode &&
    a.sourceStamp === b.sourceStamp &&
    a.linkPath === b.linkPath &&
    a.devMajor === b.devMajor &&
    a.devMinor === b.devMinor &&
    a.xattrs === undefined &&
    b.xattrs === undefined &&
    a.acls === undefined &&
    b.acls === undefined
  );
}
