/**
 * Messages between a decode thread (decode-worker.ts) and the main thread (filters/off-thread.ts).
 * Byte chunks travel by transfer. Flow control is by credit both ways: the main thread keeps up
 * to `inputAhead` input chunks sent but not yet taken ('took' returns a credit), so the decoder
 * never waits for a round trip to the file system; the worker has at most `maxUnacked` output
 * chunks unacknowledged ('ack').
 */
export interface DecodeWorkerData {
  /** the filter to run: its module and export (Filter.module) */
  module: { url: string; exportName: string };
  maxUnacked: number;
}

export type ToWorker =
  | { type: 'input'; chunk: Uint8Array }
  | { type: 'end' }
  | { type: 'ack' };

export type FromWorker =
  /** an input chunk was taken from the queue: the main thread may send another */
  | { type: 'took' }
  | { type: 'output'; chunk: Uint8Array }
  | { type: 'done'; busyMs: number }
  /** a P2VError's code and details (plain data), or any other error's message */
  | { type: 'error'; code?: string; message: string; offset?: number; layer?: string; busyMs: number };
