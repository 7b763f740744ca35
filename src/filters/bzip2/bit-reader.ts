/**
 * An MSB-first bit reader over one byte array, as bzip2 packs its bits.
 *
 * It never throws: past `end` it reads zero bits and says so (`overran`), because the block decoder
 * must tell "the block needs bytes we do not have yet" (the streaming driver then waits for more
 * input) from "the block is corrupt". The Huffman loop in block-decoder.ts copies `pos`, `bits`
 * and `count` into locals and writes them back: the same state, kept in registers there.
 */
export class BitReader {
  /** index of the next byte to load into `bits` */
  pos: number;
  /** the low `count` bits are unread input, most significant first; higher bits are stale */
  bits = 0;
  /** how many bits of `bits` are unread (0..32) */
  count = 0;

  constructor(
    readonly data: Uint8Array,
    /** bit offset of the first bit to read */
    startBit: number,
    /** bytes at and after this index are not input yet: they read as zero */
    readonly end: number = data.length,
  ) {
    this.pos = startBit >>> 3;
    const skip = startBit & 7;
    if (skip !== 0) this.read(skip);
  }

  /** Offset, in bits from the start of `data`, of the next unread bit. */
  get bitOffset(): number {
    return this.pos * 8 - this.count;
  }

  /** True once a bit at or after `end` was consumed (and read as zero). */
  get overran(): boolean {
    return this.bitOffset > this.end * 8;
  }

  /** True when `n` more bits would run past `end`. */
  lacks(n: number): boolean {
    return this.bitOffset + n > this.end * 8;
  }

  /** Read `n` bits (1..24) as an unsigned number. */
  read(n: number): number {
    while (this.count < n) {
      this.bits = (this.bits << 8) | (this.pos < this.end ? this.data[this.pos]! : 0);
      this.pos++;
      this.count += 8;
    }
    this.count -= n;
    return (this.bits >>> this.count) & ((1 << n) - 1);
  }

  /** Read one bit. */
  bit(): number {
    return this.read(1);
  }

  /** Read 32 bits as an unsigned number. */
  read32(): number {
    return ((this.read(16) << 16) | this.read(16)) >>> 0;
  }
}
