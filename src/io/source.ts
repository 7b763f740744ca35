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

export interface ByteSource {
  /** how the user named it ("-" for stdin) */
  name: string;
  /** total size when known (regular files), for progress and ETA */
  size?: number;
  chunks(): AsyncIterable<Uint8Array>;
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
  return {
    name: path,
    size: stat.isFile() ? stat.size : undefined,
    async *chunks() {
      try {
        for (;;) {
          const buffer = Buffer.allocUnsafe(sourceChunkBytes);
          const { bytesRead } = await fileHandle.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) return;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await fileHandle.close();
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
