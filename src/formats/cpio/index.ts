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
import { checkSparseMap, SparseBody } from '../common/sparse-body.js';
import { isSolarisSparse, readSolarisHolesMap } from './sparse.js';
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

/** The state a member may leave for the ones after it. */
interface CpioState {
  links: HardLinkTracker;
  /** a Solaris ACL pseudo-entry, for the next member if it has this name */
  pendingAcls: { name: string; acls: Entry['acls'] } | undefined;
  pendingXattr: SolarisXattrHeader | undefined;
}

/** A member's header and name, read up to its data. */
interface MemberHead {
  header: RawCpioHeader;
  variant: CpioVariant;
  name: string;
  /** where its header starts */
  offset: number;
}

/**
 * The hot loop: directories and plain files (no hard links) are handled here, every other member
 * (the trailer, Solaris side entries, symlinks, devices, FIFOs, hard links, unknown types, a
 * member after an ACL) by `rareMember`, and the reads that must wait for input (a header, name or
 * padding cut by a chunk boundary, a body the consumer left) by `readHeadSlowly`. Why one call
 * site each: a call the optimizing compiler has never seen run (no type feedback) throws its
 * code away when first reached, and this generator took ~70 ms of compile time each of the three
 * times it was optimized on the 256 MiB corpus (first name cut by a chunk boundary, first hard
 * link) - about a tenth of the process' CPU.
 */
async function* readCpio(reader: ByteReader, context: FormatContext): AsyncGenerator<Entry> {
  const state: CpioState = { links: new HardLinkTracker(context.limits.maxLinkTrackerBytes, (warning) => context.warn(warning)), pendingAcls: undefined, pendingXattr: undefined };
  let body: CpioBody | undefined; // the previous member's, maybe left unread by the consumer
  let pad = 0; // the previous member's data padding, skipped with the next header
  for (;;) {
    const next = nextHead(reader, context, body, pad);
    const head = next instanceof Promise ? await next : next;
    body = undefined;
    pad = 0;
    const header = head.header;
    const type = typeFromMode(header.mode);
    const plain = (type === 'file' ? header.nlink <= 1 && !isSolarisSparse(header.mode) : type === 'dir' && header.fileSize === 0) && state.pendingAcls === undefined && !isSideEntry(head);
    if (!plain) {
      if (yield* rareMember(reader, context, state, head, type)) return;
      continue;
    }
    const entry = memberEntry(head, type!);
    if (header.fileSize > 0) {
      entry.size = header.fileSize;
      entry.body = body = new CpioBody(reader, header, context, head.name);
    }
    pad = padTo(header.fileSize, alignment(head.variant));
    yield entry;
  }
}

/** The entry a member describes, before its body, link target or device numbers. */
function memberEntry(head: MemberHead, type: EntryType): Entry {
  const header = head.header;
  return {
    path: head.name,
    type,
    mode: header.mode & 0o7777,
    uid: header.uid,
    gid: header.gid,
    mtimeNs: BigInt(header.mtime) * 1_000_000_000n,
    size: 0,
    offset: head.offset,
  };
}

/** Not a path: the trailer, or a Solaris ACL or extended-attribute entry. */
function isSideEntry(head: MemberHead): boolean {
  const mode = head.header.mode;
  return head.name === TRAILER || mode === SOLARIS_ACL_MODE || (mode & 0o170000) === SOLARIS_XATTR_TYPE || head.name.startsWith(XATTR_PREFIX);
}

/**
 * The next member's head, after the previous member's data and padding: synchronously when that
 * body was consumed and the padding, header, name and name padding are all buffered (almost
 * always), else a promise from `readHeadSlowly`, which gives the same result or error.
 */
function nextHead(reader: ByteReader, context: FormatContext, body: CpioBody | undefined, pad: number): MemberHead | Promise<MemberHead> {
  // a body the consumer left whole (a member a re-run passed over): skipped here when buffered
  if (body !== undefined && !body.done) body.whole();
  if (body === undefined || body.done) {
    const magic = reader.peekBuffered(pad + 6);
    const variant = magic === undefined ? undefined : sniffVariant(magic.subarray(pad));
    if (variant !== undefined) {
      const offset = reader.offset + pad;
      const size = pad + headerSizes[variant];
      const bytes = reader.peekBuffered(size);
      if (bytes !== undefined) {
        const header = decodeHeader(variant, bytes.subarray(pad), offset);
        checkNameSize(header, context, variant, offset);
        const nameEnd = size + header.nameSize;
        const all = reader.peekBuffered(nameEnd + namePadding(header, variant));
        if (all !== undefined) {
          reader.skipBuffered(all.length);
          return { header, variant, name: nameOf(all.subarray(size, nameEnd)), offset };
        }
      }
    }
  }
  return readHeadSlowly(reader, context, body, pad);
}

async function readHeadSlowly(reader: ByteReader, context: FormatContext, body: CpioBody | undefined, pad: number): Promise<MemberHead> {
  // the consumer may have stopped early: the cursor skips whatever it left
  if (body !== undefined && !body.done) await body.finish();
  await reader.skip(pad, 'cpio data padding');
  const offset = reader.offset;
  const magic = await reader.peek(6);
  if (magic.length === 0) {
    throw badArchive('archive ends without a TRAILER!!! member (truncated?)', { layer: reader.layer, offset });
  }
  const variant = sniffVariant(magic);
  if (!variant) {
    throw badArchive(`not a cpio header (bad magic ${hexBytes(magic)})`, { layer: reader.layer, offset });
  }
  const header = decodeHeader(variant, await reader.readExact(headerSizes[variant], `cpio(${variant}) header`), offset);
  checkNameSize(header, context, variant, offset);
  const name = nameOf(await reader.readExact(header.nameSize, 'cpio member name'));
  await reader.skip(namePadding(header, variant), 'cpio name padding');
  return { header, variant, name, offset };
}

function checkNameSize(header: RawCpioHeader, context: FormatContext, variant: CpioVariant, offset: number): void {
  if (header.nameSize === 0 || header.nameSize > context.limits.maxPathBytes) {
    throw new P2VError(header.nameSize === 0 ? 'P2V_BAD_ARCHIVE' : 'P2V_LIMIT', `name size ${header.nameSize} is out of range (limit ${context.limits.maxPathBytes})`, {
      layer: `cpio(${variant})`,
      offset,
    });
  }
}

/** Name bytes up to the first NUL, as latin1 (one byte per char: any byte sequence survives). */
function nameOf(raw: Uint8Array): string {
  const nul = raw.indexOf(0);
  return Buffer.from(raw.buffer, raw.byteOffset, nul >= 0 ? nul : raw.length).toString('latin1'); // a view: no copy per member
}

/** Bytes between the name and the data: the header's extra bytes (afio), then alignment. */
function namePadding(header: RawCpioHeader, variant: CpioVariant): number {
  return header.extraSize + padTo(header.headerSize + header.nameSize + header.extraSize, alignment(variant));
}

/**
 * Every member the hot loop leaves here, read whole (data and padding included). Returns true
 * at the trailer.
 */
async function* rareMember(
  reader: ByteReader,
  context: FormatContext,
  state: CpioState,
  head: MemberHead,
  type: EntryType | undefined,
): AsyncGenerator<Entry, boolean> {
  const { header, name, variant } = head;
  const headerOffset = head.offset;
  const at = { layer: `cpio(${variant})`, offset: headerOffset };
  const dataPad = padTo(header.fileSize, alignment(variant));

  if (name === TRAILER) {
    await drain(reader);
    for (const entry of state.links.finish()) yield entry;
    return true;
  }

  // Solaris ACL pseudo-entry: metadata of the next member with the same name
  if (header.mode === SOLARIS_ACL_MODE) {
    const blob = await readSmallBody(reader, header, context, at, name);
    state.pendingAcls = { name, acls: parseSolarisAcl(blob) };
    await reader.skip(dataPad, 'cpio data padding');
    return false;
  }
  // Solaris extended attribute: a header entry then a value entry, both under /dev/null/
  if ((header.mode & 0o170000) === SOLARIS_XATTR_TYPE || name.startsWith(XATTR_PREFIX)) {
    const blob = await readSmallBody(reader, header, context, at, name);
    await reader.skip(dataPad, 'cpio data padding');
    // header and value alternate (Solaris cpio reads them so): after a header, the entry named
    // for its attribute is the value, even when that name ends in .hdr itself
    const pending = state.pendingXattr;
    const isValue = pending !== undefined && name === `${XATTR_PREFIX}${pending.ofAttribute ?? pending.name}`;
    if (!isValue && name.endsWith('.hdr')) {
      state.pendingXattr = parseSolarisXattrHeader(blob);
      if (!state.pendingXattr) context.warn({ code: 'P2V_ENTRY_INVALID', message: 'unknown Solaris extended-attribute header version: attribute ignored', entry: name });
    } else if (pending) {
      const xattr = pending;
      state.pendingXattr = undefined;
      // (an attribute's own system attribute has no place on a Linux file: left out)
      if (xattr.name !== '.' && xattr.typeflag === '0' && xattr.ofAttribute === undefined) {
        yield { ...metaEntry(xattr.parent, headerOffset), xattrs: new Map([[xattr.name, Uint8Array.from(blob)]]) };
      }
    }
    return false;
  }

  if (!type) {
    context.warn({ code: 'P2V_ENTRY_INVALID', message: `unknown file type 0o${(header.mode & 0o170000).toString(8)}: member skipped`, entry: name });
    await reader.skip(header.fileSize + dataPad, 'cpio member data');
    return false;
  }

  const entry = memberEntry(head, type);
  if (state.pendingAcls && state.pendingAcls.name === name) entry.acls = state.pendingAcls.acls;
  state.pendingAcls = undefined;

  if (type === 'symlink') {
    if (header.fileSize > context.limits.maxLinkTargetBytes) {
      throw new P2VError('P2V_LIMIT', `symlink target of ${header.fileSize} bytes exceeds the limit (${context.limits.maxLinkTargetBytes})`, { ...at, entry: name });
    }
    entry.linkTarget = Buffer.from(await reader.readExact(header.fileSize, 'symlink target')).toString('latin1');
    await reader.skip(dataPad, 'cpio data padding');
    yield entry;
    return false;
  }
  if (type === 'char' || type === 'block') {
    entry.devMajor = header.rdevMajor;
    entry.devMinor = header.rdevMinor;
  }

  if (type === 'file' && header.nlink > 1) {
    const decision = state.links.member(header, entry, variant);
    if (decision.kind === 'hold') {
      await reader.skip(header.fileSize + dataPad, 'cpio member data');
      return false;
    }
    if (decision.kind === 'link') {
      if (header.fileSize === 0) {
        await reader.skip(dataPad, 'cpio data padding');
        yield decision.entry;
        return false;
      }
      // odc/bin/afio: this name carries the data too; the writer needs it only when the first
      // name could not be placed (a refused name), and the cursor skips it otherwise
      const { body, size } = await fileBody(reader, header, context, name);
      decision.entry.body = body;
      decision.entry.linkDataSize = size;
      yield decision.entry;
      await body.finish();
      if (!reader.skipBuffered(dataPad)) await reader.skip(dataPad, 'cpio data padding');
      return false;
    }
  }

  if (type === 'file' && header.fileSize > 0) {
    const { body, size } = await fileBody(reader, header, context, name);
    entry.size = size;
    entry.body = body;
    yield entry;
    // the consumer may have stopped early: the cursor skips whatever it left
    await body.finish();
  } else {
    if (header.fileSize > 0) await reader.skip(header.fileSize, 'cpio member data');
    yield entry;
  }
  if (!reader.skipBuffered(dataPad)) await reader.skip(dataPad, 'cpio data padding');
  if (type === 'file' && header.nlink > 1) for (const held of state.links.released(header)) yield held;
  return false;
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

/** A file member's body and its logical size: the data as stored, or (a Solaris sparse member)
 *  the file its holes map and data regions make. */
async function fileBody(reader: ByteReader, header: RawCpioHeader, context: FormatContext, name: string): Promise<{ body: CpioBody | SparseBody; size: number }> {
  if (!isSolarisSparse(header.mode)) return { body: new CpioBody(reader, header, context, name), size: header.fileSize };
  const { map, mapBytes } = await readSolarisHolesMap(reader, header.fileSize, context.limits.maxMetaRecordBytes, name);
  const stored = header.fileSize - mapBytes;
  checkSparseMap(map, stored, { layer: reader.layer, offset: reader.offset, entry: name }, 'Solaris sparse member');
  return { body: new SparseBody(reader, map, stored, name), size: map.realSize };
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

async function drain(reader: ByteReader): Promise<void> {
  for await (const _ of reader.rest()) {
    // trailing block padding; reading it lets compressed layers verify their checksums
  }
}

function hexBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export type { CpioVariant, EntryType };
