/**
 * The inverse Burrows–Wheeler transform of one bzip2 block, walked by several lanes at once.
 *
 * `tt[i]` starts as the BWT column byte L[i]. `link` threads the column into a cycle: the high
 * 24 bits of tt[j] become the row that follows row j in the original text, so walking from the
 * row that follows `origPtr` and emitting each row's low byte yields the block (bzip2's method).
 *
 * That walk is one dependent load per byte into an array of up to 3.6 MB: memory latency, not
 * arithmetic, sets its speed (measured: ~85% of the walk's samples sit on that load). So the
 * cycle is cut into `segmentCount` segments at rows chosen up front and marked with a flag bit,
 * and four lanes walk four segments at the same time, their loads overlapping in the memory
 * system. A segment's place in the output is unknown until the walk meets the next segment's
 * start row, so lanes write into pages of `raw` and each segment keeps its page list; the result
 * is a list of [from, to) pieces of `raw` in output order. Measured on a random 900k-entry cycle:
 * ~32 ns per byte for one chain, ~3.8 ns with four (this machine, Node 20); on the decoder as a
 * whole, see bench/bzip2-bench.ts.
 *
 * The links form one cycle unless the block is periodic (then bzip2 walks the first cycle over
 * and over) or corrupt: the lanes then give up (every loop is bounded by the page budget) and the
 * single chain walks `n` steps, exactly as bzip2 does.
 */

const segmentFlag = 0x80000000; // set on the start row of each segment while lanes walk
const rowMask = 0xfffff; // rows are < 900 000 < 2^20; bits 28..30 stay clear
const laneCount = 4;
const segmentCount = 128;
const pageBytes = 2048;
/** Smaller blocks walk in one chain: their tt (under 128 KiB) is cache-resident, and 128
 *  segments of a few hundred bytes would be mostly bookkeeping. */
const multiLaneMinimum = 32 * 1024;

/** Scratch for the walk; lives in the block workspace, sized for the largest block seen. */
export class BwtScratch {
  raw = new Uint8Array(0);
  /** [from, to) pairs into raw, in output order */
  pieces = new Int32Array(0);
  private pageNext = new Int32Array(0);
  private readonly rows = new Int32Array(segmentCount);
  private readonly firstPage = new Int32Array(segmentCount);
  private readonly lastPage = new Int32Array(segmentCount);
  private readonly endOffset = new Int32Array(segmentCount); // where the segment's last page ends
  private readonly nextSegment = new Int32Array(segmentCount);
  private readonly laneAt = new Int32Array(laneCount);
  private readonly laneWrite = new Int32Array(laneCount);
  private readonly laneEnd = new Int32Array(laneCount);
  private readonly laneSegment = new Int32Array(laneCount); // -1: the lane has no more work
  private pagesUsed = 0;
  private pageBudget = 0;
  private segmentsStarted = 0;

  private reserve(n: number): void {
    const pages = Math.ceil(n / pageBytes) + segmentCount; // each segment wastes under a page
    if (this.raw.length < pages * pageBytes) {
      this.raw = new Uint8Array(pages * pageBytes);
      this.pageNext = new Int32Array(pages);
    }
    if (this.pieces.length < 2 * pages) this.pieces = new Int32Array(2 * pages);
    this.pageBudget = pages;
    this.pagesUsed = 0;
    this.segmentsStarted = 0;
  }

  /**
   * Thread the column into links (see above). `counts` holds how often each byte value occurs
   * and is overwritten. Returns nothing; tt is ready for `walk`.
   */
  static link(tt: Uint32Array, counts: Int32Array, n: number): void {
    let sum = 0;
    for (let i = 0; i < 256; i++) {
      const count = counts[i]!;
      counts[i] = sum;
      sum += count;
    }
    for (let i = 0; i < n; i++) {
      const byte = tt[i]! & 0xff;
      tt[counts[byte]!++]! |= i << 8;
    }
  }

  /**
   * Walk the linked column of `n` rows from `origPtr`: fills `raw` and `pieces`, returns the
   * number of pieces.
   */
  walk(tt: Uint32Array, n: number, origPtr: number): number {
    this.reserve(n);
    if (n >= multiLaneMinimum) {
      const pieces = this.walkLanes(tt, n, origPtr);
      if (pieces > 0) return pieces;
      // Several cycles: the block is periodic (u^k has k cycles of |u| rows; bzip2 walks n steps
      // round the first), or corrupt (the CRC will say so). Either way, the single chain.
      for (let s = 0; s < segmentCount; s++) tt[this.rows[s]!] = tt[this.rows[s]!]! & ~segmentFlag;
    }
    const raw = this.raw;
    let at = tt[origPtr]! >>> 8;
    for (let i = 0; i < n; i++) {
      const cell = tt[at]!;
      raw[i] = cell;
      at = cell >>> 8;
    }
    this.pieces[0] = 0;
    this.pieces[1] = n;
    return 1;
  }

  /** The four-lane walk; -1 when the links are not one cycle through every row. */
  private walkLanes(tt: Uint32Array, n: number, origPtr: number): number {
    const raw = this.raw;
    const pieces = this.pieces;
    // Segment start rows: the row holding the block's first byte, then rows spread over [0, n).
    const rows = this.rows;
    rows[0] = tt[origPtr]! >>> 8;
    for (let s = 1; s < segmentCount; s++) {
      const row = Math.floor((s * n) / segmentCount);
      rows[s] = row === rows[0] ? row + 1 : row; // rows are >= 256 apart: still distinct
    }
    for (let s = 0; s < segmentCount; s++) tt[rows[s]!]! |= segmentFlag;

    const laneAt = this.laneAt;
    const laneWrite = this.laneWrite;
    const laneEnd = this.laneEnd;
    for (let lane = 0; lane < laneCount; lane++) this.startSegment(tt, lane);

    // HOT: four lanes in step while every lane has a segment to walk.
    for (let active = laneCount; active === laneCount; ) {
      let a0 = laneAt[0]!;
      let a1 = laneAt[1]!;
      let a2 = laneAt[2]!;
      let a3 = laneAt[3]!;
      const w0 = laneWrite[0]!;
      const w1 = laneWrite[1]!;
      const w2 = laneWrite[2]!;
      const w3 = laneWrite[3]!;
      const room = Math.min(laneEnd[0]! - w0, laneEnd[1]! - w1, laneEnd[2]! - w2, laneEnd[3]! - w3);
      let k = 0;
      for (; k < room; k++) {
        const c0 = tt[a0]!;
        const c1 = tt[a1]!;
        const c2 = tt[a2]!;
        const c3 = tt[a3]!;
        if (((c0 | c1 | c2 | c3) & segmentFlag) !== 0) break;
        raw[w0 + k] = c0;
        raw[w1 + k] = c1;
        raw[w2 + k] = c2;
        raw[w3 + k] = c3;
        a0 = c0 >>> 8;
        a1 = c1 >>> 8;
        a2 = c2 >>> 8;
        a3 = c3 >>> 8;
      }
      laneAt[0] = a0;
      laneAt[1] = a1;
      laneAt[2] = a2;
      laneAt[3] = a3;
      laneWrite[0] = w0 + k;
      laneWrite[1] = w1 + k;
      laneWrite[2] = w2 + k;
      laneWrite[3] = w3 + k;
      for (let lane = 0; lane < laneCount; lane++) {
        if (tt[laneAt[lane]!]! & segmentFlag) {
          this.finishSegment(lane);
          if (this.segmentsStarted < segmentCount) this.startSegment(tt, lane);
          else active--;
        } else if (laneWrite[lane] === laneEnd[lane] && !this.addPage(lane)) {
          return -1;
        }
      }
    }

    // The tail: lanes still walking finish one at a time.
    for (let lane = 0; lane < laneCount; lane++) {
      if (this.laneSegment[lane] === -1) continue;
      if (!this.walkOne(tt, lane)) return -1;
      this.finishSegment(lane);
    }

    // Pieces in output order: segment 0, then follow the links back to segment 0.
    const pageNext = this.pageNext;
    let count = 0;
    let covered = 0;
    let s = 0;
    for (let visited = 0; visited < segmentCount; visited++) {
      for (let page = this.firstPage[s]!; page !== -1; page = pageNext[page]!) {
        const from = page * pageBytes;
        const to = pageNext[page] === -1 ? this.endOffset[s]! : from + pageBytes;
        pieces[2 * count] = from;
        pieces[2 * count + 1] = to;
        count++;
        covered += to - from;
      }
      s = this.nextSegment[s]!;
      if (s === 0) break;
    }
    return s === 0 && covered === n ? count : -1;
  }

  /** Start the next segment on a lane: emit its first byte (the flagged row) and step past it. */
  private startSegment(tt: Uint32Array, lane: number): void {
    const s = this.segmentsStarted++;
    const page = this.pagesUsed++;
    this.firstPage[s] = page;
    this.lastPage[s] = page;
    this.pageNext[page] = -1;
    const cell = tt[this.rows[s]!]!;
    this.raw[page * pageBytes] = cell;
    this.laneWrite[lane] = page * pageBytes + 1;
    this.laneEnd[lane] = (page + 1) * pageBytes;
    this.laneAt[lane] = (cell >>> 8) & rowMask;
    this.laneSegment[lane] = s;
  }

  /** The lane filled its page: chain a new one to its segment. False when out of pages. */
  private addPage(lane: number): boolean {
    if (this.pagesUsed >= this.pageBudget) return false; // the links loop without the flags: corrupt
    const page = this.pagesUsed++;
    const s = this.laneSegment[lane]!;
    this.pageNext[this.lastPage[s]!] = page;
    this.pageNext[page] = -1;
    this.lastPage[s] = page;
    this.laneWrite[lane] = page * pageBytes;
    this.laneEnd[lane] = (page + 1) * pageBytes;
    return true;
  }

  /** The lane stands on a flagged row: its segment ends, and is followed by that row's segment. */
  private finishSegment(lane: number): void {
    const s = this.laneSegment[lane]!;
    this.endOffset[s] = this.laneWrite[lane]!;
    const row = this.laneAt[lane]!;
    let next = 0;
    while (next < segmentCount - 1 && this.rows[next] !== row) next++;
    this.nextSegment[s] = next;
    this.laneSegment[lane] = -1;
  }

  /** Walk one lane until its segment ends (a flagged row). False when out of pages. */
  private walkOne(tt: Uint32Array, lane: number): boolean {
    const raw = this.raw;
    for (;;) {
      let at = this.laneAt[lane]!;
      let w = this.laneWrite[lane]!;
      const end = this.laneEnd[lane]!;
      for (; w < end; w++) {
        const cell = tt[at]!;
        if (cell & segmentFlag) break;
        raw[w] = cell;
        at = cell >>> 8;
      }
      this.laneAt[lane] = at;
      this.laneWrite[lane] = w;
      if (w < end) return true;
      if (!this.addPage(lane)) return false;
    }
  }
}
