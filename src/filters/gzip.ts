/**
 * gzip (RFC 1952), concatenated members included (pigz -i, `cat a.gz b.gz`).
 *
 * node:zlib, fed large chunks with a large output chunkSize: measured 2.6x fflate's streaming
 * inflater on these machines (../shared/reference/measurements.md), so it is the engine here.
 */
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { badArchive } from '../errors.js';
import type { Filter } from './filter.js';

const outputChunkBytes = 256 * 1024;

export const gzipFilter: Filter = {
  name: 'gzip',
  bid(head) {
    // magic 1f 8b, method 8 (deflate), reserved flag bits clear
    if (head.length < 4 || head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8) return 0;
    return (head[3]! & 0xe0) === 0 ? 27 : 0;
  },
  async *decode(input) {
    let consumed = 0;
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
  },
};
