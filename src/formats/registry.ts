/**
 * The format registry: the highest bid on the decompressed head wins (libarchive style).
 * Adding a format is one import and one line in `formats`.
 */
import type { Format } from './format.js';
import { cpioFormat } from './cpio/index.js';
import { dumpFormat } from './dump/index.js';
import { flarFormat } from './flar/index.js';
import { tarFormat } from './tar/index.js';

export const formats: Format[] = [cpioFormat, tarFormat, flarFormat, dumpFormat];

export function pickFormat(head: Uint8Array): Format | undefined {
  let best: Format | undefined;
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
