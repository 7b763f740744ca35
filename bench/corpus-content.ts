/**
 * File contents for the benchmark corpus: bytes that look and compress like a Solaris root.
 *
 * - `binary`: ELF-like. Runs of skewed "code" bytes, short back-references (what LZ77 finds in
 *   real code: repeated instruction sequences, relocation tables), zero padding, symbol-name
 *   strings and small-integer tables. Tuned so gzip -6 shrinks it about 2.6x, like /usr/lib.
 * - text flavours (`man`, `header`, `script`, `config`, `xml`, `pkg`, `text`): lines built from a
 *   Zipf-weighted vocabulary; gzip -6 shrinks them about 3-4x, like man pages and headers.
 * - `random`: incompressible (jar files, compressed archives, boot images).
 *
 * Every generator is a pure function of (kind, size, seed): duplicates are made by calling it again
 * with the same seed. Large files are produced in chunks with `ContentStream`.
 *
 * Hot path: this makes a few hundred MiB per corpus, so the inner loops work on Uint8Array with
 * table lookups, one PRNG call per 2-4 bytes. The tables below are built from fixed seeds, so they
 * are the same for every corpus seed.
 */
import { Rng } from './prng.js';

export type ContentKind =
  | 'binary'
  | 'random'
  | 'man'
  | 'header'
  | 'script'
  | 'config'
  | 'xml'
  | 'pkg'
  | 'text';

export const TEXT_KINDS: readonly ContentKind[] = ['man', 'header', 'script', 'config', 'xml', 'pkg', 'text'];

// ---- shared tables (fixed seeds: identical for every corpus) ----

/** 64 Ki entries mapping a uniform 16-bit number to a byte with a skewed, code-like distribution. */
const CODE_TABLE: Uint8Array = (() => {
  const rng = new Rng(0xc0de);
  const perm = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 255; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  // Keep 0x00 and 0xff (and a few x86-ish favourites) frequent, as in real machine code.
  const favourites = [0x00, 0xff, 0x48, 0x89, 0x8b, 0xe8, 0x24, 0x0f, 0x45, 0x85, 0x74, 0xc7];
  const order = [...favourites, ...perm.filter((b) => !favourites.includes(b))];
  const weights = order.map((_, rank) => 1 / Math.pow(rank + 4, 1.85));
  const total = weights.reduce((s, w) => s + w, 0);
  const table = new Uint8Array(65536);
  let at = 0;
  for (let r = 0; r < 256; r++) {
    const n = r === 255 ? 65536 - at : Math.round((weights[r]! / total) * 65536);
    table.fill(order[r]!, at, Math.min(65536, at + n));
    at = Math.min(65536, at + n);
  }
  return table;
})();

const COMMON_WORDS = (
  'the of and to a in is be for not with on by this that are as or if it from an at no may ' +
  'file system zone user device default value option command specified set return error process ' +
  'directory name root kernel driver memory buffer interface network address service package patch ' +
  'install status mode format time read write open close lock thread signal pointer struct int char ' +
  'long size count flags list table entry page path link owner group number string output input ' +
  'manual section see also description synopsis options operands exit examples notes attributes ' +
  'environment solaris sun sunos usr bin lib etc var opt sbin man null void const unsigned static ' +
  'extern define include ifdef endif typedef uint32_t uint64_t size_t caddr_t dev_t mutex cv ' +
  'then else fi case esac echo test svc method start stop refresh smf fmri instance property'
).split(' ');

const SYLLABLES = (
  'ka ke ki ko ku sa si su se so ta ti tu te to na ni nu ne no ma mi mu me mo ra ri ru re ro ' +
  'da di du de do ba bi bu be bo pa pi pu pe po la li lu le lo fa fi fe fo va vi ve vo ga gi go ' +
  'str ctl cfg dev mgr fs io nfs tcp ip zfs ufs smb aud sec pkg cpu mem proc sched ldap krb ssl'
).split(' ');

/** Vocabulary: common words first (most frequent under Zipf), then synthetic identifiers. */
const WORDS: readonly Uint8Array[] = (() => {
  const rng = new Rng(0x70c4b);
  const seen = new Set<string>(COMMON_WORDS);
  const words = [...COMMON_WORDS];
  while (words.length < 3000) {
    let w = '';
    const n = rng.range(1, 4);
    for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
    if (!seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  return words.map((w) => ascii(w));
})();

/** 64 Ki entries mapping a uniform 16-bit number to a Zipf-distributed word index. */
const WORD_TABLE: Uint16Array = (() => {
  const n = WORDS.length;
  const weights = Array.from({ length: n }, (_, i) => 1 / Math.pow(i + 2, 1.05));
  const total = weights.reduce((s, w) => s + w, 0);
  const table = new Uint16Array(65536);
  let at = 0;
  for (let i = 0; i < n && at < 65536; i++) {
    const k = Math.max(1, Math.round((weights[i]! / total) * 65536));
    table.fill(i, at, Math.min(65536, at + k));
    at += k;
  }
  if (at < 65536) table.fill(n - 1, at);
  return table;
})();

/** A word for file names and symbols (exported for the tree builder). */
export function word(rng: Rng): string {
  return decodeAscii(WORDS[WORD_TABLE[rng.u32() & 0xffff]!]!);
}

/** A synthetic identifier, mostly unique: for file and directory names. */
export function identifier(rng: Rng, minSyl = 1, maxSyl = 3): string {
  let w = '';
  const n = rng.range(minSyl, maxSyl);
  for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
  return w;
}

// ---- generators ----

/**
 * Produces a file's bytes chunk by chunk; the same (kind, size, seed) gives the same bytes whatever
 * the chunk sizes, as long as chunks are asked for in order with the same lengths (we always use
 * `CHUNK`). Back-references never reach across chunks, which costs nothing measurable.
 */
export class ContentStream {
  static readonly CHUNK = 1 << 20;
  private readonly rng: Rng;
  private left: number;

  constructor(
    readonly kind: ContentKind,
    readonly size: number,
    seed: number,
  ) {
    this.rng = new Rng(seed);
    this.left = size;
  }

  /** Fills and returns the next chunk (a view of `scratch`), or null at the end. */
  next(scratch: Uint8Array): Uint8Array | null {
    if (this.left === 0) return null;
    const n = Math.min(this.left, ContentStream.CHUNK, scratch.length);
    const out = scratch.subarray(0, n);
    fill(this.kind, this.rng, out);
    this.left -= n;
    return out;
  }
}

/** Fills `out` completely with content of the given kind. */
export function fill(kind: ContentKind, rng: Rng, out: Uint8Array): void {
  switch (kind) {
    case 'binary':
      return fillBinary(rng, out);
    case 'random':
      return fillRandom(rng, out);
    default:
      return fillText(kind, rng, out);
  }
}

function fillRandom(rng: Rng, out: Uint8Array): void {
  const n = out.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = rng.u32();
    out[i] = v;
    out[i + 1] = v >>> 8;
    out[i + 2] = v >>> 16;
    out[i + 3] = v >>> 24;
  }
  for (; i < n; i++) out[i] = rng.u32();
}

/** Hot path (tuned by measuring gzip -6 ratio and MB/s): segment mix of an ELF-like file. */
function fillBinary(rng: Rng, out: Uint8Array): void {
  const n = out.length;
  let p = 0;
  // ELF-ish header so `file` and magic sniffers see something plausible.
  if (n >= 64) {
    out.set(ELF_HEAD, 0);
    out.fill(0, ELF_HEAD.length, 64);
    p = 64;
  }
  while (p < n) {
    const r = rng.u32();
    const sel = r & 0xff;
    let len: number;
    if (sel < 100) {
      // machine code: skewed bytes
      len = Math.min(n - p, 4 + ((r >>> 8) & 0x2f));
      const end = p + len;
      while (p + 1 < end) {
        const v = rng.u32();
        out[p++] = CODE_TABLE[v & 0xffff]!;
        out[p++] = CODE_TABLE[v >>> 16]!;
      }
      if (p < end) out[p++] = CODE_TABLE[rng.u32() & 0xffff]!;
    } else if (sel < 200) {
      // repeated sequence from earlier in the file (what LZ77 finds)
      if (p < 16) {
        out[p++] = 0;
        continue;
      }
      const dist = 1 + ((r >>> 8) % Math.min(p, 6000));
      len = Math.min(n - p, 6 + ((r >>> 24) & 0x3f));
      let s = p - dist;
      for (let k = 0; k < len; k++) out[p++] = out[s++]!;
    } else if (sel < 214) {
      // zero padding; now and then a long alignment gap
      len = Math.min(n - p, (r >>> 8) % 23 === 0 ? 256 + ((r >>> 16) & 0x3ff) : 2 + ((r >>> 8) & 0x3f));
      out.fill(0, p, p + len);
      p += len;
    } else if (sel < 240) {
      // symbol / message string, NUL-terminated
      const words = 1 + ((r >>> 8) & 3);
      for (let k = 0; k < words && p < n; k++) {
        const w = WORDS[WORD_TABLE[rng.u32() & 0xffff]!]!;
        const m = Math.min(w.length, n - p);
        out.set(m === w.length ? w : w.subarray(0, m), p);
        p += m;
        if (p < n) out[p++] = k + 1 < words ? 0x5f : 0;
      }
    } else {
      // table of small little-endian integers (relocations, symbol table fields)
      const entries = 2 + ((r >>> 8) & 0x0f);
      const hi = (r >>> 16) & 0xff;
      for (let k = 0; k < entries && p < n; k++) {
        const v = rng.u32();
        const quad = [v & 0x3f, (v >>> 8) & 0x0f, hi, 0];
        for (let q = 0; q < 4 && p < n; q++) out[p++] = quad[q]!;
      }
    }
  }
}

const ELF_HEAD = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 6, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0x3e, 0, 1, 0, 0, 0]);

/** Line-oriented text; the flavour decides the line shapes. */
function fillText(kind: ContentKind, rng: Rng, out: Uint8Array): void {
  const w = new LineWriter(out);
  if (kind === 'script' && w.room()) w.str('#!/sbin/sh\n#\n# Copyright 2010 Sun Microsystems, Inc.  All rights reserved.\n#\n');
  if (kind === 'xml' && w.room()) w.str('<?xml version="1.0"?>\n<!DOCTYPE service_bundle SYSTEM "/usr/share/lib/xml/dtd/service_bundle.dtd.1">\n');
  while (w.room()) {
    switch (kind) {
      case 'man':
        manLine(w, rng);
        break;
      case 'header':
        headerLine(w, rng);
        break;
      case 'script':
        scriptLine(w, rng);
        break;
      case 'config':
        configLine(w, rng);
        break;
      case 'xml':
        xmlLine(w, rng);
        break;
      case 'pkg':
        pkgLine(w, rng);
        break;
      default:
        w.sentence(rng, 6, 14);
        w.str('\n');
    }
  }
}

function manLine(w: LineWriter, rng: Rng): void {
  const r = rng.int(20);
  if (r === 0) {
    w.str('.SH ');
    w.upper(rng);
  } else if (r < 3) {
    w.str(rng.pick(['.B ', '.BI ', '.I ', '.IR ', '.BR ']));
    w.word(rng);
    if (r === 2) {
      w.str(' (');
      w.str(String(rng.range(1, 9)));
      w.str(')');
    }
  } else if (r === 3) {
    w.str(rng.pick(['.sp', '.LP', '.PP', '.TP', '.RS', '.RE', '.in +2', '.ne 2', '.na', '.ad']));
  } else {
    w.sentence(rng, 5, 13);
  }
  w.str('\n');
}

function headerLine(w: LineWriter, rng: Rng): void {
  const r = rng.int(12);
  if (r < 4) {
    w.str('#define\t');
    w.upper(rng);
    w.str('_');
    w.upper(rng);
    w.str('\t0x');
    w.str(rng.u32().toString(16).slice(0, rng.range(1, 8)));
  } else if (r < 7) {
    w.str(' * ');
    w.sentence(rng, 4, 12);
  } else if (r < 9) {
    w.str(rng.pick(['extern int ', 'extern void ', 'static int ', 'extern size_t ', 'typedef struct ']));
    w.word(rng);
    w.str('_');
    w.word(rng);
    w.str('(');
    w.str(rng.pick(['struct ', 'const char *', 'int ', 'void *', 'uint32_t ']));
    w.word(rng);
    w.str(');');
  } else if (r === 9) {
    w.str('\t');
    w.str(rng.pick(['int', 'uint32_t', 'caddr_t', 'struct proc *', 'kmutex_t', 'size_t']));
    w.str('\t');
    w.word(rng);
    w.str('_');
    w.word(rng);
    w.str(';');
  } else {
    w.str(rng.pick(['#ifdef\t_KERNEL', '#endif', '#ifdef __cplusplus', '}', '/*', ' */', '']));
  }
  w.str('\n');
}

function scriptLine(w: LineWriter, rng: Rng): void {
  const r = rng.int(10);
  if (r < 2) {
    w.str('# ');
    w.sentence(rng, 3, 10);
  } else if (r < 4) {
    w.str(rng.pick(['if [ -f ', 'if [ -x ', 'if [ -z "$', 'case "$']));
    w.upper(rng);
    w.str(rng.pick(['" ]; then', ' ]; then', '" in']));
  } else if (r < 7) {
    w.str('\t');
    w.str(rng.pick(['/usr/bin/', '/usr/sbin/', '/lib/svc/bin/', '']));
    w.word(rng);
    w.str(' -');
    w.str(String.fromCharCode(97 + rng.int(26)));
    w.str(' ');
    w.word(rng);
    w.str(rng.pick([' >/dev/null 2>&1', '', ' || exit $SMF_EXIT_ERR_CONFIG']));
  } else if (r < 8) {
    w.upper(rng);
    w.str('=');
    w.str(rng.pick(['/var/', '/etc/', '/usr/lib/', '']));
    w.word(rng);
  } else {
    w.str(rng.pick(['fi', 'esac', ';;', 'exit $SMF_EXIT_OK', 'done', '']));
  }
  w.str('\n');
}

function configLine(w: LineWriter, rng: Rng): void {
  const r = rng.int(6);
  if (r < 2) {
    w.str('# ');
    w.sentence(rng, 3, 12);
  } else if (r < 5) {
    if (r === 4) w.str('#');
    w.upper(rng);
    w.str('=');
    w.str(rng.pick(['YES', 'NO', '/usr/lib/', '/etc/', '', '0', '1']));
    if (rng.chance(0.5)) w.word(rng);
  } else {
    w.word(rng);
    w.str('\t');
    w.word(rng);
    w.str('\t');
    w.str(String(rng.int(65536)));
  }
  w.str('\n');
}

function xmlLine(w: LineWriter, rng: Rng): void {
  const r = rng.int(5);
  if (r < 3) {
    w.str("\t\t<propval name='");
    w.word(rng);
    w.str("' type='");
    w.str(rng.pick(['astring', 'boolean', 'count', 'integer']));
    w.str("' value='");
    w.word(rng);
    w.str("' />");
  } else if (r === 3) {
    w.str("\t<dependency name='");
    w.word(rng);
    w.str("' grouping='require_all' restart_on='none' type='service'>");
  } else {
    w.str('\t\t\t');
    w.sentence(rng, 4, 10);
  }
  w.str('\n');
}

/** /var/sadm: pkginfo lines and contents-file lines. */
function pkgLine(w: LineWriter, rng: Rng): void {
  if (rng.chance(0.7)) {
    w.str(rng.pick(['/usr/bin/', '/usr/lib/', '/usr/share/man/man1/', '/etc/', '/usr/sbin/', '/kernel/drv/']));
    w.word(rng);
    w.str(rng.pick([' f none 0555 root bin ', ' f none 0444 root bin ', ' d none 0755 root sys ', ' f none 0644 root sys ']));
    w.str(String(rng.int(200000)));
    w.str(' ');
    w.str(String(rng.int(65536)));
    w.str(' ');
    w.str(String(1100000000 + rng.int(200000000)));
    w.str(' SUNW');
    w.word(rng);
  } else {
    w.upper(rng);
    w.str('=');
    w.sentence(rng, 1, 6);
  }
  w.str('\n');
}

/** Writes ASCII into a fixed buffer and silently stops at its end (files are cut mid-line). */
class LineWriter {
  private p = 0;
  constructor(private readonly out: Uint8Array) {}

  room(): boolean {
    return this.p < this.out.length;
  }

  bytes(b: Uint8Array): void {
    const m = Math.min(b.length, this.out.length - this.p);
    if (m <= 0) return;
    this.out.set(m === b.length ? b : b.subarray(0, m), this.p);
    this.p += m;
  }

  str(s: string): void {
    const out = this.out;
    const end = Math.min(out.length, this.p + s.length);
    for (let i = 0; this.p < end; i++) out[this.p++] = s.charCodeAt(i);
  }

  word(rng: Rng): void {
    this.bytes(WORDS[WORD_TABLE[rng.u32() & 0xffff]!]!);
  }

  upper(rng: Rng): void {
    const wd = WORDS[WORD_TABLE[rng.u32() & 0xffff]!]!;
    const out = this.out;
    for (let i = 0; i < wd.length && this.p < out.length; i++) {
      const c = wd[i]!;
      out[this.p++] = c >= 0x61 && c <= 0x7a ? c - 32 : c;
    }
  }

  sentence(rng: Rng, min: number, max: number): void {
    const n = rng.range(min, max);
    for (let i = 0; i < n; i++) {
      if (i > 0) this.str(' ');
      this.word(rng);
    }
    this.str(rng.pick(['.', '.', ',', '', ':']));
  }
}

function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0x7f;
  return b;
}

function decodeAscii(b: Uint8Array): string {
  return String.fromCharCode(...b);
}
