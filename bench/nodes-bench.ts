/**
 * Device-node benchmark: a /devices-like image (a Solaris root holds hundreds to thousands of
 * device nodes) extracted by zonep2v, bsdcpio -idmu and GNU cpio -idmu, in one run, each
 * extraction into its own fresh filesystem.
 *
 *   node dist/bench/nodes-bench.js [--nodes 2000] [--runs 5] [--tmp /var/tmp/zonep2v-bench] [--fs tmpfs|ext4]
 *
 * The tree: 16 controller directories with 8 block and 8 char slice nodes each, the rest char
 * nodes and FIFOs in one flat directory, and symlinks to some of them (as /dev links to
 * /devices); made with mknod/mkfifo and archived by GNU cpio -H newc. Needs root (mknod, the
 * mounts). Printed: medians of wall time, CPU and peak RSS, nodes per second, and the ratios
 * ours / peer. Node counts of the extracted trees are compared with the source.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanupAll, withFreshFs, type FsKind } from './fresh-fs.js';
import { runTimed, shQuote, warmPageCache } from './measure.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '5' },
    tmp: { type: 'string', default: '/var/tmp/zonep2v-bench' },
    fs: { type: 'string', default: 'tmpfs' },
  },
});
const nodeCount = Number(values.nodes);
const runs = Number(values.runs);
const kind = values.fs as FsKind;
const work = values.tmp!;
const cli = fileURLToPath(new URL('../../bin/zonep2v.js', import.meta.url));

function sh(script: string): string {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${script.slice(0, 80)}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return r.stdout;
}

/** The tree and its cpio image, made once per node count. */
function prepare(): { image: string; nodes: number } {
  const dir = path.join(work, `nodes-${nodeCount}`);
  const image = path.join(dir, 'devices.cpio');
  const tree = path.join(dir, 'tree');
  if (!fs.existsSync(image)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(tree, 'devices', 'pseudo'), { recursive: true });
    fs.mkdirSync(path.join(tree, 'dev'));
    const lines: string[] = [`cd ${shQuote(tree)}`];
    let made = 0;
    for (let c = 0; c < 16 && made < nodeCount; c++) {
      lines.push(`mkdir -p 'devices/pci@${c},0/scsi@2'`);
      for (let s = 0; s < 8 && made + 2 <= nodeCount; s++, made += 2) {
        lines.push(`mknod -m 640 'devices/pci@${c},0/scsi@2/sd@${c},0:${'abcdefgh'[s]}' b 32 ${c * 8 + s}`);
        lines.push(`mknod -m 640 'devices/pci@${c},0/scsi@2/sd@${c},0:${'abcdefgh'[s]},raw' c 32 ${c * 8 + s}`);
      }
    }
    for (let i = 0; made < nodeCount; i++, made++) {
      lines.push(i % 10 === 9 ? `mkfifo -m 600 devices/pseudo/fifo${i}` : `mknod -m 666 devices/pseudo/node${i} c ${100 + (i % 40)} ${i}`);
      if (i % 4 === 0) lines.push(`ln -s ../devices/pseudo/${i % 10 === 9 ? 'fifo' : 'node'}${i} dev/link${i}`);
    }
    lines.push(`find . | cpio -o -H newc --quiet > ${shQuote(`${image}.tmp`)}`);
    console.error(`image: making ${nodeCount} nodes and the cpio ...`);
    sh(lines.join('\n'));
    fs.renameSync(`${image}.tmp`, image);
  }
  return { image, nodes: countNodes(tree) };
}

function countNodes(dir: string): number {
  return Number(sh(`find ${shQuote(dir)} \\( -type b -o -type c -o -type p \\) | wc -l`).trim());
}

interface Run {
  wall: number;
  cpu: number;
  rssMB: number;
  nodes: number;
}

const jobs = {
  zonep2v: (image: string, dir: string) => ({ stages: [[process.execPath, cli, 'extract', '-q', image, dir]] }),
  bsdcpio: (image: string) => ({ stages: [['bsdcpio', '-idmu', '--quiet']], stdinFile: image }),
  'gnu cpio': (image: string) => ({ stages: [['cpio', '-idmu', '--quiet']], stdinFile: image }),
} as const;
type Job = keyof typeof jobs;

async function timed(job: Job, image: string): Promise<Run> {
  warmPageCache([image]);
  return withFreshFs({ kind, sizeBytes: 256 * 2 ** 20, workDir: work }, async (ffs) => {
    const dir = path.join(ffs.mountPoint, 'root');
    fs.mkdirSync(dir);
    const res = await runTimed({ ...jobs[job](image, dir), cwd: dir, scratchDir: path.join(work, 'nodes-bench-scratch') });
    if (!res.ok) throw new Error(`${job}: ${res.error ?? res.stderrTail}`);
    const p = res.procs[0]!;
    return { wall: res.wallSeconds, cpu: p.cpuSeconds, rssMB: (p.maxRssKiB * 1024) / 1e6, nodes: countNodes(dir) };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('nodes-bench: device nodes need root');
    process.exit(2);
  }
  const { image, nodes } = prepare();
  console.log(`image: ${image}: ${nodes} nodes, ${(fs.statSync(image).size / 1e3).toFixed(0)} KB`);
  console.log(`extractions on a fresh ${kind} each; ${runs} rounds, order rotated; load before: ${load()}`);
  const names = Object.keys(jobs) as Job[];
  const results = Object.fromEntries(names.map((n) => [n, [] as Run[]])) as Record<Job, Run[]>;
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < names.length; k++) {
      const job = names[(k + round) % names.length]!;
      const run = await timed(job, image);
      results[job].push(run);
      console.log(`round ${round + 1}/${runs}  ${job.padEnd(8)} ${run.wall.toFixed(3)} s  cpu ${run.cpu.toFixed(2)} s  rss ${run.rssMB.toFixed(0)} MB  ${run.nodes} nodes`);
    }
  }
  console.log(`load after: ${load()}\n\nmedian of ${runs}:`);
  for (const job of names) {
    const r = results[job];
    const wall = median(r.map((x) => x.wall));
    console.log(`${job.padEnd(10)} ${wall.toFixed(3).padStart(7)} s  ${(nodes / wall).toFixed(0).padStart(7)} nodes/s  cpu ${median(r.map((x) => x.cpu)).toFixed(2)} s  rss ${Math.max(...r.map((x) => x.rssMB)).toFixed(0)} MB  nodes ${r[0]!.nodes}${r[0]!.nodes === nodes ? '' : ' (differs from the source!)'}`);
  }
  const ours = median(results.zonep2v.map((x) => x.wall));
  for (const peer of ['bsdcpio', 'gnu cpio'] as const) console.log(`zonep2v / ${peer}: ${(ours / median(results[peer].map((x) => x.wall))).toFixed(2)}x`);
}

try {
  await main();
} finally {
  cleanupAll();
}
