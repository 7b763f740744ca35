/**
 * The name tree of a dump. Inode records carry no names: names live in directory data, and a
 * dump writes every directory before any other inode. So the directory phase fills this tree
 * (directory inode → its entries), and once it is over `resolve()` walks it from the root
 * (inode 2) to give every directory its path and every other inode the names it is reached by
 * (several names = hard links). Held in memory: directory metadata and names, never file data.
 *
 * Solaris extended-attribute directories (IFATTRDIR) are kept apart: their ".." names the file
 * they belong to, their entries are that file's attributes (inodes dumped later as regular
 * files). They never become paths.
 */
import type { AclRecord } from '../../entry.js';
import type { DumpInode } from './dinode.js';

export const ROOT_INO = 2;

export interface DirectoryRecord {
  ino: number;
  inode: DumpInode;
  /** stream offset of its TS_INODE header */
  offset: number;
  xattrs?: Map<string, Uint8Array>;
  acls?: AclRecord[];
}

interface Link {
  parent: number;
  name: string;
}

/** A name that leads nowhere this dump can fill. */
export interface DanglingName {
  path: string;
  ino: number;
  /** offset of the directory record holding the name */
  offset: number;
}

export interface AttributeFile {
  /** inode of the file (or directory) the attribute belongs to */
  owner: number;
  name: string;
  /** the owner's (first) name; undefined when the dump does not name it */
  ownerPath?: string;
}

export class NameTree {
  private readonly dirs = new Map<number, DirectoryRecord>();
  private readonly attrDirs = new Map<number, DirectoryRecord>();
  private entries = new Map<number, Array<[string, number]>>();
  /** bytes of names held, for the limit */
  heldBytes = 0;

  /** directory inode → path ("." is the root) */
  private paths = new Map<number, string>();
  /** non-directory inode → its names */
  private links = new Map<number, Link[]>();
  private attributes = new Map<number, AttributeFile>();
  private resolved = false;

  addDirectory(record: DirectoryRecord, attributeDirectory: boolean): void {
    (attributeDirectory ? this.attrDirs : this.dirs).set(record.ino, record);
    if (!this.entries.has(record.ino)) this.entries.set(record.ino, []);
  }

  directory(ino: number): DirectoryRecord | undefined {
    return this.dirs.get(ino) ?? this.attrDirs.get(ino);
  }

  hasDirectory(ino: number): boolean {
    return this.dirs.has(ino) || this.attrDirs.has(ino);
  }

  addEntry(dir: number, name: string, ino: number): void {
    this.entries.get(dir)!.push([name, ino]);
    this.heldBytes += name.length + 16;
  }

  get isResolved(): boolean {
    return this.resolved;
  }

  /**
   * Walk from the root: directories in an order where a parent comes before its children
   * (depth first, names sorted), and the names of every other inode. `known(ino)` says whether
   * a non-directory inode can be filled from this dump; names of others are returned as dangling.
   * A name longer than `maxPathBytes` is left out with all below it (`tooLong`: the first
   * directory where that happened):
   * every directory's whole path is held here, so a deep chain of long names grew as the square
   * of its depth (3,000 levels of 250-byte names: 2.4 GB), and the writer refuses such names.
   */
  resolve(known: (ino: number) => boolean, maxPathBytes = Infinity): { directories: Array<{ path: string; record: DirectoryRecord }>; dangling: DanglingName[]; loops: string[]; tooLong?: string } {
    const directories: Array<{ path: string; record: DirectoryRecord }> = [];
    const dangling: DanglingName[] = [];
    const loops: string[] = [];
    let tooLong: string | undefined;
    const root = this.dirs.get(ROOT_INO);
    if (root) {
      // depth first with an explicit stack: a hostile dump may nest directories very deeply
      const stack: Array<[number, string]> = [[ROOT_INO, '.']];
      this.paths.set(ROOT_INO, '.');
      while (stack.length > 0) {
        const [ino, path] = stack.pop()!;
        const record = this.dirs.get(ino)!;
        directories.push({ path, record });
        const children = [...(this.entries.get(ino) ?? [])].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        const below: Array<[number, string]> = [];
        for (const [name, child] of children) {
          if (name === '.' || name === '..') continue;
          const childPath = path === '.' ? name : `${path}/${name}`;
          if (childPath.length > maxPathBytes) {
            tooLong ??= path;
            continue;
          }
          if (this.dirs.has(child)) {
            if (this.paths.has(child)) loops.push(childPath);
            else {
              this.paths.set(child, childPath);
              below.push([child, childPath]);
            }
          } else if (this.attrDirs.has(child)) {
            loops.push(childPath);
          } else if (known(child)) {
            const list = this.links.get(child);
            if (list) list.push({ parent: ino, name });
            else this.links.set(child, [{ parent: ino, name }]);
          } else {
            dangling.push({ path: childPath, ino: child, offset: record.offset });
          }
        }
        for (let i = below.length - 1; i >= 0; i--) stack.push(below[i]!);
      }
    }
    for (const [ino, entries] of this.entries) {
      if (!this.attrDirs.has(ino)) continue;
      const owner = entries.find(([name]) => name === '..')?.[1];
      if (owner === undefined) continue;
      const ownerPath = this.paths.get(owner) ?? this.namesOf(owner)[0];
      for (const [name, child] of entries) {
        if (name !== '.' && name !== '..' && !this.dirs.has(child)) this.attributes.set(child, { owner, name, ...(ownerPath === undefined ? {} : { ownerPath }) });
      }
    }
    this.entries = new Map(); // names are in `links` and `paths` now
    this.heldBytes = 0;
    this.resolved = true;
    return { directories, dangling, loops, tooLong };
  }

  /** Every name of a non-directory inode, sorted (the first carries the data); [] for none. */
  namesOf(ino: number): string[] {
    const list = this.links.get(ino);
    if (!list) return [];
    return list.map((link) => this.join(link)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The name of an inode that has exactly one (most files: no array, no sort); else undefined. */
  onlyName(ino: number): string | undefined {
    const list = this.links.get(ino);
    return list !== undefined && list.length === 1 ? this.join(list[0]!) : undefined;
  }

  /** Forget an inode's names once it has been written (memory, and a repeat is then visible). */
  forget(ino: number): void {
    this.links.delete(ino);
  }

  pathOfDirectory(ino: number): string | undefined {
    return this.paths.get(ino);
  }

  attributeFile(ino: number): AttributeFile | undefined {
    return this.attributes.get(ino);
  }

  /** Inodes still named but never written (at TS_END: records that did not come). */
  unwritten(): number[] {
    return [...this.links.keys()];
  }

  private join(link: Link): string {
    const parent = this.paths.get(link.parent)!;
    return parent === '.' ? link.name : `${parent}/${link.name}`;
  }
}
