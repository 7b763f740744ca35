/**
 * cpio images written by real tools, read back by extract() and compared with the tree they
 * were made from.
 *
 * One rich source tree (test/helpers/rich-tree.ts) is archived by GNU cpio (odc, newc, crc,
 * bin), bsdcpio (odc, newc, bin), MirBSD pax (cpio = odc, bcpio = big-endian bin, sv4cpio,
 * sv4crc) and afio, each plain and under gzip, bzip2, xz and compress(1). Every archive is then
 *   1. extracted by a reference tool and compared with the source: the differences must be
 *      exactly the documented losses of that writer (below). This checks the harness and keeps
 *      the loss list honest when a tool changes;
 *   2. listed with the reference tool (`cpio -itv`), for the ExtractReport counts;
 *   3. extracted by extract() and compared with the source, minus what the writer dropped and
 *      minus the documented losses; for each loss that a reader can be held to, the value must
 *      equal the reference tool's extraction instead (e.g. bin keeps only 16 bits of a uid, so
 *      extract() must give the same truncated uid that bsdcpio gives).
 *
 * What the writers lose (found by running step 1 with both GNU cpio 2.13 and bsdcpio 3.6.2):
 * - GNU cpio -o (every -H): strips a leading "./" from symlink TARGETS ("./usr/bin" is stored as
 *   "usr/bin"), not only from member names.
 * - binary cpio (GNU -H bin, bsdcpio --format bin, pax bcpio): 16-bit header fields. GNU and
 *   bsdcpio silently keep the low 16 bits of uid/gid (70000/80000 -> 4464/14464) and store rdev
 *   in the old 8+8 bit form (259,1 -> 3,1). pax bcpio instead leaves such entries out (exit 1).
 * - bsdcpio --format bin cannot hold FIFOs at all (it aborts without a trailer), so the FIFO is
 *   pruned from its input, as formats.md says.
 * - afio: an entry with uid/gid > 0777777 gets afio's 070727 "large ASCII" header (libarchive
 *   reads it; GNU cpio 2.13 skips it as junk). A device number that does not fit 16 bits is
 *   stored in afio's own way (rdev 0, numbers in the dev/ino fields): libarchive and GNU cpio read
 *   0,0, only afio itself restores it, so that one device number is not compared.
 * - odc/newc/crc/sv4cpio/sv4crc written by these tools carry everything the tree has (259,1
 *   fits odc's 18-bit field in the Linux encoding).
 * Reader-relevant layouts seen on the way: GNU/bsdcpio newc and crc put the data on the LAST
 * name of a hard-link group (earlier names have size 0); pax sv4cpio/sv4crc repeat the data on
 * EVERY name; afio (odc) puts it on the FIRST name only. pax archives are in readdir order
 * (hard-link names not sorted), the others in `sort` order. GNU cpio truncates inode numbers in
 * odc/bin; bsdcpio renumbers from 1.
 *
 * Reference tool behaviour worked around (not format losses):
 * - GNU cpio 2.13 `-idmu` does not restore the mtime of directories that have contents, nor of
 *   symlinks; bsdcpio `-idmu` restores both, so bsdcpio is the reference extractor and GNU cpio's
 *   extraction is compared with dir/symlink mtimes ignored.
 * - Neither restores the top directory's own metadata from the "." member; extract()'s `dest`
 *   is not compared either (ignoreRootMeta).
 * - bsdcpio as non-root leaves read-only hard-linked files empty in newc/crc (see
 *   bsdcpioNonRootQuirks); the lossy values it is used for (owner, rdev, target) are unaffected.
 *
 * Tools that are missing make their cases skip with the reason; owners are compared only as
 * root (the tree's owners are only set as root), device nodes exist only as root.
 * Set ZONEP2V_KEEP_TEST_FILES=1 to keep the temporary directory for a look.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import type { ExtractReport } from '../../src/index.js';
import { makeRichTree, type RichTree, type TreeItem } from '../helpers/rich-tree.js';
import { diffTrees, formatDiffs, type CompareOptions, type Property, type TreeDiff } from '../helpers/tree-compare.js';
import { haveTool, isRoot, missingTools, removeTree, run, sh } from '../helpers/tools.js';

/** A property where the archive itself no longer holds the source's value. */
interface Loss {
  path: string;
  property: TreeDiff['property'];
  /** 'reference': extract() must produce what the reference tool produces;
   *  'ignore': the archive is ambiguous (reader conventions differ), not compared */
  check: 'reference' | 'ignore';
}

interface CpioCase {
  id: string;
  /** programs needed to write the archive */
  writer: string[];
  /** write the archive of the tree rooted at `src` (the cwd) to `out` */
  create(src: string, out: string, tree: RichTree): void;
  /** what ExtractReport.format must match */
  format: RegExp;
  /** relative paths the writer leaves out */
  dropped(tree: RichTree): string[];
  losses(tree: RichTree): Loss[];
  /** GNU cpio cannot read this archive completely (afio's 070727 headers) */
  gnuCannotRead?: boolean;
  /** hard-linked data is stored on the last name only (GNU/bsdcpio newc and crc) */
  dataOnLastLink?: boolean;
}

interface Compression {
  name: string;
  /** suffix added to the archive name; the plain archive has none */
  suffix: string;
  /** command writing `input` compressed to standard output */
  command?: (input: string) => [string, string[]];
  /** what ExtractReport.chain[0] must match */
  layer?: RegExp;
}

const sortedList = 'export LC_ALL=C; find . | sort';

/** the items of the tree for which `pick` is true */
function where(tree: RichTree, pick: (item: TreeItem) => boolean): TreeItem[] {
  return tree.items.filter(pick);
}
const bigIds = (tree: RichTree): TreeItem[] =>
  tree.ownersApplied ? where(tree, (i) => i.features.includes('big-id')) : [];
const bigDevices = (tree: RichTree): TreeItem[] =>
  tree.devicesCreated ? where(tree, (i) => i.features.includes('big-rdev')) : [];

/** GNU cpio -o stores "./x" symlink targets as "x". */
function gnuDotSlashTargets(tree: RichTree): Loss[] {
  return where(tree, (i) => i.kind === 'symlink' && (i.target ?? '').startsWith('./')).map((i) => ({
    path: i.path,
    property: 'target',
    check: 'reference',
  }));
}

/** Binary cpio as written by GNU cpio and bsdcpio: 16-bit uid/gid, 8+8-bit rdev. */
function binaryTruncation(tree: RichTree): Loss[] {
  return [
    ...bigIds(tree).map((i): Loss => ({ path: i.path, property: 'owner', check: 'reference' })),
    ...bigDevices(tree).map((i): Loss => ({ path: i.path, property: 'rdev', check: 'reference' })),
  ];
}

function gnuCpio(format: string): CpioCase['create'] {
  return (src, out) => {
    sh(`${sortedList} | cpio -o --quiet -H ${format} > "$1"`, [out], { cwd: src });
  };
}

function bsdCpio(format: string, prune: (tree: RichTree) => string[] = () => []): CpioCase['create'] {
  return (src, out, tree) => {
    const pruned = prune(tree);
    // find . \( -path ./a -o -path ./b \) -prune -o -print ; paths arrive as $2, $3, ...
    const expr = pruned.map((_, n) => `-path "./\${${n + 2}}"`).join(' -o ');
    const find = pruned.length ? `find . \\( ${expr} \\) -prune -o -print` : 'find .';
    sh(`export LC_ALL=C; ${find} | sort | bsdcpio -o --quiet --format ${format} > "$1"`, [out, ...pruned], { cwd: src });
  };
}

function miraPax(format: string, okStatus: number[] = [0]): CpioCase['create'] {
  return (src, out) => {
    run('pax', ['-w', '-x', format, '-f', out, '.'], { cwd: src, okStatus });
  };
}

const cases: CpioCase[] = [
  {
    id: 'gnucpio-odc',
    writer: ['cpio'],
    create: gnuCpio('odc'),
    format: /^cpio.*odc/,
    dropped: () => [],
    losses: gnuDotSlashTargets,
  },
  {
    id: 'gnucpio-newc',
    writer: ['cpio'],
    create: gnuCpio('newc'),
    format: /^cpio.*newc/,
    dropped: () => [],
    losses: gnuDotSlashTargets,
    dataOnLastLink: true,
  },
  {
    id: 'gnucpio-crc',
    writer: ['cpio'],
    create: gnuCpio('crc'),
    format: /^cpio.*crc/,
    dropped: () => [],
    losses: gnuDotSlashTargets,
    dataOnLastLink: true,
  },
  {
    id: 'gnucpio-bin',
    writer: ['cpio'],
    create: gnuCpio('bin'), // native order: little-endian here
    format: /^cpio.*bin/,
    dropped: () => [],
    losses: (tree) => [...gnuDotSlashTargets(tree), ...binaryTruncation(tree)],
  },
  {
    id: 'bsdcpio-odc',
    writer: ['bsdcpio'],
    create: bsdCpio('odc'),
    format: /^cpio.*odc/,
    dropped: () => [],
    losses: () => [],
  },
  {
    id: 'bsdcpio-newc',
    writer: ['bsdcpio'],
    create: bsdCpio('newc'),
    format: /^cpio.*newc/,
    dropped: () => [],
    losses: () => [],
    dataOnLastLink: true,
  },
  {
    id: 'bsdcpio-bin',
    writer: ['bsdcpio'],
    // bsdcpio's bin writer aborts on a FIFO ("sockets and fifos cannot be represented")
    create: bsdCpio('bin', (tree) => where(tree, (i) => i.kind === 'fifo').map((i) => i.path)),
    format: /^cpio.*bin/,
    dropped: (tree) => where(tree, (i) => i.kind === 'fifo').map((i) => i.path),
    losses: binaryTruncation,
  },
  {
    id: 'pax-cpio',
    writer: ['pax'],
    create: miraPax('cpio'),
    format: /^cpio.*odc/,
    dropped: () => [],
    losses: () => [],
  },
  {
    id: 'pax-bcpio',
    writer: ['pax'],
    // big-endian binary cpio; entries whose uid/gid/rdev do not fit are left out (exit 1)
    create: miraPax('bcpio', [0, 1]),
    format: /^cpio.*bin/,
    dropped: (tree) => [...bigIds(tree), ...bigDevices(tree)].map((i) => i.path),
    losses: () => [],
  },
  {
    id: 'pax-sv4cpio',
    writer: ['pax'],
    create: miraPax('sv4cpio'),
    format: /^cpio.*newc/,
    dropped: () => [],
    losses: () => [],
  },
  {
    id: 'pax-sv4crc',
    writer: ['pax'],
    create: miraPax('sv4crc'),
    format: /^cpio.*crc/,
    dropped: () => [],
    losses: () => [],
  },
  {
    id: 'afio',
    writer: ['afio'],
    create: (src, out) => {
      sh(`${sortedList} | afio -o "$1"`, [out], { cwd: src });
    },
    format: /^cpio.*(odc|afio)/,
    dropped: () => [],
    losses: (tree) => bigDevices(tree).map((i): Loss => ({ path: i.path, property: 'rdev', check: 'ignore' })),
    gnuCannotRead: true,
  },
];

const compressions: Compression[] = [
  { name: 'plain', suffix: '' },
  { name: 'gzip', suffix: '.gz', command: (i) => ['gzip', ['-9', '-c', i]], layer: /^gzip$/ },
  { name: 'bzip2', suffix: '.bz2', command: (i) => ['bzip2', ['-9', '-c', i]], layer: /^bzip2$/ },
  { name: 'xz', suffix: '.xz', command: (i) => ['xz', ['-c', i]], layer: /^xz$/ },
  { name: 'compress', suffix: '.Z', command: (i) => ['compress', ['-c', i]], layer: /^(compress|lzw)$/i },
];

/** Type counts and sizes from a verbose listing (`cpio -itv` / `bsdcpio -itv`). */
interface Listing {
  entries: number;
  hasDot: boolean;
  /** first character of the ls-style mode: '-', 'd', 'l', 'c', 'b', 'p', 's' */
  types: Map<string, number>;
  /** sum of the sizes shown for regular files (data-less hard-link names show 0) */
  regularBytes: number;
}

function listArchive(archive: string, lister: 'cpio' | 'bsdcpio'): Listing {
  const { stdout } = run(lister, ['-itv', '--quiet', '-I', archive], { okStatus: [0] });
  const lines = stdout.toString('utf8').split('\n').filter((l) => l.length > 0);
  const types = new Map<string, number>();
  let regularBytes = 0;
  let hasDot = false;
  for (const line of lines) {
    const type = line[0]!;
    types.set(type, (types.get(type) ?? 0) + 1);
    // regular files: mode nlink user group size month day year|time name
    if (type === '-') regularBytes += Number(line.trim().split(/\s+/)[4]);
    if (type === 'd' && / \.\/?$/.test(line)) hasDot = true;
  }
  return { entries: lines.length, hasDot, types, regularBytes };
}

/**
 * bsdcpio 3.6.2 run by a non-root user loses the data of a read-only hard-link group in newc/crc:
 * it creates the first (empty) name with mode 0555 and then cannot open it to write the data
 * carried by the last name, so every name of the group ends up empty. Root is not affected.
 */
function bsdcpioNonRootQuirks(c: CpioCase, tree: RichTree): string[] {
  if (isRoot() || !c.dataOnLastLink) return [];
  return where(tree, (i) => i.linkGroup !== undefined && (i.mode & 0o200) === 0 && (i.size ?? 0) > 0).map(
    (i) => `${i.path}: size`,
  );
}

/** Extract with bsdcpio (preferred: it restores dir and symlink mtimes) or GNU cpio. */
function referenceExtract(archive: string, dest: string, tool: 'bsdcpio' | 'cpio'): void {
  fs.mkdirSync(dest);
  if (tool === 'bsdcpio') run('bsdcpio', ['-idmu', '--quiet', '-I', archive], { cwd: dest });
  else run('cpio', ['-idmu', '--quiet', '--no-absolute-filenames', '-I', archive], { cwd: dest });
}

const lossKey = (p: string, property: string): string => `${p}\0${property}`;

/** Differences as "path: property" for set comparison (messages carry values that vary). */
const asPairs = (diffs: TreeDiff[]): string[] => diffs.map((d) => `${d.path}: ${d.property}`).sort();

/** Names beyond the first in each hard-link group of the tree, leaving out dropped paths. */
function linkExtras(tree: RichTree, dropped: Set<string>): number {
  const groups = new Map<string, number>();
  for (const item of tree.items) {
    if (item.linkGroup === undefined || dropped.has(item.path)) continue;
    groups.set(item.linkGroup, (groups.get(item.linkGroup) ?? 0) + 1);
  }
  let extras = 0;
  for (const n of groups.values()) extras += n - 1;
  return extras;
}

/** Regular-file bytes counting each hard-link group once (lower bound of dataBytes). */
function uniqueBytes(tree: RichTree, dropped: Set<string>): number {
  const seen = new Set<string>();
  let total = 0;
  for (const item of tree.items) {
    if (item.kind !== 'file' || dropped.has(item.path)) continue;
    if (item.linkGroup !== undefined) {
      if (seen.has(item.linkGroup)) continue;
      seen.add(item.linkGroup);
    }
    total += item.size ?? 0;
  }
  return total;
}

/** Every inconsistency between the report and the reference listing, as text. */
function reportProblems(
  report: ExtractReport,
  listing: Listing,
  expect: { format: RegExp; layer: RegExp | undefined; image: string; extras: number; minBytes: number; crc: boolean },
): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) problems.push(what);
  };
  const count = (type: string): number => listing.types.get(type) ?? 0;
  const dot = listing.hasDot ? 1 : 0;

  check(expect.format.test(report.format), `format ${JSON.stringify(report.format)} should match ${expect.format}`);
  const layers = expect.layer ? 1 : 0;
  check(report.chain.length === layers + 1, `chain ${JSON.stringify(report.chain)} should have ${layers + 1} element(s)`);
  if (expect.layer) check(expect.layer.test(report.chain[0] ?? ''), `chain[0] ${JSON.stringify(report.chain[0])} should match ${expect.layer}`);
  check(report.chain.at(-1) === report.format, `chain ${JSON.stringify(report.chain)} should end with the format`);

  // the "." member may or may not be counted (it names the destination itself)
  check(report.entries === listing.entries || report.entries === listing.entries - dot,
    `entries ${report.entries}, listing has ${listing.entries}${dot ? ' (incl. ".")' : ''}`);
  check(report.dirs === count('d') || report.dirs === count('d') - dot, `dirs ${report.dirs}, listing has ${count('d')}`);
  check(report.symlinks === count('l'), `symlinks ${report.symlinks}, listing has ${count('l')}`);
  check(report.files + report.hardlinks === count('-'),
    `files ${report.files} + hardlinks ${report.hardlinks} should be the ${count('-')} regular names listed`);
  check(report.hardlinks === expect.extras, `hardlinks ${report.hardlinks}, the tree has ${expect.extras} extra names`);
  const special = count('c') + count('b') + count('p');
  check(report.devices + report.fifos + report.skippedSpecial === special,
    `devices ${report.devices} + fifos ${report.fifos} + skipped ${report.skippedSpecial} should be the ${special} listed`);
  if (isRoot()) {
    check(report.skippedSpecial === 0, `skippedSpecial ${report.skippedSpecial} as root with default options`);
    check(report.devices === count('c') + count('b'), `devices ${report.devices}, listing has ${count('c') + count('b')}`);
    check(report.fifos === count('p'), `fifos ${report.fifos}, listing has ${count('p')}`);
  }
  // newc/crc store a hard-linked file's data once, odc/bin/sv4 (pax) once per name
  check(report.dataBytes >= expect.minBytes && report.dataBytes <= listing.regularBytes,
    `dataBytes ${report.dataBytes} should be between ${expect.minBytes} (each inode once) and ${listing.regularBytes} (as listed)`);
  check(report.unchanged === 0, `unchanged ${report.unchanged} in an empty destination`);
  check(report.written === report.files, `written ${report.written} should equal files ${report.files} in an empty destination`);
  const imageSize = fs.statSync(expect.image).size;
  check(report.imageBytes > 0 && report.imageBytes <= imageSize, `imageBytes ${report.imageBytes}, image has ${imageSize}`);
  if (expect.crc) {
    // GNU cpio and pax sum unsigned bytes; the 0x80..0xff file must verify without a warning
    const crcWarnings = report.warnings.filter((w) => /crc|checksum/i.test(`${w.code} ${w.message}`));
    check(crcWarnings.length === 0, `checksum warnings: ${JSON.stringify(crcWarnings)}`);
  }
  return problems;
}

test('cpio archives written by real tools', async (t) => {
  const basics = missingTools(['bash', 'find', 'sort', 'mkfifo']);
  if (basics.length > 0) {
    t.skip(`missing: ${basics.join(', ')}`);
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-cpio-'));
  if (process.env.ZONEP2V_KEEP_TEST_FILES) t.diagnostic(`keeping ${work}`);
  else t.after(() => removeTree(work));
  const src = path.join(work, 'src');
  const tree = makeRichTree(src);
  const owners = tree.ownersApplied;

  for (const c of cases) {
    await t.test(c.id, async (t) => {
      const missing = missingTools(c.writer);
      if (missing.length > 0) {
        t.skip(`missing: ${missing.join(', ')}`);
        return;
      }
      const archive = path.join(work, `${c.id}.cpio`);
      c.create(src, archive, tree);
      const dropped = new Set(c.dropped(tree));
      const losses = c.losses(tree);
      const lossSet = new Set(losses.map((l) => lossKey(l.path, l.property)));
      const base: CompareOptions = { ignore: [...dropped], ignoreOwners: !owners, ignoreRootMeta: true };
      const expectedPairs = [
        ...losses.map((l) => `${l.path}: ${l.property}`),
        ...[...dropped].map((p) => `${p}: missing`),
      ].sort();

      // 1. the reference tools see exactly the documented losses
      const reference = haveTool('bsdcpio') ? path.join(work, `${c.id}.bsdcpio-x`) : undefined;
      // (as non-root a bsdcpio quirk is expected too, see bsdcpioNonRootQuirks)
      await t.test('bsdcpio -idmu matches the source except the documented losses', (t) => {
        if (!reference) {
          t.skip('missing: bsdcpio');
          return;
        }
        referenceExtract(archive, reference, 'bsdcpio');
        const diffs = diffTrees(src, reference, { ...base, ignore: [] });
        const expected = [...expectedPairs, ...bsdcpioNonRootQuirks(c, tree)].sort();
        assert.deepEqual(asPairs(diffs), expected, formatDiffs(diffs.map((d) => d.message)));
      });
      const gnuReference = path.join(work, `${c.id}.gnucpio-x`);
      await t.test('GNU cpio -idmu matches the source except the documented losses', (t) => {
        if (!haveTool('cpio')) {
          t.skip('missing: cpio');
          return;
        }
        if (c.gnuCannotRead) {
          t.skip('GNU cpio 2.13 skips afio 070727 headers as junk');
          return;
        }
        const dest = gnuReference;
        referenceExtract(archive, dest, 'cpio');
        // GNU cpio does not restore mtimes of non-empty directories or of symlinks
        const diffs = diffTrees(src, dest, { ...base, ignore: [], ignoreMtimeFor: ['dir', 'symlink'] });
        assert.deepEqual(asPairs(diffs), expectedPairs, formatDiffs(diffs.map((d) => d.message)));
      });

      // 2. the reference listing, for the report's counts
      const lister = c.gnuCannotRead || !haveTool('cpio') ? 'bsdcpio' : 'cpio';
      const listing = haveTool(lister) ? listArchive(archive, lister) : undefined;

      // 3. extract() on the plain and the compressed archive
      for (const z of compressions) {
        await t.test(`extract() ${z.name}`, async (t) => {
          const [cmd, args] = z.command?.(archive) ?? ['', []];
          if (cmd && !haveTool(cmd)) {
            t.skip(`missing: ${cmd}`);
            return;
          }
          const image = `${archive}${z.suffix}`;
          if (cmd && !fs.existsSync(image)) {
            const out = fs.openSync(image, 'w');
            try {
              run(cmd, args, { stdio: ['ignore', out, 'pipe'] });
            } finally {
              fs.closeSync(out);
            }
          }
          const dest = path.join(work, `${c.id}${z.suffix}.extracted`);
          const report = await extract({ image, dest });

          const diffs = diffTrees(src, dest, {
            ...base,
            ignoreProperty: (p: string, property: Property) => lossSet.has(lossKey(p, property)),
          });
          assert.deepEqual(diffs.map((d) => d.message), [], `extract() differs from the source:\n${formatDiffs(diffs.map((d) => d.message))}`);

          const mustMatchReference = losses.filter((l) => l.check === 'reference');
          if (mustMatchReference.length > 0) {
            // owner, rdev and symlink targets come out the same from both tools; prefer bsdcpio
            const lossReference = [reference, gnuReference].find((dir) => dir !== undefined && fs.existsSync(dir));
            if (!lossReference) {
              t.diagnostic('no reference extraction: lossy values not compared');
            } else {
              const wanted = new Set(mustMatchReference.map((l) => lossKey(l.path, l.property)));
              const lossyPaths = new Set(mustMatchReference.map((l) => l.path));
              const refDiffs = diffTrees(lossReference, dest, {
                ...base,
                ignorePath: (p) => !lossyPaths.has(p),
                ignoreProperty: (p, property) => !wanted.has(lossKey(p, property)),
              });
              // only the lossy properties of the lossy paths are left to compare
              const relevant = refDiffs.filter((d) => wanted.has(lossKey(d.path, d.property)));
              assert.deepEqual(relevant.map((d) => d.message), [],
                `lossy values differ from ${path.basename(lossReference)}:\n${formatDiffs(relevant.map((d) => d.message))}`);
            }
          }

          if (!listing) {
            t.diagnostic(`missing ${lister}: report counts not checked`);
            return;
          }
          const problems = reportProblems(report, listing, {
            format: c.format,
            layer: z.layer,
            image,
            extras: linkExtras(tree, dropped),
            minBytes: uniqueBytes(tree, dropped),
            crc: /crc/.test(c.id),
          });
          assert.deepEqual(problems, [], `report: ${JSON.stringify({ ...report, warnings: report.warnings.length })}`);
        });
      }
    });
  }
});
