/**
 * Open an image: source → compression filters (sniffed) → format (sniffed) → Entry stream.
 * The pipeline above this knows neither codecs nor formats.
 */
import type { Entry } from './entry.js';
import { P2VError } from './errors.js';
import { unwrapFilters } from './filters/registry.js';
import type { FormatContext } from './formats/format.js';
import { pickFormat } from './formats/registry.js';
import { ByteReader } from './io/byte-reader.js';
import type { ByteSource } from './io/source.js';

export interface OpenedImage {
  /** layers outermost first, e.g. ["gzip", "cpio(newc)"] */
  chain: string[];
  format: string;
  entries: AsyncIterable<Entry>;
  /** compressed bytes read from the source so far (for progress) */
  readonly imageBytes: number;
}

export async function openImage(source: ByteSource, context: FormatContext): Promise<OpenedImage> {
  let imageBytes = 0;
  const counted = (async function* () {
    for await (const chunk of source.chunks()) {
      imageBytes += chunk.length;
      yield chunk;
    }
  })();
  const { stream, chain, head } = await unwrapFilters(counted);
  const format = pickFormat(head);
  if (!format) {
    const what = head.length === 0 ? 'the image is empty' : 'not a recognised image format (cpio, tar/pax, flar, ufsdump)';
    const inside = chain.length > 0 ? ` inside ${chain.join(' → ')}` : '';
    throw new P2VError('P2V_BAD_ARCHIVE', `${what}${inside}`, { image: source.name, offset: 0 });
  }
  const label = format.label(head);
  const reader = new ByteReader(stream, label);
  return {
    chain: [...chain, label],
    format: label,
    entries: format.entries(reader, context),
    get imageBytes() {
      return imageBytes;
    },
  };
}
