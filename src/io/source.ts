/**
 * Byte sources: an image file or standard input, as an async stream of chunks.
 *
 * Every chunk is a fresh buffer that is never reused, so readers may keep views into it
 * (zero-copy headers and bodies) without defensive copies.
 */
import * as fs from 'node:fs';
import { open } from 'node:fs/promises';
import { ioError } from '../errors.js';

/** 1 MiB reads: large enough that per-read overhead vanishes, small enough to bound memory. */
export const sourceChunkBytes = 1024 * 1024;
const readAheadChunks = 3;

export interface ByteSource {
  /** how the user named it ("-" for stdin) */
  name: string;
  /** total size when known (regular files), for progress and ETA */
  size?: number;
  chunks(): AsyncIterable<Uint8Array>;
  /** Release the underlying file, whether or not `chunks()` was read to the end. Idempotent. */
  close?(): Promise<void>;
  /** Set for a directory image (a mounted tree): absolute byte path; `chunks()` is then empty
   *  and the image is walked instead of parsed. */
  directory?: string;
  /** Image files only: which file this is and in which state (see FileIdentity). */
  identity?: FileIdentity;
}

/**
 * A file's identity and state, as the content index keeps it to know next time that the image
 * has not changed since a run (extract.ts, the index fast path): device, inode, size, mtime and
 * ctime. Any write to the file moves its ctime, which no one can set back (git's index trusts
 * the same fields). `opened` is taken when the image was opened; `current()` stats the path
 * again (the file may have been replaced or written since); `racy` says the file changed so
 * shortly before it was opened that a write in the same clock tick could still go unseen.
 */
export interface FileIdentity {
  opened: string;
  racy: boolean;
  current(): string | undefined;
}

/** A write within this long before the image was opened makes the image's stamp "racy":
 *  file-system clocks tick coarsely (a jiffy, or an NFS server's clock), so a second write in
 *  the same tick would leave every stamped field as it was. */
const racyMarginMs = 1000;

function identityOf(stat: fs.BigIntStats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

function fileIdentity(path: string, opened: fs.BigIntStats): FileIdentity | undefined {
  if (!opened.isFile()) return undefined;
  return {
    opened: identityOf(opened),
    racy: opened.ctimeNs > BigInt(Date.now() - racyMarginMs) * 1_000_000n,
    current() {
      const now = fs.statSync(path, { bigint: true, throwIfNoEntry: false });
      return now?.isFile() ? identityOf(now) : undefined;
    },
  };
}

/** A directory tree as an image (an NFS-mounted root, a received ZFS dataset). */
export function directorySource(path: string, realPath: string): ByteSource {
  return {
    name: path,
    directory: Buffer.from(realPath, 'utf8').toString('latin1'),
    async *chunks() {},
  };
}

export async function openFileSource(path: string): Promise<ByteSource> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw ioError(error, undefined, 'open').withContext({ image: path });
  }
  const stat = await handle.stat({ bigint: true });
  const fileHandle = handle;
  const identity = fileIdentity(path, stat);
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= fileHandle.close().catch(() => undefined));
  return {
    close,
    name: path,
    size: stat.isFile() ? Number(stat.size) : undefined,
    ...(identity ? { identity } : {}),
    async *chunks() {
      // keep `readAheadChunks` reads in flight at explicit positions, so the disk (or page cache)
      // works while the parser does: one read at a time left the main thread idle a third of the time
      let position = 0;
      let inFlight: Promise<Uint8Array>[] = [];
      const next = () => {
        const buffer = Buffer.allocUnsafe(sourceChunkBytes);
        const at = position;
        position += buffer.length;
        return fileHandle.read(buffer, 0, buffer.length, at).then(({ bytesRead }) => buffer.subarray(0, bytesRead));
      };
      try {
        let consumed = 0;
        for (let i = 0; i < readAheadChunks; i++) inFlight.push(next());
        for (;;) {
          const chunk = await inFlight.shift()!;
          if (chunk.length === 0) return;
          consumed += chunk.length;
          if (chunk.length < sourceChunkBytes) {
            // a short read (the end, or a file still growing, or a network file system): the
            // reads queued behind it assumed a full one, so drop them and go on from here
            await Promise.allSettled(inFlight);
            inFlight = [];
            position = consumed;
          }
          inFlight.push(next());
          yield chunk;
        }
      } finally {
        await Promise.allSettled(inFlight);
        await close();
      }
    },
  };
}

export function stdinSource(stream: NodeJS.ReadableStream = process.stdin): ByteSource {
  return {
    name: '-',
    // a run stopped before the end: stop reading, or the open pipe keeps the process alive
    async close() {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    },
    async *chunks() {
      for await (const chunk of stream) {
        yield typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Uint8Array);
      }
    },
  };
}

/** A source over bytes already in memory (tests, small embedded payloads). */
export function bufferSource(name: string, data: Uint8Array, chunkBytes = sourceChunkBytes): ByteSource {
  return {
    name,
    size: data.length,
    async *chunks() {
      for (let at = 0; at < data.length; at += chunkBytes) {
        yield data.slice(at, Math.min(at + chunkBytes, data.length));
      }
    },
  };
}
