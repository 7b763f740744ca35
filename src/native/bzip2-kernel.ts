/**
 * The WebAssembly bzip2 block kernel (native-wasm/assembly/bzip2.ts): one instance per thread
 * (inside a BlockWorkspace), fed one block at a time. The kernel answers with a status and
 * numbered reasons; this wrapper turns them into exactly what the TypeScript twin
 * (src/filters/bzip2/block-decoder.ts) returns or throws for the same input, which the
 * differential tests (test/unit/filters/bzip2-kernels.test.ts) check.
 */
import { P2VError, badArchive } from '../errors.js';
import { instantiateKernel } from './wasm-kernels.js';

interface Bzip2Exports {
  memory: WebAssembly.Memory;
  resultAt(): number;
  reserve(inputBytes: number): number;
  decode(startBit: number, inputEnd: number, level: number): number;
}

const OK = 0;
const SHORT = 1;
const CORRUPT = 2;
const RANDOMISED = 3;

/** The kernel's reason numbers, as the twin words them. */
const reasons: Record<number, (detail: number) => string> = {
  1: () => 'no byte values in use',
  2: (groups) => `${groups} Huffman tables (must be 2..6)`,
  3: () => 'no Huffman table selectors',
  4: () => 'Huffman table selector out of range',
  5: () => 'Huffman code length out of range',
  6: () => 'oversubscribed Huffman code lengths',
  7: () => 'more symbol groups than selectors',
  8: () => 'invalid Huffman code',
  9: () => 'zero run too long',
  10: () => 'block longer than its size level',
  11: () => 'BWT origin pointer beyond the block',
};

export interface KernelBlock {
  data: Uint8Array;
  expandedLength?: number;
  storedCrc: number;
  computedCrc: number;
  endBit: number;
}

export class WasmBzip2Kernel {
  private readonly exports = instantiateKernel('bzip2').exports as unknown as Bzip2Exports;

  /**
   * Decode the block at bit `startBit` of `data[0..end)`; null when the input ends first.
   * Throws the twin's P2VErrors (naming `offset`).
   */
  decode(data: Uint8Array, startBit: number, level: number, end: number, offset: number): KernelBlock | null {
    // Only the bytes from the block's first one on go in: the serial driver's window may hold more.
    const first = Math.floor(startBit / 8);
    const input = data.subarray(first, Math.max(first, end));
    const { exports } = this;
    const inputAt = exports.reserve(input.length);
    new Uint8Array(exports.memory.buffer, inputAt, input.length).set(input);
    let status: number;
    try {
      status = exports.decode(startBit - first * 8, input.length, level);
    } catch (error) {
      // decode never grows memory (a block of long runs is expanded through a fixed window): a
      // trap is an out-of-bounds access, a kernel fault on this block; it ends the run, named
      throw new P2VError('P2V_BAD_ARCHIVE', `bzip2 block: the decoder failed on it (${(error as Error).message})`, {
        layer: 'bzip2',
        offset,
      });
    }
    const slots = new Int32Array(exports.memory.buffer, exports.resultAt(), 9);
    switch (status) {
      case OK: {
        const outAt = slots[6]!;
        const data = new Uint8Array(exports.memory.buffer, outAt, slots[7]!).slice();
        const block: KernelBlock = { data, storedCrc: slots[4]! >>> 0, computedCrc: slots[5]! >>> 0, endBit: slots[3]! + first * 8 };
        if (slots[8]! >= 0) block.expandedLength = slots[8]!; // the RLE1 form of a block of long runs
        return block;
      }
      case SHORT:
        return null;
      case RANDOMISED:
        throw new P2VError(
          'P2V_UNSUPPORTED',
          'randomised bzip2 block (written only by bzip2 0.9.0 and older) is not supported; recompress the image with a current bzip2',
          { layer: 'bzip2', offset },
        );
      case CORRUPT: {
        // as the twin: corruption that bits past the input may have caused means "input too short"
        if (slots[1]! + 32 > input.length * 8) return null;
        const message = reasons[slots[0]!]?.(slots[2]!) ?? `reason ${slots[0]}`;
        throw badArchive(`corrupt bzip2 block: ${message}`, { layer: 'bzip2', offset });
      }
      default:
        throw new Error(`bzip2 kernel: unknown status ${status}`);
    }
  }
}
