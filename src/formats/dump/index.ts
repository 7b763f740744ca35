/**
 * dump / ufsdump reader: Solaris ufsdump (both byte orders, MTB record sizes), Linux dump,
 * 4.4BSD and FreeBSD UFS2 dumps, one Entry stream.
 *
 * State machine (a dump is ordered by its writer; formats.md 6.1):
 *   TAPE    the first record is TS_TAPE, volume 1: byte order, family, record size, level
 *   MAPS    TS_CLRI (inodes in use) and TS_BITS (inodes in this dump), each c_count map blocks
 *           continued by TS_ADDR headers; kept as bitmaps
 *   DIRS    every directory (and Solaris attribute directory), ascending inode order: its
 *           metadata is kept and its entries go into the name tree (tree.ts); Linux EA records
 *           and Solaris ACL shadows of a directory attach to it. Ends at the first other inode.
 *   NAMES   the tree is walked from inode 2: directories are emitted parents first, every other
 *           inode gets its names; a name whose inode this dump cannot fill is checked against
 *           the maps (corrupt at level 0 when the file system did not even use it)
 *   FILES   every other inode, ascending: emitted under its first name (the body streams from
 *           the records, holes as EntryBody.pieces), then a 'hardlink' for each other name;
 *           records that follow an inode and belong to it (Linux EA, Solaris trailing shadow)
 *           become an 'attrs' entry for it
 *   END     the first TS_END: every inode the names promised must have come; the rest of the
 *           stream (Linux pads with more TS_END records) is drained
 * Volume headers of later volumes may appear anywhere and are consumed by records.ts.
 *
 * Folded inside the reader, never seen by callers as paths: Solaris ACL shadow inodes (embedded
 * DR_HASMETA data or a trailing IFSHAD record) become `acls`; Solaris extended-attribute
 * directories and their files become `xattrs` of the owning file; Linux dump EA records become
 * `xattrs`/`acls`. Attributes that arrive after their file was emitted come as 'attrs' entries.
 *
 * Held in memory: the two bitmaps, the directory metadata and names (limits.maxDumpTreeBytes),
 * Solaris attribute values waiting for a file with a higher inode number. Never file data.
 *
 * Incremental dumps (level >= 1) hold the inodes that changed and every directory on the way to
 * them, each with its complete list of names. The reader emits the changed inodes as usual, and
 * every name that leads to an inode the dump does not carry (unchanged since the previous
 * level) as an 'unchanged' entry with its inode number (emitted after the directories); a
 * metadata-only record (Linux: only owner, mode or times changed) becomes 'unchanged' entries
 * with `newMetadata`. Every entry carries its `inode`. Once the maps are read, the dump's level,
 * dates and maps go to `context.dumpLevel`: extract() applies the dump to the tree of the
 * previous level there (src/extract/incremental.ts: moves, links and removals, as restore -r);
 * without that hook (list, inspect) a P2V_INCREMENTAL warning says the dump is read as it is.
 */
import type { AclRecord, Entry } from '../../entry.js';
import { displayPath, typeFromMode } from '../../entry.js';
import { badArchive, P2VError } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';
import type { Limits } from '../../limits.js';
import type { Format, FormatContext } from '../format.js';
import { InodeData } from './body.js';
import { BLOCK_AREA_BYTES, decodeInode, isDirectoryMode, layoutOf, S_IFATTRDIR, S_IFMT, S_IFREG, S_IFSHAD, type DumpInode, type InodeLayout } from './dinode.js';
import { parseDirectoryPiece, type DirentFormat } from './dirent.js';
import {
  checkSupported,
  decodeHeader,
  DR_EXTATTRIBUTES,
  DR_HASMETA,
  DR_METAONLY,
  embeddedShadow,
  EXT_XATTR,
  flavourOf,
  labelOf,
  recordSizeOf,
  sniffMagic,
  TP_BSIZE,
  TS_ADDR,
  TS_BITS,
  TS_CLRI,
  TS_END,
  TS_INODE,
  typeName,
  type DumpFlavour,
  type DumpHeader,
} from './header.js';
import { dumpBid } from '../sniff.js';
import { parseExt2Attributes } from './linux-xattr.js';
import { DumpRecords } from './records.js';
import { parseShadowAcls } from './solaris-meta.js';
import { NameTree, ROOT_INO, type AttributeFile, type DirectoryRecord } from './tree.js';

export const dumpFormat: Format = {
  name: 'dump',
  bid: dumpBid,
  label(head) {
    const magic = sniffMagic(head)!;
    let tpBsize = TP_BSIZE;
    try {
      tpBsize = recordSizeOf(head, magic, { layer: 'dump', offset: 0 });
    } catch {
      // the reader reports it
    }
    return labelOf(flavourOf(head, magic, tpBsize));
  },
  entries(reader, context) {
    // the reader's own generator, not one delegated to (each yield* layer costs ~3 us an entry)
    return new DumpReader(reader.layer, context).run(reader);
  },
};

/** Everything up to the first header of the dump proper: magic, byte order, family, record
 *  size, and the volume header of volume 1. */
/** A level 0 of selected files or a subdirectory, by what the dump program wrote as the file
 *  system's name: ufsdump "a partial file system" (dumpmain.c), Linux dump "/mnt (dir /sub)". */
export function isPartialDump(filesys: string): boolean {
  return filesys === 'a partial file system' || / \(dir [^)]*\)$/.test(filesys);
}

async function openDump(reader: ByteReader): Promise<{ records: DumpRecords; flavour: DumpFlavour; tape: DumpHeader }> {
  const layer = reader.layer;
  const head = await reader.peek(TP_BSIZE);
  const magic = sniffMagic(head);
  if (!magic) throw badArchive('not a dump: no dump magic at offset 24', { layer, offset: 0 });
  const tpBsize = recordSizeOf(head, magic, { layer, offset: 0 });
  const first = await reader.peek(tpBsize);
  const flavour = flavourOf(first, magic, tpBsize);
  // refuse what we recognise but do not read before its checksum can say something else
  if (first.length >= TP_BSIZE) checkSupported(flavour, decodeHeader(first, magic.order, 0), layer);
  const records = new DumpRecords(reader, magic, tpBsize, layer);
  const tape = await records.first();
  return { records, flavour, tape };
}

/** A Solaris attribute value waiting for its file (a higher inode number, not emitted yet). */
interface PendingAttributes {
  path: string;
  xattrs: Map<string, Uint8Array>;
}

class DumpReader {
  private layout!: InodeLayout;
  private dirents!: DirentFormat;
  private readonly limits: Limits;
  private records!: DumpRecords;
  private flavour!: DumpFlavour;
  private tape!: DumpHeader;
  private readonly tree = new NameTree();
  private clri: Uint8Array | undefined;
  private bits: Uint8Array | undefined;
  /** the inode emitted last, for records that follow it (Linux EA, Solaris shadow) */
  private last: { ino: number; path: string } | undefined;
  /** the directory read last, for its Solaris trailing shadow */
  private lastDirectory: DirectoryRecord | undefined;
  private readonly pendingAttributes = new Map<number, PendingAttributes>();
  private pendingBytes = 0;
  private warnedExtData = false;
  /** inode of the last TS_INODE: dump writes each phase in ascending inode order */
  private lastInode = 0;

  constructor(
    private readonly layer: string,
    private readonly context: FormatContext,
  ) {
    this.limits = context.limits;
  }

  /**
   * The entries. The phases before FILES yield nothing but the directories, which come as one
   * array, so this generator holds a single hot loop: V8 optimizes it once, with the FILES
   * phase's type feedback (when the phases were loops of one function, it was compiled four
   * times, ~170 ms, each time thrown away when the next phase reached code without feedback).
   */
  async *run(reader: ByteReader): AsyncGenerator<Entry> {
    const { header: first, directories } = await this.beforeFiles(reader);
    for (let i = 0; i < directories.length; i++) yield directories[i]!;

    // FILES: a plain file (one name, nothing attached) is yielded from this loop and the next
    // header taken without waiting when it is buffered; everything else goes through
    // inodeRecord. (Tens of thousands of files: each async generator hop and await on the way
    // is a few microtasks, and they were most of this reader's time.)
    let header = first;
    this.lastInode = 0;
    while (header.type !== TS_END) {
      if (header.type === TS_INODE) {
        const plain = this.plainFile(header);
        if (plain !== undefined) {
          yield plain.entry;
          if (!plain.data.done) await plain.data.finish();
          this.last = { ino: header.inumber, path: plain.entry.path };
          header = this.records.headerNow() ?? (await this.records.header());
          continue;
        }
        header = yield* this.inodeRecord(header);
      } else if (header.type === TS_ADDR) header = yield* this.addrRecord(header);
      else throw this.unexpected(header);
    }

    // END
    yield* this.atEnd(header);
    await this.records.drain();
  }

  /** TAPE, MAPS and DIRS; then the names are resolved. Returns the first header of the FILES
   *  phase and the directory entries (and 'unchanged' names of incrementals) to emit first. */
  private async beforeFiles(reader: ByteReader): Promise<{ header: DumpHeader; directories: Entry[] }> {
    const opened = await openDump(reader);
    this.records = opened.records;
    this.flavour = opened.flavour;
    this.tape = opened.tape;
    this.layout = layoutOf(this.flavour.family);
    this.dirents = { newFormat: this.flavour.family !== 'solaris', le: this.flavour.order === 'le' };
    this.announce();
    let header = await this.records.header();
    while (header.type === TS_CLRI || header.type === TS_BITS) header = await this.readMap(header);
    this.tellLevel();

    // DIRS
    for (;;) {
      if (header.type === TS_INODE) {
        const inode = decodeInode(header, this.layout);
        if (this.isExtAttributes(header)) {
          const dir = this.tree.directory(header.inumber);
          if (!dir) break; // a file's: the files phase has begun
          this.ascending(header);
          await this.directoryAttributes(header, inode, dir);
        } else if (isDirectoryMode(inode.mode, this.layout)) {
          this.ascending(header);
          if ((header.flags & DR_METAONLY) !== 0) await this.metadataOnly(header);
          else await this.readDirectory(header, inode);
        } else break;
      } else if (header.type === TS_ADDR) {
        const inode = decodeInode(header, this.layout);
        if (this.isShadow(inode) && this.lastDirectory?.ino === header.inumber) {
          const acls = await this.shadowAcls(header, inode);
          if (acls.length > 0) this.lastDirectory.acls = [...(this.lastDirectory.acls ?? []), ...acls];
        } else await this.skipStray(header, inode);
      } else if (header.type === TS_END) break;
      else throw this.unexpected(header);
      header = await this.records.header();
    }

    // NAMES
    return { header, directories: this.directories(header) };
  }

  // ---- tape header and maps --------------------------------------------------------------------

  private announce(): void {
    const t = this.tape;
    const when = (seconds: number) => new Date(seconds * 1000).toISOString();
    this.context.describe?.({
      layer: this.layer,
      title: 'dump volume header',
      fields: [
        ['level', String(t.level)],
        ['date', when(t.date)],
        ['previous dump', t.ddate === 0 ? 'none (level 0)' : when(t.ddate)],
        ['label', t.label],
        ['file system', t.filesys],
        ['device', t.dev],
        ['host', t.host],
        ['record size', String(this.flavour.tpBsize)],
        ['byte order', this.flavour.order === 'le' ? 'little-endian' : 'big-endian'],
      ],
    });
  }

  private get incremental(): boolean {
    return this.tape.level > 0 || this.tape.ddate !== 0;
  }

  /** After the maps: the level, dates and maps to whoever applies incrementals (or a warning). */
  private tellLevel(): void {
    const t = this.tape;
    if (this.context.dumpLevel) {
      this.context.dumpLevel({ level: t.level, date: t.date, previousDate: t.ddate, inUse: (ino) => this.inMap(this.clri, ino), dumped: (ino) => this.inMap(this.bits, ino) });
    } else if (this.incremental) {
      this.context.warn({
        code: 'P2V_INCREMENTAL',
        message: `a level ${t.level} (incremental) dump: it holds what changed since ${new Date(t.ddate * 1000).toISOString()}; names of unchanged inodes come as 'unchanged' entries (extract --index applies it to the previous level's tree)`,
      });
    }
  }

  private async readMap(header: DumpHeader): Promise<DumpHeader> {
    const tp = this.records.tpBsize;
    const parts: Uint8Array[] = [];
    let bytes = 0;
    let current = header;
    for (;;) {
      if (current.count < 0 || bytes + current.count * tp > this.limits.maxDumpMapBytes) {
        throw new P2VError('P2V_LIMIT', `${typeName(header.type)} map of ${current.count} blocks is out of range (limit ${this.limits.maxDumpMapBytes} bytes: maxDumpMapBytes)`, { layer: this.layer, offset: current.offset });
      }
      for (let left = current.count; left > 0; ) {
        const run = await this.records.data(left);
        parts.push(Uint8Array.from(run));
        bytes += run.length;
        left -= run.length / tp;
      }
      current = await this.records.header();
      if (current.type !== TS_ADDR) break; // a map longer than one header goes on in TS_ADDRs
    }
    const map = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (header.type === TS_CLRI) this.clri = map;
    else this.bits = map;
    return current;
  }

  /** A full dump (level 0, relative to no earlier one), not an incremental. */
  private get isLevel0(): boolean {
    return this.tape.level === 0 && this.tape.ddate === 0;
  }

  /** Is `ino` a number the dumped file system has (its maps have a bit for every inode)? */
  private withinMaps(ino: number): boolean {
    return this.clri === undefined || (ino - 1) >>> 3 < this.clri.length;
  }

  private inMap(map: Uint8Array | undefined, ino: number): boolean {
    if (!map) return true; // no map in this dump: nothing to check against
    const byte = (ino - 1) >>> 3;
    return byte < map.length && (map[byte]! & (1 << ((ino - 1) & 7))) !== 0;
  }

  // ---- directories ----------------------------------------------------------------------------

  private async readDirectory(header: DumpHeader, inode: DumpInode): Promise<void> {
    const ino = header.inumber;
    if (this.tree.hasDirectory(ino)) throw badArchive(`directory inode ${ino} is dumped twice`, { layer: this.layer, offset: header.offset });
    const record: DirectoryRecord = { ino, inode, offset: header.offset };
    const embedded = this.embeddedAcls(header);
    if (embedded.length > 0) record.acls = embedded;
    this.tree.addDirectory(record, this.layout === 'solaris' && (inode.mode & S_IFMT) === S_IFATTRDIR);
    this.lastDirectory = record;
    const data = this.dataOf(header, inode);
    for await (const piece of data.pieces()) {
      if (typeof piece === 'number') continue; // a hole in a directory holds no entries
      parseDirectoryPiece(piece, this.dirents, this.records.offset - piece.length, this.layer, (child, name) => this.tree.addEntry(ino, name, child));
      if (this.tree.heldBytes > this.limits.maxDumpTreeBytes) {
        throw new P2VError('P2V_LIMIT', `the directories hold more names than the limit allows (maxDumpTreeBytes ${this.limits.maxDumpTreeBytes})`, { layer: this.layer, offset: header.offset });
      }
    }
  }

  private async directoryAttributes(header: DumpHeader, inode: DumpInode, dir: DirectoryRecord): Promise<void> {
    const found = await this.extAttributes(header, inode, this.tree.pathOfDirectory(dir.ino) ?? `inode ${dir.ino}`);
    if (!found) return;
    if (found.xattrs.size > 0) dir.xattrs = new Map([...(dir.xattrs ?? []), ...found.xattrs]);
    if (found.acls.length > 0) dir.acls = [...(dir.acls ?? []), ...found.acls];
  }

  /** End of the directory phase: walk the names; the directories to emit, parents first, then
   *  the names an incremental dump does not carry. */
  private directories(next: DumpHeader): Entry[] {
    const { directories, dangling, loops, tooLong } = this.tree.resolve((ino) => this.inMap(this.bits, ino), this.limits.maxPathBytes);
    if (tooLong !== undefined) {
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `names in this directory (and maybe others) are longer than maxPathBytes (${this.limits.maxPathBytes}): skipped with everything below them`, entry: tooLong });
    }
    const level0 = this.isLevel0;
    if (!this.tree.directory(ROOT_INO)) {
      if (level0) throw badArchive('the dump holds no root directory (inode 2): not a dump of a file system, or its directories are missing', { layer: this.layer, offset: next.offset });
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: 'the dump holds no root directory (inode 2): nothing can be named' });
    }
    for (const path of loops) this.context.warn({ code: 'P2V_ENTRY_INVALID', message: 'a second name for a directory (a loop in the tree): skipped', entry: path });
    const unchanged: Entry[] = [];
    // a dump of selected files or a subdirectory: the directories on the way to them hold the
    // names of everything else too (Linux dump does not even mark those inodes as in use)
    const partial = level0 && isPartialDump(this.tape.filesys);
    const unselected: string[] = [];
    for (const name of dangling) {
      if (partial) {
        unselected.push(name.path);
        continue;
      }
      if (!level0 && this.inMap(this.clri, name.ino)) {
        // an incremental dump names the unchanged inodes it does not carry: emitted after the
        // directories, so their parents exist
        unchanged.push({ ...this.attrsEntry(name.path, name.offset), type: 'unchanged', inode: name.ino });
        continue;
      }
      if (!level0) {
        this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `inode ${name.ino} is neither in this dump nor in use by the file system: skipped`, entry: name.path });
        continue;
      }
      if (!this.inMap(this.clri, name.ino)) {
        // a file made after dump read its maps (a dump of a mounted file system, as `ufsdump 0f -
        // /` on a running machine): restore says "not found on tape" and goes on, and so do we;
        // an inode the file system cannot even have is a corrupt directory
        if (!this.withinMaps(name.ino)) {
          throw badArchive(`directory entry "${name.path}" names inode ${name.ino}, beyond the file system's inodes (the dump's maps cover ${this.clri!.length * 8}): corrupt directory`, {
            layer: this.layer,
            offset: name.offset,
            entry: name.path,
          });
        }
        this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `inode ${name.ino} is not in this dump and was not in use when dump read the file system (a file made while the dump ran; restore: "not found on tape"): skipped`, entry: name.path });
        continue;
      }
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `inode ${name.ino} is not in this dump (left out by dump, e.g. a nodump file): skipped`, entry: name.path });
    }
    if (unselected.length > 0) {
      const shown = unselected.slice(0, 3).map((path) => `"${displayPath(path)}"`).join(', ');
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `a partial dump (${this.tape.filesys}): ${unselected.length} name(s) in its directories are outside what was dumped, skipped as restore does (${shown}${unselected.length > 3 ? ', ...' : ''})` });
    }
    const entries: Entry[] = [];
    for (const { path, record } of directories) {
      const entry = this.entryOf(path, 'dir', record.inode, record.offset, record.ino);
      if (record.xattrs) entry.xattrs = record.xattrs;
      if (record.acls) entry.acls = record.acls;
      entries.push(entry);
    }
    for (const entry of unchanged) entries.push(entry);
    return entries;
  }

  // ---- files ------------------------------------------------------------------------------------

  /** A TS_INODE that is a regular file with exactly one name and nothing attached (no
   *  attributes, ACLs or UFS2 extended data, not metadata-only): its entry and body, the inode's
   *  names consumed. Anything else: undefined, nothing changed (inodeRecord takes it). */
  private plainFile(header: DumpHeader): { entry: Entry; data: InodeData } | undefined {
    if ((header.flags & (DR_METAONLY | DR_EXTATTRIBUTES | DR_HASMETA)) !== 0) return undefined;
    const ino = header.inumber;
    if (ino < this.lastInode || this.pendingAttributes.has(ino)) return undefined;
    const inode = decodeInode(header, this.layout);
    if ((inode.mode & S_IFMT) !== S_IFREG || inode.extSize !== 0) return undefined;
    const path = this.tree.onlyName(ino);
    if (path === undefined) return undefined;
    this.lastInode = ino;
    this.tree.forget(ino);
    const data = new InodeData(this.records, header, inode.size, 0, ino);
    const entry = this.entryOf(path, 'file', inode, header.offset, ino);
    entry.size = inode.size;
    if (inode.size > 0) entry.body = data;
    return { entry, data };
  }

  private async *inodeRecord(header: DumpHeader): AsyncGenerator<Entry, DumpHeader> {
    this.ascending(header);
    const inode = decodeInode(header, this.layout);
    const ino = header.inumber;
    if (this.isExtAttributes(header)) {
      const target = this.last?.ino === ino ? this.last.path : this.tree.pathOfDirectory(ino);
      const found = await this.extAttributes(header, inode, target ?? `inode ${ino}`);
      if (found && target !== undefined && (found.xattrs.size > 0 || found.acls.length > 0)) {
        yield { ...this.attrsEntry(target, header.offset), ...(found.xattrs.size > 0 ? { xattrs: found.xattrs } : {}), ...(found.acls.length > 0 ? { acls: found.acls } : {}) };
      } else if (found && target === undefined) {
        this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `extended attributes for inode ${ino}, which has no name here: skipped` });
      }
      return this.records.header();
    }
    if ((header.flags & DR_METAONLY) !== 0) {
      const names = this.tree.namesOf(ino);
      if (!this.incremental || names.length === 0 || isDirectoryMode(inode.mode, this.layout)) await this.metadataOnly(header);
      else {
        // the content is the previous level's; the owner, mode or times are new
        this.tree.forget(ino);
        await new InodeData(this.records, header, 0, 0, ino).finish();
        for (const path of names) yield { ...this.entryOf(path, 'unchanged', inode, header.offset, ino), newMetadata: true };
        this.last = { ino, path: names[0]! };
      }
      return this.records.header();
    }
    const data = this.dataOf(header, inode);
    if (isDirectoryMode(inode.mode, this.layout)) {
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `directory inode ${ino} after the directory phase (its names are not known any more): skipped` });
      await data.finish();
      return this.records.header();
    }

    const names = this.tree.namesOf(ino);
    if (names.length === 0) {
      const attribute = this.tree.attributeFile(ino);
      if (attribute) yield* this.solarisAttribute(ino, attribute, data, header.offset);
      else {
        await data.finish();
        const kind = inode.mode & S_IFMT;
        if (kind !== S_IFSHAD) this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `inode ${ino} is named by no directory in the dump (an orphan): skipped` });
      }
      return this.records.header();
    }
    this.tree.forget(ino);
    const [path, ...others] = names as [string, ...string[]];
    const type = typeFromMode(inode.mode);
    const entry = type ? this.entryOf(path, type, inode, header.offset, ino) : undefined;
    if (!entry) {
      await data.finish();
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `unknown file type 0o${(inode.mode & S_IFMT).toString(8)}: skipped`, entry: path });
      return this.records.header();
    }
    const acls = this.embeddedAcls(header);
    if (acls.length > 0) entry.acls = acls;

    if (entry.type === 'file') {
      entry.size = inode.size;
      if (inode.size > 0) entry.body = data;
      yield entry;
      await data.finish();
    } else {
      if (entry.type === 'symlink') {
        const target = await this.symlinkTarget(header, inode, data);
        if (target === undefined) {
          this.context.warn({ code: 'P2V_ENTRY_INVALID', message: 'zero-length symbolic link: skipped (restore ignores it too)', entry: path });
          return this.records.header();
        }
        entry.linkTarget = target;
      } else {
        await data.finish();
        if (entry.type === 'char' || entry.type === 'block') {
          entry.devMajor = inode.devMajor;
          entry.devMinor = inode.devMinor;
        }
      }
      yield entry;
    }
    for (const other of others) yield { ...this.entryOf(other, 'hardlink', inode, header.offset, ino), linkTarget: path };
    this.last = { ino, path };
    const pending = this.pendingAttributes.get(ino);
    if (pending) {
      this.pendingAttributes.delete(ino);
      yield { ...this.attrsEntry(path, header.offset), xattrs: pending.xattrs };
    }
    return this.records.header();
  }

  private async *addrRecord(header: DumpHeader): AsyncGenerator<Entry, DumpHeader> {
    const inode = decodeInode(header, this.layout);
    if (this.isShadow(inode) && this.last?.ino === header.inumber) {
      const acls = await this.shadowAcls(header, inode);
      if (acls.length > 0) yield { ...this.attrsEntry(this.last.path, header.offset), acls };
    } else await this.skipStray(header, inode);
    return this.records.header();
  }

  private async symlinkTarget(header: DumpHeader, inode: DumpInode, data: InodeData): Promise<string | undefined> {
    if (inode.size === 0) {
      await data.finish();
      return undefined;
    }
    let bytes: Uint8Array;
    if (header.count === 0 && this.layout !== 'ufs2' && inode.size <= BLOCK_AREA_BYTES) {
      // a short symlink whose target stayed in the block pointers (no data block dumped)
      bytes = inode.blockArea.subarray(0, inode.size);
      data.markNoData();
    } else {
      bytes = await data.readAll(this.limits.maxLinkTargetBytes, 'symlink target');
    }
    return Buffer.from(bytes).toString('latin1');
  }

  /** A Solaris extended attribute (a file inside an attribute directory): metadata of its owner. */
  private async *solarisAttribute(ino: number, attribute: AttributeFile, data: InodeData, offset: number): AsyncGenerator<Entry> {
    const value = await data.readAll(this.limits.maxMetaRecordBytes, 'extended attribute');
    if (attribute.ownerPath === undefined) {
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `extended attribute "${attribute.name}" of inode ${attribute.owner}, which has no name in this dump: skipped` });
      return;
    }
    const ownerDone = this.tree.directory(attribute.owner) !== undefined || attribute.owner < ino;
    if (ownerDone) {
      yield { ...this.attrsEntry(attribute.ownerPath, offset), xattrs: new Map([[attribute.name, value]]) };
      return;
    }
    this.pendingBytes += value.length;
    if (this.pendingBytes > this.limits.maxInflightBytes) {
      throw new P2VError('P2V_LIMIT', `extended attributes waiting for their files exceed ${this.limits.maxInflightBytes} bytes (maxInflightBytes)`, { layer: this.layer, offset: this.records.offset });
    }
    const pending = this.pendingAttributes.get(attribute.owner) ?? { path: attribute.ownerPath, xattrs: new Map() };
    pending.xattrs.set(attribute.name, value);
    this.pendingAttributes.set(attribute.owner, pending);
  }

  // ---- metadata records -----------------------------------------------------------------------

  private isExtAttributes(header: DumpHeader): boolean {
    return this.layout === 'bsd' && (header.flags & DR_EXTATTRIBUTES) !== 0;
  }

  private isShadow(inode: DumpInode): boolean {
    return this.layout === 'solaris' && (inode.mode & S_IFMT) === S_IFSHAD;
  }

  private embeddedAcls(header: DumpHeader): AclRecord[] {
    if (this.layout !== 'solaris' || (header.flags & DR_HASMETA) === 0) return [];
    return parseShadowAcls(embeddedShadow(header), header.le);
  }

  private async shadowAcls(header: DumpHeader, inode: DumpInode): Promise<AclRecord[]> {
    const data = new InodeData(this.records, header, inode.size, 0, header.inumber);
    return parseShadowAcls(await data.readAll(this.limits.maxMetaRecordBytes, 'ACL shadow'), header.le);
  }

  /** A Linux dump EA record: its xattrs and ACLs (undefined when it carries something else). */
  private async extAttributes(header: DumpHeader, inode: DumpInode, what: string): Promise<{ xattrs: Map<string, Uint8Array>; acls: AclRecord[] } | undefined> {
    const data = new InodeData(this.records, header, inode.size, 0, header.inumber);
    if (header.extattributes !== EXT_XATTR) {
      await data.finish();
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `extended data of kind ${header.extattributes} (not ext2 attributes) for ${what}: skipped` });
      return undefined;
    }
    const parsed = parseExt2Attributes(await data.readAll(this.limits.maxMetaRecordBytes, 'extended attributes'));
    for (const problem of parsed.problems) this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `${problem}: skipped`, entry: what });
    return parsed;
  }

  /** Linux incrementals: an inode whose data did not change, only its metadata. The Entry model
   *  has no "metadata only" member, so it is skipped, and said so. */
  private async metadataOnly(header: DumpHeader): Promise<void> {
    const name = this.tree.isResolved ? this.tree.namesOf(header.inumber)[0] : this.tree.pathOfDirectory(header.inumber);
    if (this.tree.isResolved) this.tree.forget(header.inumber);
    this.context.warn({ code: 'P2V_INCREMENTAL', message: `inode ${header.inumber}: only its metadata changed (a metadata-only record): not applied`, ...(name ? { entry: name } : {}) });
    await new InodeData(this.records, header, 0, 0, header.inumber).finish();
  }

  private async skipStray(header: DumpHeader, inode: DumpInode): Promise<void> {
    // restore skips TS_ADDR records that continue nothing (its findinode); so do we, and say so
    // unless it is a Solaris shadow inode dumped on its own
    if (!this.isShadow(inode)) {
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `a TS_ADDR record for inode ${header.inumber} continues nothing: skipped (byte ${header.offset})` });
    }
    const data = new InodeData(this.records, header, 0, 0, header.inumber);
    await data.finish();
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private dataOf(header: DumpHeader, inode: DumpInode): InodeData {
    let extBlocks = 0;
    if (inode.extSize > 0) {
      extBlocks = Math.ceil(inode.extSize / this.records.tpBsize);
      if (!this.warnedExtData) {
        this.warnedExtData = true;
        this.context.warn({ code: 'P2V_ENTRY_INVALID', message: 'UFS2 extended-attribute data is not read (skipped)' });
      }
    }
    return new InodeData(this.records, header, inode.size, extBlocks, header.inumber);
  }

  private entryOf(path: string, type: Entry['type'], inode: DumpInode, offset: number, ino: number): Entry {
    return { path, type, mode: inode.mode & 0o7777, uid: inode.uid, gid: inode.gid, mtimeNs: inode.mtimeNs, size: 0, offset, inode: ino };
  }

  private attrsEntry(path: string, offset: number): Entry {
    return { path, type: 'attrs', mode: 0, uid: 0, gid: 0, mtimeNs: 0n, size: 0, offset };
  }

  /** Inodes come in ascending order within a phase; going back means records were mixed up. */
  private ascending(header: DumpHeader): void {
    if (header.inumber < this.lastInode) {
      throw badArchive(`inode ${header.inumber} comes after inode ${this.lastInode}: the records are out of order (a volume given twice or out of order, or a corrupt dump)${this.records.hint()}`, { layer: this.layer, offset: header.offset });
    }
    this.lastInode = header.inumber;
  }

  private unexpected(header: DumpHeader): P2VError {
    return badArchive(`unexpected ${typeName(header.type)} record here (a dump goes TS_TAPE, maps, directories, files, TS_END)`, { layer: this.layer, offset: header.offset });
  }

  /** TS_END. Inodes listed in the map and named by a directory that never came were removed
   *  after dump wrote the directory and before its file pass reached them (dump leaves out an
   *  inode freed by then). restore says "not found on tape" and goes on, and so do we: at level
   *  0 the names are not there; an incremental keeps what the previous level had at them, as
   *  restore -r does (the 'unchanged' entries yielded here). A dump cut short has no TS_END. */
  private *atEnd(end: DumpHeader): Generator<Entry> {
    const missing = this.tree.isResolved ? this.tree.unwritten() : [];
    const incremental = !this.isLevel0;
    for (const ino of missing) {
      const names = this.tree.namesOf(ino);
      const others = names.length > 1 ? ` (and its ${names.length - 1} other name(s))` : '';
      const outcome = incremental ? 'the previous level\'s file is kept, as restore -r keeps it' : 'skipped';
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `inode ${ino}${others} is in the dump's map but its data never came (removed while the dump ran; restore: "not found on tape"): ${outcome}`, entry: names[0] ?? `inode ${ino}` });
      if (incremental) for (const path of names) yield { ...this.attrsEntry(path, end.offset), type: 'unchanged', keepPrevious: true };
    }
    for (const [owner, pending] of this.pendingAttributes) {
      this.context.warn({ code: 'P2V_ENTRY_INVALID', message: `extended attributes of inode ${owner}, whose file never came: dropped`, entry: pending.path });
    }
  }
}
