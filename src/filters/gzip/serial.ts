/**
 * The serial gzip decoder: node:zlib's streaming gunzip over the whole input (every member, in
 * order). Fed large chunks with a large output chunkSize it measured 2.6x fflate's streaming
 * inflater on these machines (../shared/reference/measurements.md; codec-bench: 268 vs 78 MB/s).
 * Like zlib, it stops at a zero byte after a member (tape padding) and reports anything else
 * there as a bad header.
 */
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { badArchive } from '../../errors.js';

const outputChunkBytes = 256 * 1024;

/** Decode `input`; `baseOffset` is the compressed offset of its first byte (named in errors). */
export async function* decodeGzipSerial(input: AsyncIterable<Uint8Array>, baseOffset = 0): AsyncGenerator<Uint8Array, void, undefined> {
  let consumed = baseOffset;
  const counted = (async function* () {
    for await (const chunk of input) {
      consumed += chunk.length;
      yield chunk;
    }
  })();
  const gunzip = createGunzip({ chunkSize: outputChunkBytes });
  const source = Readable.from(counted, { objectMode: false, highWaterMark: 1 });
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  try {
    for await (const piece of gunzip) yield piece as Buffer;
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('P2V_')) throw error;
    const reason = (error as Error).message;
    throw badArchive(`corrupt or truncated gzip stream (${reason})`, { layer: 'gzip', offset: consumed });
  } finally {
    source.destroy();
  }
}
