/**
 * The xxh64 kernel (native-wasm/assembly/xxh64.ts) hashes file bodies in the write pool's shared
 * ring; its twin is xxhash-wasm's h64Raw over a copy (ZONEP2V_KERNELS=ts). Differential tests:
 * every length around the 32-byte stripes and the 8/4/1-byte tails at every alignment, large
 * bodies, a body ending at the memory's last byte; then whole extractions, where every regular
 * file's recorded hash must be h64Raw of the file as written, in both modes.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import xxhash from 'xxhash-wasm';
import { memoryHasher } from '../../../src/native/xxh64-kernel.js';
import { extract } from '../../../src/extract/extract.js';
import { hasTool, randomBytes } from '../../helpers/bzip2-data.js';

const pages = 80; // 5 MiB
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
const bytes = new Uint8Array(memory.buffer);
bytes.set(randomBytes(bytes.length, 7));

test('xxh64 kernel = xxhash-wasm h64Raw: every short length at every alignment', { timeout: 60_000 }, async () => {
  const { h64Raw } = await xxhash();
  const hash = memoryHasher(memory);
  for (let length = 0; length <= 300; length++) {
    for (let start = 0; start < 9; start++) {
      assert.equal(hash(start, length), h64Raw(bytes.slice(start, start + length)), `length ${length} at ${start}`);
    }
  }
});

test('xxh64 kernel = xxhash-wasm h64Raw: large bodies, and one that ends at the last byte', { timeout: 60_000 }, async () => {
  const { h64Raw } = await xxhash();
  const hash = memoryHasher(memory);
  for (const [start, length] of [
    [1, 4 * 1024 * 1024 + 37],
    [65_533, 256 * 1024],
    [bytes.length - 1_000_003, 1_000_003],
    [bytes.length - 1, 1],
    [bytes.length, 0],
  ]) {
    assert.equal(hash(start!, length!), h64Raw(bytes.slice(start, start! + length!)), `${length} bytes at ${start}`);
  }
  // unsigned, as xxhash-wasm gives it: some hashes have the top bit set
  let high = 0;
  for (let start = 0; start < 64; start++) if (hash(start * 1000, 100) >= 1n << 63n) high++;
  assert.ok(high > 0 && high < 64, `top bit set in ${high} of 64 hashes`);
});

test('extraction records h64Raw of every file as written, with the kernel and with its twin', { skip: !hasTool('cpio') && 'GNU cpio is not installed', timeout: 120_000 }, async () => {
  const { h64Raw } = await xxhash();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-xxh64-'));
  try {
    // files small (batched, hashed by the workers in the ring) and large (streamed, hashed on the
    // main thread), at sizes that leave every alignment and tail length
    const tree = path.join(work, 'tree');
    fs.mkdirSync(path.join(tree, 'd'), { recursive: true });
    const sizes = [0, 1, 3, 7, 8, 31, 32, 33, 63, 4096, 4099, 65_537, 262_143, 262_145, 1_048_583];
    sizes.forEach((size, i) => fs.writeFileSync(path.join(tree, 'd', `f${i}`), randomBytes(size, 100 + i)));
    const image = path.join(work, 'image.cpio');
    const made = spawnSync('sh', ['-c', `cd '${tree}' && find . | LC_ALL=C sort | cpio -o -H newc --quiet > '${image}'`]);
    assert.equal(made.status, 0, String(made.stderr));
    for (const kernels of ['wasm', 'ts']) {
      const dest = path.join(work, `root-${kernels}`);
      const index = path.join(work, `index-${kernels}.jsonl`);
      const before = process.env.ZONEP2V_KERNELS;
      process.env.ZONEP2V_KERNELS = kernels;
      try {
        await extract({ image, dest, indexFile: index });
      } finally {
        if (before === undefined) delete process.env.ZONEP2V_KERNELS;
        else process.env.ZONEP2V_KERNELS = before;
      }
      let files = 0;
      for (const line of fs.readFileSync(index, 'utf8').split('\n')) {
        if (!line) continue;
        const record = JSON.parse(line) as { path?: string; type?: string; xxh64?: string };
        if (record.type !== 'file') continue;
        const written = fs.readFileSync(path.join(dest, record.path!));
        assert.equal(record.xxh64, h64Raw(written).toString(16).padStart(16, '0'), `${kernels}: ${record.path}`);
        files++;
      }
      assert.equal(files, sizes.length, `${kernels}: every file recorded`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
