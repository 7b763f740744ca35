/**
 * The xz filters that may precede LZMA2 in a block: Delta and the branch/call/jump (BCJ)
 * converters for executables (`xz --x86`, `--sparc`, ... : Solaris ships x86 and SPARC code).
 * Decoder direction only, after liblzma's simple/*.c and delta_decoder.c.
 *
 * A BCJ converter looks a few bytes ahead (x86: 5), so each keeps the unconverted tail of one
 * piece and prepends it to the next; at the end of the block the tail passes through as is.
 * Pieces handed to `process` are owned by the filter (they are fresh copies) and converted in place.
 */

export interface BlockFilter {
  process(data: Uint8Array): Uint8Array;
  finish(): Uint8Array;
}

/** Converts buf[0, n) in place for position `pos`, returns how many leading bytes are final. */
type Converter = (buf: Uint8Array, pos: number) => number;

class SimpleFilter implements BlockFilter {
  private tail = new Uint8Array(0);
  constructor(
    private readonly convert: Converter,
    private pos: number,
  ) {}

  process(data: Uint8Array): Uint8Array {
    let buf = data;
    if (this.tail.length > 0) {
      buf = new Uint8Array(this.tail.length + data.length);
      buf.set(this.tail, 0);
      buf.set(data, this.tail.length);
    }
    const done = this.convert(buf, this.pos);
    this.pos = (this.pos + done) >>> 0;
    this.tail = buf.slice(done);
    return buf.subarray(0, done);
  }

  finish(): Uint8Array {
    const rest = this.tail;
    this.tail = new Uint8Array(0);
    return rest;
  }
}

function x86(): Converter {
  const allowed = [true, true, true, false, true, false, false, false];
  const bitNumber = [0, 1, 2, 2, 3, 3, 3, 3];
  let prevMask = 0;
  let prevPos = 0xfffffffb; // (uint32_t)-5
  const msByte = (b: number) => b === 0 || b === 0xff;
  return (buf, nowPos) => {
    const size = buf.length;
    if (size < 5) return 0;
    if (((nowPos - prevPos) >>> 0) > 5) prevPos = (nowPos - 5) >>> 0;
    const limit = size - 5;
    let i = 0;
    while (i <= limit) {
      let b = buf[i]!;
      if (b !== 0xe8 && b !== 0xe9) {
        i++;
        continue;
      }
      const offset = (nowPos + i - prevPos) >>> 0;
      prevPos = (nowPos + i) >>> 0;
      if (offset > 5) {
        prevMask = 0;
      } else {
        for (let k = 0; k < offset; k++) prevMask = ((prevMask & 0x77) << 1) & 0xff;
      }
      b = buf[i + 4]!;
      if (msByte(b) && allowed[(prevMask >>> 1) & 7] && prevMask >>> 1 < 0x10) {
        let src = ((b << 24) | (buf[i + 3]! << 16) | (buf[i + 2]! << 8) | buf[i + 1]!) >>> 0;
        let dest: number;
        for (;;) {
          dest = (src - (nowPos + i + 5)) >>> 0;
          if (prevMask === 0) break;
          const j = bitNumber[prevMask >>> 1]!;
          b = (dest >>> (24 - j * 8)) & 0xff;
          if (!msByte(b)) break;
          src = (dest ^ (2 ** (32 - j * 8) - 1)) >>> 0;
        }
        buf[i + 4] = ~(((dest >>> 24) & 1) - 1) & 0xff;
        buf[i + 3] = (dest >>> 16) & 0xff;
        buf[i + 2] = (dest >>> 8) & 0xff;
        buf[i + 1] = dest & 0xff;
        i += 5;
        prevMask = 0;
      } else {
        i++;
        prevMask |= 1;
        if (msByte(b)) prevMask |= 0x10;
      }
    }
    return i;
  };
}

const powerpc: Converter = (buf, nowPos) => {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    if (buf[i]! >>> 2 === 0x12 && (buf[i + 3]! & 3) === 1) {
      const src = (((buf[i]! & 3) << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | (buf[i + 3]! & ~3)) >>> 0;
      const dest = (src - (nowPos + i)) >>> 0;
      buf[i] = 0x48 | ((dest >>> 24) & 3);
      buf[i + 1] = (dest >>> 16) & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 3] = (buf[i + 3]! & 3) | (dest & 0xfc);
    }
  }
  return i;
};

const arm: Converter = (buf, nowPos) => {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    if (buf[i + 3] === 0xeb) {
      const src = ((buf[i + 2]! << 16) | (buf[i + 1]! << 8) | buf[i]!) << 2;
      const dest = ((src - (nowPos + i + 8)) >>> 0) >>> 2;
      buf[i + 2] = (dest >>> 16) & 0xff;
      buf[i + 1] = (dest >>> 8) & 0xff;
      buf[i] = dest & 0xff;
    }
  }
  return i;
};

const armThumb: Converter = (buf, nowPos) => {
  let i = 0;
  for (; i + 4 <= buf.length; i += 2) {
    if ((buf[i + 1]! & 0xf8) === 0xf0 && (buf[i + 3]! & 0xf8) === 0xf8) {
      const src = (((buf[i + 1]! & 7) << 19) | (buf[i]! << 11) | ((buf[i + 3]! & 7) << 8) | buf[i + 2]!) << 1;
      const dest = ((src - (nowPos + i + 4)) >>> 0) >>> 1;
      buf[i + 1] = 0xf0 | ((dest >>> 19) & 7);
      buf[i] = (dest >>> 11) & 0xff;
      buf[i + 3] = 0xf8 | ((dest >>> 8) & 7);
      buf[i + 2] = dest & 0xff;
      i += 2;
    }
  }
  return i;
};

const arm64: Converter = (buf, nowPos) => {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    let pc = (nowPos + i) >>> 0;
    let instr = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) >>> 0;
    if (instr >>> 26 === 0x25) {
      // BL
      const src = instr;
      pc = (0 - (pc >>> 2)) >>> 0;
      instr = (0x94000000 | ((src + pc) & 0x03ffffff)) >>> 0;
    } else if (((instr & 0x9f000000) >>> 0) === 0x90000000) {
      // ADRP
      const src = ((instr >>> 29) & 3) | ((instr >>> 3) & 0x001ffffc);
      if (((src + 0x00020000) & 0x001c0000) !== 0) continue;
      pc = (0 - (pc >>> 12)) >>> 0;
      const dest = (src + pc) >>> 0;
      instr = (instr & 0x9000001f) >>> 0;
      instr |= (dest & 3) << 29;
      instr |= (dest & 0x0003fffc) << 3;
      instr |= (0 - (dest & 0x00020000)) & 0x00e00000;
      instr >>>= 0;
    } else {
      continue;
    }
    buf[i] = instr & 0xff;
    buf[i + 1] = (instr >>> 8) & 0xff;
    buf[i + 2] = (instr >>> 16) & 0xff;
    buf[i + 3] = instr >>> 24;
  }
  return i;
};

const sparc: Converter = (buf, nowPos) => {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    if ((buf[i] === 0x40 && (buf[i + 1]! & 0xc0) === 0) || (buf[i] === 0x7f && (buf[i + 1]! & 0xc0) === 0xc0)) {
      const src = ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) << 2;
      let dest = ((src - (nowPos + i)) >>> 0) >>> 2;
      dest = (((((0 - ((dest >>> 22) & 1)) << 22) & 0x3fffffff) | (dest & 0x3fffff) | 0x40000000) >>> 0);
      buf[i] = dest >>> 24;
      buf[i + 1] = (dest >>> 16) & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 3] = dest & 0xff;
    }
  }
  return i;
};

class DeltaFilter implements BlockFilter {
  private readonly history = new Uint8Array(256);
  private pos = 0;
  constructor(private readonly distance: number) {}

  process(data: Uint8Array): Uint8Array {
    const history = this.history;
    const distance = this.distance;
    let pos = this.pos;
    for (let i = 0; i < data.length; i++) {
      const b = (data[i]! + history[(distance + pos) & 0xff]!) & 0xff;
      data[i] = b;
      history[pos & 0xff] = b;
      pos = (pos - 1) & 0xff;
    }
    this.pos = pos;
    return data;
  }

  finish(): Uint8Array {
    return new Uint8Array(0);
  }
}

/** Filter IDs (xz file format, 5.3) with their names, for messages. */
export const filterNames: Record<number, string> = {
  0x03: 'Delta',
  0x04: 'x86 BCJ',
  0x05: 'PowerPC BCJ',
  0x06: 'IA-64 BCJ',
  0x07: 'ARM BCJ',
  0x08: 'ARM-Thumb BCJ',
  0x09: 'SPARC BCJ',
  0x0a: 'ARM64 BCJ',
  0x0b: 'RISC-V BCJ',
  0x21: 'LZMA2',
};

/**
 * A decoder for non-last filter `id` with properties `props`; a string saying why not when the
 * filter is unknown or unsupported here, or its properties are invalid.
 */
export function createBlockFilter(id: number, props: Uint8Array): BlockFilter | { invalid: string } | { unsupported: string } {
  if (id === 0x03) {
    if (props.length !== 1) return { invalid: 'Delta filter properties must be 1 byte' };
    return new DeltaFilter(props[0]! + 1);
  }
  const converters: Record<number, () => Converter> = {
    0x04: x86,
    0x05: () => powerpc,
    0x07: () => arm,
    0x08: () => armThumb,
    0x09: () => sparc,
    0x0a: () => arm64,
  };
  const make = converters[id];
  if (!make) {
    const name = filterNames[id];
    return { unsupported: name ? `the ${name} filter is not supported` : `unknown filter ID 0x${id.toString(16)}` };
  }
  let start = 0;
  if (props.length === 4) {
    start = (props[0]! | (props[1]! << 8) | (props[2]! << 16) | (props[3]! << 24)) >>> 0;
  } else if (props.length !== 0) {
    return { invalid: `${filterNames[id]} filter properties must be 0 or 4 bytes` };
  }
  return new SimpleFilter(make(), start);
}
