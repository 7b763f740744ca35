/**
 * Run a filter on a decode thread (workers/decode-worker.ts) instead of the main thread.
 *
 * Why: the main thread parses the archive and drives the writers; a decoder that runs there
 * (compress(1), xz, and node:zlib's per-chunk work) takes turns with them, so on a 2-core machine
 * the core left over sits idle. On its own thread the decoder runs ahead while the main thread
 * works, bounded by `maxUnacked` chunks (~2 MiB) of output in flight: memory stays bounded and a
 * slow disk still slows the decoder down.
 *
 * Small inputs (ending within `offThreadMinBytes`) decode in place: starting a thread costs
 * ~30-50 ms. ZONEP2V_DECODE_THREAD=0 turns decode threads off (for comparison).
 */
import { Worker } from 'node:worker_threads';
import { P2VError, type P2VCode } from '../errors.js';
import { activeStats } from '../stats.js';
import type { DecodeWorkerData, FromWorker, ToWorker } from '../workers/decode-protocol.js';
import { workerExecArgv } from '../workers/exec-argv.js';
import type { Filter } from './filter.js';
import { lookAhead } from '../io/replay.js';

export const offThreadMinBytes = 1024 * 1024;
const maxUnacked = 8;
/** input chunks sent ahead of the decoder (each is what the source gave, ~64 KiB-1 MiB) */
const inputAhead = 4;

export function decodeThreadsEnabled(): boolean {
  return process.env.ZONEP2V_DECODE_THREAD !== '0';
}

export async function* decodeOffThread(filter: Filter, input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const ahead = await lookAhead(input, (have) => have < offThreadMinBytes);
  if (ahead.ended) {
    yield* filter.decode(ahead.replay); // small: not worth a thread
    return;
  }
  const iterator = ahead.replay[Symbol.asyncIterator]();

  const worker = new Worker(new URL('../workers/decode-worker.js', import.meta.url), {
    workerData: { module: filter.module!, maxUnacked } satisfies DecodeWorkerData,
    execArgv: workerExecArgv,
  });
  const outputs: Uint8Array[] = [];
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    wake?.();
    wake = undefined;
  };
  const send = (message: ToWorker, transfer?: ArrayBuffer[]) => worker.postMessage(message, transfer);
  let produced = 0;

  // Keep `inputAhead` chunks with the worker: one pull at a time, topped up as it takes them.
  let credits = inputAhead;
  let pulling = false;
  let inputEnded = false;
  const supply = async () => {
    if (pulling || inputEnded || credits === 0) return;
    pulling = true;
    try {
      const next = await iterator.next();
      if (next.done) {
        inputEnded = true;
        return send({ type: 'end' });
      }
      credits--;
      // a copy of our own to transfer (not Buffer#slice, which is a view): the source may reuse
      // its buffers, and transferring one would detach it under its owner
      const chunk = new Uint8Array(next.value);
      send({ type: 'input', chunk }, [chunk.buffer as ArrayBuffer]);
    } catch (error) {
      inputEnded = true;
      failure ??= error; // an outer layer failed: report that, as the in-thread decoder would
      wakeUp();
    } finally {
      pulling = false;
    }
    if (!finished) void supply();
  };
  worker.on('message', (message: FromWorker) => {
    switch (message.type) {
      case 'took':
        credits++;
        void supply();
        return;
      case 'output':
        outputs.push(message.chunk);
        produced += message.chunk.length;
        break;
      case 'done':
        activeStats()?.addWorkerTime(`decode ${filter.name} (decode thread)`, message.busyMs, produced);
        finished = true;
        break;
      case 'error':
        activeStats()?.addWorkerTime(`decode ${filter.name} (decode thread)`, message.busyMs, produced);
        failure ??= message.code
          ? new P2VError(message.code as P2VCode, message.message, { offset: message.offset, layer: message.layer })
          : new Error(message.message);
        break;
    }
    wakeUp();
  });
  worker.on('error', (error) => {
    failure ??= error;
    wakeUp();
  });
  worker.on('exit', (code) => {
    if (!finished) failure ??= new Error(`${filter.name} decode thread exited (code ${code}) before the end of the stream`);
    wakeUp();
  });
  // The thread keeps the process alive only while the consumer waits for it (below): one that
  // drops this stream without returning it must not leave the program hanging on an idle thread.
  // (After the listeners: adding one refs the port again.)
  worker.unref();

  void supply();
  try {
    for (;;) {
      if (outputs.length > 0) {
        const chunk = outputs.shift()!;
        send({ type: 'ack' });
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (finished) return;
      worker.ref();
      await new Promise<void>((resolve) => (wake = resolve));
      worker.unref();
    }
  } finally {
    finished = true;
    worker.ref(); // (unref'd, the loop could end before terminate() settles)
    await worker.terminate();
    await iterator.return?.();
  }
}
