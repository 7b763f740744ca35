/**
 * The filter registry: sniff the head of a stream, pick the highest bidder, stack it, repeat
 * (a gzip'd flar payload is compress(1)'d cpio inside gzip, for instance).
 * Adding a codec is one import and one line in `filters`.
 */
import type { Filter } from './filter.js';
import { bidBytes } from './filter.js';
import { bzip2Filter } from './bzip2/index.js';
import { compressFilter } from './compress.js';
import { gzipFilter } from './gzip/index.js';
import { xzFilter } from './xz.js';
import { decodeOffThread, decodeThreadsEnabled } from './off-thread.js';

export const filters: Filter[] = [gzipFilter, bzip2Filter, xzFilter, compressFilter];

/** Best bidder for `head`, or undefined when no filter claims it (the data is not compressed). */
export function pickFilter(head: Uint8Array): Filter | undefined {
  let best: Filter | undefined;
  let bestBid = 0;
  for (const filter of filters) {
    const bid = filter.bid(head);
    if (bid > bestBid) {
      best = filter;
      bestBid = bid;
    }
  }
  return best;
}

/** Read until `n` bytes are known (or the stream ends); return them and a stream that replays them. */
export async function peekStream(
  input: AsyncIterable<Uint8Array>,
  n: number = bidBytes,
): Promise<{ head: Uint8Array; stream: AsyncIterable<Uint8Array> }> {
  const iterator = input[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    seen.push(next.value);
    have += next.value.length;
  }
  const head = seen.length === 1 ? seen[0]! : Buffer.concat(seen);
  const stream = (async function* () {
    let finished = done;
    try {
      for (const chunk of seen) yield chunk;
      while (!finished) {
        const next = await iterator.next();
        if (next.done) finished = true;
        else yield next.value;
      }
    } finally {
      // stopped early (the consumer returned, or failed): stop the layer below too - a decode
      // thread or block pool would otherwise wait for a reader that is gone
      if (!finished) await iterator.return?.();
    }
  })();
  return { head: head.subarray(0, Math.min(n, head.length)), stream };
}

/** Strip every compression layer; report the chain of filters applied, outermost first. */
export async function unwrapFilters(
  input: AsyncIterable<Uint8Array>,
  maxLayers = 4,
  /** wraps each filter's output (--stats times the layers) */
  wrap: (name: string, stream: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array> = (_, stream) => stream,
): Promise<{ stream: AsyncIterable<Uint8Array>; chain: string[]; head: Uint8Array }> {
  const chain: string[] = [];
  let current = input;
  for (let layer = 0; ; layer++) {
    const { head, stream } = await peekStream(current);
    const filter = layer < maxLayers ? pickFilter(head) : undefined;
    if (!filter) return { stream, chain, head };
    chain.push(filter.name);
    current = wrap(filter.name, filter.offThread?.(head) && filter.module && decodeThreadsEnabled() ? decodeOffThread(filter, stream) : filter.decode(stream));
  }
}
