/**
 * compress(1) `.Z` (LZW): flar `files_compressed_method=compress` payloads and `.Z` images.
 *
 * The decoder is src/filters/lzw-decoder.ts (pure TypeScript, typed-array tables). compress
 * has no checksum and no length, so the only errors are a bad header, a code beyond the next
 * free code, and a stream that stops inside a code.
 */
import type { Filter } from './filter.js';
import { LzwDecoder } from './lzw-decoder.js';

export const compressFilter: Filter = {
  name: 'compress',
  offThread: () => true,
  module: { url: import.meta.url, exportName: 'compressFilter' },
  freshOutput: true, // LzwDecoder hands out window slices (copies)
  bid(head) {
    // magic 1f 9d; flags: maxbits (low 5 bits) 9..16, bits 0x60 reserved (0x80 = block mode)
    if (head.length < 3 || head[0] !== 0x1f || head[1] !== 0x9d) return 0;
    const flags = head[2]!;
    const maxBits = flags & 0x1f;
    if ((flags & 0x60) !== 0 || maxBits < 9 || maxBits > 16) return 0;
    return 16 + 8;
  },
  async *decode(input) {
    const decoder = new LzwDecoder();
    for await (const chunk of input) {
      decoder.write(chunk);
      for (let piece = decoder.read(); piece !== null; piece = decoder.read()) yield piece;
    }
    yield* decoder.finish();
  },
};
