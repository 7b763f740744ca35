/**
 * The decompression-filter interface. Filters are sniffed by content (libarchive-style bids),
 * never by file name, and stacked by the registry until no filter bids.
 */
export interface Filter {
  /** short name shown in the layer chain, e.g. "gzip" */
  readonly name: string;
  /** Confidence that `head` starts this filter's format: the number of header bits checked,
   *  0 for "not mine". `head` holds at least `bidBytes` bytes unless the stream is shorter. */
  bid(head: Uint8Array): number;
  /** Decode a stream. Errors are P2VErrors with `layer` = name and `offset` = compressed offset. */
  decode(input: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>;
  /** Run on a decode thread (off-thread.ts) when the input is large: a decoder that would
   *  otherwise take turns with parsing and writing on the main thread. Asked with the head of
   *  the stream (a decoder with workers of its own does not need a thread as well). */
  offThread?(head: Uint8Array): boolean;
  /** Where a decode thread imports this filter from (its module and export), so that the thread
   *  loads one codec, not the registry and every codec's dependencies. */
  readonly module?: { url: string; exportName: string };
  /** Every piece decode() yields is a new buffer of its own, nobody else holds: a decode thread
   *  transfers it as it is instead of copying it. */
  readonly freshOutput?: boolean;
}

/** How many leading bytes the registry shows to bidders. 1 KiB: a dump (ufsdump) header is a
 *  1 KiB record whose layout flags and checksum lie in its second half; every other bidder
 *  decides within the first 512 bytes. */
export const bidBytes = 1024;
