/**
 * Reading a dump through listEntries() exactly as the CLI does, into plain snapshots the dump
 * tests compare: every field of every entry, bodies read in full (copied: pieces alias the
 * reader's buffers), xattrs as text, and a P2VError captured instead of thrown.
 */
import assert from 'node:assert/strict';
import type { AclRecord, Entry } from '../../src/entry.js';
import { isP2VError, type P2VError } from '../../src/errors.js';
import type { Warning } from '../../src/extract/types.js';
import { bufferSource, type ByteSource } from '../../src/io/source.js';
import type { Limits } from '../../src/limits.js';
import { listEntries } from '../../src/list.js';

export interface Snap {
  path: string;
  type: Entry['type'];
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** body as hex (absent when the entry has none) */
  body?: string;
  xattrs?: Record<string, string>;
  acls?: AclRecord[];
}

export interface Outcome {
  chain: string[];
  entries: Snap[];
  warnings: Warning[];
  error?: P2VError;
}

export interface ReadOptions {
  /** bytes per chunk fed to the reader (default: the whole image in one chunk) */
  chunk?: number;
  limits?: Partial<Limits>;
  name?: string;
  /** read bodies (default true); false leaves them for the reader to skip */
  bodies?: boolean;
}

export function snap(entry: Entry, body: Buffer | undefined): Snap {
  const out: Snap = { path: entry.path, type: entry.type, mode: entry.mode, uid: entry.uid, gid: entry.gid, size: entry.size, mtimeNs: entry.mtimeNs };
  if (entry.linkTarget !== undefined) out.linkTarget = entry.linkTarget;
  if (entry.devMajor !== undefined) out.devMajor = entry.devMajor;
  if (entry.devMinor !== undefined) out.devMinor = entry.devMinor;
  if (body !== undefined) out.body = body.toString('hex');
  if (entry.xattrs) out.xattrs = Object.fromEntries([...entry.xattrs].map(([k, v]) => [k, Buffer.from(v).toString('latin1')]));
  if (entry.acls) out.acls = entry.acls;
  return out;
}

/** Read an image completely. A P2VError ends up in `error`; anything else propagates. */
export async function readDump(image: Uint8Array | ByteSource, options: ReadOptions = {}): Promise<Outcome> {
  const name = options.name ?? 'test.dump';
  const source = image instanceof Uint8Array ? bufferSource(name, image, options.chunk ?? Math.max(image.length, 1)) : image;
  const warnings: Warning[] = [];
  const outcome: Outcome = { chain: [], entries: [], warnings };
  try {
    const opened = await listEntries({ image: source.name, source, limits: options.limits }, warnings);
    outcome.chain = opened.chain;
    for await (const entry of opened.entries) {
      let body: Buffer | undefined;
      if (entry.body && options.bodies !== false) {
        const pieces: Buffer[] = [];
        for await (const piece of entry.body.chunks()) pieces.push(Buffer.from(piece));
        body = Buffer.concat(pieces);
        assert.equal(body.length, entry.size, `${entry.path}: body length equals entry.size`);
      }
      outcome.entries.push(snap(entry, body));
    }
  } catch (error) {
    if (!isP2VError(error)) throw error;
    outcome.error = error;
  }
  return outcome;
}

export function assertOk(outcome: Outcome, what: string): void {
  if (outcome.error) assert.fail(`${what}: unexpected error ${outcome.error.code}: ${outcome.error.oneLine()}`);
}

/** A P2VError with `code` and a numeric offset; returns it for more checks. */
export function assertFailure(outcome: Outcome, what: string, code = 'P2V_BAD_ARCHIVE'): P2VError {
  const error = outcome.error;
  assert.ok(error, `${what}: expected a P2VError, got ${outcome.entries.length} entries and no error`);
  assert.equal(error.code, code, `${what}: ${error.oneLine()}`);
  assert.equal(typeof error.details.offset, 'number', `${what}: numeric offset in ${error.oneLine()}`);
  assert.ok(!error.oneLine().includes('\n'), `${what}: one line`);
  return error;
}
