/**
 * The content index: one JSON line per member (path, type, size, mode, owner, mtime, xxhash,
 * link target, xattrs/ACLs). `extract --index FILE` writes it; `install` will keep it beside
 * the zone root. When the file exists before a run, its hashes let the writer tell an
 * unchanged file without reading it back (see write-worker.ts, sameContent).
 *
 * Paths are byte strings (entry.ts); stored as UTF-8 text when they are valid UTF-8, otherwise
 * under "pathBase64", so no byte is lost.
 */
import * as fs from 'node:fs';
import type { AclRecord, EntryType } from '../entry.js';

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
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function encodeBytePath(path: string, key: string): Record<string, string> {
  const bytes = Buffer.from(path, 'latin1');
  try {
    return { [key]: utf8.decode(bytes) };
  } catch {
    return { [`${key}Base64`]: bytes.toString('base64') };
  }
}

function decodeBytePath(row: Record<string, unknown>, key: string): string | undefined {
  if (typeof row[key] === 'string') return Buffer.from(row[key] as string, 'utf8').toString('latin1');
  if (typeof row[`${key}Base64`] === 'string') return Buffer.from(row[`${key}Base64`] as string, 'base64').toString('latin1');
  return undefined;
}

export function formatRecord(record: IndexRecord): string {
  const row: Record<string, unknown> = {
    ...encodeBytePath(record.path, 'path'),
    type: record.type,
    size: record.size,
    mode: `0${record.mode.toString(8)}`,
    uid: record.uid,
    gid: record.gid,
    mtimeNs: record.mtimeNs.toString(),
  };
  if (record.hash) row.xxh64 = record.hash;
  if (record.linkTarget !== undefined) Object.assign(row, encodeBytePath(record.linkTarget, 'linkTarget'));
  if (record.xattrs) row.xattrs = record.xattrs;
  if (record.acls) row.acls = record.acls;
  return JSON.stringify(row);
}

export function parseRecord(line: string): IndexRecord | undefined {
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const path = decodeBytePath(row, 'path');
  if (path === undefined || typeof row.type !== 'string') return undefined;
  return {
    path,
    type: row.type as EntryType,
    size: Number(row.size ?? 0),
    mode: parseInt(String(row.mode ?? '0'), 8),
    uid: Number(row.uid ?? 0),
    gid: Number(row.gid ?? 0),
    mtimeNs: BigInt(String(row.mtimeNs ?? '0')),
    hash: typeof row.xxh64 === 'string' ? row.xxh64 : undefined,
    linkTarget: decodeBytePath(row, 'linkTarget'),
  };
}

/** Load an index written earlier: physical path → record. Missing file = empty index. */
export function loadIndex(file: string): Map<string, IndexRecord> {
  const records = new Map<string, IndexRecord>();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return records;
    throw error;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const record = parseRecord(line);
    if (record) records.set(record.path, record);
  }
  return records;
}

/** Writes records to `<file>.tmp-<pid>` and renames it over `file` on commit: a crash mid-run
 *  leaves the previous index intact. Lines are gathered and written synchronously in 256 KiB
 *  pieces (one record per file on the hot path: no promise, no stream per record). */
export class IndexWriter {
  private readonly temporary: string;
  private readonly fd: number;
  private lines: string[] = [];
  private buffered = 0;

  constructor(private readonly file: string) {
    this.temporary = `${file}.tmp-${process.pid}`;
    this.fd = fs.openSync(this.temporary, 'w', 0o644);
  }

  add(record: IndexRecord): void {
    const line = `${formatRecord(record)}\n`;
    this.lines.push(line);
    this.buffered += line.length;
    if (this.buffered >= 256 * 1024) this.flush();
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    fs.writeSync(this.fd, this.lines.join(''));
    this.lines = [];
    this.buffered = 0;
  }

  async commit(): Promise<void> {
    this.flush();
    fs.closeSync(this.fd);
    fs.renameSync(this.temporary, this.file);
  }

  async abandon(): Promise<void> {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.temporary, { force: true });
  }
}
