/**
 * compress(1) `.Z` (LZW): flar `files_compressed_method=compress` payloads and `.Z` images.
 *
 * The decoder is src/filters/lzw-decoder.ts (pure TypeScript, typed-array tables). compress
 * has no checksum and no length, so the only errors are a bad header, a code beyond the next
 * free code, and a stream that stops inside a code.
 */
import type { Filter } from './filter.js';
import { compressBid } from './sniff.js';
import { LzwDecoder } from './lzw-decoder.js';

export const compressFilter: Filter = {
  name: 'compress',
  offThread: () => true,
  module: { url: import.meta.url, exportName: 'compressFilter' },
  freshOutput: true, // LzwDecoder hands out window slices (copies)
  bid: compressBid,
  async *decode(input) {
    const decoder = new LzwDecoder();
    for await (const chunk of input) {
      decoder.write(chunk);
      for (let piece = decoder.read(); piece !== null; piece = decoder.read()) yield piece;
    }
    yield* decoder.finish();
  },
};
