/**
 * A ring of shared memory for file data in flight between the parser and the write workers.
 *
 * The parser copies bodies into the ring and sends workers only offsets: no buffer is allocated,
 * zeroed, transferred or collected per batch (measured: allocating and transferring a fresh
 * 1 MiB buffer per batch cost the main thread about a quarter of its time on a 60k-file image).
 * The ring's size is the bound on data in flight, so it is also the backpressure: when it is
 * full the parser waits for the oldest region to be released.
 *
 * Regions are handed out in order and released in any order; the free space is what lies
 * between the newest region and the oldest one not yet released.
 */
export interface Region {
  start: number;
  length: number;
}

interface Slot extends Region {
  released: boolean;
  /** settles when the region is released (used by waiters) */
  waiters: (() => void)[];
}

export class Arena {
  /** shared WebAssembly memory, so the write workers' xxh64 kernel hashes bodies in place */
  readonly memory: WebAssembly.Memory;
  readonly bytes: Uint8Array;
  private readonly slots: Slot[] = [];
  private head = 0; // next free byte

  constructor(size: number) {
    const pages = Math.ceil(size / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.bytes = new Uint8Array(this.memory.buffer, 0, size);
  }

  get size(): number {
    return this.bytes.length;
  }

  /** Reserve `length` contiguous bytes, waiting for releases when the ring is full. Regions start
   *  on 8-byte boundaries (see WritePool.addSmall on why alignment matters here). */
  async reserve(length: number): Promise<Region> {
    const span = (length + 7) & ~7;
    if (span > this.size) throw new RangeError(`region of ${length} bytes exceeds the arena (${this.size})`);
    for (;;) {
      const start = this.fit(span);
      if (start !== undefined) {
        const slot: Slot = { start, length, released: false, waiters: [] };
        this.slots.push(slot);
        this.head = start + span;
        return slot;
      }
      const oldest = this.slots[0]!;
      await new Promise<void>((resolve) => oldest.waiters.push(resolve));
    }
  }

  release(region: Region): void {
    const slot = region as Slot;
    slot.released = true;
    while (this.slots.length > 0 && this.slots[0]!.released) {
      const done = this.slots.shift()!;
      for (const wake of done.waiters) wake();
    }
    if (this.slots.length === 0) this.head = 0;
  }

  view(region: Region): Uint8Array {
    return this.bytes.subarray(region.start, region.start + region.length);
  }

  /** Where `length` bytes fit now, if anywhere: after the head, or wrapped to the start. */
  private fit(length: number): number | undefined {
    if (this.slots.length === 0) return 0;
    const tail = this.slots[0]!.start; // oldest live byte
    // wrapped: the newest region lies before the oldest one, so free space is [head, tail);
    // tested on starts, not on head >= tail, which is ambiguous when the ring is exactly full
    const wrapped = this.slots[this.slots.length - 1]!.start < tail;
    if (!wrapped) {
      if (this.head + length <= this.size) return this.head;
      if (length <= tail) return 0; // wrap: bytes between head and the end stay unused
      return undefined;
    }
    return this.head + length <= tail ? this.head : undefined;
  }
}
