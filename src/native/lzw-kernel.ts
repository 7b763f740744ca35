/**
 * The WebAssembly LZW kernel (native-wasm/assembly/lzw.ts): the memory it works in and the call.
 * LzwDecoder (src/filters/lzw-decoder.ts) keeps its tables and window in this memory when it runs
 * on this kernel, so its TypeScript slow paths and the kernel's hot loop share one copy of state.
 */
import { ensureMemory, instantiateKernel } from './wasm-kernels.js';

/** Scalar slots of the kernel's state block, as native-wasm/assembly/lzw.ts numbers them. */
export const enum LzwSlot {
  ip = 0,
  end = 1,
  bitBuf = 2,
  bitCount = 3,
  free = 4,
  prev = 5,
  prevPos = 6,
  prevLen = 7,
  wp = 8,
  nBits = 9,
  maxCode = 10,
  maxMax = 11,
  clearCode = 12,
  nextEmit = 13,
  badCode = 14,
  rebuilt = 15,
}

interface LzwExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  run(state: number, entry: number, prefix: number, suffix: number, win: number, input: number): number;
}

export interface LzwLayout {
  tableSize: number;
  windowBytes: number;
}

/** Gap after the window: the packed 8-byte stores of the last code never reach the input. */
const guardBytes = 64 * 1024;

export class WasmLzwKernel {
  private readonly exports: LzwExports;
  private readonly stateAt: number;
  private readonly entryAt: number;
  private readonly prefixAt: number;
  private readonly suffixAt: number;
  private readonly winAt: number;
  private readonly inputAt: number;
  private inputCapacity = 0;

  state!: Int32Array;
  entry!: Int32Array;
  prefix!: Uint16Array;
  suffix!: Uint8Array;
  win!: Uint8Array;
  private inputRegion!: Uint8Array;

  constructor(private readonly layout: LzwLayout) {
    this.exports = instantiateKernel('lzw').exports as unknown as LzwExports;
    const align = (n: number) => (n + 15) & ~15;
    this.stateAt = align(this.exports.heapBase());
    this.entryAt = this.stateAt + 64;
    this.prefixAt = this.entryAt + 8 * layout.tableSize;
    this.suffixAt = this.prefixAt + 2 * layout.tableSize;
    this.winAt = align(this.suffixAt + layout.tableSize);
    this.inputAt = this.winAt + layout.windowBytes + guardBytes;
    this.reserveInput(1 << 20);
  }

  /** Copy a compressed chunk into the kernel's input area; returns the view of it there. */
  load(chunk: Uint8Array): Uint8Array {
    if (chunk.length > this.inputCapacity) this.reserveInput(chunk.length);
    this.inputRegion.set(chunk);
    return this.inputRegion.subarray(0, chunk.length);
  }

  run(): number {
    return this.exports.run(this.stateAt, this.entryAt, this.prefixAt, this.suffixAt, this.winAt, this.inputAt);
  }

  private reserveInput(bytes: number): void {
    const buffer = ensureMemory(this.exports.memory, this.inputAt + bytes);
    const { tableSize, windowBytes } = this.layout;
    const first = this.state === undefined;
    // Growing the memory detaches the old views; the data stays where it was.
    this.state = new Int32Array(buffer, this.stateAt, 16);
    this.entry = new Int32Array(buffer, this.entryAt, 2 * tableSize);
    this.prefix = new Uint16Array(buffer, this.prefixAt, tableSize);
    this.suffix = new Uint8Array(buffer, this.suffixAt, tableSize);
    this.win = new Uint8Array(buffer, this.winAt, windowBytes);
    this.inputCapacity = buffer.byteLength - this.inputAt;
    this.inputRegion = new Uint8Array(buffer, this.inputAt, this.inputCapacity);
    if (!first) this.onGrow?.();
  }

  /** Called after the memory grew (views changed); the decoder re-reads its arrays. */
  onGrow?: () => void;
}
