/**
 * bzip2 decode throughput: our decoder with each twin of its block kernel (WebAssembly,
 * native-wasm/assembly/bzip2.ts, and TypeScript), serial and block-parallel (piscina workers, 1
 * and 2 threads), against `bzip2 -dc > /dev/null` and `lbzip2 -n 2 -dc > /dev/null`.
 *
 * The input is ~32 MiB of system-like content (ELF-like binaries, man pages, headers, scripts,
 * configs, some incompressible files and zero padding, from corpus-content.ts), compressed once
 * with `bzip2 -9` and cached in the temp directory. The decoders take turns, `--runs` rounds
 * (so machine noise hits them alike); we print the median in MB/s of decompressed output
 * (1 MB = 10^6 bytes), every run, and the load averages before and after (shared machines).
 *
 * With `--extract`, also: `zonep2v extract image.cpio.bz2 DIR` against `bzip2 -dc | cpio -idmu`
 * and `lbzip2 -dc | cpio -idmu`, on tmpfs (/dev/shm), the image made from the bench corpus
 * (corpus.ts, `--extract-size`) with `find . | sort | cpio -o -H newc | bzip2 -9`.
 *
 *   node dist/bench/bzip2-bench.js [--size-mib 32] [--seed 1] [--runs 3] [--level 9]
 *                                  [--extract] [--extract-size 64M] [--tmp /dev/shm]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bzip2Filter, decodeBzip2, decodeBzip2Parallel } from '../src/filters/bzip2/index.js';
import { type ContentKind, TEXT_KINDS, fill } from './corpus-content.js';
import { generateCorpus } from './corpus.js';
import { Rng } from './prng.js';
import { parseSize } from './size.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '32' },
    seed: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    level: { type: 'string', default: '9' },
    extract: { type: 'boolean', default: false },
    'extract-size': { type: 'string', default: '64M' },
    tmp: { type: 'string', default: '/dev/shm' },
  },
});
const sizeBytes = Number(values['size-mib']) * 1024 * 1024;
const seed = Number(values.seed);
const runs = Number(values.runs);
const level = Number(values.level);

/** A cpio-like concatenation of files: varied kinds and sizes, each padded to 512 bytes. */
function makeCorpus(size: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(size);
  const kinds: [number, ContentKind | 'zeros'][] = [
    [45, 'binary'],
    ...TEXT_KINDS.map((kind): [number, ContentKind] => [40 / TEXT_KINDS.length, kind]),
    [8, 'random'],
    [7, 'zeros'],
  ];
  let at = 0;
  while (at < size) {
    const kind = rng.weighted(kinds);
    const length = Math.min(size - at, Math.max(1, Math.round(rng.logNormal(12 * 1024, 1.6))));
    const piece = out.subarray(at, at + length);
    if (kind !== 'zeros') fill(kind, rng.fork(), piece);
    at += length;
    at = Math.min(size, (at + 511) & ~511); // the gap stays zero, like archive padding
  }
  return out;
}

function compressedCorpus(): { path: string; rawBytes: number } {
  const path = join(tmpdir(), `zonep2v-bzip2-bench-${seed}-${sizeBytes}-${level}.bz2`);
  if (!existsSync(path)) {
    const raw = makeCorpus(sizeBytes, seed);
    const result = spawnSync('bzip2', [`-${level}`, '-c'], { input: raw, maxBuffer: 2 * sizeBytes });
    if (result.status !== 0) throw new Error(`bzip2 failed: ${result.stderr?.toString() ?? result.error}`);
    writeFileSync(`${path}.tmp`, result.stdout);
    renameSync(`${path}.tmp`, path);
  }
  return { path, rawBytes: sizeBytes };
}

type Decoder = (input: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>;

/** Wall and CPU seconds (user + system, all threads of the process or of the child's tree). */
interface Timing {
  seconds: number;
  cpu: number;
}

async function timeOurs(path: string, decoder: Decoder): Promise<Timing & { bytes: number }> {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let bytes = 0;
  for await (const piece of decoder(createReadStream(path, { highWaterMark: 256 * 1024 }))) bytes += piece.length;
  const used = process.cpuUsage(cpu);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, cpu: (used.user + used.system) / 1e6, bytes };
}

function timeShell(command: string): Timing {
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '@cpu %U %S', 'sh', '-c', command]);
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr.toString()}`);
  const match = /@cpu ([\d.]+) ([\d.]+)/.exec(result.stderr.toString());
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, cpu: match ? Number(match[1]) + Number(match[2]) : NaN };
}

function hasTool(name: string): boolean {
  return spawnSync(name, ['--help'], { stdio: 'ignore' }).error === undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

async function decodeBench(): Promise<void> {
  const { path, rawBytes } = compressedCorpus();
  const compressed = statSync(path).size;
  console.log(
    `corpus: ${(rawBytes / 2 ** 20).toFixed(1)} MiB → ${(compressed / 2 ** 20).toFixed(1)} MiB with bzip2 -${level} ` +
      `(${(rawBytes / compressed).toFixed(2)}x), ${path}`,
  );
  // The block kernel is chosen per workspace from ZONEP2V_KERNELS (workers inherit the env at start).
  const withKernel = (kernel: 'ts' | 'wasm', run: () => Promise<Timing>) => async (): Promise<Timing> => {
    process.env.ZONEP2V_KERNELS = kernel;
    try {
      return await run();
    } finally {
      delete process.env.ZONEP2V_KERNELS;
    }
  };
  const jobs: [string, () => Promise<Timing>][] = [];
  for (const [kernel, label] of [['wasm', 'WebAssembly'], ['ts', 'TypeScript']] as const) {
    jobs.push(
      [`zonep2v ${label} serial`, withKernel(kernel, async () => check(await timeOurs(path, decodeBzip2)))],
      [`zonep2v ${label} parallel, 1 worker`, withKernel(kernel, async () => check(await timeOurs(path, (i) => decodeBzip2Parallel(i, { threads: 1, minBytes: 0 }))))],
      [`zonep2v ${label} parallel, 2 workers`, withKernel(kernel, async () => check(await timeOurs(path, (i) => decodeBzip2Parallel(i, { threads: 2, minBytes: 0 }))))],
    );
  }
  jobs.push(
    ['zonep2v bzip2 filter (default choice)', async () => check(await timeOurs(path, (i) => bzip2Filter.decode(i)))],
    ['bzip2 -dc > /dev/null', async () => timeShell(`bzip2 -dc ${q(path)} > /dev/null`)],
  );
  if (hasTool('lbzip2')) jobs.push(['lbzip2 -n 2 -dc > /dev/null', async () => timeShell(`lbzip2 -n 2 -dc ${q(path)} > /dev/null`)]);
  function check({ bytes, ...timing }: Timing & { bytes: number }): Timing {
    if (bytes !== rawBytes) throw new Error(`decoded ${bytes} bytes, expected ${rawBytes}`);
    return timing;
  }
  await report(jobs, rawBytes);
}

async function report(jobs: [string, () => Promise<Timing>][], rawBytes: number): Promise<void> {
  console.log(`load average before: ${load()}`);
  const times = jobs.map((): Timing[] => []);
  for (let run = 0; run < runs; run++) {
    for (const [i, [, job]] of jobs.entries()) times[i]!.push(await job());
  }
  console.log(`load average after:  ${load()}`);
  const mbps = (seconds: number) => rawBytes / 1e6 / seconds;
  const width = Math.max(...jobs.map(([name]) => name.length));
  for (const [i, [name]] of jobs.entries()) {
    const ts = times[i]!.map((t) => t.seconds);
    const cpu = median(times[i]!.map((t) => t.cpu));
    console.log(
      `${name.padEnd(width)}  ${mbps(median(ts)).toFixed(1).padStart(6)} MB/s  median ${median(ts).toFixed(2)} s, ` +
        `cpu ${cpu.toFixed(2)} s  (runs: ${ts.map((s) => s.toFixed(2)).join(' ')} s)`,
    );
  }
}

/** zonep2v extract vs bzip2/lbzip2 -dc | cpio -idmu, on tmpfs. */
async function extractBench(): Promise<void> {
  for (const tool of ['cpio', 'bzip2', 'lbzip2']) {
    if (!hasTool(tool)) {
      console.log(`extract comparison skipped: ${tool} is not installed`);
      return;
    }
  }
  const size = parseSize(values['extract-size']!);
  const base = join(values.tmp!, `zonep2v-bzip2-extract-${seed}-${size}`);
  const tree = join(base, 'T');
  const image = join(base, 'image.cpio.bz2');
  if (!existsSync(image)) {
    rmSync(base, { recursive: true, force: true });
    mkdirSync(base, { recursive: true });
    await generateCorpus({ seed, totalBytes: size, dir: tree });
    const made = spawnSync('sh', ['-c', `cd ${q(tree)} && find . | sort | cpio -o -H newc 2>/dev/null | bzip2 -9 > ${q(image)}.tmp`]);
    if (made.status !== 0) throw new Error(`making the image failed: ${made.stderr.toString()}`);
    renameSync(`${image}.tmp`, image);
  }
  const rawBytes = Number(spawnSync('sh', ['-c', `bzip2 -dc ${q(image)} | wc -c`]).stdout.toString().trim());
  console.log(`\nextract: ${image}: ${(statSync(image).size / 2 ** 20).toFixed(1)} MiB, ${(rawBytes / 2 ** 20).toFixed(1)} MiB of cpio`);
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const out = join(base, 'out');
  const fresh = () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
  };
  const timed = (command: string) => async (): Promise<Timing> => {
    fresh();
    return timeShell(command);
  };
  const zonep2v = (env: string) =>
    `${env} ${q(process.execPath)} --input-type=module -e ${q(`import { main } from ${JSON.stringify(cli)}; process.exitCode = await main(process.argv);`)} zonep2v extract -q ${q(image)} ${q(out)}`;
  const jobs: [string, () => Promise<Timing>][] = [
    ['zonep2v extract (bzip2 serial)', timed(zonep2v('ZONEP2V_BZIP2_THREADS=1'))],
    ['zonep2v extract (bzip2 2 workers)', timed(zonep2v('ZONEP2V_BZIP2_THREADS=2'))],
    ['bzip2 -dc | cpio -idmu', timed(`bzip2 -dc ${q(image)} | (cd ${q(out)} && cpio -idmu --quiet)`)],
    ['lbzip2 -n 2 -dc | cpio -idmu', timed(`lbzip2 -n 2 -dc ${q(image)} | (cd ${q(out)} && cpio -idmu --quiet)`)],
  ];
  await report(jobs, rawBytes);
  rmSync(out, { recursive: true, force: true });
}

async function main(): Promise<void> {
  if (!hasTool('bzip2')) {
    console.error('bzip2 is not installed: nothing to compare with');
    process.exit(2);
  }
  await decodeBench();
  if (values.extract) await extractBench();
}

await main();
