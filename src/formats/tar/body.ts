/**
 * The body cursor of a plain tar member: the stored bytes are the file. It streams (no body is
 * ever held whole) and remembers how much of the stored data is left, so the reader can skip
 * what a consumer abandoned (`finish`). Sparse members: common/sparse-body.ts.
 */
import { type BodyCursor, truncatedBody } from '../common/sparse-body.js';
import type { ByteReader } from '../../io/byte-reader.js';

export class PlainBody implements BodyCursor {
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
      if (piece.length === 0) throw truncatedBody(this.reader, this.name, this.remaining, this.size);
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
