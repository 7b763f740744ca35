/**
 * The WebAssembly XXH64 kernel (native-wasm/assembly/xxh64.ts), instantiated over a shared memory
 * - the write pool's ring (extract/arena.ts) - so a write worker hashes a file body where it lies.
 * Its twin is xxhash-wasm's h64Raw over a private copy of the body (workers/write-worker.ts, and
 * ZONEP2V_KERNELS=ts): the copy out of shared memory cost more than the hash itself.
 */
import { instantiateKernel } from './wasm-kernels.js';

/** XXH64 (seed 0) of `memory[start, start + length)`, as an unsigned 64-bit bigint. */
export type MemoryHasher = (start: number, length: number) => bigint;

export function memoryHasher(memory: WebAssembly.Memory): MemoryHasher {
  const xxh64 = instantiateKernel('xxh64', { env: { memory } }).exports.xxh64 as (start: number, length: number) => bigint;
  // wasm hands an i64 to JavaScript as a signed bigint
  return (start, length) => BigInt.asUintN(64, xxh64(start, length));
}
