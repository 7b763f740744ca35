/**
 * The record layer of a dump: tp_bsize records off the byte stream, headers checked (magic and
 * checksum), data blocks handed out in runs, and volume changes taken care of.
 *
 * Volumes. A multi-volume dump given as several files in order (concatVolumes) is one stream
 * here. Every volume after the first starts with a TS_TAPE header of the same dump (same
 * c_date and c_ddate) whose c_volume counts up and whose c_tapea is the number of records before
 * it; the records after it simply go on where the previous volume stopped, possibly in the
 * middle of a file's data blocks. So a volume header can turn up where a data block is
 * expected: every block is screened (the magic at 24: four byte compares) and a block with the
 * magic is taken as a volume header only when it is a complete, checksummed TS_TAPE of this very
 * dump for a later volume. (A false match needs a data block that is byte for byte a later
 * volume header of this dump: a dump holding a later volume of itself.) A skipped or repeated
 * volume, a volume from another dump, and a volume cut short are errors that say so. Solaris
 * TS_EOM (end of an old floppy volume) skips to the next volume's header.
 *
 * Offsets in errors are offsets in the concatenated stream (the ByteReader's).
 */
import { badArchive, P2VError } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';
import { decodeHeader, hasMagic, recordSum, typeName, CHECKSUM, TS_EOM, TS_TAPE, type DumpHeader, type DumpMagic } from './header.js';

export class DumpRecords {
  /** records read so far in the dump's numbering (volume headers included), for c_tapea */
  private recordsRead = 0;
  volume = 1;
  private date = 0;
  private ddate = 0;
  private started = false;
  /** after a Solaris TS_EOM the record count is not comparable with the next volume's c_tapea */
  private afterEom = false;
  /** a volume header met where data was due that is not this dump's next volume: taken as data
   *  (a file system may hold dump files, even this very dump), but named if the stream then
   *  goes out of step */
  private suspect: string | undefined;

  constructor(
    private readonly reader: ByteReader,
    private readonly magic: DumpMagic,
    readonly tpBsize: number,
    readonly layer: string,
  ) {}

  get offset(): number {
    return this.reader.offset;
  }

  /** The first record: the volume header of volume 1. */
  async first(): Promise<DumpHeader> {
    const header = await this.header();
    if (header.type !== TS_TAPE) {
      throw badArchive(`the dump does not start with a volume header (TS_TAPE) but with ${typeName(header.type)}`, { layer: this.layer, offset: header.offset });
    }
    if (header.volume !== 1) {
      throw badArchive(`this is volume ${header.volume} of a dump: give volume 1 first, then every other volume in order`, { layer: this.layer, offset: header.offset });
    }
    this.date = header.date;
    this.ddate = header.ddate;
    this.started = true;
    return header;
  }

  /**
   * The next record without waiting, when it is buffered and is a good header of this dump that
   * needs nothing else done (not a volume header, not TS_EOM): the path of nearly every header,
   * one per inode. Otherwise undefined and nothing consumed: `header()` then takes it, with the
   * same checks and errors.
   */
  headerNow(): DumpHeader | undefined {
    const tp = this.tpBsize;
    const record = this.reader.peekBuffered(tp);
    if (record === undefined || !this.started || !hasMagic(record, 0, this.magic) || recordSum(record, this.magic.order) !== CHECKSUM) return undefined;
    const header = decodeHeader(record, this.magic.order, this.reader.offset);
    if (header.date !== this.date || header.ddate !== this.ddate || header.type === TS_TAPE || header.type === TS_EOM) return undefined;
    this.reader.skipBuffered(tp);
    this.recordsRead++;
    return header;
  }

  /** The next record, which must be a header; later volumes' TS_TAPE records are consumed here. */
  async header(): Promise<DumpHeader> {
    for (;;) {
      const offset = this.reader.offset;
      const record = await this.read('dump header');
      if (!hasMagic(record, 0, this.magic)) {
        throw badArchive(`expected a dump header (magic ${this.magic.magic}) and found a data block: the dump is corrupt, or a header's block count is wrong${this.hint()}`, { layer: this.layer, offset });
      }
      const sum = recordSum(record, this.magic.order);
      if (sum !== CHECKSUM) {
        throw badArchive(`dump header checksum mismatch (words sum to ${sum}, expected ${CHECKSUM}): corrupt header`, { layer: this.layer, offset });
      }
      const header = decodeHeader(record, this.magic.order, offset);
      if (this.started && (header.date !== this.date || header.ddate !== this.ddate)) {
        // every record of a dump carries its date: a volume of another dump was given
        throw badArchive(`a ${typeName(header.type)} record of another dump (dated ${header.date}; this dump ${this.date}): give the volumes of one dump, in order`, { layer: this.layer, offset });
      }
      if (this.started && header.type === TS_TAPE) {
        this.changeVolume(header);
        continue;
      }
      if (this.started && header.type === TS_EOM) {
        this.afterEom = true;
        await this.skipToNextVolume(header);
        continue;
      }
      return header;
    }
  }

  /**
   * A run of 1..maxBlocks data blocks as one view (whole records), skipping volume headers met
   * on the way. The view is valid until the next call (ByteReader views are never reused).
   */
  async data(maxBlocks: number): Promise<Uint8Array> {
    const tp = this.tpBsize;
    for (;;) {
      const head = await this.reader.peek(tp);
      if (head.length < tp) throw this.truncated('data block', head.length);
      const marker = hasMagic(head, 0, this.magic) ? this.volumeMarker(head) : undefined;
      if (marker) {
        const sameDump = marker.date === this.date && marker.ddate === this.ddate;
        if (sameDump && marker.type === TS_EOM) {
          // Solaris: this volume ends here, whatever the tape record holds after the mark
          await this.read('TS_EOM');
          this.afterEom = true;
          await this.skipToNextVolume(marker);
          continue;
        }
        if (sameDump && marker.volume > this.volume) {
          await this.read('volume header');
          this.changeVolume(marker);
          continue;
        }
        this.suspect ??= sameDump
          ? `the header of volume ${marker.volume} came again at byte ${marker.offset}: a volume given twice?`
          : `a volume header of another dump (dated ${marker.date}) at byte ${marker.offset}: volumes of different dumps mixed?`;
      }
      // take the buffered whole blocks, stopping before the next one that carries the magic
      const buffered = this.reader.buffered();
      const limit = Math.min(maxBlocks, Math.floor(buffered.length / tp));
      let blocks = 1;
      while (blocks < limit && !hasMagic(buffered, blocks * tp, this.magic)) blocks++;
      this.recordsRead += blocks;
      return this.reader.tryReadBuffered(blocks * tp)!;
    }
  }

  /** Exactly `blocks` data blocks if they are buffered and none could be a volume header;
   *  otherwise undefined and nothing consumed. (The `whole()` fast path.) */
  takeBuffered(blocks: number): Uint8Array | undefined {
    const tp = this.tpBsize;
    const buffered = this.reader.buffered();
    if (buffered.length < blocks * tp) return undefined;
    for (let i = 0; i < blocks; i++) if (hasMagic(buffered, i * tp, this.magic)) return undefined;
    this.recordsRead += blocks;
    return this.reader.tryReadBuffered(blocks * tp);
  }

  /** Discard `blocks` data blocks (volume headers on the way are still handled). */
  async skipData(blocks: number): Promise<void> {
    let left = blocks;
    while (left > 0) left -= (await this.data(left)).length / this.tpBsize;
  }

  /** Read everything after TS_END (padding, more TS_END records) so outer layers can check their
   *  own trailers; what it holds is not looked at. */
  async drain(): Promise<void> {
    for await (const _ of this.reader.rest()) {
      // padding
    }
  }

  private async read(what: string): Promise<Uint8Array> {
    const record = await this.reader.peek(this.tpBsize);
    if (record.length < this.tpBsize) throw this.truncated(what, record.length);
    this.recordsRead++;
    return this.reader.readExact(this.tpBsize, what);
  }

  private truncated(what: string, have: number): P2VError {
    const volumes = this.volume > 1 ? ` (volume ${this.volume})` : '';
    const message =
      have === 0
        ? `the dump ends${volumes} where a ${what} should follow, without a TS_END record: the image is truncated, or volume ${this.volume + 1} of a multi-volume dump is missing (give every volume, in order)${this.hint()}`
        : `truncated ${what}: ${have} of ${this.tpBsize} bytes${volumes}; the image is truncated${this.hint()}`;
    return badArchive(message, { layer: this.layer, offset: this.reader.offset + have });
  }

  /** The record as a header if it is a complete, checksummed TS_TAPE or TS_EOM (of any dump). */
  private volumeMarker(record: Uint8Array): DumpHeader | undefined {
    if (!this.started || record.length < this.tpBsize || recordSum(record.subarray(0, this.tpBsize), this.magic.order) !== CHECKSUM) return undefined;
    const header = decodeHeader(record.subarray(0, this.tpBsize), this.magic.order, this.reader.offset);
    return header.type === TS_TAPE || header.type === TS_EOM ? header : undefined;
  }

  /** A complete, checksummed TS_TAPE of this dump for a later volume? */
  private isNextVolume(record: Uint8Array): boolean {
    const header = this.volumeMarker(record);
    return header !== undefined && header.type === TS_TAPE && header.date === this.date && header.ddate === this.ddate && header.volume > this.volume;
  }

  /** Why the stream may be out of step, when we know. */
  hint(): string {
    return this.suspect ? ` (${this.suspect})` : '';
  }

  private changeVolume(header: DumpHeader): void {
    const at = { layer: this.layer, offset: header.offset };
    if (header.date !== this.date || header.ddate !== this.ddate) {
      throw badArchive(`volume ${header.volume} belongs to another dump (dated ${header.date}, this dump ${this.date}): give the volumes of one dump, in order`, at);
    }
    if (header.volume !== this.volume + 1) {
      const message =
        header.volume > this.volume + 1
          ? `volume ${header.volume} follows volume ${this.volume}: volume ${this.volume + 1} is missing (give every volume, in order)`
          : `volume ${header.volume} comes again after volume ${this.volume}: give every volume once, in order`;
      throw badArchive(message, at);
    }
    // records before this header, in the dump's numbering (this header already counted): dump
    // (Linux dumptape.c, Solaris dumptape.c) stamps a volume header with that count
    const before = this.recordsRead - 1;
    const checkCount = !this.afterEom;
    this.afterEom = false;
    this.recordsRead = header.tapea + 1;
    if (checkCount && header.tapea > before) {
      throw badArchive(`volume ${header.volume} starts at record ${header.tapea}, but volume ${this.volume} ended after record ${before - 1}: the end of volume ${this.volume} is missing (truncated volume file?)`, at);
    }
    if (checkCount && header.tapea < before) {
      throw new P2VError('P2V_UNSUPPORTED', `volume ${header.volume} starts at record ${header.tapea}, but ${before} records came before it (a tape end rewritten on the next volume?): not read`, at);
    }
    this.volume = header.volume;
  }

  private async skipToNextVolume(eom: DumpHeader): Promise<void> {
    for (;;) {
      const head = await this.reader.peek(this.tpBsize);
      if (head.length < this.tpBsize) {
        throw badArchive(`volume ${this.volume} ends (TS_EOM) and no volume ${this.volume + 1} follows: give every volume, in order`, { layer: this.layer, offset: eom.offset });
      }
      if (hasMagic(head, 0, this.magic) && this.isNextVolume(head)) return;
      await this.reader.skip(this.tpBsize, 'padding after TS_EOM');
    }
  }
}
