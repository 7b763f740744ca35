/**
 * compress(1) `.Z` decode throughput: our LZW decoder (src/filters/lzw-decoder.ts, reading the file
 * in 1 MiB chunks) with each twin of its hot loop, WebAssembly (native-wasm/assembly/lzw.ts) and
 * TypeScript, against `uncompress -c > /dev/null`
 * and, when it is there, ncompress's own decoder `compress -d -c > /dev/null`. (On Debian
 * `uncompress` is gzip's script around `gzip -d`; ncompress installs its own as uncompress.real.)
 *
 * The input is system-like content (ELF-like binaries, man pages, headers, scripts, configs, some
 * incompressible files and zero padding, from corpus-content.ts), sized so that `compress`
 * (16 bits) makes ~64 MiB of it, cached in the temp directory. `--input FILE.Z` benchmarks any
 * .Z file instead. Each decoder runs `--runs` times (rotated order); we print the median in MB/s
 * of decompressed output (1 MB = 10^6 bytes).
 *
 *   node dist/bench/lzw-bench.js [--raw-mib 115] [--seed 1] [--runs 3] [--bits 16] [--input F.Z]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LzwDecoder } from '../src/filters/lzw-decoder.js';
import type { KernelChoice } from '../src/native/wasm-kernels.js';
import { type ContentKind, TEXT_KINDS, fill } from './corpus-content.js';
import { Rng } from './prng.js';

const { values } = parseArgs({
  options: {
    // 115 MiB of this corpus compresses to ~64 MiB with compress -b 16
    'raw-mib': { type: 'string', default: '115' },
    seed: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    bits: { type: 'string', default: '16' },
    input: { type: 'string' },
  },
});
const rawBytes = Math.round(Number(values['raw-mib']) * 1024 * 1024);
const seed = Number(values.seed);
const runs = Number(values.runs);
const bits = Number(values.bits);

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1" >/dev/null', 'sh', tool], { stdio: 'ignore' }).status === 0;
}

/** A cpio-like run of files of varied kinds and sizes, each padded with zeros to 512 bytes. */
function makeCorpus(size: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(size);
  const kinds: [number, ContentKind | 'zeros'][] = [
    [45, 'binary'],
    ...TEXT_KINDS.map((kind): [number, ContentKind] => [40 / TEXT_KINDS.length, kind]),
    [8, 'random'],
    [7, 'zeros'],
  ];
  for (let at = 0; at < size; ) {
    const kind = rng.weighted(kinds);
    const length = Math.min(size - at, Math.max(1, Math.round(rng.logNormal(12 * 1024, 1.6))));
    if (kind !== 'zeros') fill(kind, rng.fork(), out.subarray(at, at + length));
    at = Math.min(size, (at + length + 511) & ~511);
  }
  return out;
}

function compressedCorpus(): string {
  const path = join(tmpdir(), `zonep2v-lzw-bench-${seed}-${rawBytes}-b${bits}.Z`);
  if (!existsSync(path)) {
    if (!have('compress')) throw new Error('compress (ncompress) is needed to make the corpus: apt-get install ncompress');
    const raw = makeCorpus(rawBytes, seed);
    const result = spawnSync('compress', ['-b', String(bits), '-c'], { input: raw, maxBuffer: 2 * rawBytes + (1 << 20) });
    if (result.status !== 0 && result.status !== 2) throw new Error(`compress failed: ${result.stderr?.toString() ?? result.error}`);
    writeFileSync(`${path}.tmp`, result.stdout);
    renameSync(`${path}.tmp`, path);
  }
  return path;
}

async function timeOurs(path: string, kernel: KernelChoice): Promise<{ seconds: number; bytes: number }> {
  const started = process.hrtime.bigint();
  let bytes = 0;
  const decoder = new LzwDecoder({ kernel });
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    decoder.write(chunk as Buffer);
    for (let piece = decoder.read(); piece !== null; piece = decoder.read()) bytes += piece.length;
  }
  for (const piece of decoder.finish()) bytes += piece.length;
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes };
}

function timeTool(command: string, path: string): number {
  const started = process.hrtime.bigint();
  const result = spawnSync('sh', ['-c', `${command} "$1" > /dev/null`, 'sh', path]);
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr.toString()}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

async function main(): Promise<void> {
  const path = values.input ?? compressedCorpus();
  const compressed = statSync(path).size;

  const jobs: { name: string; run: () => Promise<number> }[] = [];
  let decodedBytes = -1;
  for (const kernel of ['wasm', 'ts'] as const) {
    jobs.push({
      name: `zonep2v compress (${kernel === 'wasm' ? 'WebAssembly' : 'TypeScript'})`,
      run: async () => {
        const { seconds, bytes } = await timeOurs(path, kernel);
        if (decodedBytes >= 0 && bytes !== decodedBytes) throw new Error(`decoded ${bytes} bytes, then ${decodedBytes}`);
        decodedBytes = bytes;
        return seconds;
      },
    });
  }
  const ours = jobs.length;
  if (have('uncompress')) jobs.push({ name: 'uncompress -c > /dev/null', run: async () => timeTool('uncompress -c', path) });
  if (have('compress')) jobs.push({ name: 'compress -d -c > /dev/null', run: async () => timeTool('compress -d -c', path) });
  if (jobs.length === ours) console.error('neither uncompress nor compress is installed: nothing to compare with');

  const times = jobs.map((): number[] => []);
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < jobs.length; k++) {
      const j = (k + run) % jobs.length;
      times[j]!.push(await jobs[j]!.run());
    }
  }

  console.log(
    `input: ${path}: ${(compressed / 2 ** 20).toFixed(1)} MiB compressed, ` +
      `${(decodedBytes / 2 ** 20).toFixed(1)} MiB decoded (${(decodedBytes / compressed).toFixed(2)}x)`,
  );
  const rates = times.map((t) => decodedBytes / 1e6 / median(t));
  const width = Math.max(...jobs.map((job) => job.name.length));
  jobs.forEach((job, k) => {
    const runsText = times[k]!.map((s) => s.toFixed(2)).join(' ');
    console.log(`${job.name.padEnd(width)}  ${rates[k]!.toFixed(1).padStart(6)} MB/s  (median of ${runs}; runs: ${runsText} s)`);
  });
  for (let o = 0; o < ours; o++) {
    for (let k = o + 1; k < jobs.length; k++) {
      const rate = (rates[o]! / rates[k]!).toFixed(2);
      console.log(`${jobs[o]!.name} / ${jobs[k]!.name}: throughput ${rate}x (time ratio ${(rates[k]! / rates[o]!).toFixed(2)})`);
    }
  }
}

await main();
