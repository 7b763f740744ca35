/**
 * gzip (RFC 1952), concatenated members included (`cat a.gz b.gz`, `split | gzip` pipelines, bgzip).
 *
 *   member.ts    a member's header and trailer
 *   serial.ts    node:zlib's streaming gunzip, every member in order (the engine for one member)
 *   parallel.ts  several members decoded at once by piscina workers (workers/gzip-worker.ts)
 */
import type { Filter } from '../filter.js';
import { gzipBid } from '../sniff.js';
import { decodeGzip } from './parallel.js';

export { decodeGzip, gzipThreads, parallelMinBytes, type GzipParallelOptions } from './parallel.js';
export { decodeGzipSerial } from './serial.js';

export const gzipFilter: Filter = {
  name: 'gzip',
  bid: gzipBid,
  decode: (input) => decodeGzip(input),
};
