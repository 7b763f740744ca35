/**
 * bzip2 decode throughput: our pure-TypeScript decoder against `bzip2 -dc > /dev/null`.
 *
 * The input is ~32 MiB of system-like content (ELF-like binaries, man pages, headers, scripts,
 * configs, some incompressible files and zero padding, from corpus-content.ts), compressed once
 * with `bzip2 -9` and cached in the temp directory. Each decoder runs 3 times; we print the median
 * in MB/s of decompressed output (1 MB = 10^6 bytes).
 *
 *   node dist/bench/bzip2-bench.js [--size-mib 32] [--seed 1] [--runs 3] [--level 9]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bzip2Filter } from '../src/filters/bzip2/index.js';
import { type ContentKind, TEXT_KINDS, fill } from './corpus-content.js';
import { Rng } from './prng.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '32' },
    seed: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    level: { type: 'string', default: '9' },
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

async function timeOurs(path: string): Promise<{ seconds: number; bytes: number }> {
  const started = process.hrtime.bigint();
  let bytes = 0;
  for await (const piece of bzip2Filter.decode(createReadStream(path, { highWaterMark: 256 * 1024 }))) {
    bytes += piece.length;
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes };
}

function timeTool(path: string): number {
  const started = process.hrtime.bigint();
  const result = spawnSync('sh', ['-c', `bzip2 -dc '${path}' > /dev/null`]);
  if (result.status !== 0) throw new Error(`bzip2 -dc failed: ${result.stderr.toString()}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function main(): Promise<void> {
  if (spawnSync('bzip2', ['--help']).error) {
    console.error('bzip2 is not installed: nothing to compare with');
    process.exit(2);
  }
  const { path, rawBytes } = compressedCorpus();
  const compressed = statSync(path).size;
  console.log(
    `corpus: ${(rawBytes / 2 ** 20).toFixed(1)} MiB → ${(compressed / 2 ** 20).toFixed(1)} MiB with bzip2 -${level} ` +
      `(${(rawBytes / compressed).toFixed(2)}x), ${path}`,
  );

  const ours: number[] = [];
  const tool: number[] = [];
  for (let run = 0; run < runs; run++) {
    const { seconds, bytes } = await timeOurs(path);
    if (bytes !== rawBytes) throw new Error(`decoded ${bytes} bytes, expected ${rawBytes}`);
    ours.push(seconds);
    tool.push(timeTool(path));
  }
  const mbps = (seconds: number) => rawBytes / 1e6 / seconds;
  const oursRate = mbps(median(ours));
  const toolRate = mbps(median(tool));
  console.log(`zonep2v bzip2 (TypeScript): ${oursRate.toFixed(1)} MB/s  (runs: ${ours.map((s) => s.toFixed(2)).join(' ')} s)`);
  console.log(`bzip2 -dc > /dev/null:      ${toolRate.toFixed(1)} MB/s  (runs: ${tool.map((s) => s.toFixed(2)).join(' ')} s)`);
  console.log(`ratio: ${(oursRate / toolRate).toFixed(2)} of bzip2`);
}

await main();
