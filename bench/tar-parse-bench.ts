/**
 * tar parsing only (no disk): tar-stream's extract() against our reader (src/formats/tar), on
 * the same in-memory archives fed in 1 MiB chunks, as image sources deliver them.
 *
 *   node dist/bench/tar-parse-bench.js [--small 20000] [--big-mib 256] [--runs 5]
 *
 * Two corpora, made with tar-stream's own pack() so neither side parses a foreign dialect:
 *   small  N members of 1 KiB (per-member cost: headers, entry objects, body hand-off)
 *   big    one member of M MiB (body throughput)
 * Every body is read to the end on both sides. Reported: median milliseconds, members/s and MB/s.
 * This decided the reader design (see the comment at the top of src/formats/tar/index.ts).
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import tarStream from 'tar-stream';
import { ByteReader } from '../src/io/byte-reader.js';
import { tarFormat } from '../src/formats/tar/index.js';
import { defaultLimits } from '../src/limits.js';

const { values } = parseArgs({
  options: {
    small: { type: 'string', default: '20000' },
    'big-mib': { type: 'string', default: '256' },
    runs: { type: 'string', default: '5' },
  },
});
const smallCount = Number(values.small);
const bigMiB = Number(values['big-mib']);
const runs = Number(values.runs);
const chunkBytes = 1024 * 1024;

async function pack(members: Array<{ name: string; size: number }>): Promise<Buffer> {
  const packer = tarStream.pack();
  const parts: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    packer.on('data', (chunk: unknown) => void parts.push(chunk as Buffer));
    packer.on('end', () => resolve());
    packer.on('error', reject);
  });
  for (const member of members) {
    const body = Buffer.alloc(member.size, 0x61);
    await new Promise<void>((resolve, reject) => packer.entry({ name: member.name, size: member.size, mode: 0o644, mtime: new Date(1e12) }, body, (e) => (e ? reject(e) : resolve())));
  }
  packer.finalize();
  await done;
  return Buffer.concat(parts);
}

function chunksOf(data: Buffer): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let at = 0; at < data.length; at += chunkBytes) yield data.subarray(at, Math.min(at + chunkBytes, data.length));
  })();
}

async function viaTarStream(data: Buffer): Promise<{ members: number; bytes: number }> {
  const extract = tarStream.extract();
  let members = 0;
  let bytes = 0;
  const feeding = (async () => {
    for await (const chunk of chunksOf(data)) {
      if (!extract.write(chunk)) await new Promise<void>((resolve) => extract.once('drain', () => resolve()));
    }
    extract.end(undefined);
  })();
  for await (const entry of extract) {
    members++;
    for await (const piece of entry) bytes += (piece as Buffer).length;
  }
  await feeding;
  return { members, bytes };
}

async function viaNative(data: Buffer): Promise<{ members: number; bytes: number }> {
  const reader = new ByteReader(chunksOf(data), 'tar');
  let members = 0;
  let bytes = 0;
  const context = { limits: defaultLimits, warn: () => {} };
  for await (const entry of tarFormat.entries(reader, context)) {
    members++;
    const whole = entry.body?.whole?.();
    if (whole) bytes += whole.length;
    else if (entry.body) for await (const piece of entry.body.chunks()) bytes += piece.length;
  }
  return { members, bytes };
}

interface Job {
  label: string;
  data: Buffer;
  fn: (d: Buffer) => Promise<{ members: number; bytes: number }>;
}

/** One warm-up run each, then the jobs interleaved run by run (no job always runs first). */
async function timeAll(jobs: Job[]): Promise<void> {
  const samples = jobs.map(() => [] as number[]);
  const results = jobs.map(() => ({ members: 0, bytes: 0 }));
  for (const job of jobs) await job.fn(job.data);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < jobs.length; j++) {
      const job = jobs[(i + j) % jobs.length]!;
      const index = jobs.indexOf(job);
      const start = performance.now();
      results[index] = await job.fn(job.data);
      samples[index]!.push(performance.now() - start);
    }
  }
  jobs.forEach((job, index) => {
    const sorted = samples[index]!.sort((a, b) => a - b);
    const ms = sorted[Math.floor(sorted.length / 2)]!;
    const result = results[index]!;
    const perSecond = (result.members / ms) * 1000;
    const mbs = job.data.length / 1e6 / (ms / 1000);
    console.log(`${job.label.padEnd(20)} ${ms.toFixed(1).padStart(9)} ms  ${Math.round(perSecond).toString().padStart(9)} members/s  ${mbs.toFixed(0).padStart(7)} MB/s  (${result.members} members, ${result.bytes} bytes)`);
  });
}

const small = await pack(Array.from({ length: smallCount }, (_, i) => ({ name: `d${i % 100}/file-${i}`, size: 1024 })));
const big = await pack([{ name: 'big.bin', size: bigMiB * 1024 * 1024 }]);
console.log(`small: ${smallCount} × 1 KiB (${(small.length / 1e6).toFixed(1)} MB); big: 1 × ${bigMiB} MiB; median of ${runs} runs; node ${process.version}`);
await timeAll([
  { label: 'tar-stream, small', data: small, fn: viaTarStream },
  { label: 'native, small', data: small, fn: viaNative },
]);
await timeAll([
  { label: 'tar-stream, big', data: big, fn: viaTarStream },
  { label: 'native, big', data: big, fn: viaNative },
]);
