#!/usr/bin/env node
/**
 * Mutation fuzzing of the whole read path (sniffing, decompression, every reader, the writer):
 * each seed image is damaged at random (bytes flipped or set to edge values, a run of bytes
 * overwritten, cut short, bytes inserted or deleted) and extracted in-process. Any outcome
 * other than a report or a P2VError with a one-line message is a finding: another exception
 * (a crash), no answer within --timeout (a hang), or a name created beside the root.
 *
 *   npm run build && node scripts/fuzz.mjs SEED... [--runs 300] [--seed 1] [--timeout 20000]
 *
 * Seeds: small images made by real tools (GNU cpio in each -H format, GNU tar, Debian pax,
 * gzip/bzip2/xz/compress, Linux dump). Deterministic for a given --seed; prints every finding
 * with the seed file, case number and the mutation, and saves the damaged image beside
 * --out (default /tmp/zonep2v-fuzz) to turn into a test. Exit status 1 when anything was found.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { extract, isP2VError } from '../dist/src/index.js';
import { bufferSource } from '../dist/src/io/source.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '300' },
    seed: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '20000' },
    out: { type: 'string', default: path.join(os.tmpdir(), 'zonep2v-fuzz') },
  },
});
if (positionals.length === 0) {
  console.error('usage: node scripts/fuzz.mjs SEED_IMAGE... [--runs N] [--seed N] [--timeout MS] [--out DIR]');
  process.exit(2);
}

// xoshiro-like: small, seeded, good enough to pick mutations
let state = BigInt(values.seed) * 0x9e3779b97f4a7c15n + 1n;
function random() {
  state ^= state << 13n;
  state ^= state >> 7n;
  state ^= state << 17n;
  state &= (1n << 64n) - 1n;
  return Number(state >> 11n) / 2 ** 53;
}
const below = (n) => Math.floor(random() * n);

const edgeBytes = [0x00, 0xff, 0x7f, 0x80, 0x30, 0x37, 0x38, 0x39, 0x66, 0x20, 0x2f, 0x2e];

/** One random damage; returns the new bytes and a description. */
function mutate(input) {
  const data = Uint8Array.from(input);
  const kind = below(6);
  const at = below(data.length);
  switch (kind) {
    case 0: {
      const n = 1 + below(8);
      for (let i = 0; i < n; i++) data[below(data.length)] ^= 1 << below(8);
      return { data, what: `${n} bit flips` };
    }
    case 1: {
      const n = 1 + below(4);
      const spots = [];
      for (let i = 0; i < n; i++) {
        const p = below(data.length);
        data[p] = edgeBytes[below(edgeBytes.length)];
        spots.push(p);
      }
      return { data, what: `edge bytes at ${spots.join(',')}` };
    }
    case 2: {
      const len = 1 + below(64);
      for (let i = at; i < Math.min(data.length, at + len); i++) data[i] = below(256);
      return { data, what: `${len} random bytes at ${at}` };
    }
    case 3:
      return { data: data.subarray(0, at), what: `cut at ${at}` };
    case 4: {
      const len = 1 + below(600);
      const out = new Uint8Array(data.length + len);
      out.set(data.subarray(0, at));
      for (let i = 0; i < len; i++) out[at + i] = below(2) ? 0 : below(256);
      out.set(data.subarray(at), at + len);
      return { data: out, what: `${len} bytes inserted at ${at}` };
    }
    default: {
      const len = Math.min(1 + below(600), data.length - at);
      const out = new Uint8Array(data.length - len);
      out.set(data.subarray(0, at));
      out.set(data.subarray(at + len), at);
      return { data: out, what: `${len} bytes deleted at ${at}` };
    }
  }
}

async function once(name, bytes, base) {
  const dest = path.join(base, 'root');
  let timer;
  const hang = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ finding: `HANG: no answer within ${values.timeout} ms` }), Number(values.timeout));
  });
  const run = extract({ image: name, dest, source: bufferSource(name, bytes, 4096 + below(65536)), jobs: 2 }).then(
    () => ({}),
    (error) => {
      if (!isP2VError(error)) return { finding: `CRASH: ${error instanceof Error ? error.stack : String(error)}` };
      const line = error.oneLine();
      if (line.includes('\n')) return { finding: `MULTI-LINE: ${JSON.stringify(line)}` };
      return { error: error.code };
    },
  );
  const outcome = await Promise.race([run, hang]);
  clearTimeout(timer);
  const beside = fs.readdirSync(base).filter((n) => n !== 'root');
  if (!outcome.finding && beside.length > 0) outcome.finding = `ESCAPE: created beside the root: ${beside.join(', ')}`;
  return outcome;
}

const runs = Number(values.runs);
fs.mkdirSync(values.out, { recursive: true });
let findings = 0;
const codes = new Map();
for (const seedFile of positionals) {
  const original = fs.readFileSync(seedFile);
  const name = path.basename(seedFile);
  for (let i = 0; i < runs; i++) {
    const { data, what } = mutate(original);
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-fuzz-case-'));
    try {
      const outcome = await once(name, data, base);
      const key = outcome.finding ? 'finding' : (outcome.error ?? 'ok');
      codes.set(key, (codes.get(key) ?? 0) + 1);
      if (outcome.finding) {
        findings++;
        const saved = path.join(values.out, `${name}.case${i}`);
        fs.writeFileSync(saved, data);
        console.log(`${name} case ${i} (${what}): ${outcome.finding.split('\n').slice(0, 6).join('\n    ')}\n    saved: ${saved}`);
        if (outcome.finding.startsWith('HANG')) process.exit(1); // the run is still going
      }
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  }
  console.log(`${name}: ${runs} cases; outcomes so far: ${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
}
process.exitCode = findings > 0 ? 1 : 0;
