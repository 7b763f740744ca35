/**
 * bzip2, pure TypeScript: single and multi-stream files (bzip2, pbzip2, lbzip2, `cat a.bz2 b.bz2`).
 *
 * Layout, one concern per file, so a later worker pool / WebAssembly twin can reuse the pieces:
 *   bit-reader.ts     MSB-first bits over one byte array
 *   crc32.ts          bzip2's big-endian CRC-32 and the stream CRC combination
 *   block-decoder.ts  one block, from the bit after its magic to its bytes and CRCs (no I/O)
 *   inverse-bwt.ts    the inverse BWT walk, four lanes at once (memory latency bound)
 *   stream.ts         headers, block boundaries, CRC checks, multi-stream, bounded buffering
 *   parallel.ts       the same walk with blocks decoded by piscina workers (workers/bzip2-worker.ts)
 *
 * The filter decodes blocks in parallel when there is more than one core (or
 * ZONEP2V_BZIP2_THREADS > 1) and the input is at least `parallelMinBytes`; otherwise serially.
 */
import type { Filter } from '../filter.js';
import { bzip2Bid } from '../sniff.js';
import { bzip2Threads, decodeBzip2Parallel } from './parallel.js';
import { decodeBzip2 } from './stream.js';

export { decodeBzip2 } from './stream.js';
export { decodeBzip2Parallel, bzip2Threads, parallelMinBytes, type ParallelOptions } from './parallel.js';
export { decodeBlock, BlockWorkspace, type DecodedBlock } from './block-decoder.js';

export const bzip2Filter: Filter = {
  name: 'bzip2',
  bid: bzip2Bid,
  decode(input) {
    const threads = bzip2Threads();
    return threads > 1 ? decodeBzip2Parallel(input, { threads }) : decodeBzip2(input);
  },
};
