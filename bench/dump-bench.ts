/**
 * Dump benchmark: `zonep2v extract IMAGE DIR` of a level-0 dump against `restore -rf IMAGE`
 * (run in DIR), both on the same dump, in one run, each extraction into its own fresh filesystem.
 *
 *   node dist/bench/dump-bench.js [--size 64M] [--runs 3] [--seed 1] [--tmp /var/tmp/zonep2v-bench]
 *                                 [--fs ext4|tmpfs]
 *
 * The dump: the bench corpus (corpus.ts; the cache layout of extract-bench and codec-bench, so the
 * tree is shared) copied into an ext2 image by `mke2fs -d` (4 KiB blocks), dumped by Linux
 * `dump -0 -f` from the image on a loop device. Cached in `<tmp>/corpus-s<seed>-<size>/dump-bench/`. Needs
 * root for the timed extractions (fresh-fs.ts mounts) and dump, restore, mke2fs (Debian dump,
 * e2fsprogs). Every job runs once per round, order rotated; printed: medians of wall time, CPU
 * (user + sys, all processes and threads), peak RSS, the ratio ours / restore, and the issue's
 * target (issue 4: extract at most 0.8x restore). Entry counts of both trees are compared.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCorpus, type CorpusStats } from './corpus.js';
import { cleanupAll, withFreshFs, type FsKind } from './fresh-fs.js';
import { runTimed, shQuote, warmPageCache } from './measure.js';
import { parseSize, sizeLabel } from './size.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64M' },
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    tmp: { type: 'string', default: '/var/tmp/zonep2v-bench' },
    fs: { type: 'string', default: 'ext4' },
  },
});
const totalBytes = parseSize(values.size!);
const runs = Number(values.runs);
const seed = Number(values.seed);
const kind = values.fs as FsKind;
const work = values.tmp!;
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function need(tool: string): void {
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
    console.error(`dump-bench: ${tool} is not installed (apt-get install dump e2fsprogs)`);
    process.exit(2);
  }
}

function sh(script: string): void {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
}

/** The corpus tree (shared cache) and its dump, made once. */
async function prepare(): Promise<{ dump: string; stats: CorpusStats }> {
  const corpusDir = path.join(work, `corpus-s${seed}-${sizeLabel(totalBytes)}`);
  const manifest = path.join(corpusDir, 'manifest.json');
  let stats: CorpusStats;
  if (fs.existsSync(manifest)) {
    stats = JSON.parse(fs.readFileSync(manifest, 'utf8')) as CorpusStats;
  } else {
    fs.rmSync(corpusDir, { recursive: true, force: true });
    fs.mkdirSync(corpusDir, { recursive: true });
    console.error(`corpus: generating seed ${seed}, ${values.size} ...`);
    stats = await generateCorpus({ seed, totalBytes, dir: path.join(corpusDir, 'tree') });
    fs.writeFileSync(manifest, `${JSON.stringify(stats, null, 2)}\n`);
  }
  const dir = path.join(corpusDir, 'dump-bench');
  const dump = path.join(dir, 'level0.dump');
  if (!fs.existsSync(dump) || fs.statSync(dump).mtimeMs < fs.statSync(manifest).mtimeMs) {
    fs.mkdirSync(dir, { recursive: true });
    const image = path.join(dir, 'fs.ext2');
    const megabytes = Math.ceil((stats.dataBytes * 1.6 + stats.entries * 8192) / 2 ** 20) + 64;
    console.error(`images: mke2fs -d (${megabytes} MiB ext2) and dump -0 ...`);
    fs.rmSync(image, { force: true });
    sh(`mke2fs -q -F -t ext2 -b 4096 -d ${shQuote(path.join(corpusDir, 'tree'))} ${shQuote(image)} ${megabytes}M`);
    // dump reads a device (given a plain file it looks for the mounted file system holding it)
    const device = spawnSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).stdout.trim();
    if (!device.startsWith('/dev/loop')) throw new Error('losetup -f --show failed: no loop device (run as root)');
    try {
      sh(`dump -0 -f ${shQuote(`${dump}.tmp`)} ${shQuote(device)} 2>/dev/null`);
    } finally {
      spawnSync('losetup', ['-d', device]);
    }
    fs.renameSync(`${dump}.tmp`, dump);
    fs.rmSync(image, { force: true });
  }
  return { dump, stats };
}

interface Run {
  wall: number;
  cpu: number;
  rssMB: number;
  entries: number;
}

function countEntries(dir: string): number {
  let n = 0;
  const stack = [dir];
  while (stack.length) {
    for (const e of fs.readdirSync(stack.pop()!, { withFileTypes: true })) {
      if (e.name === 'restoresymtable') continue; // restore -r's own bookkeeping file
      n++;
      if (e.isDirectory()) stack.push(path.join(e.path ?? dir, e.name));
    }
  }
  return n;
}

async function timed(job: 'zonep2v' | 'restore', dump: string, fsBytes: number): Promise<Run> {
  warmPageCache([dump]); // both read it warm
  const scratch = path.join(work, 'dump-bench-scratch');
  return withFreshFs({ kind, sizeBytes: fsBytes, workDir: work }, async (ffs) => {
    const dir = path.join(ffs.mountPoint, 'root');
    fs.mkdirSync(dir);
    const stages =
      job === 'zonep2v'
        ? [[process.execPath, '--input-type=module', '-e', `import { main } from ${JSON.stringify(cli)}; process.exitCode = await main(process.argv);`, 'zonep2v', 'extract', '-q', dump, dir]]
        : [['restore', '-r', '-f', dump]];
    const res = await runTimed({ stages, cwd: dir, scratchDir: scratch });
    if (!res.ok) throw new Error(`${job}: ${res.error ?? res.stderrTail}`);
    const p = res.procs[0]!;
    const run = { wall: res.wallSeconds, cpu: p.cpuSeconds, rssMB: (p.maxRssKiB * 1024) / 1e6, entries: countEntries(dir) };
    spawnSync('sync');
    return run;
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  for (const tool of ['dump', 'restore', 'mke2fs']) need(tool);
  const { dump, stats } = await prepare();
  const fsBytes = Math.ceil(Math.max(1024 ** 3, stats.dataBytes * 2.5 + (stats.entries + 1) * 4096) / 2 ** 20) * 2 ** 20;
  console.log(`dump: ${dump}: ${(fs.statSync(dump).size / 1e6).toFixed(1)} MB; corpus ${stats.entries} entries, ${(stats.dataBytes / 1e6).toFixed(1)} MB of data`);
  console.log(`extractions on a fresh ${kind} each; ${runs} rounds, order rotated; load before: ${load()}`);
  const jobs = ['zonep2v', 'restore'] as const;
  const results: Record<string, Run[]> = { zonep2v: [], restore: [] };
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < jobs.length; k++) {
      const job = jobs[(k + round) % jobs.length]!;
      const run = await timed(job, dump, fsBytes);
      results[job]!.push(run);
      console.log(`round ${round + 1}/${runs}  ${job.padEnd(8)} ${run.wall.toFixed(3)} s  cpu ${run.cpu.toFixed(2)} s  rss ${run.rssMB.toFixed(0)} MB  ${run.entries} entries`);
    }
  }
  console.log(`load after: ${load()}`);
  const line = (job: string) => {
    const r = results[job]!;
    return `${job.padEnd(26)} ${median(r.map((x) => x.wall)).toFixed(3).padStart(7)} s  cpu ${median(r.map((x) => x.cpu)).toFixed(2)} s  rss ${Math.max(...r.map((x) => x.rssMB)).toFixed(0)} MB`;
  };
  console.log(`\nmedian of ${runs}:`);
  console.log(line('zonep2v'));
  console.log(line('restore'));
  const ratio = median(results.zonep2v!.map((x) => x.wall)) / median(results.restore!.map((x) => x.wall));
  console.log(`zonep2v extract / restore -rf: ${ratio.toFixed(2)}x   (target <= 0.8x: ${ratio <= 0.8 ? 'PASS' : 'FAIL'})`);
  const [a, b] = [results.zonep2v![0]!.entries, results.restore![0]!.entries];
  console.log(`entries: zonep2v ${a}, restore ${b}${a === b ? ' (same)' : ' (differ!)'}`);
}

try {
  await main();
} finally {
  cleanupAll();
}
