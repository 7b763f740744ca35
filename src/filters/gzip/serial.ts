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
/** Input goes to zlib in pieces this big: an error is named at the start of the piece zlib was
 *  working on (zlib does not say where in it), so this is how close the offset is. */
const inputPieceBytes = 64 * 1024;

/** Decode `input`; `baseOffset` is the compressed offset of its first byte (named in errors). */
export async function* decodeGzipSerial(input: AsyncIterable<Uint8Array>, baseOffset = 0): AsyncGenerator<Uint8Array, void, undefined> {
  let pulled = baseOffset;
  const pieces = (async function* () {
    for await (const chunk of input) {
      pulled += chunk.length;
      for (let at = 0; at < chunk.length; at += inputPieceBytes) yield chunk.subarray(at, Math.min(chunk.length, at + inputPieceBytes));
    }
  })();
  const gunzip = createGunzip({ chunkSize: outputChunkBytes });
  const source = Readable.from(pieces, { objectMode: false, highWaterMark: 1 });
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  try {
    for await (const piece of gunzip) yield piece as Buffer;
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('P2V_')) throw error;
    const reason = (error as Error).message;
    // what zlib had taken in before the piece it failed on (not what was read ahead of it)
    // a stream cut short ends where the input does; any other fault is in the piece zlib was
    // working on, which starts after what it had taken in (not what was read ahead of it)
    const offset = (error as { code?: string }).code === 'Z_BUF_ERROR' ? pulled : baseOffset + gunzip.bytesWritten;
    throw badArchive(`corrupt or truncated gzip stream (${reason})`, { layer: 'gzip', offset });
  } finally {
    source.destroy();
  }
}
