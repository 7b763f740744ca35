/**
 * The archive-format interface. Formats bid on the (decompressed) head of the stream, like
 * libarchive's readers; the highest bid wins. A format turns bytes into Entries and knows
 * nothing about disks.
 */
import type { PipelineStats } from '../stats.js';
import type { Entry } from '../entry.js';
import type { ByteReader } from '../io/byte-reader.js';
import type { Limits } from '../limits.js';
import type { Warning } from '../extract/types.js';

export interface FormatContext {
  limits: Limits;
  /** non-fatal findings (checksum mismatch, skipped side entries) */
  warn(warning: Warning): void;
  /** For wrapper formats (flar): open a payload stream through the same filter and format
   *  layers; the layers found are appended to the image's chain. */
  openNested?(stream: AsyncIterable<Uint8Array>): Promise<AsyncIterable<Entry>>;
  /** Facts a layer states about the whole image (a flar's identification section, for
   *  instance), reported once they are parsed; `inspect` prints them. Not a warning. */
  describe?(description: LayerDescription): void;
  /** dump readers: told once the maps are read, before the first entry. The pipeline that
   *  applies incremental dumps checks here that the dump follows the level it extracted last,
   *  and throws (P2V_USAGE) to refuse it. Without this hook an incremental dump is read as it
   *  is, with a P2V_INCREMENTAL warning. */
  dumpLevel?(info: DumpLevel): void;
  /** --stats: the collector that times the layers */
  stats?: PipelineStats;
}

/** What a dump says about itself: which level, taken when, relative to which earlier dump. */
export interface DumpStamp {
  level: number;
  /** c_date: when this dump was taken, seconds since the epoch */
  date: number;
  /** c_ddate: the date of the dump this one is relative to; 0 for a full (level 0) dump */
  previousDate: number;
}

export interface DumpLevel extends DumpStamp {
  /** TS_CLRI: was the inode in use when the dump was taken (false: deleted since) */
  inUse(ino: number): boolean;
  /** TS_BITS: does this dump carry the inode (false: unchanged since the previous level) */
  dumped(ino: number): boolean;
}

/** What one layer says about the image, as ordered key/value text (printable as is). */
export interface LayerDescription {
  /** the layer's label in the chain, e.g. "flar" */
  layer: string;
  /** what the fields are, e.g. "identification section" */
  title: string;
  /** key/value pairs in archive order; keys as the archive spells them */
  fields: Array<[string, string]>;
}

export interface Format {
  readonly name: string;
  /** bits of header checked, 0 = not mine */
  bid(head: Uint8Array): number;
  /** label for the layer chain once the head is known, e.g. "cpio(newc)" */
  label(head: Uint8Array): string;
  /** Entries in archive order. Each entry's body must be drained or abandoned before the next
   *  is requested; the reader skips what was not read. */
  entries(reader: ByteReader, context: FormatContext): AsyncIterable<Entry>;
}
