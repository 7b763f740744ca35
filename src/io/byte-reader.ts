/**
 * A pull-style reader over a stream of chunks, counting the offset for error messages.
 *
 * Parsers ask for exactly what they need (`readExact`, `peek`, `take`) and never see chunk
 * boundaries: a header split across two chunks is joined here, a header inside one chunk is
 * returned as a view without copying. Bodies are handed out piece by piece (`take`) so a 4 GiB
 * file never sits in memory.
 */
import { badArchive } from '../errors.js';

export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private current: Uint8Array = new Uint8Array(0);
  private position = 0; // read position within `current`
  private ended = false;
  /** bytes consumed by the parser so far */
  offset = 0;

  constructor(
    chunks: AsyncIterable<Uint8Array>,
    /** the layer name used in error messages, e.g. "cpio" */
    readonly layer: string,
    /** the offset of the first chunk's first byte, when it is not the start of the stream */
    startOffset = 0,
  ) {
    this.iterator = chunks[Symbol.asyncIterator]();
    this.offset = startOffset;
  }

  /** Stop the stream below (its decoders, their threads) when the parser is done with it, also
   *  after an error: a parser that throws never asks for more, and would leave them waiting. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.iterator.return?.();
  }

  private get available(): number {
    return this.current.length - this.position;
  }

  /** Pull chunks until at least `n` bytes are buffered or the stream ends. */
  private async fill(n: number): Promise<void> {
    while (this.available < n && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      let chunk = next.value;
      if (chunk.length === 0) continue;
      // Buffers (file reads, zlib) become plain Uint8Array views: every view handed out then has
      // one map, and the parsers' optimized code is not thrown away ("wrong map") when a joined
      // Uint8Array turns up among the Buffers
      if (Object.getPrototypeOf(chunk) !== Uint8Array.prototype) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      if (this.available === 0) {
        this.current = chunk;
      } else {
        const joined = new Uint8Array(this.available + chunk.length);
        joined.set(this.current.subarray(this.position), 0);
        joined.set(chunk, this.available);
        this.current = joined;
      }
      this.position = 0;
    }
  }

  /** Up to `n` bytes without consuming them (fewer only at the end of the stream). */
  async peek(n: number): Promise<Uint8Array> {
    if (this.available < n) await this.fill(n);
    return this.current.subarray(this.position, this.position + Math.min(n, this.available));
  }

  /** Exactly `n` bytes, or a truncation error naming `what`. The view stays valid. */
  async readExact(n: number, what: string): Promise<Uint8Array> {
    if (this.available < n) await this.fill(n);
    if (this.available < n) {
      throw badArchive(`truncated ${what}: needed ${n} bytes, the stream ends after ${this.available}`, {
        offset: this.offset + this.available,
        layer: this.layer,
      });
    }
    const view = this.current.subarray(this.position, this.position + n);
    this.position += n;
    this.offset += n;
    return view;
  }

  /** Copy the next `target.length` bytes into `target`, consumed, pulling chunks without joining
   *  them (a block of megabytes read through `peek`/`readExact` would be joined chunk by chunk:
   *  copies and garbage growing with its square). Returns how many were copied: fewer only at the
   *  end of the stream. */
  async readInto(target: Uint8Array): Promise<number> {
    let done = 0;
    while (done < target.length) {
      if (this.available === 0) await this.fill(1);
      if (this.available === 0) break;
      const n = Math.min(target.length - done, this.available);
      target.set(this.current.subarray(this.position, this.position + n), done);
      this.position += n;
      this.offset += n;
      done += n;
    }
    return done;
  }

  /** Exactly `n` bytes if they are already buffered (consumed), else undefined (nothing consumed). */
  tryReadBuffered(n: number): Uint8Array | undefined {
    if (this.available < n) return undefined;
    const view = this.current.subarray(this.position, this.position + n);
    this.position += n;
    this.offset += n;
    return view;
  }

  /** What is buffered now, not consumed and without reading more (possibly empty). Lets a
   *  parser that reads fixed-size records take a run of whole records as one view instead of
   *  asking for more than is buffered (which would join chunks, a copy). */
  buffered(): Uint8Array {
    return this.current.subarray(this.position);
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    if (this.available > 0) return false;
    await this.fill(1);
    return this.available === 0;
  }

  /** Yield exactly `n` bytes as views, without joining; throws if the stream is shorter. */
  async *take(n: number, what: string): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.available === 0) await this.fill(1);
      if (this.available === 0) {
        throw badArchive(`truncated ${what}: ${left} of ${n} bytes missing`, {
          offset: this.offset,
          layer: this.layer,
        });
      }
      const piece = Math.min(left, this.available);
      const view = this.current.subarray(this.position, this.position + piece);
      this.position += piece;
      this.offset += piece;
      left -= piece;
      yield view;
    }
  }

  /** A view of 1..n bytes (0 only at the end of the stream), consumed. For streaming bodies. */
  async readUpTo(n: number): Promise<Uint8Array> {
    if (this.available === 0) await this.fill(1);
    const piece = Math.min(n, this.available);
    const view = this.current.subarray(this.position, this.position + piece);
    this.position += piece;
    this.offset += piece;
    return view;
  }

  /** Discard exactly `n` bytes. */
  async skip(n: number, what: string): Promise<void> {
    if (this.skipBuffered(n)) return;
    for await (const _ of this.take(n, what)) {
      // draining is the point
    }
  }

  /** Discard `n` bytes if they are buffered (true), else nothing (false). With `tryReadBuffered`
   *  and `peekBuffered`, the synchronous fast paths a parser takes before awaiting: an `await`
   *  costs a microtask even when the data is there, and these run a few times per member. */
  skipBuffered(n: number): boolean {
    if (this.available < n) return false;
    this.position += n;
    this.offset += n;
    return true;
  }

  /** Up to `n` bytes without consuming, if `n` are buffered; else undefined. */
  peekBuffered(n: number): Uint8Array | undefined {
    return this.available >= n ? this.current.subarray(this.position, this.position + n) : undefined;
  }

  /** The rest of the stream, as views (used by wrappers such as flar that hand on a payload). */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.available === 0) await this.fill(1);
      if (this.available === 0) return;
      const view = this.current.subarray(this.position);
      this.offset += view.length;
      this.position = this.current.length;
      yield view;
    }
  }
}
