/**
 * gzip (RFC 1952), concatenated members included (`cat a.gz b.gz`, `split | gzip` pipelines, bgzip).
 *
 *   member.ts    a member's header and trailer
 *   serial.ts    node:zlib's streaming gunzip, every member in order (the engine for one member)
 *   parallel.ts  several members decoded at once by piscina workers (workers/gzip-worker.ts)
 */
import type { Filter } from '../filter.js';
import { decodeGzip } from './parallel.js';

export { decodeGzip, gzipThreads, parallelMinBytes, type GzipParallelOptions } from './parallel.js';
export { decodeGzipSerial } from './serial.js';

export const gzipFilter: Filter = {
  name: 'gzip',
  bid(head) {
    // magic 1f 8b, method 8 (deflate), reserved flag bits clear
    if (head.length < 4 || head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8) return 0;
    return (head[3]! & 0xe0) === 0 ? 27 : 0;
  },
  decode: (input) => decodeGzip(input),
};
