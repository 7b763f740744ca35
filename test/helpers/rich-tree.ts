/**
 * A small tree that looks like a Solaris root and exercises everything an image reader and the
 * zone-root writer must carry: directory modes (0555, 01777), set-id files, odd owners, hard-link
 * groups across directories, every kind of symlink, FIFOs and device nodes, a sparse file, a
 * UTF-8 name, a long path, bytes >= 0x80 (crc signedness) and distinct whole-second mtimes.
 *
 * `makeRichTree()` returns a description of every item so that a test can drop the ones a format
 * cannot carry (`items.filter(i => i.features.includes('big-id'))` for bcpio, for instance).
 *
 * Ownership is applied only when running as root, device nodes are made only as root; the
 * description says what was actually applied (`ownersApplied`, `devicesCreated`).
 * Nothing is placed under dev/, devices/, proc/, tmp/ or var/run/ (tmp/ stays empty) so that
 * a zone-style exclusion policy cannot make a comparison fail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isRoot, run } from './tools.js';

export type ItemKind = 'dir' | 'file' | 'symlink' | 'fifo' | 'char' | 'block';

/** Properties an item exercises; tests filter on them. */
export type Feature =
  | 'empty'
  | 'high-bytes' // content with bytes 0x80..0xff (crc sum signedness)
  | 'large' // ~300 KiB
  | 'sparse' // 5 MiB with two small data regions
  | 'setuid'
  | 'setgid'
  | 'sticky'
  | 'readonly-dir' // 0555 directory that has contents
  | 'odd-owner' // uid/gid other than 0/0
  | 'big-id' // uid or gid > 65535 (binary cpio holds 16 bits)
  | 'hardlink' // member of a hard-link group (see `linkGroup`)
  | 'relative-target'
  | 'absolute-target'
  | 'dangling'
  | 'long-target' // 150-char symlink target
  | 'dir-target' // symlink to a directory
  | 'utf8-name'
  | 'long-path' // ~190-char relative path
  | 'device'
  | 'big-rdev' // device major > 255 (binary cpio keeps 8 bits of major)
  | 'fifo';

export interface TreeItem {
  /** relative path without "./", '/' separated, UTF-8 */
  path: string;
  kind: ItemKind;
  /** permission bits incl. set-id/sticky (meaningless for symlinks) */
  mode: number;
  /** intended owner; applied only when `RichTree.ownersApplied` */
  uid: number;
  gid: number;
  /** whole seconds since the epoch */
  mtime: number;
  /** file size in bytes (files only) */
  size?: number;
  /** symlink target */
  target?: string;
  /** items with the same group name are hard links of one inode */
  linkGroup?: string;
  /** device numbers (char/block) */
  rdev?: { major: number; minor: number };
  features: Feature[];
  /** one line saying what the item is for */
  note: string;
}

export interface RichTree {
  root: string;
  /** every item below the root that exists on disk, parents before children */
  items: TreeItem[];
  /** mtime and mode given to the root directory itself */
  rootMtime: number;
  rootMode: number;
  ownersApplied: boolean;
  /** char/block nodes exist (root only); FIFOs always exist */
  devicesCreated: boolean;
}

/** Distinct whole-second mtimes in the past: 2001-09-09 plus one day and a few seconds per item. */
const mtimeBase = 1_000_000_000;

/** Deterministic pseudo-random bytes (xorshift32) so content differs from file to file. */
function patternBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function textBytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** Bytes 0x80..0xff repeated: a crc computed with signed chars differs from the unsigned one. */
function highBytes(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = 0x80 + (i % 0x80);
  return out;
}

const sparseSize = 5 * 1024 * 1024;
const sparseRegions: ReadonlyArray<{ offset: number; data: Buffer }> = [
  { offset: 1024 * 1024, data: Buffer.alloc(1000, 0x41) },
  { offset: 3 * 1024 * 1024 + 512, data: patternBytes(3000, 77) },
];

/** A ~190-char relative path whose components stay well under 255 bytes. */
function longPath(): string {
  const dirs = 'usr/share/doc/SUNWlongpath/a-directory-name-that-keeps-going-for-a-while/and-another-one-below-it-just-as-long';
  const wanted = 190;
  const stem = 'file-with-a-long-name';
  const pad = wanted - dirs.length - 1 - stem.length - '.txt'.length;
  return `${dirs}/${stem}${'-'.repeat(Math.max(0, pad - 1))}x.txt`;
}

/** A 150-char absolute symlink target (the link dangles; only the text matters). */
function longTarget(): string {
  const head = '/opt/SUNWlong/target/';
  return head + 'abcdefghij'.repeat(20).slice(0, 150 - head.length);
}

interface Spec {
  path: string;
  kind: ItemKind;
  mode?: number;
  uid?: number;
  gid?: number;
  content?: Buffer;
  sparse?: boolean;
  target?: string;
  linkGroup?: string;
  rdev?: { major: number; minor: number };
  features?: Feature[];
  note: string;
}

function specs(): Spec[] {
  const hardA = patternBytes(10_000, 11);
  const hardB = patternBytes(2_001, 12);
  return [
    { path: 'bin', kind: 'symlink', target: './usr/bin', features: ['relative-target', 'dir-target'], note: 'Solaris 10 /bin -> ./usr/bin' },
    { path: 'etc', kind: 'dir', note: 'plain directory' },
    { path: 'etc/motd', kind: 'file', mode: 0o644, content: textBytes('Oracle Corporation      SunOS 5.10      Generic Patch   January 2005\n'), note: 'small text file' },
    { path: 'etc/one-byte', kind: 'file', mode: 0o644, content: textBytes('x'), note: '1-byte file (newc data padding 3)' },
    { path: 'etc/two-bytes', kind: 'file', mode: 0o600, content: textBytes('yz'), note: '2-byte file, mode 0600' },
    { path: 'etc/shadow', kind: 'file', mode: 0o400, uid: 0, gid: 3, content: textBytes('root:x:6445::::::\n'), features: ['odd-owner'], note: 'mode 0400 owned by root:sys (0/3)' },
    { path: 'etc/dfs', kind: 'dir', note: 'directory holding an empty file' },
    { path: 'etc/dfs/sharetab', kind: 'file', mode: 0o444, content: Buffer.alloc(0), features: ['empty'], note: 'empty file, mode 0444' },
    { path: 'etc/inet', kind: 'dir', note: 'directory' },
    { path: 'etc/inet/hosts', kind: 'file', mode: 0o444, content: textBytes('127.0.0.1\tlocalhost\n::1\tlocalhost\n'), note: 'target of etc/hosts' },
    { path: 'etc/hosts', kind: 'symlink', target: './inet/hosts', features: ['relative-target'], note: 'relative symlink to a file' },
    { path: 'etc/initpipe', kind: 'fifo', mode: 0o600, features: ['fifo'], note: 'FIFO (Solaris has /etc/initpipe)' },
    { path: 'etc/devnodes', kind: 'dir', note: 'device nodes live here, not under dev/ (zone exclusion lists)' },
    { path: 'etc/devnodes/nvme0n1', kind: 'block', mode: 0o640, gid: 3, rdev: { major: 259, minor: 1 }, features: ['device', 'big-rdev', 'odd-owner'], note: 'block device 259,1: major > 255, too big for 16-bit rdev (root only)' },
    { path: 'etc/devnodes/null', kind: 'char', mode: 0o666, rdev: { major: 1, minor: 3 }, features: ['device'], note: 'char device 1,3 (root only)' },
    { path: 'etc/devnodes/loop0', kind: 'block', mode: 0o640, gid: 3, rdev: { major: 7, minor: 0 }, features: ['device', 'odd-owner'], note: 'block device 7,0 owned 0/3 (root only)' },
    { path: 'export', kind: 'dir', note: 'directory' },
    { path: 'export/home', kind: 'dir', note: 'directory' },
    { path: 'export/home/bigid', kind: 'dir', mode: 0o750, uid: 70000, gid: 80000, features: ['odd-owner', 'big-id'], note: 'directory owned 70000/80000' },
    { path: 'export/home/bigid/profile', kind: 'file', mode: 0o640, uid: 70000, gid: 80000, content: textBytes('PATH=/usr/bin\nexport PATH\n'), features: ['odd-owner', 'big-id'], note: 'file owned 70000/80000' },
    { path: 'opt', kind: 'dir', note: 'directory' },
    { path: 'opt/app', kind: 'dir', mode: 0o775, uid: 1234, gid: 5678, features: ['odd-owner'], note: 'directory owned 1234/5678, mode 0775' },
    { path: 'opt/app/data.db', kind: 'file', mode: 0o640, uid: 1234, gid: 5678, content: patternBytes(777, 3), features: ['odd-owner'], note: 'file owned 1234/5678' },
    { path: 'opt/app/données-ü€.txt', kind: 'file', mode: 0o644, content: textBytes('UTF-8 name\n'), features: ['utf8-name'], note: 'UTF-8 name' },
    { path: 'opt/app/current', kind: 'symlink', uid: 1234, gid: 5678, target: 'data.db', features: ['relative-target', 'odd-owner'], note: 'symlink owned 1234/5678 (lchown)' },
    { path: 'opt/ro', kind: 'dir', mode: 0o555, features: ['readonly-dir'], note: 'read-only directory that has contents' },
    { path: 'opt/ro/README', kind: 'file', mode: 0o444, content: textBytes('read-only directory\n'), note: 'file inside a 0555 directory' },
    { path: 'sbin', kind: 'dir', note: 'directory' },
    { path: 'sbin/sh', kind: 'file', mode: 0o555, content: hardA, linkGroup: 'A', features: ['hardlink'], note: 'hard-link group A (3 names, 3 dirs)' },
    { path: 'tmp', kind: 'dir', mode: 0o1777, features: ['sticky'], note: 'empty 01777 directory like /tmp' },
    { path: 'usr', kind: 'dir', note: 'directory' },
    { path: 'usr/bin', kind: 'dir', note: 'directory' },
    { path: 'usr/bin/ksh', kind: 'file', mode: 0o555, content: hardA, linkGroup: 'A', features: ['hardlink'], note: 'hard-link group A' },
    { path: 'usr/bin/ls', kind: 'file', mode: 0o555, content: patternBytes(4096, 5), note: '4 KiB file' },
    { path: 'usr/bin/passwd', kind: 'file', mode: 0o4755, uid: 0, gid: 3, content: patternBytes(1500, 6), features: ['setuid', 'odd-owner'], note: 'setuid root, group sys' },
    { path: 'usr/bin/vi', kind: 'file', mode: 0o750, uid: 1234, gid: 5678, content: hardB, linkGroup: 'B', features: ['hardlink', 'odd-owner'], note: 'hard-link pair B, owned 1234/5678' },
    { path: 'usr/bin/view', kind: 'file', mode: 0o750, uid: 1234, gid: 5678, content: hardB, linkGroup: 'B', features: ['hardlink', 'odd-owner'], note: 'hard-link pair B' },
    { path: 'usr/bin/write', kind: 'file', mode: 0o2755, uid: 0, gid: 7, content: patternBytes(900, 7), features: ['setgid', 'odd-owner'], note: 'setgid tty' },
    { path: 'usr/lib', kind: 'dir', note: 'directory' },
    { path: 'usr/lib/libc.so.1', kind: 'file', mode: 0o755, content: patternBytes(300 * 1024 + 3, 8), features: ['large'], note: '~300 KiB file, size not a multiple of 4' },
    { path: 'usr/lib/locale', kind: 'dir', note: 'directory' },
    { path: 'usr/lib/locale/high-bytes.bin', kind: 'file', mode: 0o644, content: highBytes(1027), features: ['high-bytes'], note: 'bytes 0x80..0xff: crc signedness' },
    { path: 'usr/sbin', kind: 'dir', note: 'directory' },
    { path: 'usr/sbin/ls', kind: 'symlink', target: '/usr/bin/ls', features: ['absolute-target'], note: 'absolute symlink' },
    { path: 'usr/share', kind: 'dir', note: 'directory' },
    { path: 'usr/share/doc', kind: 'dir', note: 'directory' },
    { path: 'usr/share/doc/SUNWlongpath', kind: 'dir', note: 'directory' },
    { path: 'usr/share/doc/SUNWlongpath/a-directory-name-that-keeps-going-for-a-while', kind: 'dir', note: 'directory' },
    { path: 'usr/share/doc/SUNWlongpath/a-directory-name-that-keeps-going-for-a-while/and-another-one-below-it-just-as-long', kind: 'dir', note: 'directory' },
    { path: longPath(), kind: 'file', mode: 0o644, content: textBytes('deep\n'), features: ['long-path'], note: '~190-char path' },
    { path: 'usr/xpg4', kind: 'dir', note: 'directory' },
    { path: 'usr/xpg4/bin', kind: 'dir', note: 'directory' },
    { path: 'usr/xpg4/bin/sh', kind: 'file', mode: 0o555, content: hardA, linkGroup: 'A', features: ['hardlink'], note: 'hard-link group A' },
    { path: 'var', kind: 'dir', note: 'directory' },
    { path: 'var/adm', kind: 'dir', note: 'directory' },
    { path: 'var/adm/lastlog', kind: 'file', mode: 0o644, sparse: true, features: ['sparse'], note: '5 MiB sparse file, two small data regions' },
    { path: 'var/opt', kind: 'dir', note: 'directory' },
    { path: 'var/opt/dangling', kind: 'symlink', target: '../../nonexistent/file', features: ['relative-target', 'dangling'], note: 'dangling relative symlink' },
    { path: 'var/opt/long-target', kind: 'symlink', target: longTarget(), features: ['absolute-target', 'dangling', 'long-target'], note: '150-char symlink target' },
    { path: 'var/tmp', kind: 'dir', mode: 0o1777, features: ['sticky'], note: '01777 directory' },
    { path: 'var/tmp/scratch', kind: 'file', mode: 0o666, content: textBytes('scratch\n'), note: 'file in a sticky directory' },
  ];
}

/**
 * Build the tree under `dir` (created if missing; must be empty). Returns its description.
 * Metadata order: create everything, then owners (lchown), then modes (chown clears set-id bits),
 * then mtimes: non-directories first, then directories deepest first, the root last.
 */
export function makeRichTree(dir: string): RichTree {
  fs.mkdirSync(dir, { recursive: true });
  if (fs.readdirSync(dir).length > 0) throw new Error(`makeRichTree: ${dir} is not empty`);
  const root = isRoot();
  const list = specs();
  const items: TreeItem[] = [];
  const firstOfGroup = new Map<string, string>();

  list.forEach((spec, index) => {
    const full = path.join(dir, spec.path);
    const mode = spec.mode ?? (spec.kind === 'dir' ? 0o755 : spec.kind === 'symlink' ? 0o777 : 0o644);
    let size: number | undefined;
    switch (spec.kind) {
      case 'dir':
        fs.mkdirSync(full);
        break;
      case 'file': {
        const group = spec.linkGroup;
        const first = group === undefined ? undefined : firstOfGroup.get(group);
        if (first !== undefined) {
          fs.linkSync(path.join(dir, first), full);
        } else if (spec.sparse) {
          const fd = fs.openSync(full, 'wx');
          try {
            fs.ftruncateSync(fd, sparseSize);
            for (const region of sparseRegions) fs.writeSync(fd, region.data, 0, region.data.length, region.offset);
          } finally {
            fs.closeSync(fd);
          }
        } else {
          fs.writeFileSync(full, spec.content ?? Buffer.alloc(0), { flag: 'wx' });
        }
        if (group !== undefined && first === undefined) firstOfGroup.set(group, spec.path);
        size = spec.sparse ? sparseSize : (spec.content?.length ?? 0);
        break;
      }
      case 'symlink':
        fs.symlinkSync(spec.target!, full);
        break;
      case 'fifo':
        run('mkfifo', [full]);
        break;
      case 'char':
      case 'block':
        if (root) {
          const { major, minor } = spec.rdev!;
          run('mknod', [full, spec.kind === 'char' ? 'c' : 'b', String(major), String(minor)]);
        }
        break;
    }
    items.push({
      path: spec.path,
      kind: spec.kind,
      mode,
      uid: spec.uid ?? 0,
      gid: spec.gid ?? 0,
      mtime: mtimeBase + index * 86_400 + index,
      ...(size === undefined ? {} : { size }),
      ...(spec.target === undefined ? {} : { target: spec.target }),
      ...(spec.linkGroup === undefined ? {} : { linkGroup: spec.linkGroup }),
      ...(spec.rdev === undefined ? {} : { rdev: spec.rdev }),
      features: spec.features ?? [],
      note: spec.note,
    });
  });

  // Hard-linked names share one inode: give every name of a group the first name's mtime.
  const groupMtime = new Map<string, number>();
  for (const item of items) {
    if (item.linkGroup === undefined) continue;
    const seen = groupMtime.get(item.linkGroup);
    if (seen === undefined) groupMtime.set(item.linkGroup, item.mtime);
    else item.mtime = seen;
  }

  const present = items.filter((i) => root || (i.kind !== 'char' && i.kind !== 'block'));
  if (root) {
    for (const item of present) fs.lchownSync(path.join(dir, item.path), item.uid, item.gid);
    fs.chownSync(dir, 0, 0);
  }
  for (const item of present) {
    if (item.kind !== 'symlink') fs.chmodSync(path.join(dir, item.path), item.mode);
  }
  const rootMode = 0o755;
  fs.chmodSync(dir, rootMode);

  for (const item of present) {
    if (item.kind === 'dir') continue;
    const full = path.join(dir, item.path);
    if (item.kind === 'symlink') fs.lutimesSync(full, item.mtime, item.mtime);
    else fs.utimesSync(full, item.mtime, item.mtime);
  }
  const dirs = present.filter((i) => i.kind === 'dir');
  dirs.sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const item of dirs) fs.utimesSync(path.join(dir, item.path), item.mtime, item.mtime);
  const rootMtime = mtimeBase - 86_400;
  fs.utimesSync(dir, rootMtime, rootMtime);

  return { root: dir, items: present, rootMtime, rootMode, ownersApplied: root, devicesCreated: root };
}
