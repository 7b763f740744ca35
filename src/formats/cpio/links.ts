/**
 * Hard-link groups in cpio. A group is the members sharing (dev, ino) with nlink > 1; identical
 * inode numbers with nlink 1 are not links (libarchive's test_compat_cpio_1).
 *
 * newc/crc: data travels with the last member, so earlier (empty) members are held as names
 * and released as links to the data member. Groups whose data never came (every member empty)
 * are released at the trailer: the first name as an empty file, the rest linked to it.
 * odc/bin/afio: every member carries data; the first becomes the file, the rest links.
 */
import type { Entry } from '../../entry.js';
import type { CpioVariant, RawCpioHeader } from './headers.js';

type Decision = { kind: 'hold' } | { kind: 'link'; entry: Entry } | { kind: 'data' };

interface Group {
  /** name of the member that carries the data, once seen */
  dataPath?: string;
  held: Entry[];
}

export class HardLinkTracker {
  private readonly groups = new Map<string, Group>();

  private key(header: RawCpioHeader): string {
    return `${header.devKey}:${header.ino}`;
  }

  member(header: RawCpioHeader, entry: Entry, variant: CpioVariant): Decision {
    const key = this.key(header);
    let group = this.groups.get(key);
    if (!group) {
      group = { held: [] };
      this.groups.set(key, group);
    }
    if (group.dataPath !== undefined) {
      return { kind: 'link', entry: linkEntry(entry, group.dataPath) };
    }
    const dataLast = variant === 'newc' || variant === 'crc';
    if (dataLast && header.fileSize === 0) {
      group.held.push(entry);
      return { kind: 'hold' };
    }
    group.dataPath = entry.path;
    return { kind: 'data' };
  }

  /** Links for members held back until the data member (just emitted) arrived. */
  released(header: RawCpioHeader): Entry[] {
    const group = this.groups.get(this.key(header));
    if (!group || group.dataPath === undefined || group.held.length === 0) return [];
    const out = group.held.map((held) => linkEntry(held, group.dataPath!));
    group.held = [];
    return out;
  }

  /** At the trailer: groups whose data never came become an empty file plus links. */
  finish(): Entry[] {
    const out: Entry[] = [];
    for (const group of this.groups.values()) {
      if (group.dataPath !== undefined || group.held.length === 0) continue;
      const [first, ...rest] = group.held;
      out.push(first!);
      for (const held of rest) out.push(linkEntry(held, first!.path));
    }
    this.groups.clear();
    return out;
  }
}

function linkEntry(entry: Entry, target: string): Entry {
  return { ...entry, type: 'hardlink', linkTarget: target, size: 0, body: undefined };
}
