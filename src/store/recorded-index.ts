/**
 * The content index a re-run starts from, read lazily: the file's bytes are kept as they are,
 * with a map from each path to its line, and a record is parsed only when it is asked for.
 *
 * Why. Parsed whole, an index costs several times its size: 300k records (a 55 MB index) took
 * 182 MB of heap (one object per record, a BigInt, the path and hash strings, and the index's
 * text kept alive by the lines cut from it) on top of its 56 MB of bytes, and an unsettled
 * re-run of that image peaked at 476 MB. Here the bytes and one string and number per path are
 * kept. A re-run asks for each record about twice (the writer, then the index writer comparing
 * what it records): the last 1-2 thousand parsed records are kept for the second time.
 *
 * What is the same as parsing it whole (parseIndex + indexByPath in content-index.ts): the same
 * records are found under the same paths (an 'attrs' record does not hide its member's, a later
 * record of a path replaces an earlier one, unclean paths are dropped), and the same stamp,
 * seal and "applying" lines are taken.
 */
import { type DumpStamp } from '../formats/format.js';
import { type IndexRecord, type RunSeal, indexLine, parseRecord } from './content-index.js';

/** What the writer asks of the records of the last run. */
export interface RecordLookup {
  /** paths with a record */
  readonly size: number;
  get(path: string): IndexRecord | undefined;
  /** hard-link target path → how many names the index records for it (itself and its links),
   *  for the targets of hard-link records */
  linkNames(): ReadonlyMap<string, number>;
}

/** Records of a plain map (tests, and runs without an index). */
export class MapLookup implements RecordLookup {
  constructor(private readonly records: ReadonlyMap<string, IndexRecord> = new Map()) {}
  get size(): number {
    return this.records.size;
  }
  get(path: string): IndexRecord | undefined {
    return this.records.get(path);
  }
  linkNames(): ReadonlyMap<string, number> {
    return countLinkNames(this.records.values());
  }
}

function countLinkNames(records: Iterable<IndexRecord>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) {
    if (record.type === 'hardlink' && record.linkPath !== undefined) counts.set(record.linkPath, (counts.get(record.linkPath) ?? 1) + 1);
  }
  return counts;
}

/** Parsed records kept for a second look (the writer's, then the index writer's). */
const recentRecords = 1024;
const pathOpening = Buffer.from('{"path":"');
const typeOpening = Buffer.from(',"type":"');

export class RecordedIndex implements RecordLookup {
  readonly exists: boolean;
  stamp?: DumpStamp;
  seal?: RunSeal;
  applying?: DumpStamp;
  stampLine?: string;
  sealLine?: string;
  /** record lines (every one, 'attrs' and repeated paths included) */
  recordCount = 0;
  /** where each record line starts, in file order */
  private readonly starts: number[] = [];
  /** path → the number (in `starts`) of the line that holds its record */
  private readonly byPath = new LineTable((line, path) => this.lineHoldsPath(line, path));
  /** lines of hard-link records */
  private readonly linkLines: number[] = [];
  /** parsed records kept for a second look: two generations, the older dropped whole when the
   *  newer fills (evicting one by one from a Map's front walks its deleted slots: 0.7 s here) */
  private recent = new Map<string, IndexRecord>();
  private older = new Map<string, IndexRecord>();

  constructor(private readonly bytes: Buffer | undefined) {
    this.exists = bytes !== undefined;
    if (bytes !== undefined) this.scan(bytes);
  }

  get size(): number {
    return this.byPath.size;
  }

  get(path: string): IndexRecord | undefined {
    const cached = this.recent.get(path) ?? this.older.get(path);
    if (cached !== undefined) return cached;
    const line = this.byPath.get(path);
    if (line === undefined) return undefined;
    const record = this.parseLine(line);
    if (record === undefined) return undefined;
    if (this.recent.size >= recentRecords) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(path, record);
    return record;
  }

  /** The number of the line that holds `path`'s record (for `lineText`), if any. */
  lineNumberOf(path: string): number | undefined {
    return this.byPath.get(path);
  }

  /** A record line's text, as read. */
  lineText(line: number): string {
    const start = this.starts[line]!;
    const end = this.bytes!.indexOf(10, start);
    return this.bytes!.toString('utf8', start, end < 0 ? this.bytes!.length : end);
  }

  linkNames(): ReadonlyMap<string, number> {
    return countLinkNames(this.currentLinks());
  }

  /** The hard-link records that stand for their path (not replaced by a later record). */
  currentLinks(): IndexRecord[] {
    const current: IndexRecord[] = [];
    for (const line of this.linkLines) {
      const record = this.parseLine(line);
      if (record !== undefined && this.byPath.get(record.path) === line) current.push(record);
    }
    return current;
  }

  /** Every record in file order, parsed (incremental dumps plan over all of them). */
  allRecords(): IndexRecord[] {
    const records: IndexRecord[] = [];
    for (let line = 0; line < this.starts.length; line++) {
      const record = this.parseLine(line);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  private parseLine(line: number): IndexRecord | undefined {
    const text = this.lineText(line);
    const record = parseRecord(text);
    if (record !== undefined) record.line = text;
    return record;
  }

  /** Find every line's path and type: the common line (an ASCII path without escapes) without
   *  decoding it, any other through the full parse. */
  private scan(bytes: Buffer): void {
    for (let start = 0; start < bytes.length; ) {
      let end = bytes.indexOf(10, start);
      if (end < 0) end = bytes.length;
      if (end > start) this.scanLine(bytes, start, end);
      start = end + 1;
    }
  }

  private scanLine(bytes: Buffer, start: number, end: number): void {
    const quick = quickPathAndType(bytes, start, end);
    if (quick !== undefined) {
      const record = quick.type === 'attrs' || !indexLine.uncleanPath.test(quick.path) ? quick : undefined;
      if (record !== undefined) this.addLine(start, record.path, record.type, true);
      return;
    }
    const text = bytes.toString('utf8', start, end);
    const kind = indexLine.special(text);
    if (kind !== undefined) {
      if (kind.applying) this.applying = kind.applying;
      else if (kind.stamp) {
        this.stamp = kind.stamp;
        this.stampLine = text;
      } else if (kind.seal) {
        this.seal = kind.seal;
        this.sealLine = text;
      }
      return;
    }
    const record = parseRecord(text);
    if (record !== undefined) this.addLine(start, record.path, record.type, false);
  }

  /** Does record line `line` hold `path` verbatim (`{"path":"<path>"`)? */
  private lineHoldsPath(line: number, path: string): boolean {
    const bytes = this.bytes!;
    const at = this.starts[line]! + pathOpening.length;
    if (at + path.length >= bytes.length || bytes[at + path.length] !== 0x22) return false;
    for (let i = 0; i < path.length; i++) if (bytes[at + i] !== path.charCodeAt(i)) return false;
    return true;
  }

  private addLine(start: number, path: string, type: string, verbatim: boolean): void {
    const line = this.starts.length;
    this.starts.push(start);
    this.recordCount++;
    if (type === 'hardlink') this.linkLines.push(line);
    // as indexByPath: an 'attrs' record does not hide its member's; any other record replaces
    if (type === 'attrs' && this.byPath.has(path)) return;
    this.byPath.set(path, line, verbatim);
  }
}

/**
 * Path → line number, without a string per path: a line that holds its path verbatim (ASCII,
 * no escape: nearly all) is found by a 30-bit hash of the path and confirmed against the line's
 * bytes; the others are kept by their path. (A string and a map slot per path were 42 MB of a
 * 300k-record index; numbers only, ~10 MB.)
 */
class LineTable {
  private readonly byHash = new Map<number, number | number[]>();
  private readonly exact = new Map<string, number>();
  size = 0;

  constructor(private readonly holds: (line: number, path: string) => boolean) {}

  has(path: string): boolean {
    return this.get(path) !== undefined;
  }

  get(path: string): number | undefined {
    const exact = this.exact.get(path);
    if (exact !== undefined) return exact;
    const found = this.byHash.get(pathHash(path));
    if (found === undefined) return undefined;
    if (typeof found === 'number') return this.holds(found, path) ? found : undefined;
    return found.find((line) => this.holds(line, path));
  }

  /** `path`'s record is now on `line` (which holds the path verbatim or not). */
  set(path: string, line: number, verbatim: boolean): void {
    const hash = pathHash(path);
    if (this.delete(path, hash)) this.size--;
    this.size++;
    if (!verbatim) {
      this.exact.set(path, line);
      return;
    }
    const found = this.byHash.get(hash);
    if (found === undefined) this.byHash.set(hash, line);
    else if (typeof found === 'number') this.byHash.set(hash, [found, line]);
    else found.push(line);
  }

  private delete(path: string, hash: number): boolean {
    if (this.exact.size > 0 && this.exact.delete(path)) return true;
    const found = this.byHash.get(hash);
    if (found === undefined) return false;
    if (typeof found === 'number') {
      if (!this.holds(found, path)) return false;
      this.byHash.delete(hash);
      return true;
    }
    const at = found.findIndex((line) => this.holds(line, path));
    if (at < 0) return false;
    found.splice(at, 1);
    return true;
  }
}

/** FNV-1a over the path's bytes (a byte string), 30 bits: a small integer as a map key. */
function pathHash(path: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) hash = Math.imul(hash ^ path.charCodeAt(i), 0x01000193);
  return hash & 0x3fffffff;
}

/** `{"path":"<ASCII, no escape>","type":"<type>"…` read from the bytes; undefined for any other
 *  line (non-ASCII or escaped paths, base64 paths, stamps and seals, damage). */
function quickPathAndType(bytes: Buffer, start: number, end: number): { path: string; type: string } | undefined {
  if (end - start < pathOpening.length || bytes.compare(pathOpening, 0, pathOpening.length, start, start + pathOpening.length) !== 0) return undefined;
  const pathStart = start + pathOpening.length;
  let at = pathStart;
  for (; at < end; at++) {
    const byte = bytes[at]!;
    if (byte === 0x22) break; // the closing quote
    if (byte === 0x5c || byte >= 0x80 || byte < 0x20) return undefined; // an escape, or not ASCII
  }
  if (at >= end) return undefined;
  const typeStart = at + 1 + typeOpening.length;
  if (typeStart > end || bytes.compare(typeOpening, 0, typeOpening.length, at + 1, typeStart) !== 0) return undefined;
  const typeEnd = bytes.indexOf(0x22, typeStart);
  if (typeEnd < 0 || typeEnd >= end) return undefined;
  // a line cut short or damaged past this point is still seen as a record here; parsing it when
  // it is asked for finds it broken, and the record is then missing (a "no" costs a full run)
  return { path: bytes.toString('latin1', pathStart, at), type: bytes.toString('latin1', typeStart, typeEnd) };
}
