/**
 * Extraction benchmark: zonep2v against GNU cpio, bsdcpio, bsdtar, GNU tar, cp and rsync on a
 * generated Solaris-like system image, each timed run on its own freshly made filesystem.
 *
 *   npm run bench -- [--size 256M] [--runs 3] [--fs ext4|tmpfs|both] [--work /var/tmp/zonep2v-bench]
 *                    [--seed 1] [--zonep2v "node /path/to/bin/zonep2v.js"] [--zonep2v-args "..."]
 *                    [--jobs zonep2v,bsdcpio,...] [--fs-size 1G] [--image-dir DIR] [--json FILE]
 *
 * Steps: generate the corpus once (cached under --work by seed and size), pack it as image.cpio
 * (GNU cpio -H newc from `find . | sort`), image.cpio.gz (gzip -6) and image.tar (bsdtar --format
 * pax, same order), then for each round and each filesystem run every job in a rotated order (so
 * no tool always runs first or right after another) on a fresh filesystem, with its input read
 * just before so it sits in the page cache (the image, or for directory copies the corpus tree).
 * Four groups of jobs:
 *
 *   cpio  zonep2v / GNU cpio / bsdcpio / bsdtar on image.cpio
 *   gzip  zonep2v / gzip|cpio / bsdtar on image.cpio.gz
 *   pax   zonep2v / bsdtar / GNU tar on image.tar
 *   dir   zonep2v extract TREE DIR / cp -a / rsync -a, the corpus tree itself as the source
 *
 * Some jobs are followed, on the same filesystem, by a no-change re-run into the same directory
 * (zonep2v on image.cpio and on the tree, rsync -a), and the zonep2v `--index` variants give both
 * runs `--index FILE` (FILE on the same fresh filesystem, outside DIR: the first run writes it,
 * the re-run reads it). After each run the tree is checked (entry count and data bytes against
 * the corpus), untimed. A job that fails is reported and the benchmark goes on.
 *
 * Reported per job: median wall and CPU seconds, MB/s (uncompressed image.cpio bytes / wall, for
 * every row, so all rows compare directly), entries/s (archive entries / wall), peak RSS (max over
 * runs and over the processes of a pipeline, MB = 10^6 bytes), and a ratio against the group's
 * baseline: bsdcpio (cpio), bsdtar with its built-in gzip (gzip), the faster of bsdtar and GNU tar
 * (pax), the faster of cp -a and rsync -a (dir); re-runs against their first run, except zonep2v's
 * directory re-runs, which compare with rsync -a's no-change re-run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CORPUS_GENERATOR, generateCorpus, type CorpusStats } from './corpus.js';
import { cleanupAll, loopAvailable, withFreshFs, type FsKind } from './fresh-fs.js';
import { GNU_TIME, runTimed, shQuote, splitCommand, warmPageCache, type ProcStat } from './measure.js';
import { mb, parseSize, sizeLabel } from './size.js';

// ---- jobs ----

type Group = 'cpio' | 'gzip' | 'pax' | 'dir';

interface JobContext {
  cpio: string;
  gz: string;
  tar: string;
  /** the corpus tree, source of the directory copies */
  tree: string;
  out: string;
  /** zonep2v's --index file: on the fresh filesystem, outside `out` */
  index: string;
  zonep2v: string[];
  zonep2vArgs: string[];
}

interface Job {
  id: string;
  label: string;
  group: Group;
  /** programs that must exist for the job to run */
  needs: string[];
  /** run a second, no-change extraction into the same directory and time it too */
  rerun?: boolean;
  /** the re-run row's label (default: label + " (re-run)") */
  rerunLabel?: string;
  /** after the re-run, change a few members of the tree (driftTree) and time a third run: the
   *  row's label */
  driftLabel?: string;
  /** the tool copies hard links as separate files (rsync -a has no -H): check data bytes per name */
  splitsHardLinks?: boolean;
  /** zonep2v is given --index (checked: the first run must write it) */
  index?: boolean;
  stages(ctx: JobContext): { stages: string[][]; stdinFile?: string; inOut: boolean };
}

/** `zonep2v extract SRC DIR [--index FILE] ...` */
function zonep2vExtract(c: JobContext, src: string, index: boolean): { stages: string[][]; inOut: boolean } {
  return { stages: [[...c.zonep2v, 'extract', src, c.out, ...(index ? ['--index', c.index] : []), ...c.zonep2vArgs]], inOut: false };
}

const JOBS: readonly Job[] = [
  { id: 'zonep2v', label: 'zonep2v extract image.cpio', group: 'cpio', needs: [], rerun: true, stages: (c) => zonep2vExtract(c, c.cpio, false) },
  {
    id: 'zonep2v-index', label: 'zonep2v extract image.cpio --index', rerunLabel: 'zonep2v extract image.cpio (re-run, --index)',
    driftLabel: 'zonep2v extract image.cpio (re-run, --index, 3 members drifted)',
    group: 'cpio', needs: [], rerun: true, index: true, stages: (c) => zonep2vExtract(c, c.cpio, true),
  },
  { id: 'gnu-cpio', label: 'cpio -idmu < image.cpio', group: 'cpio', needs: ['cpio'], stages: (c) => ({ stages: [['cpio', '-idmu', '--quiet']], stdinFile: c.cpio, inOut: true }) },
  { id: 'bsdcpio', label: 'bsdcpio -idmu < image.cpio', group: 'cpio', needs: ['bsdcpio'], stages: (c) => ({ stages: [['bsdcpio', '-idmu', '--quiet']], stdinFile: c.cpio, inOut: true }) },
  { id: 'bsdtar', label: 'bsdtar -xf image.cpio', group: 'cpio', needs: ['bsdtar'], stages: (c) => ({ stages: [['bsdtar', '-xf', c.cpio]], inOut: true }) },
  { id: 'zonep2v-gz', label: 'zonep2v extract image.cpio.gz', group: 'gzip', needs: [], stages: (c) => zonep2vExtract(c, c.gz, false) },
  { id: 'gzip-cpio', label: 'gzip -dc | cpio -idmu', group: 'gzip', needs: ['gzip', 'cpio'], stages: (c) => ({ stages: [['gzip', '-dc', c.gz], ['cpio', '-idmu', '--quiet']], inOut: true }) },
  { id: 'bsdtar-gz', label: 'bsdtar -xf image.cpio.gz', group: 'gzip', needs: ['bsdtar'], stages: (c) => ({ stages: [['bsdtar', '-xf', c.gz]], inOut: true }) },
  // image.tar is made with bsdtar, so every pax job needs it
  { id: 'zonep2v-pax', label: 'zonep2v extract image.tar', group: 'pax', needs: ['bsdtar'], stages: (c) => zonep2vExtract(c, c.tar, false) },
  { id: 'bsdtar-pax', label: 'bsdtar -xf image.tar -C DIR', group: 'pax', needs: ['bsdtar'], stages: (c) => ({ stages: [['bsdtar', '-xf', c.tar, '-C', c.out]], inOut: false }) },
  { id: 'gnutar-pax', label: 'tar -xf image.tar -C DIR', group: 'pax', needs: ['bsdtar', 'tar'], stages: (c) => ({ stages: [['tar', '-xf', c.tar, '-C', c.out]], inOut: false }) },
  { id: 'zonep2v-dir', label: 'zonep2v extract TREE DIR', group: 'dir', needs: [], rerun: true, stages: (c) => zonep2vExtract(c, c.tree, false) },
  {
    id: 'zonep2v-dir-index', label: 'zonep2v extract TREE DIR --index', rerunLabel: 'zonep2v extract TREE DIR (re-run, --index)',
    group: 'dir', needs: [], rerun: true, index: true, stages: (c) => zonep2vExtract(c, c.tree, true),
  },
  { id: 'cp-a', label: 'cp -a TREE/. DIR', group: 'dir', needs: ['cp'], stages: (c) => ({ stages: [['cp', '-a', `${c.tree}/.`, c.out]], inOut: false }) },
  {
    id: 'rsync-a', label: 'rsync -a TREE/ DIR/', group: 'dir', needs: ['rsync'], rerun: true, splitsHardLinks: true,
    stages: (c) => ({ stages: [['rsync', '-a', `${c.tree}/`, `${c.out}/`]], inOut: false }),
  },
];

const RERUN_SUFFIX = '-rerun';
const DRIFT_SUFFIX = '-drift';

/**
 * A tree that drifted a little since the run that indexed it (a zone's admin at work): the
 * first regular file of at least 2 bytes in sorted walk order gets another first byte and a new
 * mtime, the next has its mode changed, and the directory holding them is touched. Returns the
 * check that the run after it put the two files right (what is wrong, or undefined).
 */
function driftTree(root: string): () => string | undefined {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      if (files.length >= 2) return;
      const full = path.join(dir, name);
      const stat = fs.lstatSync(full);
      if (stat.isDirectory()) walk(full);
      else if (stat.isFile() && stat.size >= 2) files.push(full);
    }
  };
  walk(root);
  if (files.length < 2) throw new Error(`driftTree: fewer than 2 files under ${root}`);
  const [edited, chmodded] = files as [string, string];
  const fd = fs.openSync(edited, 'r+');
  const first = Buffer.alloc(1);
  fs.readSync(fd, first, 0, 1, 0);
  fs.writeSync(fd, Buffer.from([first[0]! ^ 0xff]), 0, 1, 0);
  fs.closeSync(fd);
  const mode = fs.statSync(chmodded).mode & 0o7777;
  fs.chmodSync(chmodded, mode ^ 0o040);
  const now = new Date();
  fs.utimesSync(edited, now, now);
  fs.utimesSync(path.dirname(edited), now, now);
  return () => {
    const now = Buffer.alloc(1);
    const check = fs.openSync(edited, 'r');
    fs.readSync(check, now, 0, 1, 0);
    fs.closeSync(check);
    if (now[0] !== first[0]) return `drift not put right: ${edited} still edited`;
    if ((fs.statSync(chmodded).mode & 0o7777) !== mode) return `drift not put right: ${chmodded} has mode ${(fs.statSync(chmodded).mode & 0o7777).toString(8)}`;
    return undefined;
  };
}

/** What a group's first runs are compared with: the fastest (smallest median wall) of these. */
const BASELINES: Record<Group, string[]> = {
  cpio: ['bsdcpio'],
  gzip: ['bsdtar-gz'],
  pax: ['bsdtar-pax', 'gnutar-pax'],
  dir: ['cp-a', 'rsync-a'],
};

/** The targets (brief and issue), printed next to the measured ratios. */
const TARGETS = {
  vsBsdcpio: 1.0,
  vsBsdtarGzip: 1.0,
  /** pax image: <= 0.8x the faster of bsdtar -x and GNU tar -x */
  vsFastestTar: 0.8,
  /** directory copy: <= 0.8x the faster of cp -a and rsync -a */
  vsFastestCopy: 0.8,
  rssMB: 300,
  /** no-change re-run of image.cpio: <= 0.25x the first run */
  rerunVsFirst: 0.25,
  /** no-change re-copy of the tree: <= 0.3x rsync -a's no-change run */
  dirRerunVsRsync: 0.3,
};

/** A table row: a job's first run, or its re-run. */
interface RowSpec {
  id: string;
  label: string;
  group: Group;
  isRerun: boolean;
  /** row ids to compare with (the fastest of them) */
  compareWith: string[];
  /** how the comparison is named in the "vs" column when there is one candidate */
  vsName: string;
  limit: number | null;
}

function rowSpecs(job: Job): RowSpec[] {
  const zonep2v = job.id.startsWith('zonep2v');
  const limits: Record<Group, number> = { cpio: TARGETS.vsBsdcpio, gzip: TARGETS.vsBsdtarGzip, pax: TARGETS.vsFastestTar, dir: TARGETS.vsFastestCopy };
  const base = BASELINES[job.group];
  const rows: RowSpec[] = [
    { id: job.id, label: job.label, group: job.group, isRerun: false, compareWith: base, vsName: base.length === 1 ? base[0]! : '', limit: zonep2v ? limits[job.group] : null },
  ];
  if (job.rerun) {
    const dirVsRsync = zonep2v && job.group === 'dir';
    rows.push({
      id: job.id + RERUN_SUFFIX,
      label: job.rerunLabel ?? `${job.label} (re-run)`,
      group: job.group,
      isRerun: true,
      compareWith: dirVsRsync ? ['rsync-a' + RERUN_SUFFIX] : [job.id],
      vsName: dirVsRsync ? 'rsync-a re-run' : 'first run',
      limit: !zonep2v ? null : dirVsRsync ? TARGETS.dirRerunVsRsync : TARGETS.rerunVsFirst,
    });
  }
  if (job.driftLabel) {
    // (no target: the issue sets none; for comparison with the first run and the re-run)
    rows.push({ id: job.id + DRIFT_SUFFIX, label: job.driftLabel, group: job.group, isRerun: true, compareWith: [job.id], vsName: 'first run', limit: null });
  }
  return rows;
}

// ---- records ----

interface Verify {
  entries: number;
  /** regular-file data bytes, each inode once */
  dataBytes: number;
  /** regular-file data bytes, each name once (what a copy that splits hard links writes) */
  namesBytes: number;
  ok: boolean;
  note: string;
}

/** What an extracted tree must look like: the corpus manifest, plus a walk of the tree for namesBytes. */
interface Expect {
  entries: number;
  dataBytes: number;
  namesBytes: number;
}

interface RunRecord {
  round: number;
  ok: boolean;
  wallSeconds: number;
  /** user + system CPU seconds, summed over the pipeline's processes */
  cpuSeconds: number;
  /** max over the pipeline's processes */
  peakRssMB: number;
  /** sum over the pipeline's processes (they run at the same time: an upper bound of the tree) */
  sumRssMB: number;
  procs: ProcStat[];
  error?: string;
  verify?: Verify;
  fsSetupSeconds?: number;
}

interface RowSummary {
  fs: FsKind;
  id: string;
  label: string;
  group: Group;
  runs: RunRecord[];
  okRuns: number;
  medianWallSeconds: number | null;
  medianCpuSeconds: number | null;
  mbPerSecond: number | null;
  entriesPerSecond: number | null;
  peakRssMB: number | null;
  ratio: number | null;
  /** what the ratio is against: a job id, "first run", "rsync-a re-run" */
  ratioBase: string;
  target: string;
  pass: boolean | null;
  lastError?: string;
}

// ---- main ----

interface Config {
  seed: number;
  totalBytes: number;
  runs: number;
  fsKinds: FsKind[];
  work: string;
  zonep2v: string[];
  zonep2vArgs: string[];
  jobs: Job[];
  fsSize?: number;
  imageDir?: string;
  json?: string;
  verify: boolean;
}

async function main(argv: string[]): Promise<number> {
  const cfg = parseConfig(argv);
  if (!cfg) return 2;

  if (process.getuid?.() !== 0) {
    process.stderr.write('extract-bench: needs root (mount, loop devices, chown)\n');
    return 2;
  }
  const missing = ['cpio', 'bsdcpio', 'bsdtar', 'gzip', 'tar', 'cp', 'rsync', 'mkfs.ext4', 'truncate', GNU_TIME].filter((t) => !which(t));
  if (missing.includes(GNU_TIME)) {
    process.stderr.write(`extract-bench: GNU time (${GNU_TIME}) is required: apt-get install -y time\n`);
    return 2;
  }
  if (missing.length) {
    process.stderr.write(`warning: missing ${missing.join(', ')} (apt-get install -y cpio libarchive-tools tar rsync e2fsprogs); jobs needing them are skipped\n`);
  }
  const jobs = cfg.jobs.filter((j) => j.needs.every((t) => which(t)));

  let fsKinds = cfg.fsKinds;
  const loop = loopAvailable();
  if (fsKinds.includes('ext4') && (!loop || missing.includes('mkfs.ext4'))) {
    process.stderr.write(`WARNING: ${!loop ? 'no free loop device (losetup -f failed)' : 'mkfs.ext4 missing'}: falling back to tmpfs only; numbers are not comparable with ext4 runs\n`);
    fsKinds = ['tmpfs'];
  }

  fs.mkdirSync(cfg.work, { recursive: true });
  const corpus = await ensureCorpus(cfg);
  const images = ensureImages(corpus.dir, jobs.some((j) => j.group === 'pax'));
  const tree = path.join(corpus.dir, 'tree');
  const archiveEntries = corpus.stats.entries + 1; // "." is in the archive too
  const fsSize = cfg.fsSize ?? roundUp(Math.max(1024 ** 3, images.cpioBytes * 2.5 + archiveEntries * 4096), 1024 ** 2);

  // Reads the whole tree once (page cache for the directory copies) and counts what a copy that
  // splits hard links must write.
  const scan = warmTree(tree);
  const expect: Expect = { entries: corpus.stats.entries, dataBytes: corpus.stats.dataBytes, namesBytes: scan.namesBytes };
  if (scan.entries !== corpus.stats.entries || scan.dataBytes !== corpus.stats.dataBytes) {
    process.stderr.write(`WARNING: ${tree} differs from its manifest (entries ${scan.entries}/${corpus.stats.entries}, data ${scan.dataBytes}/${corpus.stats.dataBytes} B); delete ${corpus.dir} to regenerate\n`);
  }
  warmUp(images, cfg.zonep2v);
  printHeader(cfg, corpus.stats, images, scan, fsKinds, fsSize, loop);

  const scratch = path.join(cfg.work, 'scratch');
  const rows = new Map<string, RunRecord[]>();
  const rowKey = (fsKind: FsKind, id: string): string => `${fsKind}/${id}`;
  const push = (fsKind: FsKind, id: string, rec: RunRecord): void => {
    const k = rowKey(fsKind, id);
    rows.set(k, [...(rows.get(k) ?? []), rec]);
  };

  for (let round = 0; round < cfg.runs; round++) {
    for (const fsKind of fsKinds) {
      const order = jobs.map((_, i) => jobs[(i + round) % jobs.length]!);
      for (const job of order) {
        const tag = `round ${round + 1}/${cfg.runs} ${fsKind.padEnd(5)}`;
        // the job's input into the page cache (caches are not dropped, we fill them)
        if (job.group === 'dir') warmTree(tree);
        else warmPageCache([job.group === 'gzip' ? images.gz : job.group === 'pax' ? images.tar! : images.cpio]);
        const [firstRow, rerunRow, driftRow] = rowSpecs(job);
        try {
          await withFreshFs({ kind: fsKind, sizeBytes: fsSize, workDir: cfg.work, ...(cfg.imageDir ? { imageDir: cfg.imageDir } : {}) }, async (ffs) => {
            const out = path.join(ffs.mountPoint, 'root');
            fs.mkdirSync(out);
            const ctx: JobContext = {
              cpio: images.cpio,
              gz: images.gz,
              tar: images.tar ?? '',
              tree,
              out,
              index: path.join(ffs.mountPoint, 'zonep2v.index'),
              zonep2v: cfg.zonep2v,
              zonep2vArgs: cfg.zonep2vArgs,
            };
            const first = await timeJob(job, ctx, scratch, round, cfg.verify ? expect : null);
            first.fsSetupSeconds = ffs.setupSeconds;
            push(fsKind, job.id, first);
            printRun(tag, firstRow!.label, first);
            if (rerunRow) {
              if (!first.ok) {
                const skipped: RunRecord = { round, ok: false, wallSeconds: NaN, cpuSeconds: NaN, peakRssMB: NaN, sumRssMB: NaN, procs: [], error: 'first run failed' };
                push(fsKind, rerunRow.id, skipped);
                printRun(tag, rerunRow.label, skipped);
              } else {
                const again = await timeJob(job, ctx, scratch, round, cfg.verify ? expect : null);
                push(fsKind, rerunRow.id, again);
                printRun(tag, rerunRow.label, again);
                if (driftRow) {
                  const putRight = driftTree(out);
                  const drifted = await timeJob(job, ctx, scratch, round, cfg.verify ? expect : null);
                  const wrong = drifted.ok ? putRight() : undefined;
                  if (wrong) Object.assign(drifted, { ok: false, error: wrong });
                  push(fsKind, driftRow.id, drifted);
                  printRun(tag, driftRow.label, drifted);
                }
              }
            }
          });
        } catch (err) {
          const rec: RunRecord = { round, ok: false, wallSeconds: NaN, cpuSeconds: NaN, peakRssMB: NaN, sumRssMB: NaN, procs: [], error: `setup: ${errText(err)}` };
          push(fsKind, job.id, rec);
          printRun(tag, firstRow!.label, rec);
        }
        // Let writeback of the deleted loop image settle before the next timed run.
        spawnSync('sync');
      }
    }
  }

  const summaries: RowSummary[] = [];
  for (const fsKind of fsKinds) {
    for (const job of jobs) {
      for (const spec of rowSpecs(job)) {
        summaries.push(summarize(fsKind, spec, rows.get(rowKey(fsKind, spec.id)) ?? [], rows, images.cpioBytes, archiveEntries));
      }
    }
  }
  printTable(summaries, fsKinds, cfg.runs, images, scan);

  if (cfg.json) {
    const report = {
      tool: 'zonep2v-extract-bench',
      date: new Date().toISOString(),
      host: hostInfo(loop),
      config: { seed: cfg.seed, totalBytes: cfg.totalBytes, runs: cfg.runs, fs: fsKinds, fsSizeBytes: fsSize, work: cfg.work, zonep2v: cfg.zonep2v, zonep2vArgs: cfg.zonep2vArgs, jobs: jobs.map((j) => j.id) },
      corpus: corpus.stats,
      tree: { path: tree, dataBytesPerName: scan.namesBytes },
      image: { cpioBytes: images.cpioBytes, gzBytes: images.gzBytes, tarBytes: images.tarBytes, entries: archiveEntries },
      targets: TARGETS,
      results: summaries,
    };
    fs.writeFileSync(cfg.json, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`\nJSON written to ${cfg.json}\n`);
  }
  return 0;
}

async function timeJob(job: Job, ctx: JobContext, scratch: string, round: number, expect: Expect | null): Promise<RunRecord> {
  const spec = job.stages(ctx);
  const res = await runTimed({ stages: spec.stages, ...(spec.stdinFile ? { stdinFile: spec.stdinFile } : {}), cwd: spec.inOut ? ctx.out : scratch, scratchDir: scratch });
  const rss = res.procs.map((p) => (Number.isFinite(p.maxRssKiB) ? (p.maxRssKiB * 1024) / 1e6 : 0));
  const rec: RunRecord = {
    round,
    ok: res.ok,
    wallSeconds: res.wallSeconds,
    cpuSeconds: res.procs.reduce((s, p) => s + (Number.isFinite(p.cpuSeconds) ? p.cpuSeconds : 0), 0),
    peakRssMB: Math.max(0, ...rss),
    sumRssMB: rss.reduce((s, x) => s + x, 0),
    procs: res.procs,
    ...(res.error ? { error: res.error } : {}),
  };
  if (expect && res.ok) {
    rec.verify = verifyTree(ctx.out, expect, job.splitsHardLinks === true);
    if (job.index && !fs.existsSync(ctx.index)) {
      rec.verify.ok = false;
      rec.verify.note = rec.verify.note === 'ok' ? 'no --index file written' : `${rec.verify.note}, no --index file written`;
    }
  }
  return rec;
}

// ---- corpus and images (cached) ----

interface CachedCorpus {
  dir: string;
  stats: CorpusStats;
}

async function ensureCorpus(cfg: Config): Promise<CachedCorpus> {
  const dir = path.join(cfg.work, `corpus-s${cfg.seed}-${sizeLabel(cfg.totalBytes)}`);
  const manifest = path.join(dir, 'manifest.json');
  try {
    const stats = JSON.parse(fs.readFileSync(manifest, 'utf8')) as CorpusStats;
    if (stats.generator === CORPUS_GENERATOR && stats.seed === cfg.seed && stats.targetBytes === cfg.totalBytes) {
      process.stdout.write(`corpus: cached ${dir}\n`);
      return { dir, stats };
    }
  } catch {
    /* not there yet */
  }
  process.stdout.write(`corpus: generating seed ${cfg.seed}, ${sizeLabel(cfg.totalBytes)} into ${dir} ...\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const stats = await generateCorpus({ seed: cfg.seed, totalBytes: cfg.totalBytes, dir: path.join(dir, 'tree'), verbose: false });
  fs.writeFileSync(manifest, JSON.stringify(stats, null, 2) + '\n');
  process.stdout.write(`corpus: ${stats.entries} entries, ${(stats.elapsedMs / 1000).toFixed(1)} s\n`);
  return { dir, stats };
}

interface Images {
  cpio: string;
  gz: string;
  /** image.tar (pax), made only when a pax job runs */
  tar: string | null;
  cpioBytes: number;
  gzBytes: number;
  tarBytes: number | null;
}

/**
 * Packs the corpus tree (cached next to it): image.cpio, image.cpio.gz, and with `wantTar` image.tar.
 * All from the same `find . | LC_ALL=C sort` list, so the images hold the same entries in the same
 * order. Each is written to a .tmp file and renamed, so an existing image is a complete one.
 */
function ensureImages(corpusDir: string, wantTar: boolean): Images {
  const cpio = path.join(corpusDir, 'image.cpio');
  const gz = path.join(corpusDir, 'image.cpio.gz');
  const tar = path.join(corpusDir, 'image.tar');
  const tree = path.join(corpusDir, 'tree');
  const stamp = path.join(corpusDir, 'images.json');
  const q = shQuote;
  let changed = false;
  if (!fs.existsSync(stamp) || !fs.existsSync(cpio) || !fs.existsSync(gz)) {
    process.stdout.write('images: packing image.cpio (GNU cpio -H newc) and image.cpio.gz (gzip -6) ...\n');
    bash(`cd ${q(tree)} && find . | LC_ALL=C sort | cpio -o -H newc --quiet > ${q(cpio + '.tmp')} && mv ${q(cpio + '.tmp')} ${q(cpio)}`);
    bash(`gzip -6 -n -c ${q(cpio)} > ${q(gz + '.tmp')} && mv ${q(gz + '.tmp')} ${q(gz)}`);
    fs.rmSync(tar, { force: true }); // packed from an older tree
    changed = true;
  }
  if (wantTar && !fs.existsSync(tar)) {
    process.stdout.write('images: packing image.tar (bsdtar --format pax) ...\n');
    // -n: the list names every entry, do not recurse into directories again
    bash(`cd ${q(tree)} && find . | LC_ALL=C sort | bsdtar --format pax -cf ${q(tar + '.tmp')} -n -T - && mv ${q(tar + '.tmp')} ${q(tar)}`);
    changed = true;
  }
  const hasTar = fs.existsSync(tar);
  const sizes = { cpioBytes: fs.statSync(cpio).size, gzBytes: fs.statSync(gz).size, tarBytes: hasTar ? fs.statSync(tar).size : null };
  if (changed) fs.writeFileSync(stamp, JSON.stringify({ generator: CORPUS_GENERATOR, ...sizes }) + '\n');
  return { cpio, gz, tar: hasTar ? tar : null, ...sizes };
}

function bash(script: string): void {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`failed (exit ${r.status}): ${script}`);
}

// ---- tree checks ----

interface TreeScan {
  /** entries below the root */
  entries: number;
  /** regular-file data bytes, each inode once */
  dataBytes: number;
  /** regular-file data bytes, each name once */
  namesBytes: number;
}

/**
 * Reads every regular file of the tree (and lstats every entry), so the directory copies start with
 * the source in the page cache and the dentry/inode caches, like the images for the other jobs.
 * (Not `tar -cf /dev/null`: GNU tar does not read file data when the archive is /dev/null.)
 */
function warmTree(root: string): TreeScan {
  const buf = Buffer.allocUnsafe(8 << 20);
  const seen = new Set<string>();
  const scan: TreeScan = { entries: 0, dataBytes: 0, namesBytes: 0 };
  const stack = [root];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      scan.entries++;
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p, { bigint: true });
      if (st.isDirectory()) stack.push(p);
      else if (st.isFile()) {
        scan.namesBytes += Number(st.size);
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        scan.dataBytes += Number(st.size);
        const fd = fs.openSync(p, 'r');
        try {
          while (fs.readSync(fd, buf, 0, buf.length, null) > 0) {
            /* read it all */
          }
        } finally {
          fs.closeSync(fd);
        }
      }
    }
  }
  return scan;
}

/** Loads the tools' binaries (and Node with zonep2v's modules) once, untimed. */
function warmUp(img: Images, zonep2v: string[]): void {
  warmPageCache([img.cpio, img.gz, ...(img.tar ? [img.tar] : [])]);
  for (const t of ['cpio', 'bsdcpio', 'bsdtar', 'gzip', 'tar', 'cp', 'rsync']) spawnSync(t, ['--version'], { stdio: 'ignore' });
  spawnSync(zonep2v[0]!, [...zonep2v.slice(1), '--help'], { stdio: 'ignore' });
}

// ---- verification (untimed) ----

/** Counts the extracted tree; `splitsHardLinks`: compare data bytes per name (rsync -a without -H). */
function verifyTree(dir: string, expect: Expect, splitsHardLinks: boolean): Verify {
  let entries = 0;
  let dataBytes = 0;
  let namesBytes = 0;
  const seen = new Set<string>();
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      entries++;
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        const st = fs.lstatSync(p, { bigint: true });
        namesBytes += Number(st.size);
        const key = `${st.dev}:${st.ino}`;
        if (!seen.has(key)) {
          seen.add(key);
          dataBytes += Number(st.size);
        }
      }
    }
  }
  const notes: string[] = [];
  if (entries !== expect.entries) notes.push(`entries ${entries}/${expect.entries}`);
  if (splitsHardLinks) {
    if (namesBytes !== expect.namesBytes) notes.push(`data per name ${namesBytes}/${expect.namesBytes} B`);
  } else if (dataBytes !== expect.dataBytes) notes.push(`data ${dataBytes}/${expect.dataBytes} B`);
  return { entries, dataBytes, namesBytes, ok: notes.length === 0, note: notes.join(', ') || 'ok' };
}

// ---- summary ----

function summarize(fsKind: FsKind, spec: RowSpec, runs: RunRecord[], rows: Map<string, RunRecord[]>, cpioBytes: number, entries: number): RowSummary {
  const medianOf = (id: string): number | null => {
    const ok = (rows.get(`${fsKind}/${id}`) ?? []).filter((r) => r.ok);
    return ok.length ? median(ok.map((r) => r.wallSeconds)) : null;
  };
  const okRuns = runs.filter((r) => r.ok);
  const med = okRuns.length ? median(okRuns.map((r) => r.wallSeconds)) : null;
  const peak = okRuns.length ? Math.max(...okRuns.map((r) => r.peakRssMB)) : null;
  // the fastest of the baselines that ran
  let baseId: string | null = null;
  let baseMed: number | null = null;
  for (const id of spec.compareWith) {
    const m = medianOf(id);
    if (m !== null && (baseMed === null || m < baseMed)) [baseId, baseMed] = [id, m];
  }
  const ratio = med !== null && baseMed !== null ? med / baseMed : null;
  const ratioBase = spec.vsName || (baseId ?? spec.compareWith.join('/'));

  let target = '';
  let pass: boolean | null = null;
  if (spec.limit !== null) {
    const against = spec.vsName || `min(${spec.compareWith.join(',')})`;
    target = spec.isRerun ? `<=${spec.limit.toFixed(2)}x ${against}` : `<=${spec.limit.toFixed(2)}x ${against}, RSS<${TARGETS.rssMB}MB`;
    if (ratio !== null && peak !== null) pass = ratio <= spec.limit && peak < TARGETS.rssMB;
  }
  const failed = runs.filter((r) => !r.ok);
  return {
    fs: fsKind,
    id: spec.id,
    label: spec.label,
    group: spec.group,
    runs,
    okRuns: okRuns.length,
    medianWallSeconds: med,
    medianCpuSeconds: okRuns.length ? median(okRuns.map((r) => r.cpuSeconds)) : null,
    mbPerSecond: med ? mb(cpioBytes) / med : null,
    entriesPerSecond: med ? entries / med : null,
    peakRssMB: peak,
    ratio,
    ratioBase,
    target,
    pass,
    ...(failed.length ? { lastError: failed[failed.length - 1]!.error ?? 'failed' } : {}),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---- printing ----

function printHeader(cfg: Config, c: CorpusStats, img: Images, tree: TreeScan, fsKinds: FsKind[], fsSize: number, loop: boolean): void {
  const h = hostInfo(loop);
  const out = process.stdout;
  out.write(`\nhost: ${h.cpus} cpus, ${h.memGiB} GiB, ${h.kernel}, node ${h.node}; loop devices: ${loop ? 'yes' : 'NO'}; load ${h.loadavg}\n`);
  out.write(`tools: ${h.tools.join('; ')}\n`);
  if (os.loadavg()[0]! > h.cpus / 2) {
    out.write(`WARNING: the machine is busy (load ${h.loadavg} on ${h.cpus} cpus): timings will be noisy; use more --runs\n`);
  }
  out.write(
    `corpus: seed ${c.seed}, ${sizeLabel(c.targetBytes)}: ${c.entries} entries (${c.files} files, ${c.dirs} dirs, ${c.symlinks} symlinks, ` +
      `${c.hardlinks} hard links), ${mb(c.dataBytes).toFixed(1)} MB data, median file ${c.medianFileBytes} B, ${c.duplicates} duplicate files\n`,
  );
  out.write(
    `images: image.cpio ${mb(img.cpioBytes).toFixed(1)} MB, image.cpio.gz ${mb(img.gzBytes).toFixed(1)} MB (gzip ratio ${(img.cpioBytes / img.gzBytes).toFixed(2)}x)` +
      `${img.tarBytes !== null ? `, image.tar (pax) ${mb(img.tarBytes).toFixed(1)} MB` : ''}; TREE (directory copies) ${mb(tree.namesBytes).toFixed(1)} MB counting each name\n`,
  );
  out.write(`runs: ${cfg.runs} per job on ${fsKinds.join(' + ')} (fresh ${sizeLabel(fsSize)} filesystem per run); zonep2v = ${cfg.zonep2v.join(' ')}${cfg.zonep2vArgs.length ? ` ... ${cfg.zonep2vArgs.join(' ')}` : ''}\n\n`);
}

function printRun(tag: string, label: string, r: RunRecord): void {
  const status = r.ok ? (r.verify && !r.verify.ok ? `ok (check: ${r.verify.note})` : 'ok') : `FAILED: ${oneLine(r.error ?? '')}`;
  const wall = Number.isFinite(r.wallSeconds) ? `${r.wallSeconds.toFixed(3)} s` : '   -   ';
  const rss = Number.isFinite(r.peakRssMB) && r.procs.length ? `rss ${r.peakRssMB.toFixed(0).padStart(4)} MB` : '           ';
  process.stdout.write(`${tag}  ${label.padEnd(45)} ${wall.padStart(9)}  ${rss}  ${status}\n`);
}

const GROUP_TITLES: Record<Group, string> = {
  cpio: '-- cpio: image.cpio --',
  gzip: '-- gzip: image.cpio.gz --',
  pax: '-- pax: image.tar --',
  dir: '-- dir: copy of TREE --',
};

function printTable(rows: RowSummary[], fsKinds: FsKind[], runs: number, img: Images, tree: TreeScan): void {
  const out = process.stdout;
  for (const fsKind of fsKinds) {
    out.write(`\n== ${fsKind}: median of ${runs} run(s) ==\n`);
    const header = ['job', 'wall s', 'cpu s', 'MB/s', 'entries/s', 'RSS MB', 'ratio', 'vs', 'target', 'ok?'];
    const table: string[][] = [header];
    let group: Group | null = null;
    for (const r of rows.filter((x) => x.fs === fsKind)) {
      if (r.group !== group) {
        group = r.group;
        table.push([GROUP_TITLES[group]]);
      }
      if (r.okRuns === 0) {
        table.push([r.label, 'FAILED', '', '', '', '', '', '', r.target, r.target ? 'FAIL' : '', oneLine(r.lastError ?? '').slice(0, 90)]);
        continue;
      }
      const partial = r.okRuns < r.runs.length ? ` (${r.runs.length - r.okRuns} failed)` : '';
      table.push([
        r.label + partial,
        r.medianWallSeconds!.toFixed(3),
        r.medianCpuSeconds!.toFixed(2),
        r.mbPerSecond!.toFixed(0),
        Math.round(r.entriesPerSecond!).toLocaleString('en-US'),
        r.peakRssMB!.toFixed(0),
        r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
        r.ratio === null ? '' : r.ratioBase,
        r.target,
        r.pass === null ? '' : r.pass ? 'PASS' : 'FAIL',
      ]);
    }
    const widths = header.map((_, i) => Math.max(...table.filter((row) => row.length > 1).map((row) => (row[i] ?? '').length)));
    const numeric = new Set([1, 2, 3, 4, 5, 6]);
    for (const row of table) {
      out.write(
        row
          .map((cell, i) => (i >= widths.length ? cell : numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd() + '\n',
      );
    }
    const checks = rows.filter((x) => x.fs === fsKind && x.runs.some((r) => r.verify && !r.verify.ok));
    for (const r of checks) {
      const v = r.runs.find((x) => x.verify && !x.verify.ok)!.verify!;
      out.write(`  note: ${r.label}: extracted tree differs from the corpus (${v.note})\n`);
    }
  }
  out.write(
    `\ntargets: zonep2v <= ${TARGETS.vsBsdcpio.toFixed(1)}x bsdcpio (uncompressed), <= ${TARGETS.vsBsdtarGzip.toFixed(1)}x bsdtar (gzip), ` +
      `<= ${TARGETS.vsFastestTar}x the faster of bsdtar/GNU tar (pax), <= ${TARGETS.vsFastestCopy}x the faster of cp -a/rsync -a (directory copy), ` +
      `peak RSS < ${TARGETS.rssMB} MB; no-change re-run <= ${TARGETS.rerunVsFirst}x first run (image.cpio), <= ${TARGETS.dirRerunVsRsync}x rsync -a's no-change re-run (directory)\n` +
      'ratio: against the fastest baseline that ran ("vs" names it); --index rows: zonep2v was given --index FILE (on the same fresh filesystem, outside DIR), written by the first run, read by the re-run\n' +
      `cpu s = user+sys of all processes (less sensitive to a busy machine than wall); MB/s = uncompressed image.cpio bytes (${mb(img.cpioBytes).toFixed(1)} MB) / wall for every row ` +
      `(image.tar is ${img.tarBytes !== null ? mb(img.tarBytes).toFixed(1) : '-'} MB, TREE ${mb(tree.namesBytes).toFixed(1)} MB per name); entries/s = archive entries / wall; ` +
      'RSS = max over runs and pipeline processes (MB = 10^6 B)\n',
  );
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

// ---- environment ----

function which(cmd: string): boolean {
  if (cmd.includes('/')) return fs.existsSync(cmd);
  return spawnSync('sh', ['-c', `command -v ${shQuote(cmd)}`], { stdio: 'ignore' }).status === 0;
}

function hostInfo(loop: boolean): { cpus: number; memGiB: number; kernel: string; node: string; loop: boolean; loadavg: string; tools: string[] } {
  const version = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return (r.stdout || r.stderr || '').split('\n')[0]!.trim() || `${cmd}: ?`;
  };
  return {
    cpus: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loop,
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    tools: [
      version('cpio', ['--version']),
      version('bsdcpio', ['--version']).replace(/ - libarchive.*/, ''),
      version('bsdtar', ['--version']).replace(/ zlib.*/, ''),
      version('gzip', ['--version']),
      version('tar', ['--version']),
      version('cp', ['--version']),
      version('rsync', ['--version']).replace(/\s+protocol.*/, ''),
    ],
  };
}

// ---- arguments ----

function defaultZonep2v(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../bin/zonep2v.js'), path.resolve(process.cwd(), 'bin/zonep2v.js')];
  const found = candidates.find((c) => fs.existsSync(c)) ?? candidates[0]!;
  return `${shQuote(process.execPath)} ${shQuote(found)}`;
}

function parseConfig(argv: string[]): Config | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string', default: '256M' },
      seed: { type: 'string', default: '1' },
      runs: { type: 'string', default: '3' },
      fs: { type: 'string', default: 'ext4' },
      work: { type: 'string', default: '/var/tmp/zonep2v-bench' },
      zonep2v: { type: 'string' },
      'zonep2v-args': { type: 'string', default: '' },
      jobs: { type: 'string' },
      'fs-size': { type: 'string' },
      'image-dir': { type: 'string' },
      json: { type: 'string' },
      'no-verify': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/extract-bench.js [--size 256M] [--runs 3] [--fs ext4|tmpfs|both] [--seed 1]\n' +
        '         [--work /var/tmp/zonep2v-bench] [--zonep2v "node bin/zonep2v.js"] [--zonep2v-args "..."]\n' +
        `         [--jobs ${JOBS.map((j) => j.id).join(',')}] [--fs-size 1G] [--image-dir DIR] [--json FILE] [--no-verify]\n`,
    );
    return null;
  }
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  const fsKinds: FsKind[] = values.fs === 'both' ? ['ext4', 'tmpfs'] : values.fs === 'ext4' || values.fs === 'tmpfs' ? [values.fs] : [];
  const fail = (msg: string): null => {
    process.stderr.write(`extract-bench: ${msg}\n`);
    return null;
  };
  if (!Number.isInteger(runs) || runs < 1) return fail(`bad --runs ${values.runs}`);
  if (!Number.isInteger(seed) || seed < 0) return fail(`bad --seed ${values.seed}`);
  if (!fsKinds.length) return fail(`bad --fs ${values.fs} (ext4, tmpfs or both)`);
  let jobs = [...JOBS];
  if (values.jobs) {
    const want = values.jobs.split(',').map((s) => s.trim());
    const unknown = want.filter((w) => !JOBS.some((j) => j.id === w));
    if (unknown.length) return fail(`unknown job(s) ${unknown.join(', ')}; known: ${JOBS.map((j) => j.id).join(', ')}`);
    jobs = JOBS.filter((j) => want.includes(j.id));
  }
  return {
    seed,
    totalBytes: parseSize(values.size!),
    runs,
    fsKinds,
    work: path.resolve(values.work!),
    zonep2v: splitCommand(values.zonep2v ?? defaultZonep2v()),
    zonep2vArgs: splitCommand(values['zonep2v-args']!),
    jobs,
    ...(values['fs-size'] ? { fsSize: parseSize(values['fs-size']) } : {}),
    ...(values['image-dir'] ? { imageDir: path.resolve(values['image-dir']) } : {}),
    ...(values.json ? { json: path.resolve(values.json) } : {}),
    verify: !values['no-verify'],
  };
}

function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      cleanupAll();
      process.stderr.write(`extract-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
