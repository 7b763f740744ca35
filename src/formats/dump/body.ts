/**
 * The data of one dumped inode, streamed: the c_addr entries of its TS_INODE header and of the
 * TS_ADDR headers that continue it, one tp_bsize block per entry.
 *
 * An entry that is not zero has a data block in the stream; a zero entry is a hole (nothing in
 * the stream, tp_bsize zero bytes in the file). The logical size is di_size: the last block is
 * cut to it, and entries a header lists beyond it (dump writes whole file-system fragments) are
 * read and dropped, as restore does. A header's entries run out before the size does → the next
 * record must be a TS_ADDR for the same inode; anything else means the dump is damaged.
 *
 * `pieces()` gives data as views and holes as byte counts (EntryBody.pieces), `chunks()` the
 * same with holes as zeros (views of one shared zero buffer: consumers never write into pieces).
 * All progress lives in the object, not in a generator, so `finish()` can skip whatever a
 * consumer left, from wherever it stopped.
 */
import type { EntryBody } from '../../entry.js';
import { badArchive, P2VError } from '../../errors.js';
import { addrPresent, TP_NINDIR, TS_ADDR, typeName, type DumpHeader } from './header.js';
import type { DumpRecords } from './records.js';

const zeros = new Uint8Array(256 * 1024);
/** the largest data run taken as one view (the reader buffers at least a source chunk anyway) */
const maxRunBlocks = 256;

export class InodeData implements EntryBody {
  private header: DumpHeader;
  /** next c_addr entry of `header` */
  private index = 0;
  /** entries (data and, for UFS2, extended-attribute blocks) still to come */
  private entriesLeft: number;
  /** bytes of the logical file not yet produced */
  private dataLeft: number;

  constructor(
    private readonly records: DumpRecords,
    header: DumpHeader,
    readonly size: number,
    /** UFS2: blocks of extended-attribute data following the file data (read, dropped) */
    extBlocks: number,
    /** the inode, for messages */
    private readonly ino: number,
  ) {
    checkCount(header, records.layer);
    this.header = header;
    this.dataLeft = size;
    this.entriesLeft = Math.ceil(size / records.tpBsize) + extBlocks;
  }

  /** True once every entry, and the rest of the last header, is consumed. */
  get done(): boolean {
    return this.entriesLeft === 0 && this.index >= this.header.count;
  }

  async *pieces(): AsyncGenerator<Uint8Array | number> {
    const tp = this.records.tpBsize;
    while (this.entriesLeft > 0) {
      if (this.index >= this.header.count) {
        await this.continuation();
        continue;
      }
      const present = addrPresent(this.header, this.index);
      let run = 1;
      const limit = Math.min(this.header.count - this.index, this.entriesLeft, present ? maxRunBlocks : Infinity);
      while (run < limit && addrPresent(this.header, this.index + run) === present) run++;
      if (present) {
        const view = await this.records.data(run);
        const blocks = view.length / tp;
        this.index += blocks;
        this.entriesLeft -= blocks;
        const bytes = Math.min(view.length, this.dataLeft);
        this.dataLeft -= bytes;
        if (bytes > 0) yield bytes === view.length ? view : view.subarray(0, bytes);
      } else {
        this.index += run;
        this.entriesLeft -= run;
        const bytes = Math.min(run * tp, this.dataLeft);
        this.dataLeft -= bytes;
        if (bytes > 0) yield bytes;
      }
    }
    await this.skipRestOfHeader();
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    for await (const piece of this.pieces()) {
      if (typeof piece !== 'number') {
        yield piece;
        continue;
      }
      for (let left = piece; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
    }
  }

  /** The whole body when it sits in the buffer as one run of data blocks (the common small file). */
  whole(): Uint8Array | undefined {
    if (this.index !== 0 || this.dataLeft !== this.size || this.entriesLeft > this.header.count) return undefined;
    for (let i = 0; i < this.header.count; i++) if (!addrPresent(this.header, i)) return undefined;
    const view = this.records.takeBuffered(this.header.count);
    if (!view) return undefined;
    this.index = this.header.count;
    this.entriesLeft = 0;
    this.dataLeft = 0;
    return view.subarray(0, this.size);
  }

  /** The header lists no blocks although the size is not 0: the content lives in the dinode
   *  (a short symlink's target in the block pointers). Nothing is read. */
  markNoData(): void {
    this.entriesLeft = 0;
    this.dataLeft = 0;
    this.index = this.header.count;
  }

  /** Skip what the consumer did not read. */
  async finish(): Promise<void> {
    if (this.done) return;
    for await (const _ of this.pieces()) {
      // the data runs are views; skipping them costs no copy
    }
  }

  /** The whole body in memory (symlink targets, attributes, ACL shadows), holes as zeros. */
  async readAll(limit: number, what: string): Promise<Uint8Array> {
    if (this.size > limit) {
      throw new P2VError('P2V_LIMIT', `inode ${this.ino}: ${what} of ${this.size} bytes exceeds the limit (${limit})`, { layer: this.records.layer, offset: this.header.offset });
    }
    const out = new Uint8Array(this.size);
    let at = 0;
    for await (const piece of this.pieces()) {
      if (typeof piece === 'number') at += piece;
      else {
        out.set(piece, at);
        at += piece.length;
      }
    }
    return out;
  }

  private async continuation(): Promise<void> {
    const next = await this.records.header();
    if (next.type !== TS_ADDR || next.inumber !== this.ino) {
      const produced = this.size - this.dataLeft;
      const what = next.type === TS_ADDR ? `a TS_ADDR for inode ${next.inumber}` : `${typeName(next.type)}${next.inumber ? ` (inode ${next.inumber})` : ''}`;
      throw badArchive(`inode ${this.ino}: its data stops after ${produced} of ${this.size} bytes; the next record is ${what}, not the TS_ADDR that continues it (corrupt or truncated dump)`, {
        layer: this.records.layer,
        offset: next.offset,
      });
    }
    checkCount(next, this.records.layer);
    this.header = next;
    this.index = 0;
  }

  private async skipRestOfHeader(): Promise<void> {
    let blocks = 0;
    for (let i = this.index; i < this.header.count; i++) if (addrPresent(this.header, i)) blocks++;
    this.index = this.header.count;
    if (blocks > 0) await this.records.skipData(blocks);
  }
}

function checkCount(header: DumpHeader, layer: string): void {
  if (header.count < 0 || header.count > TP_NINDIR) {
    throw badArchive(`${typeName(header.type)} for inode ${header.inumber} lists ${header.count} blocks (at most ${TP_NINDIR}): corrupt header`, { layer, offset: header.offset });
  }
}
