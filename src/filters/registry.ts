/**
 * The filter registry: sniff the head of a stream, pick the highest bidder, stack it, repeat
 * (a gzip'd flar payload is compress(1)'d cpio inside gzip, for instance).
 * Adding a codec is one line in `filters`: its name, its bid (sniff.ts) and where its decoder is.
 * Decoders load only when they win a bid: start-up pays for the codecs an image uses.
 */
import type { Filter } from './filter.js';
import { bidBytes } from './filter.js';
import { bzip2Bid, compressBid, gzipBid, xzBid } from './sniff.js';
import { decodeOffThread, decodeThreadsEnabled } from './off-thread.js';
import { lookAhead } from '../io/replay.js';

/** A codec as the registry knows it before it is needed. */
export interface FilterEntry {
  readonly name: string;
  bid(head: Uint8Array): number;
  load(): Promise<Filter>;
}

export const filters: FilterEntry[] = [
  { name: 'gzip', bid: gzipBid, load: async () => (await import('./gzip/index.js')).gzipFilter },
  { name: 'bzip2', bid: bzip2Bid, load: async () => (await import('./bzip2/index.js')).bzip2Filter },
  { name: 'xz', bid: xzBid, load: async () => (await import('./xz.js')).xzFilter },
  { name: 'compress', bid: compressBid, load: async () => (await import('./compress.js')).compressFilter },
];

/** Best bidder for `head`, or undefined when no filter claims it (the data is not compressed). */
export function pickFilter(head: Uint8Array): FilterEntry | undefined {
  let best: FilterEntry | undefined;
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
  // the replay stops the layer below when its consumer stops early (returns or fails): a decode
  // thread or block pool would otherwise wait for a reader that is gone
  const { chunks, replay: stream } = await lookAhead(input, (have) => have < n);
  const head = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
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
    const picked = layer < maxLayers ? pickFilter(head) : undefined;
    if (!picked) return { stream, chain, head };
    const filter = await picked.load();
    chain.push(filter.name);
    current = wrap(filter.name, filter.offThread?.(head) && filter.module && decodeThreadsEnabled() ? decodeOffThread(filter, stream) : filter.decode(stream));
  }
}
