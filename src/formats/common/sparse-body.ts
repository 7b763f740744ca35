/**
 * Sparse members, whatever the format: where each stored data region lies in the logical file
 * (GNU tar's sparse formats, Solaris cpio's holes map), and a body cursor that yields the logical
 * file from the stored regions - holes as their length to a writer that can leave them
 * unwritten (`pieces()`), as zeros to anyone else (`chunks()`).
 *
 * Holes are yielded as views of one shared zero buffer: consumers copy what they keep (entry.ts)
 * and never write into pieces, so sharing it is safe and a 100 GiB hole costs no allocation.
 */
import type { EntryBody } from '../../entry.js';
import { badArchive } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';

const zeros = new Uint8Array(256 * 1024);

/** Sparse members up to this logical size may be assembled in memory by `whole()`. */
const wholeSparseMaxBytes = 256 * 1024;

export interface SparseRegion {
  offset: number;
  length: number;
}

export interface SparseMap {
  /** logical file size */
  realSize: number;
  /** data regions, ascending; the stored data is their concatenation */
  regions: SparseRegion[];
}

/** A body the reader can finish: skip whatever of the stored data the consumer did not read
 *  (undefined: done already). */
export interface BodyCursor extends EntryBody {
  finish(): Promise<void> | undefined;
}

/** The map is consistent with `storedBytes` of data: regions ascending, not overlapping, inside
 *  the file, and exactly as long as the stored data. `what` names the member kind in errors. */
export function checkSparseMap(map: SparseMap, storedBytes: number, at: { layer: string; offset: number; entry?: string }, what: string): void {
  let end = 0;
  let total = 0;
  for (const region of map.regions) {
    if (region.offset < end) throw badArchive(`${what}: sparse map regions overlap or are out of order`, at);
    end = region.offset + region.length;
    if (end > map.realSize) throw badArchive(`${what}: a region ends at ${end}, past the file size ${map.realSize}`, at);
    total += region.length;
  }
  if (total !== storedBytes) {
    throw badArchive(`${what}: the map describes ${total} bytes of data but the member stores ${storedBytes}`, at);
  }
}

export function truncatedBody(reader: ByteReader, name: string, missing: number, total: number): Error {
  return badArchive(`truncated member data: ${missing} of ${total} bytes missing`, { layer: reader.layer, offset: reader.offset, entry: name });
}

export class SparseBody implements BodyCursor {
  /** stored bytes not yet consumed */
  private remaining: number;
  private started = false;

  constructor(
    private readonly reader: ByteReader,
    /** where the data lies in the logical file: a writer that can make holes may use it (the
     *  chunks still carry the zeros, so one that cannot loses nothing) */
    readonly sparseMap: SparseMap,
    private readonly storedBytes: number,
    private readonly name: string,
  ) {
    this.remaining = storedBytes;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    for await (const piece of this.pieces()) {
      if (typeof piece === 'number') yield* zeroRun(piece);
      else yield piece;
    }
  }

  /** The logical file with each hole as its length: a writer leaves it unwritten, and the copy
   *  stays sparse (written out, a 9 GiB sparse file took 9 GiB of disk). */
  async *pieces(): AsyncGenerator<Uint8Array | number> {
    if (this.started) return;
    this.started = true;
    let position = 0;
    for (const region of this.sparseMap.regions) {
      if (region.offset > position) yield region.offset - position;
      let left = region.length;
      while (left > 0) {
        const piece = await this.reader.readUpTo(left);
        if (piece.length === 0) throw truncatedBody(this.reader, this.name, this.remaining, this.storedBytes);
        left -= piece.length;
        this.remaining -= piece.length;
        yield piece;
      }
      position = region.offset + region.length;
    }
    if (this.sparseMap.realSize > position) yield this.sparseMap.realSize - position;
  }

  whole(): Uint8Array | undefined {
    if (this.started || this.sparseMap.realSize > wholeSparseMaxBytes) return undefined;
    const stored = this.reader.tryReadBuffered(this.storedBytes);
    if (!stored) return undefined;
    this.started = true;
    this.remaining = 0;
    const out = new Uint8Array(this.sparseMap.realSize);
    let from = 0;
    for (const region of this.sparseMap.regions) {
      out.set(stored.subarray(from, from + region.length), region.offset);
      from += region.length;
    }
    return out;
  }

  async finish(): Promise<void> {
    this.started = true;
    if (this.remaining === 0) return;
    const left = this.remaining;
    this.remaining = 0;
    await this.reader.skip(left, `${this.reader.layer} member data`);
  }
}

function* zeroRun(length: number): Generator<Uint8Array> {
  for (let left = length; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
}
