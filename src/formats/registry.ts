/**
 * The format registry: the highest bid on the decompressed head wins (libarchive style).
 * Adding a format is one line in `formats`: its name, its bid (sniff.ts) and where its reader is.
 * Readers load only when they win a bid: start-up pays for the formats an image uses.
 */
import type { Format } from './format.js';
import { cpioBid, dumpBid, flarBid, tarBid } from './sniff.js';

/** A format as the registry knows it before it is needed. */
export interface FormatEntry {
  readonly name: string;
  bid(head: Uint8Array): number;
  load(): Promise<Format>;
}

export const formats: FormatEntry[] = [
  { name: 'cpio', bid: cpioBid, load: async () => (await import('./cpio/index.js')).cpioFormat },
  { name: 'tar', bid: tarBid, load: async () => (await import('./tar/index.js')).tarFormat },
  { name: 'flar', bid: flarBid, load: async () => (await import('./flar/index.js')).flarFormat },
  { name: 'dump', bid: dumpBid, load: async () => (await import('./dump/index.js')).dumpFormat },
];

export function pickFormat(head: Uint8Array): FormatEntry | undefined {
  let best: FormatEntry | undefined;
  let bestBid = 0;
  for (const format of formats) {
    const bid = format.bid(head);
    if (bid > bestBid) {
      best = format;
      bestBid = bid;
    }
  }
  return best;
}
