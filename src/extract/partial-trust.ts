/**
 * A re-run of the same image into a tree that has drifted from its index in a few places (a
 * file edited in the zone, a mode changed, a directory touched): the tree check (settled-check.ts
 * compareTreeWithIndex) lists what differs, and every other member is trusted - the writer
 * passes it over with its record as it stands (zone-writer.ts), without comparing or hashing
 * its data. Without this, one changed file made the re-run as slow as the first run (every
 * body hashed on the main thread to be compared with its record: 1.5-1.7 s against 0.4 s for
 * the settled re-run of the bench corpus).
 *
 * Why the rest may be trusted: the image is the same file, unchanged since the sealing run
 * (its identity), read with the same settings, so each member is what it was then, and a member
 * whose node is still as that run recorded it would be left as it is by a full run. What a full
 * run does to the members that differ must not reach a trusted one; the rules below see to it:
 * - what differs, and everything under it (a directory swapped for a symlink made its members
 *   look fine through the link), goes through the writer;
 * - the directories above a member that differs go through the writer too (writing in them
 *   moves their mtime, which they get back only as members of this run), while their other
 *   members stay trusted;
 * - a hard-link group goes through whole when any name of it differs (a target written anew is
 *   a new inode: its links are made again).
 * Trusted only when the sealing run is a plain one: it warned of nothing, recorded each path
 * once (a path written twice may take its final state only from its last member) and recorded
 * no attributes; the caller checks that (extract.ts).
 */
import type { Entry } from '../entry.js';
import type { IndexRecord } from '../store/content-index.js';

export class TrustedRecords {
  /** the members that differ, with their hard-link groups: they and all beneath them are not trusted */
  private readonly differing: Set<string>;
  /** their prefixes with a '/', scanned directly while there are few */
  private readonly differingPrefixes: string[] | undefined;
  /** directories above a member that differs: placed again, their other members still trusted */
  private readonly holding = new Set<string>();

  /** `differing`: physical paths; `links`: the index's hard-link records. */
  constructor(differing: ReadonlySet<string>, links: readonly IndexRecord[]) {
    this.differing = new Set(differing);
    const groups = new Map<string, string[]>();
    for (const link of links) {
      if (link.linkPath === undefined) continue;
      const group = groups.get(link.linkPath) ?? [link.linkPath];
      group.push(link.path);
      groups.set(link.linkPath, group);
    }
    for (const group of groups.values()) {
      if (group.some((path) => this.differsOrBeneath(path))) for (const path of group) this.differing.add(path);
    }
    this.differingPrefixes = this.differing.size <= 32 ? [...this.differing].map((path) => `${path}/`) : undefined;
    for (const path of this.differing) {
      for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) this.holding.add(path.slice(0, at));
    }
  }

  /** May the member at `physical` be passed over? */
  trusts(physical: string): boolean {
    return !this.holding.has(physical) && !this.differsOrBeneath(physical);
  }

  private differsOrBeneath(physical: string): boolean {
    if (this.differing.has(physical)) return true;
    if (this.differingPrefixes !== undefined) {
      for (const prefix of this.differingPrefixes) if (physical.startsWith(prefix)) return true;
      return false;
    }
    for (let at = physical.lastIndexOf('/'); at > 0; at = physical.lastIndexOf('/', at - 1)) {
      if (this.differing.has(physical.slice(0, at))) return true;
    }
    return false;
  }
}

/** The kinds of member passed over on their record (devices and FIFOs, rare, are always placed). */
export function trustableType(entry: Entry): boolean {
  return entry.type === 'file' || entry.type === 'dir' || entry.type === 'symlink' || entry.type === 'hardlink';
}
