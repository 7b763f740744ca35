/**
 * Hard-link groups in cpio. A group is the members sharing (dev, ino) with nlink > 1; identical
 * inode numbers with nlink 1 are not links (libarchive's test_compat_cpio_1).
 *
 * newc/crc: data travels with the last member, so earlier (empty) members are held as names
 * and released as links to the data member. Groups whose data never came (every member empty)
 * are released at the trailer: the first name as an empty file, the rest linked to it.
 * odc/bin/afio: every member carries data; the first becomes the file, the rest links.
 *
 * Memory. What the tracker keeps is counted (names plus a fixed cost per record) against
 * `maxLinkTrackerBytes`: an image of a few bytes per member could otherwise make it hold
 * millions of names (300k held newc names of 190 bytes took 345 MB). Past the budget, groups
 * that have had as many members as their link count are forgotten first (no member should
 * follow), then the oldest other finished groups: a later member of one of those is written as a
 * file of its own (odc carries the data on every member; nothing is lost but the link), with one
 * warning. Names waiting for their data (newc/crc), and newc/crc groups with members still to
 * come (they would come empty), cannot be forgotten without losing data: past the budget with
 * only those left, the run stops with P2V_LIMIT.
 */
import { P2VError } from '../../errors.js';
import type { Entry } from '../../entry.js';
import type { Warning } from '../../extract/types.js';
import type { CpioVariant, RawCpioHeader } from './headers.js';

type Decision = { kind: 'hold' } | { kind: 'link'; entry: Entry } | { kind: 'data' };

/** Heap bytes counted per record beyond its name's characters (object, map slot, key). */
const recordCost = 96;

/** A group whose data member has come: its name, and how many more members its link count
 *  announces (the latest member's nlink less the members seen). */
interface Finished {
  dataPath: string;
  left: number;
  /** odc/bin/afio: every member carries the data, so a member of a forgotten group loses only
   *  its link. In newc/crc a later member is empty: such a group is never forgotten while open. */
  dataEveryMember: boolean;
}

export class HardLinkTracker {
  /** finished groups still expecting members: key -> group (oldest first) */
  private readonly finished = new Map<string, Finished>();
  /** finished groups that have had all their members (forgotten first) */
  private readonly complete = new Map<string, Finished>();
  /** groups whose data has not come yet (newc/crc): key -> the members held, in order */
  private readonly waiting = new Map<string, Entry[]>();
  private bytes = 0;
  private warned = false;

  constructor(
    private readonly maxBytes: number,
    private readonly warn: (warning: Warning) => void,
  ) {}

  private key(header: RawCpioHeader): string {
    return `${header.devKey}:${header.ino}`;
  }

  member(header: RawCpioHeader, entry: Entry, variant: CpioVariant): Decision {
    const key = this.key(header);
    const group = this.finished.get(key) ?? this.complete.get(key);
    if (group !== undefined) {
      this.counted(key, group, header.nlink);
      return { kind: 'link', entry: linkEntry(entry, group.dataPath) };
    }
    const dataLast = variant === 'newc' || variant === 'crc';
    if (dataLast && header.fileSize === 0) {
      let held = this.waiting.get(key);
      if (!held) {
        held = [];
        this.waiting.set(key, held);
        this.bytes += recordCost + key.length;
      }
      held.push(entry); // (an empty member: it has no body to keep alive)
      this.bytes += recordCost + entry.path.length;
      this.keepWithinBudget(entry, variant);
      return { kind: 'hold' };
    }
    const finished: Finished = { dataPath: entry.path, left: header.nlink, dataEveryMember: !dataLast };
    this.finished.set(key, finished);
    this.bytes += recordCost + key.length + entry.path.length;
    this.counted(key, finished, header.nlink, (this.waiting.get(key)?.length ?? 0) + 1);
    this.keepWithinBudget(entry, variant);
    return { kind: 'data' };
  }

  /** `seen` more members of a finished group; one that has had them all moves to `complete`. */
  private counted(key: string, group: Finished, nlink: number, seen = 1): void {
    if (group.left <= 0) return;
    group.left = Math.min(group.left, nlink) - seen;
    if (group.left > 0) return;
    this.finished.delete(key);
    this.complete.set(key, group);
  }

  /** Links for members held back until the data member (just emitted) arrived. */
  released(header: RawCpioHeader): Entry[] {
    const key = this.key(header);
    const held = this.waiting.get(key);
    const dataPath = (this.finished.get(key) ?? this.complete.get(key))?.dataPath;
    if (!held || dataPath === undefined) return [];
    this.waiting.delete(key);
    this.bytes -= recordCost + key.length;
    for (const entry of held) this.bytes -= recordCost + entry.path.length;
    return held.map((entry) => linkEntry(entry, dataPath));
  }

  /** At the trailer: groups whose data never came become an empty file plus links. */
  finish(): Entry[] {
    const out: Entry[] = [];
    for (const [first, ...rest] of this.waiting.values()) {
      out.push(first!);
      for (const held of rest) out.push(linkEntry(held, first!.path));
    }
    this.waiting.clear();
    this.finished.clear();
    this.complete.clear();
    this.bytes = 0;
    return out;
  }

  private keepWithinBudget(entry: Entry, variant: CpioVariant): void {
    if (this.bytes <= this.maxBytes) return;
    // Down to three quarters at once: a pass walks the map from its oldest end, so one pass per
    // new group would be quadratic (300k odc groups: 18 s of parsing). For the same reason a pass
    // that cannot get there (what is left cannot be forgotten) ends the run.
    const target = this.maxBytes * 0.75;
    this.forget(this.complete, target);
    if (this.bytes > target && this.forget(this.finished, target) && !this.warned) {
      this.warned = true;
      this.warn({
        code: 'P2V_LIMIT',
        message: `more hard-link groups than the tracker holds (${this.maxBytes} bytes of names): a later link to one of the oldest groups is written as a file of its own`,
        entry: entry.path,
      });
    }
    if (this.bytes > target) {
      throw new P2VError(
        'P2V_LIMIT',
        `hard links: the names waiting for their group's data (newc and crc carry it on the last link) exceed the limit (${this.maxBytes} bytes)`,
        { layer: `cpio(${variant})`, entry: entry.path, offset: entry.offset },
      );
    }
  }

  /** Forget the oldest groups of `groups` until the count is down to `target` (a group whose
   *  held names wait for release is kept). True if any was forgotten. */
  private forget(groups: Map<string, Finished>, target: number): boolean {
    let any = false;
    for (const [key, group] of groups) {
      if (this.bytes <= target) break;
      if (this.waiting.has(key) || (group.left > 0 && !group.dataEveryMember)) continue;
      groups.delete(key);
      this.bytes -= recordCost + key.length + group.dataPath.length;
      any = true;
    }
    return any;
  }
}

function linkEntry(entry: Entry, target: string): Entry {
  return { ...entry, type: 'hardlink', linkTarget: target, size: 0, body: undefined };
}
