/**
 * Input bytes from a position on (a bzip2 block, a gzip member), refilled from a chunk iterator:
 * the decoders that must look ahead for boundaries (filters/bzip2, filters/gzip) keep what they
 * have not passed yet here, and forget it with `discard`.
 */
export class InputWindow {
  private buf: Uint8Array = new Uint8Array(0);
  private owned = false; // false while `buf` is the caller's chunk (never written to)
  private start = 0;
  private stop = 0;
  /** compressed offset of byte 0 of `bytes()` */
  offset = 0;
  ended = false;

  constructor(private readonly iterator: AsyncIterator<Uint8Array>) {}

  get length(): number {
    return this.stop - this.start;
  }

  /** The buffered bytes; valid until the next pull. */
  bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.stop);
  }

  /** Forget the first `n` buffered bytes. */
  discard(n: number): void {
    this.start += n;
    this.offset += n;
  }

  /** Append the next non-empty chunk; false when the input has ended. */
  async pull(): Promise<boolean> {
    while (!this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = next.value;
      if (chunk.length === 0) continue;
      this.append(chunk);
      return true;
    }
    return false;
  }

  /** Pull until `n` bytes are buffered; false if the input ends first. */
  async ensure(n: number): Promise<boolean> {
    while (this.length < n) if (!(await this.pull())) return false;
    return true;
  }

  private append(chunk: Uint8Array): void {
    const kept = this.length;
    if (kept === 0) {
      // Nothing to keep: borrow the chunk instead of copying it.
      this.buf = chunk;
      this.owned = false;
      this.start = 0;
      this.stop = chunk.length;
      return;
    }
    if (!this.owned || this.stop + chunk.length > this.buf.length) {
      const need = kept + chunk.length;
      if (this.owned && need <= this.buf.length >>> 1) {
        this.buf.copyWithin(0, this.start, this.stop); // room enough: slide the kept bytes down
      } else {
        const grown = new Uint8Array(Math.max(2 * need, 256 * 1024));
        grown.set(this.buf.subarray(this.start, this.stop));
        this.buf = grown;
        this.owned = true;
      }
      this.start = 0;
      this.stop = kept;
    }
    this.buf.set(chunk, this.stop);
    this.stop += chunk.length;
  }
}
