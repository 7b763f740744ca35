/**
 * Messages between the block-parallel bzip2 driver (filters/bzip2/parallel.ts) and the bzip2
 * block workers. Plain data: the input is a shared slot, the output travels by transfer, the rest by structured
 * clone.
 * Errors come back as data, not as a thrown Error: a P2VError's code and details would not
 * survive the thread boundary.
 */

/** Decode one block: `input[0, length)` holds the block's bits (and a little more), from its
 *  magic's byte. `input` is one of the driver's reusable input slots (shared, not copied). */
export interface BlockTask {
  input: SharedArrayBuffer;
  length: number;
  /** bit offset in `data` just after the 48-bit block magic */
  startBit: number;
  /** the stream's block size digit, 1..9 */
  level: number;
  /** compressed byte offset of `data[0]` (named in errors) */
  offset: number;
}

/** Every result also says how long the worker was busy on it (ms), for --stats. */
export type BlockResult = { busyMs?: number } & (
  /** decoded (as block-decoder.ts DecodedBlock: `data` is the RLE1 form when `expandedLength`
   *  is set); `endBit` is relative to the task's input */
  | { kind: 'ok'; data: Uint8Array; expandedLength?: number; storedCrc: number; computedCrc: number; endBit: number }
  /** the block goes on past the input (the boundary after it was a false magic, or input is short) */
  | { kind: 'short' }
  /** corrupt or unsupported: a P2VError to rebuild on the main thread */
  | { kind: 'error'; code: 'P2V_BAD_ARCHIVE' | 'P2V_UNSUPPORTED'; message: string; offset: number });
