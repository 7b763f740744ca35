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
import { bzip2Threads, decodeBzip2Parallel } from './parallel.js';
import { decodeBzip2 } from './stream.js';

export { decodeBzip2 } from './stream.js';
export { decodeBzip2Parallel, bzip2Threads, parallelMinBytes, type ParallelOptions } from './parallel.js';
export { decodeBlock, BlockWorkspace, type DecodedBlock } from './block-decoder.js';

export const bzip2Filter: Filter = {
  name: 'bzip2',
  bid(head) {
    // "BZh", level '1'..'9', then a block magic (or end-of-stream magic: an empty stream)
    if (head.length < 10 || head[0] !== 0x42 || head[1] !== 0x5a || head[2] !== 0x68) return 0;
    if (head[3]! < 0x31 || head[3]! > 0x39) return 0;
    const block = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const end = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    const magic = head.subarray(4, 10);
    const matches = (expected: number[]) => expected.every((byte, i) => magic[i] === byte);
    return matches(block) || matches(end) ? 72 : 0;
  },
  decode(input) {
    const threads = bzip2Threads();
    return threads > 1 ? decodeBzip2Parallel(input, { threads }) : decodeBzip2(input);
  },
};
