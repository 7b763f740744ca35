/**
 * Byte sources: an image file or standard input, as an async stream of chunks.
 *
 * Every chunk is a fresh buffer that is never reused, so readers may keep views into it
 * (zero-copy headers and bodies) without defensive copies.
 */
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
  const stat = await handle.stat();
  const fileHandle = handle;
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= fileHandle.close().catch(() => undefined));
  return {
    close,
    name: path,
    size: stat.isFile() ? stat.size : undefined,
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
