/**
 * Messages between the member-parallel gzip driver (filters/gzip/parallel.ts) and its workers.
 * Buffers travel by transfer; errors come back as data (a P2VError would not survive the thread
 * boundary).
 */

/** Decode the members that start at `data[0]`, one after the other, to the end of `data` (the
 *  next possible member start, or the end of the input when `final`). */
export interface SegmentTask {
  data: Uint8Array;
  /** compressed offset of `data[0]` (named in errors) */
  offset: number;
  /** `data` runs to the end of the input: running out of bytes is truncation, not a false boundary */
  final: boolean;
  /** more output than this is not decoded here (`big`): the driver hands the rest to the serial decoder */
  maxOutputBytes: number;
}

export type SegmentResult = { busyMs?: number } & (
  /** decoded and checked (CRC-32, ISIZE of every member): `outputs` in order; the members fill
   *  `data` exactly, or `padded`: a zero byte after a member at `segmentBytes` ends the data there */
  | { kind: 'ok'; outputs: Uint8Array[]; segmentBytes: number; padded: boolean }
  /** the last member goes on past `data`: the boundary at its end was a false one */
  | { kind: 'short' }
  /** the output would exceed `maxOutputBytes` */
  | { kind: 'big' }
  | { kind: 'error'; message: string; offset: number }
);
