/**
 * Compare two directory trees the way an administrator would after restoring a system image:
 * same names, types, permission bits, owners, sizes, contents, symlink targets, hard-link
 * groups, mtimes and device numbers. Returns human-readable differences; empty means equal.
 *
 * Names are read as bytes (readdir with encoding 'buffer') so a tree with non-UTF-8 names is
 * still compared exactly; messages and the `ignore` list use the UTF-8 reading of the names.
 * Paths are relative, '/'-separated, without "./"; the top-level directory itself is ".".
 */
import * as fs from 'node:fs';

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket' | 'unknown';

/** What can differ; `ignoreProperty` receives these names. */
export type Property = 'type' | 'mode' | 'owner' | 'size' | 'content' | 'target' | 'links' | 'mtime' | 'rdev';

/** One difference: which path, which property ('missing'/'unexpected' for presence), and a message. */
export interface TreeDiff {
  path: string;
  property: Property | 'missing' | 'unexpected';
  message: string;
}

export interface CompareOptions {
  /** paths (relative, UTF-8) to leave out on both sides; a directory path covers its subtree */
  ignore?: readonly string[];
  /** a predicate for paths to leave out on both sides (applied in addition to `ignore`) */
  ignorePath?: (rel: string) => boolean;
  /** do not compare uid/gid (e.g. when not running as root) */
  ignoreOwners?: boolean;
  /** do not compare the top-level directory's own mode/owner/mtime */
  ignoreRootMeta?: boolean;
  /** 'seconds' (default), 'ns' for full nanoseconds, 'none' to skip mtimes entirely */
  mtime?: 'seconds' | 'ns' | 'none';
  /** node types whose mtime is not compared, e.g. ['symlink', 'dir'] */
  ignoreMtimeFor?: readonly NodeType[];
  /** fine-grained escape hatch: return true to skip one property of one path */
  ignoreProperty?: (rel: string, property: Property) => boolean;
}

interface NodeInfo {
  /** byte path (latin1 string) relative to the tree root, "." for the root */
  key: string;
  display: string;
  full: string;
  type: NodeType;
  stat: fs.BigIntStats;
}

export function nodeType(stat: fs.BigIntStats): NodeType {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'dir';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isCharacterDevice()) return 'char';
  if (stat.isBlockDevice()) return 'block';
  if (stat.isSocket()) return 'socket';
  return 'unknown';
}

/** Linux dev_t encoding (glibc gnu_dev_major/minor). */
export function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
export function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

function walk(root: string): Map<string, NodeInfo> {
  const out = new Map<string, NodeInfo>();
  const rootBytes = Buffer.from(root);
  const visit = (fullBytes: Buffer, key: string): void => {
    const full = fullBytes.toString('latin1');
    const stat = fs.lstatSync(fullBytes, { bigint: true });
    const type = nodeType(stat);
    const display = Buffer.from(key, 'latin1').toString('utf8');
    out.set(key, { key, display, full, type, stat });
    if (type !== 'dir') return;
    const names = fs.readdirSync(fullBytes, { encoding: 'buffer' });
    names.sort(Buffer.compare);
    for (const name of names) {
      const childFull = Buffer.concat([fullBytes, Buffer.from('/'), name]);
      const childKey = key === '.' ? name.toString('latin1') : `${key}/${name.toString('latin1')}`;
      visit(childFull, childKey);
    }
  };
  visit(rootBytes, '.');
  return out;
}

function readTarget(info: NodeInfo): Buffer {
  return fs.readlinkSync(Buffer.from(info.full, 'latin1'), { encoding: 'buffer' });
}

/** Byte-compare two regular files of equal size; return the first differing offset or -1. */
function firstDifference(a: string, b: string, size: number): number {
  const chunk = 1024 * 1024;
  const bufA = Buffer.alloc(chunk);
  const bufB = Buffer.alloc(chunk);
  const fdA = fs.openSync(Buffer.from(a, 'latin1'), 'r');
  try {
    const fdB = fs.openSync(Buffer.from(b, 'latin1'), 'r');
    try {
      for (let offset = 0; offset < size; ) {
        const want = Math.min(chunk, size - offset);
        const gotA = fs.readSync(fdA, bufA, 0, want, offset);
        const gotB = fs.readSync(fdB, bufB, 0, want, offset);
        const n = Math.min(gotA, gotB);
        for (let i = 0; i < n; i++) if (bufA[i] !== bufB[i]) return offset + i;
        if (gotA !== gotB || n === 0) return offset + n;
        offset += n;
      }
      return -1;
    } finally {
      fs.closeSync(fdB);
    }
  } finally {
    fs.closeSync(fdA);
  }
}

function octal(mode: bigint | number): string {
  return `0${(Number(mode) & 0o7777).toString(8)}`;
}

function secondsOf(ns: bigint): bigint {
  const s = ns / 1_000_000_000n;
  return ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s;
}

function showTime(ns: bigint, withNs: boolean): string {
  const s = secondsOf(ns);
  const iso = new Date(Number(s) * 1000).toISOString().replace('.000Z', 'Z');
  return withNs ? `${iso} (+${ns - s * 1_000_000_000n}ns)` : `${iso} (${s})`;
}

/** Hard-link partition: for each key, the sorted other keys (among `keep`) sharing its inode. */
function linkPeers(nodes: Map<string, NodeInfo>, keep: (key: string) => boolean): Map<string, string[]> {
  const byInode = new Map<string, string[]>();
  for (const info of nodes.values()) {
    if (info.type === 'dir' || !keep(info.key)) continue;
    const inode = `${info.stat.dev}:${info.stat.ino}`;
    const list = byInode.get(inode);
    if (list) list.push(info.key);
    else byInode.set(inode, [info.key]);
  }
  const peers = new Map<string, string[]>();
  for (const list of byInode.values()) {
    list.sort();
    for (const key of list) peers.set(key, list.filter((k) => k !== key));
  }
  return peers;
}

/**
 * Differences between `expectedDir` and `actualDir`, one line each, in path order.
 * Hard links are compared as partitions: the names that share an inode in the expected tree
 * must share one (and only those) in the actual tree.
 */
export function compareTrees(expectedDir: string, actualDir: string, options: CompareOptions = {}): string[] {
  return diffTrees(expectedDir, actualDir, options).map((d) => d.message);
}

/** The same comparison with each difference as a record (path, property, message), path order. */
export function diffTrees(expectedDir: string, actualDir: string, options: CompareOptions = {}): TreeDiff[] {
  const ignored = (display: string): boolean => {
    if (display === '.') return false;
    for (const p of options.ignore ?? []) {
      if (display === p || display.startsWith(`${p}/`)) return true;
    }
    return options.ignorePath?.(display) ?? false;
  };
  const skip = (display: string, property: Property): boolean => options.ignoreProperty?.(display, property) ?? false;
  const mtimeMode = options.mtime ?? 'seconds';

  const expected = walk(expectedDir);
  const actual = walk(actualDir);
  const diffs: TreeDiff[] = [];
  const add = (display: string, property: TreeDiff['property'], detail: string): void => {
    diffs.push({ path: display, property, message: `${display}: ${detail}` });
  };

  for (const [key, info] of expected) {
    if (!ignored(info.display) && !actual.has(key)) add(info.display, 'missing', `missing (expected ${info.type})`);
  }
  for (const [key, info] of actual) {
    if (!ignored(info.display) && !expected.has(key)) add(info.display, 'unexpected', `unexpected ${info.type}`);
  }

  const both = (key: string): boolean => {
    const e = expected.get(key);
    return e !== undefined && actual.has(key) && !ignored(e.display);
  };
  const peersExpected = linkPeers(expected, both);
  const peersActual = linkPeers(actual, both);

  for (const [key, e] of expected) {
    const a = actual.get(key);
    if (!a || ignored(e.display)) continue;
    const name = e.display;
    if (e.type !== a.type) {
      if (!skip(name, 'type')) add(name, 'type', `type ${a.type}, expected ${e.type}`);
      continue;
    }
    const isRoot = key === '.';
    const meta = !(isRoot && options.ignoreRootMeta);

    if (meta && e.type !== 'symlink' && !skip(name, 'mode')) {
      const em = e.stat.mode & 0o7777n;
      const am = a.stat.mode & 0o7777n;
      if (em !== am) add(name, 'mode', `mode ${octal(am)}, expected ${octal(em)}`);
    }
    if (meta && !options.ignoreOwners && !skip(name, 'owner')) {
      if (e.stat.uid !== a.stat.uid || e.stat.gid !== a.stat.gid) {
        add(name, 'owner', `owner ${a.stat.uid}:${a.stat.gid}, expected ${e.stat.uid}:${e.stat.gid}`);
      }
    }
    if (e.type === 'file') {
      const sizeDiffers = e.stat.size !== a.stat.size;
      if (sizeDiffers && !skip(name, 'size')) add(name, 'size', `size ${a.stat.size}, expected ${e.stat.size}`);
      if (!sizeDiffers && !skip(name, 'content')) {
        const at = firstDifference(e.full, a.full, Number(e.stat.size));
        if (at >= 0) add(name, 'content', `content differs at byte ${at}`);
      }
    }
    if (e.type === 'symlink' && !skip(name, 'target')) {
      const et = readTarget(e);
      const at = readTarget(a);
      if (!et.equals(at)) add(name, 'target', `symlink target ${JSON.stringify(at.toString('utf8'))}, expected ${JSON.stringify(et.toString('utf8'))}`);
    }
    if ((e.type === 'char' || e.type === 'block') && !skip(name, 'rdev')) {
      const [eM, em, aM, am] = [devMajor(e.stat.rdev), devMinor(e.stat.rdev), devMajor(a.stat.rdev), devMinor(a.stat.rdev)];
      if (eM !== aM || em !== am) add(name, 'rdev', `device ${aM},${am}, expected ${eM},${em}`);
    }
    if (e.type !== 'dir' && !skip(name, 'links')) {
      // every name whose set of fellow names differs is reported, so a broken 3-name group
      // shows all three names (the one cut off says "no other name")
      const ep = peersExpected.get(key) ?? [];
      const ap = peersActual.get(key) ?? [];
      if (ep.join('\0') !== ap.join('\0')) {
        const show = (keys: string[]): string =>
          keys.length === 0 ? 'no other name' : keys.map((k) => expected.get(k)?.display ?? k).join(', ');
        add(name, 'links', `hard-linked with ${show(ap)}, expected ${show(ep)}`);
      }
    }
    const mtimeSkipped =
      mtimeMode === 'none' || !meta || (options.ignoreMtimeFor ?? []).includes(e.type) || skip(name, 'mtime');
    if (!mtimeSkipped) {
      const en = e.stat.mtimeNs;
      const an = a.stat.mtimeNs;
      const differs = mtimeMode === 'ns' ? en !== an : secondsOf(en) !== secondsOf(an);
      if (differs) add(name, 'mtime', `mtime ${showTime(an, mtimeMode === 'ns')}, expected ${showTime(en, mtimeMode === 'ns')}`);
    }
  }
  return diffs.sort((x, y) => (x.message < y.message ? -1 : x.message > y.message ? 1 : 0));
}

/** Differences as one block of text for an assertion message (first `max` lines). */
export function formatDiffs(diffs: readonly string[], max = 40): string {
  const head = diffs.slice(0, max).map((d) => `  ${d}`);
  if (diffs.length > max) head.push(`  ... and ${diffs.length - max} more`);
  return head.join('\n');
}
