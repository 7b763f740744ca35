/**
 * Body cursors for tar members: a plain one (the stored bytes are the file) and a sparse one
 * that yields the logical file, holes as zeros, from the stored data regions.
 *
 * Both stream (no body is ever held whole) and both remember how much of the stored data is
 * left, so the reader can skip what a consumer abandoned (`finish`). Holes are yielded as views
 * of one shared zero buffer: consumers copy what they keep (entry.ts) and never write into
 * pieces, so sharing it is safe and a 100 GiB hole costs no allocation.
 */
import type { EntryBody } from '../../entry.js';
import { badArchive } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';
import type { SparseMap } from './sparse.js';

const zeros = new Uint8Array(256 * 1024);

/** Sparse members up to this logical size may be assembled in memory by `whole()`. */
const wholeSparseMaxBytes = 256 * 1024;

export interface TarBodyCursor extends EntryBody {
  /** skip whatever of the stored data the consumer did not read (undefined: done already) */
  finish(): Promise<void> | undefined;
}

function truncated(reader: ByteReader, name: string, missing: number, total: number): Error {
  return badArchive(`truncated member data: ${missing} of ${total} bytes missing`, { layer: reader.layer, offset: reader.offset, entry: name });
}

export class PlainBody implements TarBodyCursor {
  private remaining: number;

  constructor(
    private readonly reader: ByteReader,
    private readonly size: number,
    private readonly name: string,
  ) {
    this.remaining = size;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    while (this.remaining > 0) {
      const piece = await this.reader.readUpTo(this.remaining);
      if (piece.length === 0) throw truncated(this.reader, this.name, this.remaining, this.size);
      this.remaining -= piece.length;
      yield piece;
    }
  }

  whole(): Uint8Array | undefined {
    if (this.remaining !== this.size) return undefined;
    const body = this.reader.tryReadBuffered(this.remaining);
    if (body) this.remaining = 0;
    return body;
  }

  finish(): Promise<void> | undefined {
    if (this.remaining === 0) return undefined;
    const left = this.remaining;
    this.remaining = 0;
    return this.reader.skipBuffered(left) ? undefined : this.reader.skip(left, 'tar member data');
  }
}

export class SparseBody implements TarBodyCursor {
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
        if (piece.length === 0) throw truncated(this.reader, this.name, this.remaining, this.storedBytes);
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
    await this.reader.skip(left, 'tar member data');
  }
}

function* zeroRun(length: number): Generator<Uint8Array> {
  for (let left = length; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
}
