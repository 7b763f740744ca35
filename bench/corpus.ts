/**
 * Seeded generator of a Solaris-root-like tree for the extraction benchmark (no downloads).
 *
 *   node dist/bench/corpus.js --seed 1 --size 256M --out DIR [--manifest FILE]
 *
 * The same seed and size give the same tree, byte for byte (contents, names, modes, owners, times).
 * Shape, per 256 MiB: ~25k entries; bin -> ./usr/bin; etc, kernel, lib, platform, sbin, usr/{bin,
 * sbin,lib,include,share/man/man*,...}, var/{sadm/pkg,svc/manifest,...}, opt; small files with a
 * log-normal size distribution (median ~4 KiB) plus a few large ones (boot_archive ~16% of the
 * total, i.e. ~40 MiB, then a few MiB each); about 17% of files repeat another file's content;
 * hard-link groups (an isaexec-style group and a few pairs); relative, absolute and dangling
 * symlinks; setuid/setgid binaries; sticky world-writable tmp dirs; owners root/bin/sys (0/2/3)
 * when run as root; mtimes spread over the years before and after a 2011 release date.
 *
 * How it works: first a plan (every node with its metadata and a content seed) is built from one
 * PRNG stream, so the plan alone fixes the tree; then it is written: directories, files
 * (owner -> mode -> times, because chown clears setuid), hard links, symlinks, and finally the
 * directories' own modes and times, deepest first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Rng } from './prng.js';
import { ContentStream, identifier, type ContentKind } from './corpus-content.js';
import { parseSize, sizeLabel } from './size.js';

/** Bump when the generated tree changes, so cached corpora are rebuilt. */
export const CORPUS_GENERATOR = 'zonep2v-bench-corpus/1';

export interface CorpusOptions {
  seed: number;
  /** regular-file data bytes to aim for (default 256 MiB) */
  totalBytes?: number;
  /** output directory: must not exist or be empty */
  dir: string;
  /** progress lines on stderr */
  verbose?: boolean;
}

export interface CorpusStats {
  generator: string;
  seed: number;
  targetBytes: number;
  /** every path below the root (what `find . | wc -l` counts, minus ".") */
  entries: number;
  dirs: number;
  /** regular files (inodes) */
  files: number;
  /** extra names of hard-linked files */
  hardlinks: number;
  hardlinkGroups: number;
  symlinks: number;
  /** regular-file data bytes, each inode once */
  dataBytes: number;
  duplicates: number;
  duplicateBytes: number;
  setuidOrSetgid: number;
  emptyFiles: number;
  medianFileBytes: number;
  largest: { path: string; bytes: number }[];
  bytesByKind: Record<string, number>;
  ownersApplied: boolean;
  elapsedMs: number;
}

// ---- plan ----

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}
interface DirNode extends Meta {
  type: 'dir';
  path: string;
}
interface FileNode extends Meta {
  type: 'file';
  path: string;
  size: number;
  kind: ContentKind;
  seed: number;
  area: string;
  dupOf?: string;
}
interface LinkNode {
  type: 'hardlink';
  path: string;
  target: string;
}
interface SymlinkNode extends Meta {
  type: 'symlink';
  path: string;
  target: string;
}
type PlanNode = DirNode | FileNode | LinkNode | SymlinkNode;

const ROOT = 0,
  BIN = 2,
  SYS = 3;
/** 2011-11-09, the Solaris 11 release: most mtimes fall in the years before it, patches after. */
const T0 = 1320796800;
const DAY = 86400;

interface Area {
  base: string;
  /** share of the small files (by count) */
  share: number;
  kinds: readonly (readonly [number, ContentKind])[];
  /** a new subdirectory every `perDir` files on average (Infinity: only the fixed ones) */
  perDir: number;
  maxDepth: number;
  fixed?: readonly string[];
  modes: readonly (readonly [number, number])[];
  owner: readonly [number, number];
  /** median size multiplier on top of the kind's */
  sizeMul?: number;
}

const MAN_SECTIONS = ['1', '1m', '1b', '2', '3c', '3lib', '3socket', '3nsl', '3head', '4', '5', '7d', '7fs', '7i', '9e', '9f', '9s'];

const AREAS: readonly Area[] = [
  { base: 'usr/bin', share: 0.05, kinds: [[85, 'binary'], [15, 'script']], perDir: Infinity, maxDepth: 0, modes: [[85, 0o555], [15, 0o755]], owner: [ROOT, BIN] },
  { base: 'usr/sbin', share: 0.025, kinds: [[80, 'binary'], [20, 'script']], perDir: Infinity, maxDepth: 0, modes: [[90, 0o555], [10, 0o755]], owner: [ROOT, BIN] },
  { base: 'sbin', share: 0.004, kinds: [[100, 'binary']], perDir: Infinity, maxDepth: 0, modes: [[100, 0o555]], owner: [ROOT, SYS] },
  { base: 'usr/xpg4/bin', share: 0.005, kinds: [[100, 'binary']], perDir: Infinity, maxDepth: 0, modes: [[100, 0o555]], owner: [ROOT, BIN] },
  {
    base: 'usr/lib', share: 0.2, perDir: 25, maxDepth: 3, fixed: ['amd64', 'security', 'fs', 'inet', 'netsvc', 'locale', 'crypto'],
    kinds: [[77, 'binary'], [5, 'script'], [5, 'config'], [6, 'text'], [5, 'xml'], [2, 'random']],
    modes: [[50, 0o555], [25, 0o444], [15, 0o755], [10, 0o644]], owner: [ROOT, BIN],
  },
  {
    base: 'lib', share: 0.03, perDir: 30, maxDepth: 2, fixed: ['amd64', 'svc/method', 'svc/bin', 'svc/share', 'crypto'],
    kinds: [[70, 'binary'], [30, 'script']], modes: [[70, 0o555], [30, 0o755]], owner: [ROOT, BIN],
  },
  {
    base: 'kernel', share: 0.03, perDir: Infinity, maxDepth: 0,
    fixed: ['drv', 'drv/amd64', 'fs', 'fs/amd64', 'misc', 'misc/amd64', 'strmod', 'strmod/amd64', 'sys', 'sys/amd64', 'sched', 'exec', 'crypto', 'ipp', 'mac', 'socketmod'],
    kinds: [[88, 'binary'], [12, 'config']], modes: [[85, 0o755], [15, 0o644]], owner: [ROOT, SYS],
  },
  { base: 'platform/i86pc', share: 0.008, perDir: 20, maxDepth: 2, fixed: ['kernel/amd64', 'kernel/drv/amd64', 'kernel/cpu'], kinds: [[100, 'binary']], modes: [[100, 0o755]], owner: [ROOT, SYS] },
  {
    base: 'usr/share/man', share: 0.17, perDir: Infinity, maxDepth: 0, fixed: MAN_SECTIONS.map((s) => `man${s}`),
    kinds: [[100, 'man']], modes: [[100, 0o444]], owner: [ROOT, BIN], sizeMul: 0.9,
  },
  {
    base: 'usr/include', share: 0.06, perDir: 40, maxDepth: 2, fixed: ['sys', 'sys/fm', 'netinet', 'arpa', 'rpc', 'inet', 'security', 'vm'],
    kinds: [[100, 'header']], modes: [[100, 0o644]], owner: [ROOT, BIN],
  },
  {
    base: 'usr/share/lib', share: 0.03, perDir: 20, maxDepth: 3, fixed: ['zoneinfo', 'zoneinfo/America', 'zoneinfo/Europe', 'zoneinfo/Asia', 'terminfo', 'xml/dtd'],
    kinds: [[40, 'binary'], [40, 'text'], [20, 'config']], modes: [[100, 0o644]], owner: [ROOT, BIN],
  },
  {
    base: 'usr/lib/locale', share: 0.03, perDir: 15, maxDepth: 2, fixed: ['C', 'de_DE.UTF-8/LC_MESSAGES', 'fr_FR.UTF-8/LC_MESSAGES', 'ja_JP.UTF-8/LC_MESSAGES', 'zh_CN.UTF-8/LC_MESSAGES'],
    kinds: [[70, 'binary'], [30, 'text']], modes: [[100, 0o444]], owner: [ROOT, BIN],
  },
  { base: 'usr/share/doc', share: 0.03, perDir: 10, maxDepth: 2, kinds: [[80, 'text'], [20, 'xml']], modes: [[100, 0o444]], owner: [ROOT, BIN] },
  { base: 'usr/sfw', share: 0.04, perDir: 20, maxDepth: 3, fixed: ['bin', 'sbin', 'lib', 'share/man/man1', 'include'], kinds: [[55, 'binary'], [20, 'man'], [15, 'header'], [10, 'text']], modes: [[60, 0o555], [40, 0o444]], owner: [ROOT, BIN] },
  { base: 'usr/demo', share: 0.02, perDir: 15, maxDepth: 2, kinds: [[60, 'header'], [40, 'text']], modes: [[100, 0o444]], owner: [ROOT, BIN] },
  {
    base: 'etc', share: 0.03, perDir: 40, maxDepth: 2,
    fixed: ['default', 'init.d', 'rc0.d', 'rc1.d', 'rc2.d', 'rc3.d', 'rcS.d', 'security', 'inet', 'mail', 'ssh', 'dfs', 'lp', 'fs', 'net', 'svc', 'opt', 'zones', 'crypto'],
    kinds: [[80, 'config'], [20, 'script']], modes: [[65, 0o644], [15, 0o444], [8, 0o600], [8, 0o744], [4, 0o400]], owner: [ROOT, SYS], sizeMul: 0.6,
  },
  {
    base: 'var/sadm/pkg', share: 0.12, perDir: 12, maxDepth: 0,
    kinds: [[80, 'pkg'], [20, 'script']], modes: [[70, 0o644], [20, 0o444], [10, 0o555]], owner: [ROOT, SYS], sizeMul: 0.5,
  },
  { base: 'var/svc/manifest', share: 0.02, perDir: Infinity, maxDepth: 0, fixed: ['system', 'network', 'application', 'platform', 'milestone', 'site'], kinds: [[100, 'xml']], modes: [[100, 0o444]], owner: [ROOT, SYS] },
  { base: 'var', share: 0.01, perDir: Infinity, maxDepth: 0, fixed: ['adm', 'log', 'spool/cron/crontabs', 'spool/lp', 'mail', 'saf', 'ld'], kinds: [[70, 'text'], [30, 'config']], modes: [[80, 0o644], [20, 0o600]], owner: [ROOT, SYS] },
  {
    base: 'opt', share: 0.1, perDir: 20, maxDepth: 4, fixed: ['SUNWspro/bin', 'SUNWspro/lib', 'SUNWspro/man/man1', 'VRTSvxvm/bin', 'csw/bin', 'csw/lib', 'local/bin', 'local/share/doc'],
    kinds: [[62, 'binary'], [15, 'text'], [10, 'man'], [3, 'random'], [10, 'header']], modes: [[50, 0o755], [30, 0o644], [20, 0o555]], owner: [ROOT, BIN],
  },
  { base: 'usr/java', share: 0.03, perDir: 15, maxDepth: 3, fixed: ['bin', 'jre/lib', 'jre/lib/amd64', 'lib', 'demo'], kinds: [[65, 'binary'], [15, 'random'], [20, 'text']], modes: [[60, 0o644], [40, 0o755]], owner: [ROOT, BIN] },
];

/** Median size (bytes) per kind before the area's multiplier; sizes are log-normal around it. */
const KIND_MEDIAN: Record<ContentKind, number> = {
  binary: 8000, random: 10000, man: 5200, header: 4000, script: 2900, config: 1400, xml: 4000, pkg: 1400, text: 4600,
};
const SIZE_SIGMA = 1.0;
const MAX_SMALL = 1536 * 1024;

/** Large files as fractions of the total (at 256 MiB: ~40 MiB boot_archive, then a few MiB each). */
const LARGE: readonly { path: string; frac: number; kind: ContentKind; mode: number; owner: readonly [number, number] }[] = [
  { path: 'platform/i86pc/amd64/boot_archive', frac: 40 / 256, kind: 'binary', mode: 0o644, owner: [ROOT, ROOT] },
  { path: 'var/sadm/install/contents', frac: 8 / 256, kind: 'pkg', mode: 0o644, owner: [ROOT, ROOT] },
  { path: 'usr/java/jre/lib/rt.jar', frac: 6 / 256, kind: 'random', mode: 0o644, owner: [ROOT, BIN] },
  { path: 'opt/SUNWspro/lib/amd64/libsunperf.so.3', frac: 6 / 256, kind: 'binary', mode: 0o755, owner: [ROOT, BIN] },
  { path: 'kernel/amd64/genunix', frac: 4 / 256, kind: 'binary', mode: 0o755, owner: [ROOT, SYS] },
  { path: 'usr/lib/locale/zh_CN.UTF-8/zh_CN.UTF-8.so.3', frac: 4 / 256, kind: 'binary', mode: 0o555, owner: [ROOT, BIN] },
  { path: 'var/adm/wtmpx', frac: 3 / 256, kind: 'binary', mode: 0o644, owner: [4, 4] },
  { path: 'usr/lib/amd64/libc.so.1', frac: 2 / 256, kind: 'binary', mode: 0o755, owner: [ROOT, BIN] },
];

const SETUID_NAMES: readonly [string, number][] = [
  ['usr/bin/passwd', 0o6555], ['usr/bin/su', 0o4555], ['usr/bin/login', 0o4555], ['usr/bin/crontab', 0o4555],
  ['usr/bin/at', 0o4755], ['usr/bin/atq', 0o4755], ['usr/bin/atrm', 0o4755], ['usr/bin/newgrp', 0o4755],
  ['usr/bin/rcp', 0o4555], ['usr/bin/rlogin', 0o4555], ['usr/bin/rsh', 0o4555], ['usr/bin/write', 0o2555],
  ['usr/sbin/ping', 0o4555], ['usr/sbin/traceroute', 0o4555], ['usr/lib/pt_chmod', 0o4511], ['usr/lib/utmp_update', 0o4555],
  ['usr/bin/mail', 0o2511], ['usr/sbin/sacadm', 0o4755],
];

const EMPTY_DIRS = ['dev', 'devices/pseudo', 'proc', 'mnt', 'home', 'export/home', 'net', 'system/contract', 'system/object', 'var/run', 'var/spool/uucp', 'var/preserve', 'var/news', 'tmp', 'var/tmp', 'cdrom'];
const STICKY_DIRS = new Set(['tmp', 'var/tmp', 'var/preserve', 'var/spool/uucp']);

class Planner {
  readonly nodes = new Map<string, PlanNode>();
  readonly rng: Rng;
  private readonly areaDirs = new Map<Area, string[]>();
  /** small files by area, for duplicates and links */
  readonly smallFiles: FileNode[] = [];

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  time(spreadDays = 1500): number {
    const r = this.rng;
    if (r.chance(0.1)) return T0 + r.int(700 * DAY); // patched after release
    return T0 - Math.floor(-Math.log(1 - r.float()) * (spreadDays / 3) * DAY) % (spreadDays * DAY);
  }

  ensureDir(p: string, mode?: number, owner?: readonly [number, number]): DirNode {
    const existing = this.nodes.get(p);
    if (existing) {
      if (existing.type !== 'dir') throw new Error(`corpus plan: ${p} is not a directory`);
      return existing;
    }
    const parent = path.posix.dirname(p);
    if (parent !== '.') this.ensureDir(parent);
    const r = this.rng;
    const node: DirNode = {
      type: 'dir',
      path: p,
      mode: mode ?? (STICKY_DIRS.has(p) ? 0o1777 : r.weighted([[88, 0o755], [8, 0o555], [4, 0o700]] as const)),
      uid: owner?.[0] ?? ROOT,
      gid: owner?.[1] ?? r.weighted([[70, SYS], [30, BIN]] as const),
      mtime: this.time(),
    };
    this.nodes.set(p, node);
    return node;
  }

  /** A free name in `dir`, from `make()`; falls back to numbered variants. */
  freeName(dir: string, make: () => string): string {
    for (let i = 0; i < 8; i++) {
      const name = make();
      if (name && !this.nodes.has(`${dir}/${name}`)) return name;
    }
    const base = make();
    for (let i = 2; ; i++) if (!this.nodes.has(`${dir}/${base}.${i}`)) return `${base}.${i}`;
  }

  /** Creates every area's fixed directories up front, so no file can take one of their names. */
  initAreas(): void {
    for (const area of AREAS) {
      const dirs = [area.base, ...(area.fixed ?? []).map((f) => `${area.base}/${f}`)];
      for (const d of dirs) this.ensureDir(d, undefined, [ROOT, area.owner[1]]);
      this.areaDirs.set(area, dirs);
    }
  }

  dirFor(area: Area): string {
    const dirs = this.areaDirs.get(area)!;
    const r = this.rng;
    if (area.perDir !== Infinity && (dirs.length === 1 || r.chance(1 / area.perDir))) {
      const candidates = dirs.filter((d) => depthBelow(d, area.base) < Math.max(1, area.maxDepth));
      const parent = r.pick(candidates.length ? candidates : [area.base]);
      const name = this.freeName(parent, () =>
        area.base === 'var/sadm/pkg' ? `SUNW${identifier(r, 1, 3)}` : identifier(r, 1, 2),
      );
      const d = `${parent}/${name}`;
      this.ensureDir(d);
      dirs.push(d);
      if (area.base === 'var/sadm/pkg') {
        for (const sub of ['install', `save/pspool/${name}/install`]) {
          this.ensureDir(`${d}/${sub}`);
          dirs.push(`${d}/${sub}`);
        }
      }
      return d;
    }
    return r.pick(dirs);
  }

  fileName(area: Area, dir: string, kind: ContentKind): string {
    const r = this.rng;
    return this.freeName(dir, () => {
      const id = identifier(r, 1, 3);
      switch (kind) {
        case 'man': {
          const sec = /man(\w+)$/.exec(dir)?.[1] ?? '1';
          return `${id}.${sec}`;
        }
        case 'header':
          return `${id}.h`;
        case 'xml':
          return `${id}.xml`;
        case 'config':
          return r.chance(0.5) ? `${id}.conf` : id;
        case 'script':
          return r.chance(0.3) ? `${id}.sh` : id;
        case 'random':
          return `${id}${r.pick(['.jar', '.gz', '.zip', '.Z', '.png'])}`;
        case 'pkg':
          return r.chance(0.5) ? r.pick(['pkginfo', 'pkgmap', 'depend', 'copyright', 'space', 'i.none', 'checkinstall']) : id;
        case 'text':
          return r.chance(0.3) ? `${id}.txt` : r.chance(0.1) ? 'README' : id;
        case 'binary':
          if (area.base.includes('lib') || area.base.startsWith('usr/java')) {
            return r.chance(0.6) ? `lib${id}.so.1` : r.chance(0.5) ? `${id}.so` : id;
          }
          if (area.base === 'usr/lib/locale') return `${id}.mo`;
          return id;
      }
    });
  }

  addFile(p: string, meta: Meta, size: number, kind: ContentKind, area: string, seed: number, dupOf?: string): FileNode {
    this.ensureDir(path.posix.dirname(p));
    const node: FileNode = { type: 'file', path: p, ...meta, size, kind, seed, area };
    if (dupOf) node.dupOf = dupOf;
    this.nodes.set(p, node);
    return node;
  }
}

function depthBelow(dir: string, base: string): number {
  if (dir === base) return 0;
  return dir.slice(base.length + 1).split('/').length;
}

/** Builds the whole plan from the seed; no file-system access. */
function plan(seed: number, totalBytes: number): { planner: Planner; largeBytes: number } {
  const p = new Planner(seed);
  const r = p.rng;

  // Top-level shape first, so the tree always looks like a root.
  p.nodes.set('bin', { type: 'symlink', path: 'bin', target: './usr/bin', mode: 0o777, uid: ROOT, gid: ROOT, mtime: p.time() });
  for (const d of EMPTY_DIRS) p.ensureDir(d);
  p.ensureDir('usr', 0o755, [ROOT, SYS]);
  p.ensureDir('etc', 0o755, [ROOT, SYS]);
  p.ensureDir('var', 0o755, [ROOT, SYS]);
  p.ensureDir('opt', 0o755, [ROOT, SYS]);
  p.initAreas();

  // Large files.
  let largeBytes = 0;
  for (const l of LARGE) {
    const size = Math.max(4096, Math.round(l.frac * totalBytes * (0.9 + 0.2 * r.float())));
    p.addFile(l.path, { mode: l.mode, uid: l.owner[0], gid: l.owner[1], mtime: p.time() }, size, l.kind, 'large', r.u32());
    largeBytes += size;
  }

  // The isaexec hard-link group's target, and the named setuid binaries.
  const isaexec = p.addFile('usr/lib/isaexec', { mode: 0o555, uid: ROOT, gid: BIN, mtime: p.time() }, 11_420, 'binary', 'usr/lib', r.u32());
  let smallBytes = isaexec.size;
  for (const [sp, mode] of SETUID_NAMES) {
    const size = Math.round(r.logNormal(KIND_MEDIAN.binary * 2, 0.8));
    p.addFile(sp, { mode, uid: ROOT, gid: r.pick([BIN, SYS]), mtime: p.time() }, size, 'binary', path.posix.dirname(sp), r.u32());
    smallBytes += size;
  }

  // Small files until the byte budget is used; ~17% repeat an earlier file's content.
  const areaWeights = AREAS.map((a) => [a.share, a] as const);
  const budget = Math.max(0, totalBytes - largeBytes);
  while (smallBytes < budget) {
    if (p.smallFiles.length > 50 && r.chance(0.17)) {
      const src = r.pick(p.smallFiles);
      const area = AREAS.find((a) => a.base === src.area) ?? r.pick(AREAS);
      const dir = p.dirFor(area);
      const base = path.posix.basename(src.path);
      const name = p.nodes.has(`${dir}/${base}`) ? p.fileName(area, dir, src.kind) : base;
      const node = p.addFile(`${dir}/${name}`, { mode: src.mode, uid: src.uid, gid: src.gid, mtime: r.chance(0.5) ? src.mtime : p.time() }, src.size, src.kind, area.base, src.seed, src.path);
      smallBytes += node.size;
      continue;
    }
    const area = r.weighted(areaWeights);
    const kind = r.weighted(area.kinds);
    const dir = p.dirFor(area);
    const name = p.fileName(area, dir, kind);
    const size = r.chance(0.02) ? 0 : Math.min(MAX_SMALL, Math.max(1, Math.round(r.logNormal(KIND_MEDIAN[kind] * (area.sizeMul ?? 1), SIZE_SIGMA))));
    let mode = r.weighted(area.modes);
    if (kind === 'binary' && r.chance(0.003)) mode |= r.pick([0o4000, 0o2000]);
    const node = p.addFile(`${dir}/${name}`, { mode, uid: area.owner[0], gid: area.owner[1], mtime: p.time() }, size, kind, area.base, r.u32());
    if (size > 0) p.smallFiles.push(node);
    smallBytes += size;
  }

  const nFiles = p.smallFiles.length;

  // Hard links: isaexec-style group, plus a few small groups of binaries.
  const isaLinks = Math.max(4, Math.min(40, Math.round(nFiles / 700)));
  for (let i = 0; i < isaLinks; i++) {
    const dir = r.chance(0.7) ? 'usr/bin' : 'usr/sbin';
    const name = p.freeName(dir, () => identifier(r, 1, 2));
    p.nodes.set(`${dir}/${name}`, { type: 'hardlink', path: `${dir}/${name}`, target: isaexec.path });
  }
  const bins = p.smallFiles.filter((f) => f.kind === 'binary' && !f.dupOf && /^(usr\/bin|usr\/sbin|sbin|usr\/lib)$/.test(f.area));
  for (let g = 0; g < 6 && bins.length; g++) {
    const target = r.pick(bins);
    const links = r.range(1, 3);
    for (let i = 0; i < links; i++) {
      const dir = r.pick(['usr/bin', 'usr/sbin', 'etc', path.posix.dirname(target.path)]);
      const name = p.freeName(dir, () => identifier(r, 1, 2));
      p.nodes.set(`${dir}/${name}`, { type: 'hardlink', path: `${dir}/${name}`, target: target.path });
    }
  }

  // Symlinks: ~4% of entries. Compatibility links, library version links, rc links, /dev links.
  const sym = (at: string, target: string): void => {
    if (p.nodes.has(at)) return;
    p.ensureDir(path.posix.dirname(at));
    p.nodes.set(at, { type: 'symlink', path: at, target, mode: 0o777, uid: ROOT, gid: r.pick([ROOT, BIN, SYS]), mtime: p.time() });
  };
  for (const [at, target] of [
    ['usr/spool', '../var/spool'], ['usr/adm', '../var/adm'], ['usr/tmp', '../var/tmp'], ['usr/mail', '../var/mail'],
    ['usr/news', '../var/news'], ['usr/preserve', '../var/preserve'], ['etc/log', '../var/adm/log'], ['usr/lib/32', '.'],
    ['usr/lib/64', 'amd64'], ['lib/64', 'amd64'], ['usr/ccs/bin/make', '../../bin/make'], ['etc/TIMEZONE', './default/init'],
  ] as const) sym(at, target);
  const scale = Math.max(1, Math.round(nFiles / 1000));
  const libs = p.smallFiles.filter((f) => /\/lib[^/]*\.so\.1$/.test(f.path));
  for (let i = 0; i < 20 * scale && libs.length; i++) {
    const lib = r.pick(libs);
    sym(lib.path.slice(0, -2), path.posix.basename(lib.path)); // libfoo.so -> libfoo.so.1
  }
  const inits = p.smallFiles.filter((f) => f.path.startsWith('etc/init.d/'));
  for (let i = 0; i < 8 * scale && inits.length; i++) {
    const s = r.pick(inits);
    const rc = r.pick(['rc0.d', 'rc1.d', 'rc2.d', 'rc3.d', 'rcS.d']);
    const name = `${r.pick(['S', 'K'])}${r.range(10, 99)}${path.posix.basename(s.path)}`;
    sym(`etc/${rc}/${name}`, r.chance(0.5) ? `../init.d/${path.posix.basename(s.path)}` : `/${s.path}`);
  }
  const sbins = p.smallFiles.filter((f) => f.area === 'usr/sbin' || f.area === 'usr/bin');
  for (let i = 0; i < 6 * scale && sbins.length; i++) {
    const t = r.pick(sbins);
    if (r.chance(0.5)) sym(`etc/${path.posix.basename(t.path)}`, `../${t.path}`); // relative, up one
    else sym(`usr/sfw/bin/${path.posix.basename(t.path)}`, `/${t.path}`); // absolute
  }
  for (let i = 0; i < 6 * scale; i++) {
    const dev = identifier(r, 1, 2);
    sym(`dev/${dev}`, `../devices/pseudo/${dev}@0:${dev}`); // dangling, as in an image
  }
  const anyFiles = p.smallFiles;
  for (let i = 0; i < 4 * scale && anyFiles.length; i++) {
    const t = r.pick(anyFiles);
    const area = r.pick(AREAS);
    const dir = p.dirFor(area);
    const name = p.freeName(dir, () => identifier(r, 1, 2));
    sym(`${dir}/${name}`, r.chance(0.5) ? `/${t.path}` : path.posix.relative(dir, t.path));
  }

  return { planner: p, largeBytes };
}

// ---- writing ----

export async function generateCorpus(opts: CorpusOptions): Promise<CorpusStats> {
  const t0 = performance.now();
  const totalBytes = opts.totalBytes ?? 256 * 1024 * 1024;
  const { planner } = plan(opts.seed, totalBytes);
  const nodes = [...planner.nodes.values()];
  const asRoot = process.getuid?.() === 0;

  prepareOut(opts.dir);
  const abs = (p: string): string => path.join(opts.dir, p);

  const dirs = nodes.filter((n): n is DirNode => n.type === 'dir').sort((a, b) => cmp(a.path, b.path));
  for (const d of dirs) fs.mkdirSync(abs(d.path), { mode: 0o755 });

  const scratch = new Uint8Array(ContentStream.CHUNK);
  const files = nodes.filter((n): n is FileNode => n.type === 'file');
  let done = 0;
  let lastReport = performance.now();
  for (const f of files) {
    const fd = fs.openSync(abs(f.path), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
      const stream = new ContentStream(f.kind, f.size, f.seed);
      for (let chunk = stream.next(scratch); chunk; chunk = stream.next(scratch)) writeAll(fd, chunk);
      if (asRoot) fs.fchownSync(fd, f.uid, f.gid); // owner before mode: chown clears setuid
      fs.fchmodSync(fd, f.mode);
      fs.futimesSync(fd, f.mtime, f.mtime);
    } finally {
      fs.closeSync(fd);
    }
    done++;
    if (opts.verbose && performance.now() - lastReport > 2000) {
      lastReport = performance.now();
      process.stderr.write(`corpus: ${done}/${files.length} files\n`);
    }
  }

  for (const n of nodes) {
    if (n.type === 'hardlink') fs.linkSync(abs(n.target), abs(n.path));
  }
  for (const n of nodes) {
    if (n.type !== 'symlink') continue;
    fs.symlinkSync(n.target, abs(n.path));
    if (asRoot) fs.lchownSync(abs(n.path), n.uid, n.gid);
    fs.lutimesSync(abs(n.path), n.mtime, n.mtime);
  }
  for (const d of [...dirs].reverse()) {
    if (asRoot) fs.chownSync(abs(d.path), d.uid, d.gid);
    fs.chmodSync(abs(d.path), d.mode);
    fs.utimesSync(abs(d.path), d.mtime, d.mtime);
  }
  fs.chmodSync(opts.dir, 0o755);
  if (asRoot) fs.chownSync(opts.dir, ROOT, ROOT);
  fs.utimesSync(opts.dir, T0, T0);

  return stats(opts.seed, totalBytes, nodes, asRoot, performance.now() - t0);
}

function stats(seed: number, targetBytes: number, nodes: PlanNode[], asRoot: boolean, elapsedMs: number): CorpusStats {
  const files = nodes.filter((n): n is FileNode => n.type === 'file');
  const sizes = files.map((f) => f.size).sort((a, b) => a - b);
  const bytesByKind: Record<string, number> = {};
  for (const f of files) bytesByKind[f.kind] = (bytesByKind[f.kind] ?? 0) + f.size;
  const linkTargets = new Set(nodes.filter((n): n is LinkNode => n.type === 'hardlink').map((n) => n.target));
  const dups = files.filter((f) => f.dupOf);
  return {
    generator: CORPUS_GENERATOR,
    seed,
    targetBytes,
    entries: nodes.length,
    dirs: nodes.filter((n) => n.type === 'dir').length,
    files: files.length,
    hardlinks: nodes.filter((n) => n.type === 'hardlink').length,
    hardlinkGroups: linkTargets.size,
    symlinks: nodes.filter((n) => n.type === 'symlink').length,
    dataBytes: sizes.reduce((s, x) => s + x, 0),
    duplicates: dups.length,
    duplicateBytes: dups.reduce((s, f) => s + f.size, 0),
    setuidOrSetgid: files.filter((f) => f.mode & 0o6000).length,
    emptyFiles: files.filter((f) => f.size === 0).length,
    medianFileBytes: sizes[Math.floor(sizes.length / 2)] ?? 0,
    largest: [...files].sort((a, b) => b.size - a.size).slice(0, 5).map((f) => ({ path: f.path, bytes: f.size })),
    bytesByKind,
    ownersApplied: asRoot,
    elapsedMs: Math.round(elapsedMs),
  };
}

function prepareOut(dir: string): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0) {
      throw new Error(`corpus: output ${dir} exists and is not an empty directory`);
    }
  } else {
    fs.mkdirSync(dir, { recursive: true });
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

/** Byte-wise order (names are ASCII here), so parents sort before their children. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- CLI ----

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string', default: '1' },
      size: { type: 'string', default: '256M' },
      out: { type: 'string' },
      manifest: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !values.out) {
    process.stdout.write('usage: node dist/bench/corpus.js --seed N --size 256M --out DIR [--manifest FILE] [--quiet]\n');
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`bad --seed ${values.seed}`);
  const totalBytes = parseSize(values.size!);
  const s = await generateCorpus({ seed, totalBytes, dir: values.out, verbose: !values.quiet });
  if (values.manifest) fs.writeFileSync(values.manifest, JSON.stringify(s, null, 2) + '\n');
  if (!values.quiet) {
    process.stdout.write(
      `corpus seed ${seed} size ${sizeLabel(totalBytes)} -> ${values.out}: ${s.entries} entries ` +
        `(${s.files} files, ${s.dirs} dirs, ${s.symlinks} symlinks, ${s.hardlinks} hard links in ${s.hardlinkGroups} groups), ` +
        `${(s.dataBytes / 2 ** 20).toFixed(1)} MiB data, median file ${s.medianFileBytes} B, ` +
        `${s.duplicates} duplicates, ${s.setuidOrSetgid} setuid/setgid, ${(s.elapsedMs / 1000).toFixed(1)} s\n`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
