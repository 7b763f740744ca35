/**
 * A decode thread: runs one filter (gzip, compress, xz, ...) over input the main thread sends,
 * and streams the output back, so that decompression overlaps parsing and writing instead of
 * taking turns with them on the main thread. See filters/off-thread.ts for the other side.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { P2VError } from '../errors.js';
import { filters } from '../filters/registry.js';
import type { DecodeWorkerData, FromWorker, ToWorker } from './decode-protocol.js';

const port = parentPort!;
const { filter: name, maxUnacked } = workerData as DecodeWorkerData;
const filter = filters.find((f) => f.name === name)!;

let inbox: ((message: ToWorker) => void) | undefined;
let unacked = 0;
let ackWaiter: (() => void) | undefined;
/** time spent decoding, not waiting for input or for the main thread to catch up */
let busyMs = 0;
let since = performance.now();
const pause = () => (busyMs += performance.now() - since);
const resume = () => (since = performance.now());

port.on('message', (message: ToWorker) => {
  if (message.type === 'ack') {
    unacked--;
    ackWaiter?.();
    ackWaiter = undefined;
  } else {
    inbox?.(message);
    inbox = undefined;
  }
});

const post = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

async function* input(): AsyncGenerator<Uint8Array> {
  for (;;) {
    pause();
    const message = await new Promise<ToWorker>((resolve) => {
      inbox = resolve;
      post({ type: 'need' });
    });
    resume();
    if (message.type !== 'input') return;
    yield message.chunk;
  }
}

try {
  for await (const piece of filter.decode(input())) {
    // Always a copy to transfer: a piece may be a decoder's internal buffer (node:zlib hands out
    // its output buffer whole), and transferring that detaches it under the decoder (a native
    // assertion in zlib, seen). A copy costs ~1% of decoding.
    const chunk = new Uint8Array(piece); // (not Buffer#slice: that is a view, not a copy)
    post({ type: 'output', chunk }, [chunk.buffer as ArrayBuffer]);
    if (++unacked >= maxUnacked) {
      pause();
      await new Promise<void>((resolve) => (ackWaiter = resolve));
      resume();
    }
  }
  pause();
  post({ type: 'done', busyMs });
} catch (error) {
  pause();
  if (error instanceof P2VError) {
    post({ type: 'error', code: error.code, message: error.message, offset: error.details.offset, layer: error.details.layer, busyMs });
  } else {
    post({ type: 'error', message: String((error as Error)?.message ?? error), busyMs });
  }
}
