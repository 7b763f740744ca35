/**
 * The WebAssembly kernels are reproducible from the repository: building native-wasm/ again (same
 * pinned AssemblyScript, same flags, scripts/build-wasm.mjs) gives byte-identical modules, and each
 * module imports nothing (no host functions: a kernel can only touch its own memory) but xxh64, which
 * imports the shared memory it hashes in.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const built = join(root, 'native-wasm', 'build');

test('a rebuild of native-wasm/ is byte-identical to the modules in use', { timeout: 120_000 }, () => {
  const sources = readdirSync(join(root, 'native-wasm', 'assembly')).filter((name) => name.endsWith('.ts'));
  assert.ok(sources.length >= 2, 'kernel sources present');
  const out = mkdtempSync(join(tmpdir(), 'zonep2v-wasm-'));
  try {
    const result = spawnSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), out], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    for (const source of sources) {
      const name = source.replace(/\.ts$/, '.wasm');
      const again = readFileSync(join(out, name));
      const inUse = readFileSync(join(built, name));
      assert.ok(again.equals(inUse), `${name}: rebuilt module differs from native-wasm/build/${name}`);
      const module = new WebAssembly.Module(again);
      // xxh64 hashes in the write pool's shared ring: that memory is all it imports
      const allowed = name === 'xxh64.wasm' ? [{ module: 'env', name: 'memory', kind: 'memory' }] : [];
      assert.deepEqual(WebAssembly.Module.imports(module), allowed, `${name} imports ${allowed.length ? 'only its memory' : 'nothing'}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
