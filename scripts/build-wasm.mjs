// Build the WebAssembly kernels of native-wasm/ with AssemblyScript (pinned in package-lock.json).
// Runs from `npm run build` (and so from `npm ci` via prepare); the output is deterministic, and
// test/unit/wasm-build.test.ts rebuilds into a temp directory and checks byte equality.
//   node scripts/build-wasm.mjs [OUTDIR]    (default native-wasm/build)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'native-wasm', 'assembly');
const outDir = resolve(process.argv[2] ?? join(root, 'native-wasm', 'build'));
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');

// stub runtime: the kernels allocate nothing; memory is laid out by the TypeScript side.
// -O3 --noAssert: release build. Bulk memory (memory.copy) is on by default in AssemblyScript 0.28.
const flags = ['-O3', '--noAssert', '--runtime', 'stub', '--initialMemory', '1'];
// Kernels that work in memory the TypeScript side shares with them (and nothing else): xxh64
// hashes file bodies in place in the write pool's shared ring (src/extract/arena.ts), so it
// imports that memory (shared, up to 4 GiB) instead of having its own.
const extraFlags = {
  xxh64: ['--importMemory', '--sharedMemory', '--maximumMemory', '65536', '--enable', 'threads', '--noExportMemory'],
};

mkdirSync(outDir, { recursive: true });
for (const file of readdirSync(sourceDir).filter((name) => name.endsWith('.ts')).sort()) {
  const name = file.slice(0, -3);
  const result = spawnSync(
    process.execPath,
    [asc, join(sourceDir, file), '--outFile', join(outDir, `${name}.wasm`), ...flags, ...(extraFlags[name] ?? [])],
    { stdio: 'inherit', cwd: root },
  );
  if (result.status !== 0) {
    console.error(`build-wasm: asc failed for native-wasm/assembly/${file}`);
    process.exit(1);
  }
}
