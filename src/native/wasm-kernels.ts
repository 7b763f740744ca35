/**
 * The WebAssembly kernels built from native-wasm/ (scripts/build-wasm.mjs, run by `npm run build`).
 *
 * Each kernel is the twin of a TypeScript hot loop and runs over the same data layout; the choice
 * is global: ZONEP2V_KERNELS=ts runs the TypeScript twins everywhere (for comparison and as a
 * fallback), anything else (the default) the WebAssembly ones. Modules are compiled once per
 * thread, synchronously (they are a few KiB), and instantiated once per decoder: every instance
 * has its own memory, so one decoder's input can never touch another's state.
 */
import { readFileSync } from 'node:fs';
import { P2VError } from '../errors.js';

export type KernelChoice = 'ts' | 'wasm';

/** The kernels to use when a caller does not say: ZONEP2V_KERNELS=ts|wasm, default wasm. */
export function defaultKernels(): KernelChoice {
  return process.env.ZONEP2V_KERNELS === 'ts' ? 'ts' : 'wasm';
}

const modules = new Map<string, WebAssembly.Module>();

/** The built kernel file, e.g. `lzw` → native-wasm/build/lzw.wasm (from dist/src/native/). */
export function kernelPath(name: string): URL {
  return new URL(`../../../native-wasm/build/${name}.wasm`, import.meta.url);
}

/** Compile (once) and instantiate kernel `name`; only xxh64 imports anything (its memory). */
export function instantiateKernel(name: string, imports: WebAssembly.Imports = {}): WebAssembly.Instance {
  let module = modules.get(name);
  if (!module) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(kernelPath(name)));
    } catch (error) {
      throw new P2VError(
        'P2V_INSTALL',
        `WebAssembly kernel native-wasm/build/${name}.wasm is missing (${(error as Error).message}); run \`npm run build\`, or set ZONEP2V_KERNELS=ts`,
      );
    }
    module = new WebAssembly.Module(bytes);
    modules.set(name, module);
  }
  return new WebAssembly.Instance(module, imports);
}

/** Grow `memory` to at least `bytes`; returns its (possibly new) buffer. */
export function ensureMemory(memory: WebAssembly.Memory, bytes: number): ArrayBuffer {
  const page = 65536;
  const have = memory.buffer.byteLength;
  if (have < bytes) memory.grow(Math.ceil((bytes - have) / page));
  return memory.buffer;
}
