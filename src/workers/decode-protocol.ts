/**
 * Messages between a decode thread (decode-worker.ts) and the main thread (filters/off-thread.ts).
 * Byte chunks travel by transfer. Flow control is by request and credit: the worker asks for
 * input one chunk at a time ('need'), and has at most `maxUnacked` output chunks unacknowledged.
 */
export interface DecodeWorkerData {
  /** the filter to run, by name (filters/registry.ts) */
  filter: string;
  maxUnacked: number;
}

export type ToWorker =
  | { type: 'input'; chunk: Uint8Array }
  | { type: 'end' }
  | { type: 'ack' };

export type FromWorker =
  | { type: 'need' }
  | { type: 'output'; chunk: Uint8Array }
  | { type: 'done'; busyMs: number }
  /** a P2VError's code and details (plain data), or any other error's message */
  | { type: 'error'; code?: string; message: string; offset?: number; layer?: string; busyMs: number };
