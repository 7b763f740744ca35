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
import { once } from 'node:events';
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

/** Streams records to `<file>.tmp` and renames it over `file` on commit: a crash mid-run
 *  leaves the previous index intact. */
export class IndexWriter {
  private readonly stream: fs.WriteStream;
  private readonly temporary: string;

  constructor(private readonly file: string) {
    this.temporary = `${file}.tmp-${process.pid}`;
    this.stream = fs.createWriteStream(this.temporary, { flags: 'w' });
  }

  async add(record: IndexRecord): Promise<void> {
    if (!this.stream.write(`${formatRecord(record)}\n`)) await once(this.stream, 'drain');
  }

  async commit(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
    fs.renameSync(this.temporary, this.file);
  }

  async abandon(): Promise<void> {
    this.stream.destroy();
    fs.rmSync(this.temporary, { force: true });
  }
}
