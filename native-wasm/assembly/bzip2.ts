// One bzip2 block, decoded: the WebAssembly twin of decodeBlock() in
// src/filters/bzip2/block-decoder.ts (with inverse-bwt.ts and crc32.ts). Same stages, same
// checks in the same order, same results; the TypeScript wrapper (src/native/bzip2-kernel.ts)
// turns the status and reason codes below into the twin's messages and errors.
//
// Memory: small tables are static (memory.data); the big regions are laid out by `reserve`
// from __heap_base: tt (the BWT column), raw pages and their lists, the input, then the output,
// which is last so that runs can grow it (memory.grow) while the block decodes.

// ---- statuses (return value of decode) and corruption reasons (result slot R_REASON) ----
const OK: i32 = 0;
const SHORT: i32 = 1; // the input ended before the block did: retry with more
const CORRUPT: i32 = 2; // R_REASON, R_BIT (bit offset), R_DETAIL
const RANDOMISED: i32 = 3;

const NO_BYTES_IN_USE: i32 = 1;
const BAD_GROUP_COUNT: i32 = 2; // detail: the count
const NO_SELECTORS: i32 = 3;
const SELECTOR_RANGE: i32 = 4;
const LENGTH_RANGE: i32 = 5;
const OVERSUBSCRIBED: i32 = 6;
const GROUPS_PAST_SELECTORS: i32 = 7;
const INVALID_CODE: i32 = 8;
const RUN_TOO_LONG: i32 = 9;
const BLOCK_TOO_LONG: i32 = 10;
const ORIGIN_PAST_BLOCK: i32 = 11;

// ---- result slots (i32) ----
const R_REASON: i32 = 0;
const R_BIT: i32 = 1;
const R_DETAIL: i32 = 2;
const R_END_BIT: i32 = 3;
const R_STORED_CRC: i32 = 4;
const R_CRC: i32 = 5;
const R_OUT_AT: i32 = 6;
const R_OUT_LENGTH: i32 = 7;
const R_EXPANDED_LENGTH: i32 = 8; // -1: the output region holds the block's bytes; else it holds
// their RLE1 form and this is their length (a block of long runs: see wholeOutputMax)

// ---- limits (as in the twin) ----
const maxGroups: i32 = 6;
const maxAlphabet: i32 = 258;
const maxCodeLength: i32 = 20;
const groupSize: i32 = 50;
const maxSelectors: i32 = 2 + 900000 / 50;
const tableBits: i32 = 10;
const tableMask: i32 = (1 << tableBits) - 1;
const maxRunShift: i32 = 21;
const maxBlock: i32 = 900000;
// A block's runs can expand 900 kB of symbols to ~46 MB. Past this many bytes the kernel stops
// keeping them: it expands through a window of this size for the CRC only and hands back the
// RLE1 form, which the caller expands piecewise (memory stays bounded with many blocks in flight).
const wholeOutputMax: i32 = 2 * 1024 * 1024;

// BWT walk (inverse-bwt.ts)
const segmentFlag: u32 = 0x80000000;
const rowMask: u32 = 0xfffff;
const laneCount: i32 = 4;
const segmentCount: i32 = 128;
const pageBytes: i32 = 2048;
const multiLaneMinimum: i32 = 32 * 1024;
const maxPages: i32 = (maxBlock + pageBytes - 1) / pageBytes + segmentCount;

// ---- static tables ----
const result = memory.data(64);
const lengths = memory.data(maxGroups * maxAlphabet);
const perm = memory.data(2 * maxGroups * maxAlphabet);
const table = memory.data(2 * (maxGroups << tableBits));
const limit = memory.data(4 * maxGroups * (maxCodeLength + 1));
const base = memory.data(4 * maxGroups * (maxCodeLength + 1));
const maxLength = memory.data(maxGroups);
const selectors = memory.data(maxSelectors);
const mtf = memory.data(256);
const counts = memory.data(4 * 256);
const seqToUnseq = memory.data(256);
const lengthCount = memory.data(4 * (maxCodeLength + 1));
const nextIndex = memory.data(4 * (maxCodeLength + 1));
const crcTables = memory.data(4 * 8 * 256);
const rows = memory.data(4 * segmentCount);
const firstPage = memory.data(4 * segmentCount);
const lastPage = memory.data(4 * segmentCount);
const endOffset = memory.data(4 * segmentCount);
const nextSegment = memory.data(4 * segmentCount);
const laneAt = memory.data(4 * laneCount);
const laneWrite = memory.data(4 * laneCount);
const laneEnd = memory.data(4 * laneCount);
const laneSegment = memory.data(4 * laneCount);

// ---- big regions (set by reserve) ----
let ttAt: usize = 0;
let rawAt: usize = 0;
let pageNextAt: usize = 0;
let piecesAt: usize = 0;
let inputAt: usize = 0;
let outAt: usize = 0;
let outCapacity: i32 = 0;

let pagesUsed: i32 = 0;
let pageBudget: i32 = 0;
let segmentsStarted: i32 = 0;

// ---- bit reader: MSB first; bytes at or past `end` read as zero ----
let pos: i32 = 0;
let bits: u32 = 0;
let count: i32 = 0;
let end: i32 = 0;

@inline function i32At(region: usize, index: i32): i32 {
  return load<i32>(region + (<usize>index << 2));
}
@inline function setI32(region: usize, index: i32, value: i32): void {
  store<i32>(region + (<usize>index << 2), value);
}
@inline function u8At(region: usize, index: i32): i32 {
  return <i32>load<u8>(region + <usize>index);
}
@inline function setU8(region: usize, index: i32, value: i32): void {
  store<u8>(region + <usize>index, <u8>value);
}

@inline function byteAt(p: i32): u32 {
  return p < end ? <u32>load<u8>(inputAt + <usize>p) : 0;
}

function readBits(n: i32): i32 {
  while (count < n) {
    bits = (bits << 8) | byteAt(pos);
    pos++;
    count += 8;
  }
  count -= n;
  return <i32>((bits >>> <u32>count) & ((1 << n) - 1));
}

@inline function bitOffset(): i32 {
  return pos * 8 - count;
}
@inline function overran(): bool {
  return bitOffset() > end * 8;
}

function corrupt(reason: i32, at: i32, detail: i32): i32 {
  setI32(result, R_REASON, reason);
  setI32(result, R_BIT, at);
  setI32(result, R_DETAIL, detail);
  return CORRUPT;
}

/** First address the caller may use. */
export function heapBase(): usize {
  return __heap_base;
}

/** The result slots' address. */
export function resultAt(): usize {
  return result;
}

/** Lay out the regions for `inputBytes` of input; returns the input address. Grows memory. */
export function reserve(inputBytes: i32): usize {
  ttAt = (__heap_base + 15) & ~15;
  rawAt = ttAt + 4 * <usize>maxBlock;
  pageNextAt = rawAt + <usize>(maxPages * pageBytes);
  piecesAt = pageNextAt + 4 * <usize>maxPages;
  inputAt = piecesAt + 8 * <usize>maxPages;
  outAt = (inputAt + <usize>inputBytes + 15) & ~15;
  ensure(outAt + <usize>wholeOutputMax);
  outCapacity = wholeOutputMax;
  if (load<i32>(crcTables + 4) == 0) buildCrcTables();
  return inputAt;
}

function ensure(bytes: usize): void {
  const have = <usize>memory.size() << 16;
  if (have < bytes) {
    if (memory.grow(<i32>((bytes - have + 65535) >> 16)) < 0) unreachable();
  }
}

/**
 * Decode the block whose data starts at bit `startBit` of the input (just after its magic);
 * the input's first `inputEnd` bytes are data. Returns a status; see the result slots.
 */
export function decode(startBit: i32, inputEnd: i32, level: i32): i32 {
  end = inputEnd;
  pos = startBit >>> 3;
  bits = 0;
  count = 0;
  const skip = startBit & 7;
  if (skip != 0) readBits(skip);

  const storedCrc = (readBits(16) << 16) | readBits(16);
  const randomised = readBits(1);
  const origPtr = readBits(24);
  if (overran()) return SHORT;
  if (randomised != 0) return RANDOMISED;

  let inUse = 0;
  const ranges = readBits(16);
  for (let i = 0; i < 16; i++) {
    if ((ranges & (0x8000 >>> i)) == 0) continue;
    const used = readBits(16);
    for (let j = 0; j < 16; j++) {
      if ((used & (0x8000 >>> j)) != 0) setU8(seqToUnseq, inUse++, i * 16 + j);
    }
  }
  if (inUse == 0) return corrupt(NO_BYTES_IN_USE, bitOffset(), 0);
  const alphabet = inUse + 2;

  const groups = readBits(3);
  if (groups < 2 || groups > maxGroups) return corrupt(BAD_GROUP_COUNT, bitOffset(), groups);
  const selectorCount = readBits(15);
  if (selectorCount < 1) return corrupt(NO_SELECTORS, bitOffset(), 0);
  let order: u32 = 0x543210;
  for (let i = 0; i < selectorCount; i++) {
    let j = 0;
    while (readBits(1) != 0) {
      if (++j >= groups) return corrupt(SELECTOR_RANGE, bitOffset(), 0);
    }
    if (i < maxSelectors) {
      const shift = <u32>(j * 4);
      const picked = (order >>> shift) & 15;
      const below = order & ((1 << shift) - 1);
      order = (order & ~((16 << shift) - 1)) | (below << 4) | picked;
      setU8(selectors, i, picked);
    }
  }
  if (overran()) return SHORT;
  const usedSelectors = min(selectorCount, maxSelectors);

  for (let g = 0; g < groups; g++) {
    let length = readBits(5);
    const at = g * maxAlphabet;
    for (let s = 0; s < alphabet; s++) {
      while (true) {
        if (length < 1 || length > maxCodeLength) return corrupt(LENGTH_RANGE, bitOffset(), 0);
        if (readBits(1) == 0) break;
        length += readBits(1) != 0 ? -1 : 1;
      }
      setU8(lengths, at + s, length);
    }
    if (overran()) return SHORT;
    if (!buildTables(g, alphabet)) return corrupt(OVERSUBSCRIBED, bitOffset(), 0);
  }

  for (let i = 0; i < inUse; i++) setU8(mtf, i, u8At(seqToUnseq, i));
  memory.fill(counts, 0, 4 * 256);
  const blockLength = decodeSymbols(inUse + 1, usedSelectors, level * 100000);
  if (blockLength == -2) return CORRUPT; // slots already set
  if (blockLength < 0 || overran()) return SHORT;
  if (origPtr >= blockLength) return corrupt(ORIGIN_PAST_BLOCK, bitOffset(), 0);

  undoTransforms(blockLength, origPtr);
  setI32(result, R_END_BIT, bitOffset());
  setI32(result, R_STORED_CRC, storedCrc);
  setI32(result, R_OUT_AT, <i32>outAt);
  return OK;
}

function buildTables(g: i32, alphabet: i32): bool {
  const at = g * maxAlphabet;
  memory.fill(lengthCount, 0, 4 * (maxCodeLength + 1));
  let longest = 0;
  for (let s = 0; s < alphabet; s++) {
    const length = u8At(lengths, at + s);
    setI32(lengthCount, length, i32At(lengthCount, length) + 1);
    if (length > longest) longest = length;
  }
  setU8(maxLength, g, longest);

  const lb = g * (maxCodeLength + 1);
  let code = 0;
  let index = 0;
  for (let length = 1; length <= maxCodeLength; length++) {
    const n = i32At(lengthCount, length);
    setI32(limit, lb + length, code + n);
    setI32(base, lb + length, index - code);
    setI32(nextIndex, length, index);
    code += n;
    index += n;
    if (code > 1 << length) return false;
    code <<= 1;
  }
  for (let s = 0; s < alphabet; s++) {
    const length = u8At(lengths, at + s);
    const k = i32At(nextIndex, length);
    setI32(nextIndex, length, k + 1);
    store<u16>(perm + (<usize>(at + k) << 1), <u16>s);
  }

  const tb = g << tableBits;
  memory.fill(table + (<usize>tb << 1), 0, 2 << tableBits);
  for (let length = 1; length <= tableBits && length <= longest; length++) {
    const stop = i32At(limit, lb + length);
    const span = tableBits - length;
    for (let c = stop - i32At(lengthCount, length); c < stop; c++) {
      const symbol = <i32>load<u16>(perm + (<usize>(at + i32At(base, lb + length) + c) << 1));
      const entry = <u16>((symbol << 5) | length);
      const from = tb + (c << span);
      for (let k = 0; k < 1 << span; k++) store<u16>(table + (<usize>(from + k) << 1), entry);
    }
  }
  return true;
}

/** Huffman + RUNA/RUNB + move-to-front into tt; the column length, -1 past the input, -2 corrupt. */
function decodeSymbols(endOfBlock: i32, selectorCount: i32, blockLimit: i32): i32 {
  const endBits = end * 8;
  let p = pos;
  let b = bits;
  let c = count;
  const tt = ttAt;

  let length = 0;
  let run = 0;
  let runShift = 0;
  let left = 0;
  let selector = 0;
  let group = 0;
  let tb = 0;
  let symbol = 0;

  while (true) {
    if (left == 0) {
      if (p * 8 - c > endBits) return -1;
      if (selector >= selectorCount) return fail(GROUPS_PAST_SELECTORS, p * 8 - c);
      group = u8At(selectors, selector++);
      tb = group << tableBits;
      left = groupSize;
    }
    left--;

    if (c < maxCodeLength) {
      do {
        b = (b << 8) | (p < end ? <u32>load<u8>(inputAt + <usize>p) : 0);
        p++;
        c += 8;
      } while (c <= 24);
    }
    const entry = <i32>load<u16>(table + (<usize>(tb + <i32>((b >>> <u32>(c - tableBits)) & tableMask)) << 1));
    if (entry != 0) {
      c -= entry & 31;
      symbol = entry >>> 5;
    } else {
      const peek = <i32>((b >>> <u32>(c - maxCodeLength)) & ((1 << maxCodeLength) - 1));
      const lb = group * (maxCodeLength + 1);
      const longest = u8At(maxLength, group);
      let codeLength = tableBits + 1;
      let code = 0;
      for (; codeLength <= longest; codeLength++) {
        code = peek >>> (maxCodeLength - codeLength);
        if (code < i32At(limit, lb + codeLength)) break;
      }
      if (codeLength > longest) return fail(INVALID_CODE, p * 8 - c);
      c -= codeLength;
      symbol = <i32>load<u16>(perm + (<usize>(group * maxAlphabet + i32At(base, lb + codeLength) + code) << 1));
    }

    if (symbol <= 1) {
      if (runShift >= maxRunShift) return fail(RUN_TOO_LONG, p * 8 - c);
      run += (symbol + 1) << runShift;
      runShift++;
      continue;
    }
    if (runShift != 0) {
      if (run > blockLimit - length) return fail(BLOCK_TOO_LONG, p * 8 - c);
      const byte = u8At(mtf, 0);
      setI32(counts, byte, i32At(counts, byte) + run);
      for (const stop = length + run; length < stop; length++) store<u32>(tt + (<usize>length << 2), byte);
      run = 0;
      runShift = 0;
    }
    if (symbol == endOfBlock) break;

    if (length >= blockLimit) return fail(BLOCK_TOO_LONG, p * 8 - c);
    let index = symbol - 1;
    const byte = u8At(mtf, index);
    if (index < 32) {
      for (; index > 0; index--) setU8(mtf, index, u8At(mtf, index - 1));
    } else {
      memory.copy(mtf + 1, mtf, <usize>index);
    }
    setU8(mtf, 0, byte);
    setI32(counts, byte, i32At(counts, byte) + 1);
    store<u32>(tt + (<usize>length << 2), byte);
    length++;
  }

  pos = p;
  bits = b;
  count = c;
  return length;
}

function fail(reason: i32, at: i32): i32 {
  corrupt(reason, at, 0);
  return -2;
}

// ---- inverse BWT (the twin of inverse-bwt.ts) ----

function link(n: i32): void {
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    const k = i32At(counts, i);
    setI32(counts, i, sum);
    sum += k;
  }
  const tt = ttAt;
  for (let i = 0; i < n; i++) {
    const byte = <i32>(load<u32>(tt + (<usize>i << 2)) & 0xff);
    const slot = i32At(counts, byte);
    setI32(counts, byte, slot + 1);
    const at = tt + (<usize>slot << 2);
    store<u32>(at, load<u32>(at) | (<u32>i << 8));
  }
}

@inline function ttAtRow(row: u32): u32 {
  return load<u32>(ttAt + (<usize>row << 2));
}

/** Fills raw and pieces; returns the piece count. */
function walk(n: i32, origPtr: i32): i32 {
  pageBudget = (n + pageBytes - 1) / pageBytes + segmentCount;
  pagesUsed = 0;
  segmentsStarted = 0;
  if (n >= multiLaneMinimum) {
    const pieces = walkLanes(n, origPtr);
    if (pieces > 0) return pieces;
    for (let s = 0; s < segmentCount; s++) {
      const at = ttAt + (<usize>i32At(rows, s) << 2);
      store<u32>(at, load<u32>(at) & ~segmentFlag);
    }
  }
  let at = ttAtRow(<u32>origPtr) >>> 8;
  for (let i = 0; i < n; i++) {
    const cell = ttAtRow(at);
    store<u8>(rawAt + <usize>i, <u8>cell);
    at = cell >>> 8;
  }
  setI32(piecesAt, 0, 0);
  setI32(piecesAt, 1, n);
  return 1;
}

function walkLanes(n: i32, origPtr: i32): i32 {
  setI32(rows, 0, <i32>(ttAtRow(<u32>origPtr) >>> 8));
  const row0 = i32At(rows, 0);
  for (let s = 1; s < segmentCount; s++) {
    const row = <i32>((<i64>s * <i64>n) / segmentCount);
    setI32(rows, s, row == row0 ? row + 1 : row);
  }
  for (let s = 0; s < segmentCount; s++) {
    const at = ttAt + (<usize>i32At(rows, s) << 2);
    store<u32>(at, load<u32>(at) | segmentFlag);
  }
  for (let lane = 0; lane < laneCount; lane++) startSegment(lane);

  const raw = rawAt;
  for (let active = laneCount; active == laneCount; ) {
    let a0 = <u32>i32At(laneAt, 0);
    let a1 = <u32>i32At(laneAt, 1);
    let a2 = <u32>i32At(laneAt, 2);
    let a3 = <u32>i32At(laneAt, 3);
    const w0 = i32At(laneWrite, 0);
    const w1 = i32At(laneWrite, 1);
    const w2 = i32At(laneWrite, 2);
    const w3 = i32At(laneWrite, 3);
    const room = min(min(i32At(laneEnd, 0) - w0, i32At(laneEnd, 1) - w1), min(i32At(laneEnd, 2) - w2, i32At(laneEnd, 3) - w3));
    let k = 0;
    for (; k < room; k++) {
      const c0 = ttAtRow(a0);
      const c1 = ttAtRow(a1);
      const c2 = ttAtRow(a2);
      const c3 = ttAtRow(a3);
      if (((c0 | c1 | c2 | c3) & segmentFlag) != 0) break;
      store<u8>(raw + <usize>(w0 + k), <u8>c0);
      store<u8>(raw + <usize>(w1 + k), <u8>c1);
      store<u8>(raw + <usize>(w2 + k), <u8>c2);
      store<u8>(raw + <usize>(w3 + k), <u8>c3);
      a0 = c0 >>> 8;
      a1 = c1 >>> 8;
      a2 = c2 >>> 8;
      a3 = c3 >>> 8;
    }
    setI32(laneAt, 0, <i32>a0);
    setI32(laneAt, 1, <i32>a1);
    setI32(laneAt, 2, <i32>a2);
    setI32(laneAt, 3, <i32>a3);
    setI32(laneWrite, 0, w0 + k);
    setI32(laneWrite, 1, w1 + k);
    setI32(laneWrite, 2, w2 + k);
    setI32(laneWrite, 3, w3 + k);
    for (let lane = 0; lane < laneCount; lane++) {
      if ((ttAtRow(<u32>i32At(laneAt, lane)) & segmentFlag) != 0) {
        finishSegment(lane);
        if (segmentsStarted < segmentCount) startSegment(lane);
        else active--;
      } else if (i32At(laneWrite, lane) == i32At(laneEnd, lane) && !addPage(lane)) {
        return -1;
      }
    }
  }

  for (let lane = 0; lane < laneCount; lane++) {
    if (i32At(laneSegment, lane) == -1) continue;
    if (!walkOne(lane)) return -1;
    finishSegment(lane);
  }

  let pieceCount = 0;
  let covered = 0;
  let s = 0;
  for (let visited = 0; visited < segmentCount; visited++) {
    for (let page = i32At(firstPage, s); page != -1; page = i32At(pageNextAt, page)) {
      const from = page * pageBytes;
      const to = i32At(pageNextAt, page) == -1 ? i32At(endOffset, s) : from + pageBytes;
      setI32(piecesAt, 2 * pieceCount, from);
      setI32(piecesAt, 2 * pieceCount + 1, to);
      pieceCount++;
      covered += to - from;
    }
    s = i32At(nextSegment, s);
    if (s == 0) break;
  }
  return s == 0 && covered == n ? pieceCount : -1;
}

function startSegment(lane: i32): void {
  const s = segmentsStarted++;
  const page = pagesUsed++;
  setI32(firstPage, s, page);
  setI32(lastPage, s, page);
  setI32(pageNextAt, page, -1);
  const cell = ttAtRow(<u32>i32At(rows, s));
  store<u8>(rawAt + <usize>(page * pageBytes), <u8>cell);
  setI32(laneWrite, lane, page * pageBytes + 1);
  setI32(laneEnd, lane, (page + 1) * pageBytes);
  setI32(laneAt, lane, <i32>((cell >>> 8) & rowMask));
  setI32(laneSegment, lane, s);
}

function addPage(lane: i32): bool {
  if (pagesUsed >= pageBudget) return false;
  const page = pagesUsed++;
  const s = i32At(laneSegment, lane);
  setI32(pageNextAt, i32At(lastPage, s), page);
  setI32(pageNextAt, page, -1);
  setI32(lastPage, s, page);
  setI32(laneWrite, lane, page * pageBytes);
  setI32(laneEnd, lane, (page + 1) * pageBytes);
  return true;
}

function finishSegment(lane: i32): void {
  const s = i32At(laneSegment, lane);
  setI32(endOffset, s, i32At(laneWrite, lane));
  const row = i32At(laneAt, lane);
  let next = 0;
  while (next < segmentCount - 1 && i32At(rows, next) != row) next++;
  setI32(nextSegment, s, next);
  setI32(laneSegment, lane, -1);
}

function walkOne(lane: i32): bool {
  while (true) {
    let at = <u32>i32At(laneAt, lane);
    let w = i32At(laneWrite, lane);
    const stop = i32At(laneEnd, lane);
    for (; w < stop; w++) {
      const cell = ttAtRow(at);
      if ((cell & segmentFlag) != 0) break;
      store<u8>(rawAt + <usize>w, <u8>cell);
      at = cell >>> 8;
    }
    setI32(laneAt, lane, <i32>at);
    setI32(laneWrite, lane, w);
    if (w < stop) return true;
    if (!addPage(lane)) return false;
  }
}

// ---- RLE1 and CRC ----

/** Sets R_CRC, R_OUT_LENGTH and R_EXPANDED_LENGTH. */
function undoTransforms(blockLength: i32, origPtr: i32): void {
  link(blockLength);
  const pieceCount = walk(blockLength, origPtr);
  const raw = rawAt;
  let crc: u32 = 0xffffffff;
  let flushed = 0; // bytes already folded into crc and dropped from the window
  let o = 0;
  let last = -1;
  let same = 0;
  let left = blockLength;
  for (let p = 0; p < pieceCount; p++) {
    const from = i32At(piecesAt, 2 * p);
    const to = i32At(piecesAt, 2 * p + 1);
    for (let i = from; i < to; i++) {
      const byte = <i32>load<u8>(raw + <usize>i);
      if (same == 4) {
        if (byte != 0) {
          // Invariant: o + left <= outCapacity, so plain bytes never overflow. A run that would
          // break it empties the window into the CRC (never needed for blocks under the cap).
          if (o + byte + (left - (i - from) - 1) > outCapacity) {
            crc = crcUpdate(crc, outAt, o);
            flushed += o;
            o = 0;
          }
          memory.fill(outAt + <usize>o, <u8>last, <usize>byte);
          o += byte;
        }
        same = 0;
        last = -1;
        continue;
      }
      store<u8>(outAt + <usize>o, <u8>byte);
      o++;
      if (byte == last) {
        same++;
      } else {
        last = byte;
        same = 1;
      }
    }
    left -= to - from;
  }
  setI32(result, R_CRC, ~crcUpdate(crc, outAt, o));
  if (flushed == 0) {
    setI32(result, R_OUT_LENGTH, o);
    setI32(result, R_EXPANDED_LENGTH, -1);
    return;
  }
  // The RLE1 form, in block order, where the output was (blockLength <= maxBlock < outCapacity).
  let w = 0;
  for (let p = 0; p < pieceCount; p++) {
    const from = i32At(piecesAt, 2 * p);
    const to = i32At(piecesAt, 2 * p + 1);
    memory.copy(outAt + <usize>w, raw + <usize>from, <usize>(to - from));
    w += to - from;
  }
  setI32(result, R_OUT_LENGTH, w);
  setI32(result, R_EXPANDED_LENGTH, flushed + o);
}

function buildCrcTables(): void {
  for (let i = 0; i < 256; i++) {
    let c = <u32>i << 24;
    for (let bit = 0; bit < 8; bit++) c = (c & 0x80000000) != 0 ? (c << 1) ^ 0x04c11db7 : c << 1;
    store<u32>(crcTables + (<usize>i << 2), c);
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const prev = load<u32>(crcTables + (<usize>((k - 1) * 256 + i) << 2));
      const next = (prev << 8) ^ load<u32>(crcTables + (<usize>(prev >>> 24) << 2));
      store<u32>(crcTables + (<usize>(k * 256 + i) << 2), next);
    }
  }
}

@inline function crcT(k: i32, index: u32): u32 {
  return load<u32>(crcTables + ((<usize>(k << 8) + <usize>index) << 2));
}

/** Big-endian CRC-32 register update over [at, at + length), slicing by 8. */
function crcUpdate(crc: u32, at: usize, length: i32): u32 {
  let c = crc;
  let i = 0;
  for (const stop = length - 7; i < stop; i += 8) {
    const p = at + <usize>i;
    const hi = c ^ bswap<u32>(load<u32>(p));
    const lo = bswap<u32>(load<u32>(p, 4));
    c =
      crcT(7, hi >>> 24) ^
      crcT(6, (hi >>> 16) & 0xff) ^
      crcT(5, (hi >>> 8) & 0xff) ^
      crcT(4, hi & 0xff) ^
      crcT(3, lo >>> 24) ^
      crcT(2, (lo >>> 16) & 0xff) ^
      crcT(1, (lo >>> 8) & 0xff) ^
      crcT(0, lo & 0xff);
  }
  for (; i < length; i++) c = (c << 8) ^ crcT(0, ((c >>> 24) ^ <u32>load<u8>(at + <usize>i)) & 0xff);
  return c;
}
