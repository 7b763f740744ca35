/**
 * cpio reader: every variant (bin both byte orders, odc, newc, crc, afio), one Entry stream.
 *
 * State machine, per member:
 *   HEADER  read the magic, pick the family (members may mix families: afio switches to
 *           070727 headers only where values overflow odc), decode the fixed header
 *   NAME    read namesize bytes (NUL included), then the family's padding
 *   BODY    hand the body to the consumer (or keep it, for small side entries), then padding
 *   → TRAILER!!! ends the archive; the rest of the stream is writer padding and is drained.
 *
 * Folded inside the reader, never seen by callers as paths:
 *   - Solaris ACL pseudo-entries (mode 0o160200) become `acls` of the next member;
 *   - Solaris `/dev/null/<attr>` extended attributes become an 'attrs' entry for their file;
 *   - hard links: newc/crc put the data on the LAST member of a (dev, ino) group, so earlier
 *     members are held back (names only) and emitted as links after the data member; odc/bin/afio
 *     carry the data on every member, so later members become links and their copy is skipped.
 */
import type { Entry, EntryType } from '../../entry.js';
import { typeFromMode } from '../../entry.js';
import { badArchive, P2VError } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';
import type { Format, FormatContext } from '../format.js';
import { cpioBid } from '../sniff.js';
import { alignment, decodeHeader, headerSizes, sniffVariant, type CpioVariant, type RawCpioHeader } from './headers.js';
import { parseSolarisAcl, parseSolarisXattrHeader, SOLARIS_ACL_MODE, SOLARIS_XATTR_TYPE, XATTR_PREFIX, type SolarisXattrHeader } from './solaris.js';
import { HardLinkTracker } from './links.js';

const TRAILER = 'TRAILER!!!';

export const cpioFormat: Format = {
  name: 'cpio',
  bid: cpioBid,
  label(head) {
    return `cpio(${sniffVariant(head) ?? 'unknown'})`;
  },
  entries(reader, context) {
    return readCpio(reader, context);
  },
};

function padTo(offset: number, align: number): number {
  return align === 1 ? 0 : (align - (offset % align)) % align;
}

async function* readCpio(reader: ByteReader, context: FormatContext): AsyncGenerator<Entry> {
  const links = new HardLinkTracker();
  let pendingAcls: { name: string; acls: Entry['acls'] } | undefined;
  let pendingXattr: SolarisXattrHeader | undefined;
  const layer = reader.layer;

  for (;;) {
    const headerOffset = reader.offset;
    const magic = reader.peekBuffered(6) ?? (await reader.peek(6));
    if (magic.length === 0) {
      throw badArchive('archive ends without a TRAILER!!! member (truncated?)', { layer, offset: headerOffset });
    }
    const variant = sniffVariant(magic);
    if (!variant) {
      throw badArchive(`not a cpio header (bad magic ${hexBytes(magic)})`, { layer, offset: headerOffset });
    }
    const headerSize = headerSizes[variant];
    const header = decodeHeader(variant, reader.tryReadBuffered(headerSize) ?? (await reader.readExact(headerSize, `cpio(${variant}) header`)), headerOffset);
    const align = alignment(variant);
    const at = { layer: `cpio(${variant})`, offset: headerOffset };

    if (header.nameSize === 0 || header.nameSize > context.limits.maxPathBytes) {
      throw new P2VError(header.nameSize === 0 ? 'P2V_BAD_ARCHIVE' : 'P2V_LIMIT', `name size ${header.nameSize} is out of range (limit ${context.limits.maxPathBytes})`, at);
    }
    const rawName = reader.tryReadBuffered(header.nameSize) ?? (await reader.readExact(header.nameSize, 'cpio member name'));
    const nul = rawName.indexOf(0);
    const name = Buffer.from(rawName.buffer, rawName.byteOffset, nul >= 0 ? nul : rawName.length).toString('latin1'); // a view: no copy per member
    const namePad = header.extraSize + padTo(header.headerSize + header.nameSize + header.extraSize, align);
    if (!reader.skipBuffered(namePad)) await reader.skip(namePad, 'cpio name padding');
    const dataPad = padTo(header.fileSize, align);

    if (name === TRAILER) {
      await drain(reader);
      for (const entry of links.finish()) yield entry;
      return;
    }

    // Solaris ACL pseudo-entry: metadata of the next member with the same name
    if (header.mode === SOLARIS_ACL_MODE) {
      const blob = await readSmallBody(reader, header, context, at, name);
      pendingAcls = { name, acls: parseSolarisAcl(blob) };
      await reader.skip(dataPad, 'cpio data padding');
      continue;
    }
    // Solaris extended attribute: a header entry then a value entry, both under /dev/null/
    if ((header.mode & 0o170000) === SOLARIS_XATTR_TYPE || name.startsWith(XATTR_PREFIX)) {
      const blob = await readSmallBody(reader, header, context, at, name);
      await reader.skip(dataPad, 'cpio data padding');
      if (name.endsWith('.hdr')) {
        pendingXattr = parseSolarisXattrHeader(blob);
        if (!pendingXattr) context.warn({ code: 'P2V_ENTRY_INVALID', message: 'unknown Solaris extended-attribute header version: attribute ignored', entry: name });
      } else if (pendingXattr) {
        const xattr = pendingXattr;
        pendingXattr = undefined;
        if (xattr.name !== '.' && xattr.typeflag === '0') {
          yield { ...metaEntry(xattr.parent, headerOffset), xattrs: new Map([[xattr.name, Uint8Array.from(blob)]]) };
        }
      }
      continue;
    }

    const type = typeFromMode(header.mode);
    if (!type) {
      context.warn({ code: 'P2V_ENTRY_INVALID', message: `unknown file type 0o${(header.mode & 0o170000).toString(8)}: member skipped`, entry: name });
      await reader.skip(header.fileSize + dataPad, 'cpio member data');
      continue;
    }

    const entry: Entry = {
      path: name,
      type,
      mode: header.mode & 0o7777,
      uid: header.uid,
      gid: header.gid,
      mtimeNs: BigInt(header.mtime) * 1_000_000_000n,
      size: 0,
      offset: headerOffset,
    };
    if (pendingAcls && pendingAcls.name === name) entry.acls = pendingAcls.acls;
    pendingAcls = undefined;

    if (type === 'symlink') {
      if (header.fileSize > context.limits.maxLinkTargetBytes) {
        throw new P2VError('P2V_LIMIT', `symlink target of ${header.fileSize} bytes exceeds the limit (${context.limits.maxLinkTargetBytes})`, { ...at, entry: name });
      }
      entry.linkTarget = Buffer.from(await reader.readExact(header.fileSize, 'symlink target')).toString('latin1');
      await reader.skip(dataPad, 'cpio data padding');
      yield entry;
      continue;
    }
    if (type === 'char' || type === 'block') {
      entry.devMajor = header.rdevMajor;
      entry.devMinor = header.rdevMinor;
    }

    if (type === 'file' && header.nlink > 1) {
      const decision = links.member(header, entry, variant);
      if (decision.kind === 'hold') {
        await reader.skip(header.fileSize + dataPad, 'cpio member data');
        continue;
      }
      if (decision.kind === 'link') {
        await reader.skip(header.fileSize + dataPad, 'cpio member data');
        yield decision.entry;
        continue;
      }
    }

    if (type === 'file' && header.fileSize > 0) {
      entry.size = header.fileSize;
      entry.body = bodyOf(reader, header, context, name);
      yield entry;
      // the consumer may have stopped early: the cursor skips whatever it left
      const body = entry.body as CpioBody;
      if (!body.done) await body.finish();
    } else {
      if (header.fileSize > 0) await reader.skip(header.fileSize, 'cpio member data');
      yield entry;
    }
    if (!reader.skipBuffered(dataPad)) await reader.skip(dataPad, 'cpio data padding');
    if (type === 'file' && header.nlink > 1) for (const held of links.released(header)) yield held;
  }
}

function metaEntry(path: string, offset: number): Entry {
  return { path, type: 'attrs', mode: 0, uid: 0, gid: 0, mtimeNs: 0n, size: 0, offset };
}

async function readSmallBody(reader: ByteReader, header: RawCpioHeader, context: FormatContext, at: { layer: string; offset: number }, name: string): Promise<Uint8Array> {
  if (header.fileSize > context.limits.maxMetaRecordBytes) {
    throw new P2VError('P2V_LIMIT', `Solaris side entry of ${header.fileSize} bytes exceeds the metadata limit (${context.limits.maxMetaRecordBytes})`, { ...at, entry: name });
  }
  return reader.readExact(header.fileSize, 'cpio side entry');
}

/** Streams a member's data; for crc archives sums the bytes and checks the stored sum. */
class CpioBody {
  private remaining: number;
  private unsignedSum = 0;
  private signedSum = 0;

  constructor(
    private readonly reader: ByteReader,
    private readonly header: RawCpioHeader,
    private readonly context: FormatContext,
    private readonly name: string,
  ) {
    this.remaining = header.fileSize;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    while (this.remaining > 0) {
      const piece = await this.reader.readUpTo(this.remaining);
      if (piece.length === 0) {
        throw badArchive(`truncated member data: ${this.remaining} of ${this.header.fileSize} bytes missing`, {
          layer: this.reader.layer,
          offset: this.reader.offset,
          entry: this.name,
        });
      }
      this.remaining -= piece.length;
      if (this.header.variant === 'crc') this.sum(piece);
      yield piece;
    }
    if (this.header.variant === 'crc') this.verify();
  }

  whole(): Uint8Array | undefined {
    if (this.remaining !== this.header.fileSize) return undefined;
    const body = this.reader.tryReadBuffered(this.remaining);
    if (!body) return undefined;
    this.remaining = 0;
    if (this.header.variant === 'crc') {
      this.sum(body);
      this.verify();
    }
    return body;
  }

  get done(): boolean {
    return this.remaining === 0;
  }

  async finish(): Promise<void> {
    if (this.remaining === 0) return;
    for await (const _ of this.chunks()) {
      // skipping what the consumer left
    }
  }

  private sum(piece: Uint8Array): void {
    let unsigned = 0;
    let high = 0; // bytes >= 0x80, which Solaris' signed-char sum counts 256 lower
    for (let i = 0; i < piece.length; i++) {
      const b = piece[i]!;
      unsigned += b;
      if (b >= 0x80) high++;
    }
    this.unsignedSum = (this.unsignedSum + unsigned) % 2 ** 32;
    this.signedSum = (((this.signedSum + unsigned - high * 256) % 2 ** 32) + 2 ** 32) % 2 ** 32;
  }

  private verify(): void {
    const stored = this.header.check;
    if (stored !== this.unsignedSum && stored !== this.signedSum) {
      this.context.warn({
        code: 'P2V_BAD_CHECKSUM',
        message: `crc checksum mismatch: stored ${stored}, data sums to ${this.unsignedSum} (unsigned) / ${this.signedSum} (Solaris signed)`,
        entry: this.name,
      });
    }
  }
}

function bodyOf(reader: ByteReader, header: RawCpioHeader, context: FormatContext, name: string): CpioBody {
  return new CpioBody(reader, header, context, name);
}

async function drain(reader: ByteReader): Promise<void> {
  for await (const _ of reader.rest()) {
    // trailing block padding; reading it lets compressed layers verify their checksums
  }
}

function hexBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export type { CpioVariant, EntryType };
