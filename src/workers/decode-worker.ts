/**
 * A decode thread: runs one filter (gzip, compress, xz, ...) over input the main thread sends,
 * and streams the output back, so that decompression overlaps parsing and writing instead of
 * taking turns with them on the main thread. See filters/off-thread.ts for the other side.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { P2VError } from '../errors.js';
import type { Filter } from '../filters/filter.js';
import type { DecodeWorkerData, FromWorker, ToWorker } from './decode-protocol.js';

const port = parentPort!;
const { module, maxUnacked } = workerData as DecodeWorkerData;
// (no top-level await here: the main thread may terminate this thread at any time, and Node 20
// aborts when a thread is terminated while an async module is still evaluating)
let filter: Filter;

/** input sent ahead by the main thread, not taken yet; `inbox` waits when it is empty */
const queued: ToWorker[] = [];
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
  } else if (inbox) {
    const waiting = inbox;
    inbox = undefined;
    waiting(message);
  } else {
    queued.push(message);
  }
});

const post = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

async function* input(): AsyncGenerator<Uint8Array> {
  for (;;) {
    let message = queued.shift();
    if (!message) {
      pause();
      message = await new Promise<ToWorker>((resolve) => (inbox = resolve));
      resume();
    }
    if (message.type !== 'input') return;
    post({ type: 'took' });
    yield message.chunk;
  }
}

async function decodeAll(): Promise<void> {
  try {
    filter = ((await import(module.url)) as Record<string, Filter>)[module.exportName]!;
    for await (const piece of filter.decode(input())) {
      // A copy to transfer unless the filter promises fresh pieces: a piece may be a decoder's
      // internal buffer (node:zlib hands out its output buffer whole), and transferring that
      // detaches it under the decoder (a native assertion in zlib, seen).
      const fresh = filter.freshOutput && piece.byteOffset === 0 && piece.byteLength === piece.buffer.byteLength;
      const chunk = fresh ? piece : new Uint8Array(piece); // (not Buffer#slice: that is a view, not a copy)
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
}

void decodeAll();
