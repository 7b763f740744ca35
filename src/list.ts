/**
 * list() and inspect(): read an image without writing anything.
 */
import type { Entry, EntryBody, EntryType } from './entry.js';
import { isP2VError, P2VError } from './errors.js';
import { openImage } from './image.js';
import type { ByteSource } from './io/source.js';
import { resolveLimits, type Limits } from './limits.js';
import type { Warning } from './extract/types.js';
import { openSource } from './extract/extract.js';

export interface ReadOptions {
  image: string;
  source?: ByteSource;
  limits?: Partial<Limits>;
}

/** Entries of the image, bodies skipped. `warnings` fills as the stream is read. */
export async function listEntries(options: ReadOptions, warnings: Warning[] = []): Promise<{ chain: string[]; entries: AsyncIterable<Entry> }> {
  const source = options.source ?? (await openSource(options.image));
  const opened = await openImage(source, { limits: resolveLimits(options.limits), warn: (w) => warnings.push(w) }).catch(async (error) => {
    await source.close?.();
    throw isP2VError(error) ? error.withContext({ image: source.name }) : error;
  });
  const withImage = (error: unknown) => (isP2VError(error) ? error.withContext({ image: source.name }) : new P2VError('P2V_IO', String(error), { image: source.name }));
  const entries = (async function* () {
    try {
      for await (const entry of opened.entries) {
        const body = entry.body;
        // a body the consumer reads fails naming the image too (a copy: the reader keeps its entry)
        yield body ? { ...entry, body: { chunks: () => namedChunks(body, withImage) } } : entry;
      }
    } catch (error) {
      throw withImage(error);
    } finally {
      await source.close?.();
    }
  })();
  return { chain: opened.chain, entries };
}

async function* namedChunks(body: EntryBody, withImage: (error: unknown) => Error): AsyncGenerator<Uint8Array> {
  try {
    yield* body.chunks();
  } catch (error) {
    throw withImage(error);
  }
}

export interface InspectReport {
  image: string;
  chain: string[];
  format: string;
  entries: number;
  byType: Partial<Record<EntryType, number>>;
  /** regular-file bytes */
  dataBytes: number;
  /** bytes of the (decompressed) archive stream are not counted separately; image size on disk: */
  imageSize?: number;
  warnings: Warning[];
}

export async function inspect(options: ReadOptions): Promise<InspectReport> {
  const warnings: Warning[] = [];
  const source = options.source ?? (await openSource(options.image));
  const { chain, entries } = await listEntries({ ...options, source }, warnings);
  const byType: Partial<Record<EntryType, number>> = {};
  let count = 0;
  let dataBytes = 0;
  for await (const entry of entries) {
    count++;
    byType[entry.type] = (byType[entry.type] ?? 0) + 1;
    dataBytes += entry.size;
  }
  return { image: source.name, chain, format: chain[chain.length - 1]!, entries: count, byType, dataBytes, imageSize: source.size, warnings };
}
