/**
 * Codec benchmark: for each compression codec, on ONE corpus image in ONE run, our decoder against
 * the reference tools, decode-only and as a full extraction.
 *
 *   node dist/bench/codec-bench.js [--size 64M] [--runs 3] [--seed 1] [--tmp /var/tmp/zonep2v-bench]
 *                                  [--codecs compress,bzip2,gzip,pigz,gzip-members,xz] [--no-extract]
 *                                  [--fs ext4|tmpfs] [--zonep2v "node /path/to/bin/zonep2v.js"]
 *
 * The image is the bench corpus (corpus.ts, `--size`, `--seed`; the same cache directory layout
 * as extract-bench, so both share it) packed by GNU cpio (`find . | LC_ALL=C sort | cpio -o -H
 * newc`), then compressed once per codec and cached next to it (file names carry the compressor
 * settings; an image older than image.cpio is remade):
 *
 *   compress      compress -b 16                     (.Z, LZW)
 *   bzip2         bzip2 -9
 *   gzip          gzip -6 -n                         (one member)
 *   pigz          pigz -6 -i -n                      (one member, independent deflate blocks)
 *   gzip-members  split -b 4M --filter='gzip -6 -n'  (concatenated gzip members)
 *   xz            xz -6 -T2                          (several blocks when the input is > 24 MiB)
 *
 * 1. Decode-only. Ours: a child process (`node THIS --child-decode ...`, with the environment set
 *    for the variant) that reads the compressed file in 1 MiB chunks through the project's filter
 *    registry (src/filters/registry.ts: the filter the CLI would stack) and counts the output
 *    bytes; it reports its own decode wall time and process.cpuUsage() delta (all threads, so
 *    bzip2's piscina workers too). Variants: the defaults (WebAssembly kernels, bzip2 block-
 *    parallel with one worker per core), ZONEP2V_KERNELS=ts when the codec's decoder instantiates
 *    a WebAssembly kernel (probed once: we count WebAssembly instances created while decoding the
 *    first chunk), and for bzip2 ZONEP2V_BZIP2_THREADS=1 (serial) and decodeBzip2Parallel with
 *    1 and 2 workers, for gzip-members ZONEP2V_GZIP_THREADS=1 and =2. Reference tools write to
 *    /dev/null: `uncompress -c`, `compress -d -c`, `bzip2 -dc`, `lbzip2 -n 2 -dc`, `lbzip2 -n 1 -dc`, `gzip -dc`, `pigz -dc`, `xz -dc -T0`.
 * 2. Full extraction, each run into its own fresh filesystem (fresh-fs.ts; ext4 on a loop device,
 *    or tmpfs): `zonep2v extract IMAGE DIR` against `TOOL -dc IMAGE | cpio -idmu --quiet` (cwd
 *    DIR), wall time, CPU and peak RSS from GNU time (measure.ts), each tree checked afterwards
 *    against the corpus manifest (untimed).
 *
 * Every job runs once per round, `--runs` rounds, in an order rotated each round; the compressed
 * input is read just before each run (page cache). Printed: medians, MB/s of decompressed output
 * (MB = 10^6 B), time ratios ours/tool, the issue's targets next to them, load averages before
 * and after each phase. Ours is started with every ZONEP2V_* knob unset
 * (the defaults) unless a variant sets them.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { bzip2Threads, decodeBzip2Parallel } from '../src/filters/bzip2/index.js';
import { Gunzip } from 'fflate';
import { unwrapFilters } from '../src/filters/registry.js';
import { CORPUS_GENERATOR, generateCorpus, type CorpusStats } from './corpus.js';
import { cleanupAll, loopAvailable, withFreshFs, type FsKind } from './fresh-fs.js';
import { GNU_TIME, runTimed, shQuote, splitCommand, warmPageCache } from './measure.js';
import { mb, parseSize, sizeLabel } from './size.js';

const CHUNK = 1 << 20;
const THIS_FILE = fileURLToPath(import.meta.url);

// ---- codecs ----

type CodecId = 'compress' | 'bzip2' | 'gzip' | 'pigz' | 'gzip-members' | 'xz';

interface Tool {
  /** short name, used in job ids and the ratio columns */
  name: string;
  /** the command, with the image as its last argument */
  argv(file: string): string[];
  needs: string[];
}

interface Codec {
  id: CodecId;
  title: string;
  /** cached file name; carries the compressor settings */
  fileName: string;
  /** bash script compressing IN to OUT (both shell-quoted already) */
  make(input: string, output: string): string;
  makeNeeds: string[];
  /** the registry filter that must pick it */
  filter: string;
  decodeRefs: Tool[];
  /** first stage of `TOOL | cpio -idmu` */
  extractRefs: Tool[];
}

const tool = (name: string, args: string[], needs: string[] = [args[0]!]): Tool => ({ name, argv: (file) => [...args, file], needs });

const UNCOMPRESS = tool('uncompress -c', ['uncompress', '-c']);
const NCOMPRESS = tool('compress -d -c', ['compress', '-d', '-c']);
const BZIP2 = tool('bzip2 -dc', ['bzip2', '-dc']);
const LBZIP2_2 = tool('lbzip2 -n 2 -dc', ['lbzip2', '-n', '2', '-dc']);
const LBZIP2_1 = tool('lbzip2 -n 1 -dc', ['lbzip2', '-n', '1', '-dc']);
const GZIP = tool('gzip -dc', ['gzip', '-dc']);
const PIGZ = tool('pigz -dc', ['pigz', '-dc']);
const XZ = tool('xz -dc -T0', ['xz', '-dc', '-T0']);

const MEMBER_BYTES = 4 * 1024 * 1024;

const CODECS: readonly Codec[] = [
  {
    id: 'compress',
    title: 'compress(1) .Z (compress -b 16)',
    fileName: 'image.cpio.b16.Z',
    // compress exits 2 when the output would not be smaller (it still writes it with -c)
    make: (i, o) => `compress -b 16 -c < ${i} > ${o}; s=$?; [ $s = 0 ] || [ $s = 2 ]`,
    makeNeeds: ['compress'],
    filter: 'compress',
    decodeRefs: [UNCOMPRESS, NCOMPRESS],
    extractRefs: [UNCOMPRESS],
  },
  {
    id: 'bzip2',
    title: 'bzip2 (bzip2 -9)',
    fileName: 'image.cpio.9.bz2',
    make: (i, o) => `bzip2 -9 -c < ${i} > ${o}`,
    makeNeeds: ['bzip2'],
    filter: 'bzip2',
    decodeRefs: [BZIP2, LBZIP2_2, LBZIP2_1],
    extractRefs: [BZIP2, LBZIP2_2],
  },
  {
    id: 'gzip',
    title: 'gzip (gzip -6, one member)',
    fileName: 'image.cpio.6.gz',
    make: (i, o) => `gzip -6 -n -c < ${i} > ${o}`,
    makeNeeds: ['gzip'],
    filter: 'gzip',
    decodeRefs: [GZIP, PIGZ],
    extractRefs: [GZIP, PIGZ],
  },
  {
    id: 'pigz',
    title: 'pigz -i (pigz -6 -i: one member, independent blocks)',
    fileName: 'image.cpio.pigz-6-i.gz',
    make: (i, o) => `pigz -6 -i -n -c < ${i} > ${o}`,
    makeNeeds: ['pigz'],
    filter: 'gzip',
    decodeRefs: [GZIP, PIGZ],
    extractRefs: [GZIP, PIGZ],
  },
  {
    id: 'gzip-members',
    title: 'multi-member gzip (4 MiB pieces, gzip -6 each, concatenated)',
    fileName: 'image.cpio.members-4M-6.gz',
    make: (i, o) => `split -b ${MEMBER_BYTES} --filter='gzip -6 -n' - < ${i} > ${o}`,
    makeNeeds: ['split', 'gzip'],
    filter: 'gzip',
    decodeRefs: [GZIP, PIGZ],
    extractRefs: [GZIP, PIGZ],
  },
  {
    id: 'xz',
    title: 'xz multi-block (xz -6 -T2)',
    fileName: 'image.cpio.6-T2.xz',
    make: (i, o) => `xz -6 -T2 -c < ${i} > ${o}`,
    makeNeeds: ['xz'],
    filter: 'xz',
    decodeRefs: [XZ],
    extractRefs: [XZ],
  },
];

// ---- our decode variants ----

type ChildMode = 'filter' | 'bzip2-workers-1' | 'bzip2-workers-2' | 'fflate-gunzip';

interface OursVariant {
  name: string;
  mode: ChildMode;
  /** environment for the child, on top of ZONEP2V_KERNELS / ZONEP2V_BZIP2_THREADS being unset */
  env: Record<string, string>;
}

function oursVariants(codec: Codec, usesWasm: boolean): OursVariant[] {
  const threads = bzip2DefaultThreads();
  const v: OursVariant[] = [];
  if (codec.id === 'bzip2') {
    v.push({ name: `zonep2v filter (default: ${threads > 1 ? `${threads} workers` : 'serial'})`, mode: 'filter', env: {} });
    v.push({ name: 'zonep2v ZONEP2V_BZIP2_THREADS=1 (serial)', mode: 'filter', env: { ZONEP2V_BZIP2_THREADS: '1' } });
    v.push({ name: 'zonep2v parallel, 1 worker', mode: 'bzip2-workers-1', env: {} });
    if (threads !== 2) v.push({ name: 'zonep2v parallel, 2 workers', mode: 'bzip2-workers-2', env: {} });
  } else {
    v.push({ name: usesWasm ? 'zonep2v filter (default: wasm kernels)' : 'zonep2v filter', mode: 'filter', env: {} });
  }
  // compress(1) and xz decode on a thread of their own by default: the in-place decoder too
  if (codec.id === 'compress' || codec.id === 'xz') {
    v.push({ name: 'zonep2v in place (ZONEP2V_DECODE_THREAD=0)', mode: 'filter', env: { ZONEP2V_DECODE_THREAD: '0' } });
  }
  if (codec.id === 'xz') v.push({ name: 'zonep2v serial blocks (ZONEP2V_XZ_THREADS=1)', mode: 'filter', env: { ZONEP2V_XZ_THREADS: '1' } });
  // members may decode on workers (filters/gzip/parallel.ts; by default only with 3+ cores):
  // 1 and 2 workers explicitly, for the scaling
  if (codec.id === 'gzip-members') {
    v.push({ name: 'zonep2v serial (ZONEP2V_GZIP_THREADS=1)', mode: 'filter', env: { ZONEP2V_GZIP_THREADS: '1' } });
    v.push({ name: 'zonep2v 2 member workers (..._THREADS=2)', mode: 'filter', env: { ZONEP2V_GZIP_THREADS: '2' } });
  }
  if (codec.id === 'gzip' || codec.id === 'gzip-members') v.push({ name: 'fflate Gunzip (not chosen)', mode: 'fflate-gunzip', env: {} });
  if (usesWasm) v.push({ name: 'zonep2v filter, ZONEP2V_KERNELS=ts', mode: 'filter', env: { ZONEP2V_KERNELS: 'ts' } });
  return v;
}

/** What bzip2Threads() gives in a child started with ZONEP2V_BZIP2_THREADS unset. */
function bzip2DefaultThreads(): number {
  const saved = process.env.ZONEP2V_BZIP2_THREADS;
  delete process.env.ZONEP2V_BZIP2_THREADS;
  try {
    return bzip2Threads();
  } finally {
    if (saved !== undefined) process.env.ZONEP2V_BZIP2_THREADS = saved;
  }
}

// ---- targets (the issue's), printed next to the ratios ----

interface Target {
  phase: 'decode' | 'extract';
  codec: CodecId;
  /** the tool (Tool.name) the ratio is against */
  vs: string;
  /** ours median time / tool median time must be <= limit */
  limit: number;
  text: string;
}

const TARGETS: readonly Target[] = [
  { phase: 'extract', codec: 'bzip2', vs: BZIP2.name, limit: 0.6, text: 'bzip2 image extract <= 0.6x bzip2 -dc | cpio -idmu' },
  { phase: 'extract', codec: 'bzip2', vs: LBZIP2_2.name, limit: 1.2, text: 'bzip2 image extract <= 1.2x lbzip2 -dc | cpio -idmu' },
  { phase: 'extract', codec: 'compress', vs: UNCOMPRESS.name, limit: 1.0, text: '.Z image extract <= 1.0x uncompress -c | cpio -idmu' },
  { phase: 'decode', codec: 'compress', vs: UNCOMPRESS.name, limit: 1.5, text: 'LZW decode-only time <= 1.5x uncompress -c (throughput within 1.5x)' },
];

// ---- jobs and records ----

interface RunRecord {
  ok: boolean;
  /** the whole command (process or pipeline), from hrtime */
  wallSeconds: number;
  /** ours, decode-only: the child's own timing of the decode loop */
  decodeSeconds?: number;
  /** user + system, summed over the processes (ours decode-only: the child's cpuUsage delta) */
  cpuSeconds: number;
  /** max over the pipeline's processes (GNU time %M) */
  rssMB: number;
  error?: string;
  note?: string;
}

interface Job {
  id: string;
  phase: 'decode' | 'extract';
  codec: Codec;
  label: string;
  ours: boolean;
  /** Tool.name for reference jobs */
  toolName?: string;
  run(): Promise<RunRecord>;
  runs: RunRecord[];
}

interface Config {
  totalBytes: number;
  runs: number;
  seed: number;
  work: string;
  codecs: Codec[];
  extract: boolean;
  fs: FsKind;
  zonep2v: string[];
}

// ---- main ----

async function main(argv: string[]): Promise<number> {
  const cfg = parseConfig(argv);
  if (!cfg) return 2;
  if (!which(GNU_TIME)) {
    process.stderr.write(`codec-bench: GNU time (${GNU_TIME}) is required: apt-get install -y time\n`);
    return 2;
  }
  if (cfg.extract && process.getuid?.() !== 0) {
    process.stderr.write('codec-bench: the extract phase needs root (mount, chown); use --no-extract otherwise\n');
    return 2;
  }
  let fsKind = cfg.fs;
  const loop = cfg.extract && fsKind === 'ext4' ? loopAvailable() && which('mkfs.ext4') : true;
  if (!loop) {
    process.stderr.write('WARNING: no free loop device or no mkfs.ext4: extracting into tmpfs instead of ext4\n');
    fsKind = 'tmpfs';
  }

  fs.mkdirSync(cfg.work, { recursive: true });
  const scratch = path.join(cfg.work, 'scratch');
  fs.mkdirSync(scratch, { recursive: true });
  const corpus = await ensureCorpus(cfg);
  const cpio = ensureCpio(corpus.dir);
  const cpioBytes = fs.statSync(cpio).size;

  const codecs: { codec: Codec; file: string; bytes: number; usesWasm: boolean; info: string }[] = [];
  for (const codec of cfg.codecs) {
    const missing = codec.makeNeeds.filter((t) => !which(t));
    if (missing.length) {
      process.stdout.write(`skipping ${codec.id}: ${missing.join(', ')} not installed\n`);
      continue;
    }
    const file = ensureCompressed(corpus.dir, cpio, codec);
    const usesWasm = (await probeWasmInstances(file)) > 0;
    codecs.push({ codec, file, bytes: fs.statSync(file).size, usesWasm, info: describeImage(codec, file) });
  }
  if (!codecs.length) {
    process.stderr.write('codec-bench: no codec to run\n');
    return 2;
  }

  // ---- jobs ----
  const decodeJobs: Job[] = [];
  const extractJobs: Job[] = [];
  for (const { codec, file } of codecs) {
    for (const v of oursVariants(codec, codecs.find((c) => c.codec === codec)!.usesWasm)) {
      decodeJobs.push(makeJob(`decode:${codec.id}:${v.name}`, 'decode', codec, v.name, true, undefined, () => runOursDecode(file, v, codec, cpioBytes, scratch)));
    }
    for (const t of codec.decodeRefs) {
      if (!t.needs.every(which)) continue;
      decodeJobs.push(
        makeJob(`decode:${codec.id}:${t.name}`, 'decode', codec, `${t.name} > /dev/null`, false, t.name, () => runToolDecode(file, t, scratch)),
      );
    }
    if (!cfg.extract) continue;
    const base = path.basename(file);
    extractJobs.push(makeJob(`extract:${codec.id}:zonep2v`, 'extract', codec, `zonep2v extract ${base} DIR`, true, undefined, () => runExtract(cfg, fsKind, scratch, corpus.stats, cpioBytes, file, null)));
    for (const t of codec.extractRefs) {
      if (!t.needs.every(which) || !which('cpio')) continue;
      extractJobs.push(
        makeJob(`extract:${codec.id}:${t.name}`, 'extract', codec, `${t.name} | cpio -idmu`, false, t.name, () => runExtract(cfg, fsKind, scratch, corpus.stats, cpioBytes, file, t)),
      );
    }
  }

  // ---- header ----
  const out = process.stdout;
  const s = corpus.stats;
  out.write(`\nhost: ${os.cpus().length} cpus, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, ${os.type()} ${os.release()}, node ${process.version}\n`);
  out.write(`tools: ${toolVersions().join('; ')}\n`);
  out.write(
    `corpus: seed ${s.seed}, ${sizeLabel(s.targetBytes)}: ${s.entries} entries (${s.files} files, ${s.dirs} dirs, ${s.symlinks} symlinks, ${s.hardlinks} hard links), ` +
      `${mb(s.dataBytes).toFixed(1)} MB data; image.cpio (GNU cpio -H newc) ${mb(cpioBytes).toFixed(1)} MB = ${cpioBytes} B\n`,
  );
  out.write('images (cached next to image.cpio):\n');
  for (const c of codecs) {
    out.write(
      `  ${c.codec.id.padEnd(13)} ${mb(c.bytes).toFixed(1).padStart(7)} MB  ${(cpioBytes / c.bytes).toFixed(2)}x  ${c.codec.title}${c.info ? `; ${c.info}` : ''}; ` +
        `WebAssembly kernel: ${c.usesWasm ? 'yes (ZONEP2V_KERNELS=ts row added)' : 'none'}\n`,
    );
  }
  out.write(`       ${path.dirname(codecs[0]!.file)}\n`);
  out.write(
    `ours: decode-only = node child reading 1 MiB chunks through the filter registry; bzip2 default threads here: ${bzip2DefaultThreads()} ` +
      `(this process sees bzip2Threads() = ${bzip2Threads()}); extract = ${cfg.zonep2v.map(shortArg).join(' ')} extract IMAGE DIR\n`,
  );
  out.write(`runs: ${cfg.runs}, order rotated per round${cfg.extract ? `; extraction into a fresh ${fsKind} filesystem per run` : '; no extract phase'}\n`);

  // ---- phases ----
  const loads: string[] = [];
  const phase = async (name: string, jobs: Job[]): Promise<void> => {
    if (!jobs.length) return;
    loads.push(`${name} before: ${load()}`);
    out.write(`\n== ${name}: load average ${load()} ==\n`);
    if (os.loadavg()[0]! > os.cpus().length / 2) out.write(`WARNING: the machine is busy (load ${load()}): timings will be noisy; use more --runs\n`);
    for (let round = 0; round < cfg.runs; round++) {
      for (let k = 0; k < jobs.length; k++) {
        const job = jobs[(k + round * Math.max(1, Math.ceil(jobs.length / cfg.runs))) % jobs.length]!;
        const rec = await job.run();
        job.runs.push(rec);
        printRun(`round ${round + 1}/${cfg.runs}`, job, rec);
      }
    }
    loads.push(`${name} after: ${load()}`);
    out.write(`load average after ${name}: ${load()}\n`);
  };
  await phase('decode-only', decodeJobs);
  await phase('extract', extractJobs);

  // ---- report ----
  out.write(`\n==== results: median of ${cfg.runs} run(s); MB/s = decompressed bytes (${mb(cpioBytes).toFixed(1)} MB) / time; MB = 10^6 B ====\n`);
  const verdicts: string[] = [];
  for (const { codec, bytes } of codecs) {
    out.write(`\n## ${codec.id}: ${codec.title}, ${mb(bytes).toFixed(1)} MB -> ${mb(cpioBytes).toFixed(1)} MB\n`);
    const dj = decodeJobs.filter((j) => j.codec === codec);
    printDecodeTable(dj, cpioBytes);
    const ej = extractJobs.filter((j) => j.codec === codec);
    if (ej.length) printExtractTable(ej, cpioBytes, fsKind);
  }

  out.write('\n## targets (time ratio ours / tool, medians)\n');
  for (const t of TARGETS) {
    if (!codecs.some((c) => c.codec.id === t.codec) || (t.phase === 'extract' && !cfg.extract)) continue;
    const jobs = t.phase === 'decode' ? decodeJobs : extractJobs;
    const ours = jobs.find((j) => j.codec.id === t.codec && j.ours);
    const ref = jobs.find((j) => j.codec.id === t.codec && j.toolName === t.vs);
    const r = ours && ref ? ratio(ours, ref) : null;
    const verdict = r === null ? 'n/a' : r <= t.limit ? 'PASS' : 'FAIL';
    const line = `  ${t.text.padEnd(70)} measured ${r === null ? '-' : `${r.toFixed(2)}x`.padStart(6)}  ${verdict}${ours && t.phase === 'decode' ? `  (${ours.label})` : ''}`;
    verdicts.push(line);
    out.write(line + '\n');
  }
  out.write(`\nload averages: ${loads.join('; ')}\n`);
  out.write(
    'notes: "time s" for ours decode-only is the child\'s own decode loop (without Node\'s start-up and module loading); "proc s" is the whole process, as for the tools. ' +
      'cpu s = user+sys of all threads/processes. RSS = peak resident set (GNU time %M, max over runs and pipeline processes). ' +
      `uncompress on Debian is gzip's script (gzip -d); "compress -d -c" is ncompress's own decoder.\n`,
  );
  return 0;
}

function makeJob(id: string, phase: 'decode' | 'extract', codec: Codec, label: string, ours: boolean, toolName: string | undefined, run: () => Promise<RunRecord>): Job {
  return { id, phase, codec, label, ours, ...(toolName ? { toolName } : {}), run, runs: [] };
}

// ---- running ----

/** `env -u ... K=V` so our children get the defaults unless the variant says otherwise. */
function oursEnv(env: Record<string, string>): string[] {
  const knobs = ['ZONEP2V_KERNELS', 'ZONEP2V_BZIP2_THREADS', 'ZONEP2V_DECODE_THREAD', 'ZONEP2V_XZ_THREADS', 'ZONEP2V_GZIP_THREADS'];
  return ['env', ...knobs.flatMap((k) => ['-u', k]), ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
}

let resultSeq = 0;

async function runOursDecode(file: string, v: OursVariant, codec: Codec, expectBytes: number, scratch: string): Promise<RunRecord> {
  warmPageCache([file]);
  const resultFile = path.join(scratch, `codec-decode-${process.pid}-${++resultSeq}.json`);
  fs.rmSync(resultFile, { force: true });
  const res = await runTimed({
    stages: [[...oursEnv(v.env), process.execPath, THIS_FILE, '--child-decode', file, v.mode, codec.filter, resultFile]],
    cwd: scratch,
    scratchDir: scratch,
  });
  const rec = fromTimed(res);
  try {
    const child = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as ChildResult;
    rec.decodeSeconds = child.seconds;
    rec.cpuSeconds = child.cpuSeconds;
    if (child.bytes !== expectBytes) {
      rec.ok = false;
      rec.error = `decoded ${child.bytes} bytes, expected ${expectBytes}`;
    }
  } catch {
    if (rec.ok) {
      rec.ok = false;
      rec.error = 'the child wrote no result';
    }
  } finally {
    fs.rmSync(resultFile, { force: true });
  }
  return rec;
}

async function runToolDecode(file: string, t: Tool, scratch: string): Promise<RunRecord> {
  warmPageCache([file]);
  return fromTimed(await runTimed({ stages: [t.argv(file)], cwd: scratch, scratchDir: scratch }));
}

/** One extraction on a fresh filesystem: ours (`t` null) or `t | cpio -idmu`, then the check. */
async function runExtract(cfg: Config, kind: FsKind, scratch: string, stats: CorpusStats, cpioBytes: number, file: string, t: Tool | null): Promise<RunRecord> {
  warmPageCache([file]);
  const fsSize = Math.ceil(Math.max(1024 ** 3, cpioBytes * 2.5 + (stats.entries + 1) * 4096) / 1024 ** 2) * 1024 ** 2;
  let rec: RunRecord;
  try {
    rec = await withFreshFs({ kind, sizeBytes: fsSize, workDir: cfg.work }, async (ffs) => {
      const dir = path.join(ffs.mountPoint, 'root');
      fs.mkdirSync(dir);
      const res = t
        ? await runTimed({ stages: [t.argv(file), ['cpio', '-idmu', '--quiet']], cwd: dir, scratchDir: scratch })
        : await runTimed({ stages: [[...oursEnv({}), ...cfg.zonep2v, 'extract', file, dir]], cwd: scratch, scratchDir: scratch });
      const r = fromTimed(res);
      if (r.ok) {
        const v = verifyTree(dir, stats);
        if (v) r.note = `check: ${v}`;
      }
      return r;
    });
  } catch (err) {
    rec = { ok: false, wallSeconds: NaN, cpuSeconds: NaN, rssMB: NaN, error: `setup: ${err instanceof Error ? err.message : String(err)}` };
  }
  spawnSync('sync'); // let writeback of the deleted loop image settle before the next timed run
  return rec;
}

function fromTimed(res: Awaited<ReturnType<typeof runTimed>>): RunRecord {
  const rss = res.procs.map((p) => (Number.isFinite(p.maxRssKiB) ? (p.maxRssKiB * 1024) / 1e6 : 0));
  return {
    ok: res.ok,
    wallSeconds: res.wallSeconds,
    cpuSeconds: res.procs.reduce((sum, p) => sum + (Number.isFinite(p.cpuSeconds) ? p.cpuSeconds : 0), 0),
    rssMB: Math.max(0, ...rss),
    ...(res.error ? { error: res.error } : {}),
  };
}

/** Entry count and data bytes (each inode once) against the corpus manifest; a note when they differ. */
function verifyTree(dir: string, stats: CorpusStats): string | null {
  let entries = 0;
  let dataBytes = 0;
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
        const key = `${st.dev}:${st.ino}`;
        if (!seen.has(key)) {
          seen.add(key);
          dataBytes += Number(st.size);
        }
      }
    }
  }
  const notes: string[] = [];
  if (entries !== stats.entries) notes.push(`entries ${entries}/${stats.entries}`);
  if (dataBytes !== stats.dataBytes) notes.push(`data ${dataBytes}/${stats.dataBytes} B`);
  return notes.length ? notes.join(', ') : null;
}

// ---- the decode child ----

interface ChildResult {
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  chain: string[];
}

/** fflate's streaming gunzip (multi-member too), the same 1 MiB chunks in: the engine the gzip
 *  filter did not choose (issue 5: measure node:zlib against fflate and keep the faster). */
async function* fflateGunzip(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const gunzip = new Gunzip((piece) => out.push(piece));
  for await (const chunk of input) {
    gunzip.push(chunk as Uint8Array);
    yield* out.splice(0);
  }
  gunzip.push(new Uint8Array(0), true);
  yield* out.splice(0);
}

/** `--child-decode FILE MODE FILTER RESULT`: decode FILE, write a ChildResult to RESULT. */
async function childDecode(file: string, mode: ChildMode, expectFilter: string, resultFile: string): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const input = fs.createReadStream(file, { highWaterMark: CHUNK });
  let stream: AsyncIterable<Uint8Array>;
  let chain: string[];
  if (mode === 'filter') {
    ({ stream, chain } = await unwrapFilters(input, 1));
    if (chain.join() !== expectFilter) throw new Error(`the registry picked [${chain.join(', ')}], expected ${expectFilter}`);
  } else if (mode === 'fflate-gunzip') {
    stream = fflateGunzip(input);
    chain = ['gzip (fflate)'];
  } else {
    stream = decodeBzip2Parallel(input, { threads: mode === 'bzip2-workers-1' ? 1 : 2, minBytes: 0 });
    chain = [`bzip2 (${mode})`];
  }
  let bytes = 0;
  for await (const piece of stream) bytes += piece.length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const result: ChildResult = { bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, chain };
  fs.writeFileSync(resultFile, JSON.stringify(result) + '\n');
}

/**
 * How many WebAssembly instances our default decoder creates for `file` while producing its first
 * output (ZONEP2V_KERNELS unset, bzip2 serial so it runs on this thread). Non-zero: the kernel
 * choice makes a difference for this codec, so a ZONEP2V_KERNELS=ts variant is worth running.
 */
async function probeWasmInstances(file: string): Promise<number> {
  const wasm = WebAssembly as unknown as { Instance: typeof WebAssembly.Instance; instantiate: (...args: unknown[]) => Promise<unknown> };
  const OriginalInstance = wasm.Instance;
  const originalInstantiate = wasm.instantiate;
  const savedEnv = { kernels: process.env.ZONEP2V_KERNELS, threads: process.env.ZONEP2V_BZIP2_THREADS };
  let count = 0;
  wasm.Instance = new Proxy(OriginalInstance, {
    construct(target, args) {
      count++;
      return Reflect.construct(target, args) as object;
    },
  });
  wasm.instantiate = (...args: unknown[]) => {
    count++;
    return originalInstantiate.apply(WebAssembly, args);
  };
  delete process.env.ZONEP2V_KERNELS;
  process.env.ZONEP2V_BZIP2_THREADS = '1';
  process.env.ZONEP2V_DECODE_THREAD = '0'; // the kernel must run on this thread to be counted
  try {
    const { stream } = await unwrapFilters(fs.createReadStream(file, { highWaterMark: CHUNK }), 1);
    for await (const piece of stream) {
      if (piece.length) break;
    }
  } finally {
    wasm.Instance = OriginalInstance;
    wasm.instantiate = originalInstantiate;
    delete process.env.ZONEP2V_DECODE_THREAD;
    for (const [key, value] of [['ZONEP2V_KERNELS', savedEnv.kernels], ['ZONEP2V_BZIP2_THREADS', savedEnv.threads]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  return count;
}

// ---- corpus and images (cached; the corpus layout is extract-bench's) ----

async function ensureCorpus(cfg: Config): Promise<{ dir: string; stats: CorpusStats }> {
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
  const stats = await generateCorpus({ seed: cfg.seed, totalBytes: cfg.totalBytes, dir: path.join(dir, 'tree') });
  fs.writeFileSync(manifest, JSON.stringify(stats, null, 2) + '\n');
  return { dir, stats };
}

/** image.cpio, packed the way extract-bench packs it (and shared with it). */
function ensureCpio(corpusDir: string): string {
  const cpio = path.join(corpusDir, 'image.cpio');
  const manifest = path.join(corpusDir, 'manifest.json');
  if (!fs.existsSync(cpio) || fs.statSync(cpio).mtimeMs < fs.statSync(manifest).mtimeMs) {
    process.stdout.write('images: packing image.cpio (find . | LC_ALL=C sort | cpio -o -H newc) ...\n');
    const tree = path.join(corpusDir, 'tree');
    bash(`cd ${shQuote(tree)} && find . | LC_ALL=C sort | cpio -o -H newc --quiet > ${shQuote(cpio + '.tmp')} && mv ${shQuote(cpio + '.tmp')} ${shQuote(cpio)}`);
  }
  return cpio;
}

/** The codec's image, remade when missing or older than image.cpio. */
function ensureCompressed(corpusDir: string, cpio: string, codec: Codec): string {
  const dir = path.join(corpusDir, 'codec-bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, codec.fileName);
  if (!fs.existsSync(file) || fs.statSync(file).mtimeMs < fs.statSync(cpio).mtimeMs) {
    process.stdout.write(`images: making ${codec.fileName} ...\n`);
    const t0 = process.hrtime.bigint();
    bash(`${codec.make(shQuote(cpio), shQuote(file + '.tmp'))} && mv ${shQuote(file + '.tmp')} ${shQuote(file)}`);
    process.stdout.write(`images: ${codec.fileName} took ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s\n`);
  }
  return file;
}

/** Structure worth knowing: xz blocks, gzip members. */
function describeImage(codec: Codec, file: string): string {
  if (codec.id === 'xz') {
    const r = spawnSync('xz', ['--robot', '--list', file], { encoding: 'utf8' });
    const line = r.stdout.split('\n').find((l) => l.startsWith('file\t'));
    if (line) {
      const [, streams, blocks] = line.split('\t');
      return `${streams} stream(s), ${blocks} block(s)`;
    }
  }
  if (codec.id === 'gzip-members') {
    const members = Math.ceil(fs.statSync(path.join(path.dirname(path.dirname(file)), 'image.cpio')).size / MEMBER_BYTES);
    return `${members} members`;
  }
  return '';
}

function bash(script: string): void {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`failed (exit ${r.status}): ${script}`);
}

// ---- summary and printing ----

function okRuns(job: Job): RunRecord[] {
  return job.runs.filter((r) => r.ok);
}

/** The job's median time: ours decode-only uses the child's decode loop, everything else the wall. */
function medianTime(job: Job): number | null {
  const ok = okRuns(job);
  if (!ok.length) return null;
  return median(ok.map((r) => (job.phase === 'decode' && job.ours ? r.decodeSeconds! : r.wallSeconds)));
}

function ratio(ours: Job, ref: Job): number | null {
  const a = medianTime(ours);
  const b = medianTime(ref);
  return a !== null && b !== null ? a / b : null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function printRun(tag: string, job: Job, r: RunRecord): void {
  const time = job.phase === 'decode' && job.ours && r.decodeSeconds !== undefined ? ` (decode ${r.decodeSeconds.toFixed(3)} s)` : '';
  const status = r.ok ? (r.note ? `ok (${r.note})` : 'ok') : `FAILED: ${oneLine(r.error ?? '')}`;
  const wall = Number.isFinite(r.wallSeconds) ? `${r.wallSeconds.toFixed(3)} s` : '-';
  process.stdout.write(`${tag}  ${job.phase.padEnd(7)} ${job.codec.id.padEnd(12)} ${job.label.padEnd(46)} ${wall.padStart(9)}${time}  rss ${r.rssMB.toFixed(0).padStart(4)} MB  ${status}\n`);
}

function printDecodeTable(jobs: Job[], cpioBytes: number): void {
  const ours = jobs.filter((j) => j.ours);
  const refs = jobs.filter((j) => !j.ours);
  const header = ['decode-only', 'MB/s', 'time s', 'proc s', 'cpu s', 'RSS MB', ...refs.map((r) => `/ ${r.toolName}`)];
  const rows: string[][] = [header];
  for (const j of jobs) {
    const ok = okRuns(j);
    const t = medianTime(j);
    if (t === null) {
      rows.push([j.label, 'FAILED', '', '', '', '', oneLine(j.runs.at(-1)?.error ?? '').slice(0, 100)]);
      continue;
    }
    rows.push([
      j.label + (ok.length < j.runs.length ? ` (${j.runs.length - ok.length} failed)` : ''),
      (mb(cpioBytes) / t).toFixed(1),
      t.toFixed(3),
      median(ok.map((r) => r.wallSeconds)).toFixed(3),
      median(ok.map((r) => r.cpuSeconds)).toFixed(2),
      Math.max(...ok.map((r) => r.rssMB)).toFixed(0),
      ...refs.map((ref) => {
        if (!j.ours) return '';
        const r = ratio(j, ref);
        return r === null ? '-' : `${r.toFixed(2)}x`;
      }),
    ]);
  }
  printAligned(rows, 1);
  if (ours.length && refs.length) process.stdout.write('  (the "/ tool" columns: ours time / the tool\'s time; < 1 is faster than the tool)\n');
}

function printExtractTable(jobs: Job[], cpioBytes: number, kind: FsKind): void {
  const ours = jobs.find((j) => j.ours);
  const header = [`extract (fresh ${kind})`, 'wall s', 'cpu s', 'MB/s', 'RSS MB', 'ours/this', 'target', 'ok?'];
  const rows: string[][] = [header];
  for (const j of jobs) {
    const ok = okRuns(j);
    const t = medianTime(j);
    if (t === null) {
      rows.push([j.label, 'FAILED', '', '', '', '', '', '', oneLine(j.runs.at(-1)?.error ?? '').slice(0, 100)]);
      continue;
    }
    const target = TARGETS.find((x) => x.phase === 'extract' && x.codec === j.codec.id && x.vs === j.toolName);
    const r = !j.ours && ours ? ratio(ours, j) : null;
    const notes = ok.filter((x) => x.note).map((x) => x.note!);
    rows.push([
      j.label + (ok.length < j.runs.length ? ` (${j.runs.length - ok.length} failed)` : '') + (notes.length ? ` [${notes[0]}]` : ''),
      t.toFixed(3),
      median(ok.map((x) => x.cpuSeconds)).toFixed(2),
      (mb(cpioBytes) / t).toFixed(1),
      Math.max(...ok.map((x) => x.rssMB)).toFixed(0),
      r === null ? '' : `${r.toFixed(2)}x`,
      target ? `<= ${target.limit.toFixed(1)}x` : '',
      target && r !== null ? (r <= target.limit ? 'PASS' : 'FAIL') : '',
    ]);
  }
  printAligned(rows, 1);
}

/** Columns padded to width; column 0 left-aligned, the rest right-aligned; cells past the header free. */
function printAligned(rows: string[][], firstNumeric: number): void {
  const n = rows[0]!.length;
  const widths = Array.from({ length: n }, (_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows) {
    const cells = row.map((cell, i) => (i >= n ? cell : i < firstNumeric ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)));
    process.stdout.write('  ' + cells.join('  ').trimEnd() + '\n');
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function shortArg(a: string): string {
  return a.length > 60 ? `'${a.slice(0, 57)}...'` : shQuote(a);
}

const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

// ---- environment ----

function which(cmd: string): boolean {
  if (cmd.includes('/')) return fs.existsSync(cmd);
  return spawnSync('sh', ['-c', `command -v ${shQuote(cmd)}`], { stdio: 'ignore' }).status === 0;
}

function toolVersions(): string[] {
  const first = (cmd: string, args: string[]): string => {
    if (!which(cmd)) return `${cmd}: missing`;
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return ((r.stdout || '') + (r.stderr || '')).split('\n').map((l) => l.trim()).find((l) => l) ?? `${cmd}: ?`;
  };
  const uncompress = spawnSync('sh', ['-c', 'f=$(command -v uncompress) && head -c 4096 "$f"'], { encoding: 'utf8' }).stdout;
  return [
    first('cpio', ['--version']),
    first('gzip', ['--version']),
    first('pigz', ['--version']),
    first('bzip2', ['--help']).replace(/^bzip2,.*Version ([\d.]+).*$/, 'bzip2 $1'),
    first('lbzip2', ['--version']),
    first('xz', ['--version']),
    `compress: ${first('compress', ['-V']).replace(/^.*?(\d[\d.]*).*$/, 'ncompress $1')}`,
    `uncompress: ${/gzip/.test(uncompress) ? "gzip's script (gzip -d)" : which('uncompress') ? 'binary' : 'missing'}`,
  ];
}

// ---- arguments ----

function defaultZonep2v(): string[] {
  const cli = pathToFileURL(path.resolve(path.dirname(THIS_FILE), '../src/cli/main.js')).href;
  // the CLI of this very build (bin/zonep2v.js always loads <repo>/dist); argv[1] is a placeholder
  return [process.execPath, '--input-type=module', '-e', `import { main } from ${JSON.stringify(cli)}; process.exitCode = await main(process.argv);`, 'zonep2v'];
}

function parseConfig(argv: string[]): Config | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string', default: '64M' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      tmp: { type: 'string', default: '/var/tmp/zonep2v-bench' },
      codecs: { type: 'string', default: CODECS.map((c) => c.id).join(',') },
      'no-extract': { type: 'boolean', default: false },
      fs: { type: 'string', default: 'ext4' },
      zonep2v: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/codec-bench.js [--size 64M] [--runs 3] [--seed 1] [--tmp /var/tmp/zonep2v-bench]\n' +
        `         [--codecs ${CODECS.map((c) => c.id).join(',')}] [--no-extract] [--fs ext4|tmpfs] [--zonep2v "node bin/zonep2v.js"]\n`,
    );
    return null;
  }
  const fail = (msg: string): null => {
    process.stderr.write(`codec-bench: ${msg}\n`);
    return null;
  };
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  if (!Number.isInteger(runs) || runs < 1) return fail(`bad --runs ${values.runs}`);
  if (!Number.isInteger(seed) || seed < 0) return fail(`bad --seed ${values.seed}`);
  if (values.fs !== 'ext4' && values.fs !== 'tmpfs') return fail(`bad --fs ${values.fs} (ext4 or tmpfs)`);
  const want = values.codecs!.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = want.filter((w) => !CODECS.some((c) => c.id === w));
  if (unknown.length) return fail(`unknown codec(s) ${unknown.join(', ')}; known: ${CODECS.map((c) => c.id).join(', ')}`);
  return {
    totalBytes: parseSize(values.size!),
    runs,
    seed,
    work: path.resolve(values.tmp!),
    codecs: CODECS.filter((c) => want.includes(c.id)),
    extract: !values['no-extract'],
    fs: values.fs,
    zonep2v: values.zonep2v ? splitCommand(values.zonep2v) : defaultZonep2v(),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [flag, file, mode, filter, result] = process.argv.slice(2);
  const run =
    flag === '--child-decode'
      ? childDecode(file!, mode as ChildMode, filter!, result!).then(() => 0)
      : main(process.argv.slice(2));
  run.then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      cleanupAll();
      process.stderr.write(`codec-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
