/**
 * list() and inspect(): read an image without writing anything.
 */
import type { Entry, EntryBody, EntryType } from './entry.js';
import { isP2VError, P2VError } from './errors.js';
import { openImage } from './image.js';
import type { ByteSource } from './io/source.js';
import { resolveLimits, type Limits } from './limits.js';
import type { Warning } from './extract/types.js';
import { openSource } from './io/open-source.js';
import type { LayerDescription } from './formats/format.js';
import { archiveBase, topComponent, type ArchiveBase } from './formats/archive-base.js';

export interface ReadOptions {
  image: string;
  /** further volumes of a multi-volume dump, in order */
  volumes?: string[];
  source?: ByteSource;
  limits?: Partial<Limits>;
}

/** Entries of the image, bodies skipped. `warnings` fills as the stream is read. */
export async function listEntries(
  options: ReadOptions,
  warnings: Warning[] = [],
  descriptions: LayerDescription[] = [],
): Promise<{ chain: string[]; entries: AsyncIterable<Entry> }> {
  const source = options.source ?? (await openSource(options.image, options.volumes));
  const context = { limits: resolveLimits(options.limits), warn: (w: Warning) => warnings.push(w), describe: (d: LayerDescription) => descriptions.push(d) };
  const opened = await openImage(source, context).catch(async (error) => {
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
  /** the image file's size on disk, when it is a file */
  imageSize?: number;
  /** what layers state about the image (a flash archive's identification section, ...) */
  descriptions: LayerDescription[];
  /** where the members belong, by the Solaris installer's archive-base rule (judged on the
   *  whole listing, with "zone" standing for the zonepath's last component) */
  archiveBase: ArchiveBase;
  warnings: Warning[];
}

export async function inspect(options: ReadOptions & { zonepath?: string }): Promise<InspectReport> {
  const warnings: Warning[] = [];
  const descriptions: LayerDescription[] = [];
  const source = options.source ?? (await openSource(options.image, options.volumes));
  const { chain, entries } = await listEntries({ ...options, source }, warnings, descriptions);
  const byType: Partial<Record<EntryType, number>> = {};
  let count = 0;
  let dataBytes = 0;
  const topNames = new Set<string>();
  const names: string[] = [];
  for await (const entry of entries) {
    count++;
    byType[entry.type] = (byType[entry.type] ?? 0) + 1;
    dataBytes += entry.size;
    // the rule looks at first components only: keep one name per top-level component
    const top = topComponent(entry.path);
    if (!topNames.has(top)) {
      topNames.add(top);
      names.push(entry.path);
    }
  }
  const archiveBaseVerdict = archiveBase(names, { zonepath: options.zonepath ?? '/zones/zone', complete: true });
  return { image: source.name, chain, format: chain[chain.length - 1]!, entries: count, byType, dataBytes, imageSize: source.size, descriptions, archiveBase: archiveBaseVerdict, warnings };
}
