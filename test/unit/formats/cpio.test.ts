/**
 * The cpio reader (src/formats/cpio), every variant, read through listEntries() exactly as the
 * CLI reads an image.
 *
 * 1. libarchive's reference archives (../shared/fixtures/libarchive; skipped when absent), with
 *    the values libarchive's own tests assert.
 * 2. A small tree archived by GNU cpio as odc, newc, crc and bin: each archive must describe the
 *    tree (lstat), and the four must agree entry by entry.
 * 3. Chunk boundaries: every archive above fed 1..13 bytes at a time reads exactly like the
 *    whole buffer (ByteReader joins what straddles; the parser must never see a boundary).
 * 4. crc checksums: GNU's unsigned sum and Solaris' signed-char sum pass silently, anything else
 *    is a P2V_BAD_CHECKSUM warning and the entry is still delivered.
 * 5. Hostile bytes: truncation at every offset, garbage, mutated archives, bad fields. The only
 *    acceptable failure is a P2VError with a numeric offset; nothing may hang.
 *
 * Hard links are compared through `canonical()`: newc/crc writers put the data on the LAST name
 * of a link group and bin/odc on the FIRST, so the reader's data-carrying member differs by
 * format (gcpio_compat_ref.bin gives file + linkfile→file, .newc gives linkfile + file→linkfile).
 * What must not differ is the result: the same names, the same link groups, the same bytes.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listEntries } from '../../../src/list.js';
import { bufferSource } from '../../../src/io/source.js';
import { isP2VError, type P2VError } from '../../../src/errors.js';
import type { Entry } from '../../../src/entry.js';
import type { Warning } from '../../../src/extract/types.js';
import type { Limits } from '../../../src/limits.js';
import { haveTool, run, sh } from '../../helpers/tools.js';

// ---------------------------------------------------------------------------------------------
// reading

interface Snap {
  path: string;
  type: Entry['type'];
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  linkTarget: string | undefined;
  devMajor: number | undefined;
  devMinor: number | undefined;
  body: Buffer | undefined;
  offset: number;
}

interface ErrorSnap {
  code: string;
  message: string;
  offset: number | undefined;
  layer: string | undefined;
}

interface Outcome {
  chain: string[];
  /** entries whose body was read completely (all of them, unless `error`) */
  entries: Snap[];
  warnings: Warning[];
  error?: P2VError;
}

interface ReadOptions {
  /** bytes per source chunk (bufferSource's third argument); default: the whole buffer */
  chunk?: number;
  limits?: Partial<Limits>;
  /** read bodies through entry.body.chunks() (default); false leaves them to the reader */
  bodies?: boolean;
  name?: string;
}

function snap(entry: Entry, body: Buffer | undefined): Snap {
  return {
    path: entry.path,
    type: entry.type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.size,
    mtimeNs: entry.mtimeNs,
    linkTarget: entry.linkTarget,
    devMajor: entry.devMajor,
    devMinor: entry.devMinor,
    body,
    offset: entry.offset,
  };
}

/** Read an archive completely. A P2VError ends up in `error`; any other exception propagates. */
async function readArchive(bytes: Uint8Array, options: ReadOptions = {}): Promise<Outcome> {
  const name = options.name ?? 'test.cpio';
  const warnings: Warning[] = [];
  const outcome: Outcome = { chain: [], entries: [], warnings };
  try {
    const opened = await listEntries({ image: name, source: bufferSource(name, bytes, options.chunk ?? Math.max(bytes.length, 1)), limits: options.limits }, warnings);
    outcome.chain = opened.chain;
    for await (const entry of opened.entries) {
      let body: Buffer | undefined;
      // (a hard link's body is the optional copy odc/bin carry, Entry.linkDataSize: not read here)
      if (entry.body && entry.type !== 'hardlink' && options.bodies !== false) {
        const pieces: Buffer[] = [];
        // pieces may alias the reader's buffers: copy
        for await (const piece of entry.body.chunks()) pieces.push(Buffer.from(piece));
        body = Buffer.concat(pieces);
        assert.equal(body.length, entry.size, `${entry.path}: body length equals entry.size`);
      }
      outcome.entries.push(snap(entry, body));
    }
  } catch (error) {
    if (!isP2VError(error)) throw error;
    outcome.error = error;
  }
  return outcome;
}

function errorSnap(error: P2VError | undefined): ErrorSnap | undefined {
  return error && { code: error.code, message: error.message, offset: error.details.offset, layer: error.details.layer };
}

/** What must be identical however the bytes arrive. */
function comparable(outcome: Outcome) {
  return { chain: outcome.chain, entries: outcome.entries, warnings: outcome.warnings, error: errorSnap(outcome.error) };
}

function assertOk(outcome: Outcome, what: string): void {
  if (outcome.error) assert.fail(`${what}: unexpected error ${outcome.error.code}: ${outcome.error.oneLine()}`);
}

/** A P2VError of one of `codes`, with a numeric offset in [0, maxOffset], naming the image. */
function assertP2VFailure(outcome: Outcome, what: string, maxOffset: number, codes: readonly string[] = ['P2V_BAD_ARCHIVE']): P2VError {
  const error = outcome.error;
  assert.ok(error, `${what}: expected a P2VError, got ${outcome.entries.length} entries and no error`);
  assert.ok(codes.includes(error.code), `${what}: code ${error.code} (${error.oneLine()}) not in ${codes.join(', ')}`);
  assert.equal(typeof error.details.offset, 'number', `${what}: numeric offset in ${error.oneLine()}`);
  assert.ok(error.details.offset! >= 0 && error.details.offset! <= maxOffset, `${what}: offset ${error.details.offset} in [0, ${maxOffset}]`);
  assert.equal(error.details.image, 'test.cpio', `${what}: the error names the image`);
  return error;
}

const sec = (s: number) => BigInt(s) * 1_000_000_000n;
const text = (s: string) => Buffer.from(s, 'latin1');

/**
 * Archive-independent form: hard links resolved to their data member (type 'file', its size and
 * body), each member of a link group listing the whole group; sorted by name. Offsets dropped.
 */
function canonical(entries: readonly Snap[]) {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const rootOf = (e: Snap): Snap => {
    let at = e;
    for (let hops = 0; at.type === 'hardlink'; hops++) {
      assert.ok(hops < entries.length, `hard-link loop at ${e.path}`);
      const next = byPath.get(at.linkTarget!);
      assert.ok(next, `${at.path}: hard link to "${at.linkTarget}", which the archive never delivered`);
      at = next;
    }
    return at;
  };
  const groups = new Map<string, string[]>();
  for (const e of entries) {
    if (e.type !== 'hardlink') continue;
    const root = rootOf(e).path;
    if (!groups.has(root)) groups.set(root, [root]);
    groups.get(root)!.push(e.path);
  }
  return entries
    .map((e) => {
      const root = rootOf(e);
      return {
        path: e.path,
        type: root.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtimeNs: e.mtimeNs,
        size: root.size,
        linkTarget: e.type === 'hardlink' ? undefined : e.linkTarget,
        devMajor: e.devMajor,
        devMinor: e.devMinor,
        body: root.body?.toString('hex'),
        links: [...(groups.get(root.path) ?? [])].sort(),
      };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// archives

/** libarchive's fixtures: $ZONEP2V_LIBARCHIVE_FIXTURES, or ../shared/fixtures/libarchive next to the repo. */
const fixtureDir: string | undefined = (() => {
  const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
  const candidates = [
    process.env.ZONEP2V_LIBARCHIVE_FIXTURES,
    path.resolve(repoRoot, '../shared/fixtures/libarchive'),
    path.resolve(repoRoot, '../../shared/fixtures/libarchive'),
    path.resolve(process.cwd(), '../shared/fixtures/libarchive'),
  ];
  return candidates.find((dir) => dir !== undefined && fs.existsSync(path.join(dir, 'test_compat_cpio_1.cpio')));
})();

function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(fixtureDir!, name));
}

function skipWithoutFixtures(t: TestContext): boolean {
  if (fixtureDir) return false;
  t.skip('libarchive fixtures not found (../shared/fixtures/libarchive or $ZONEP2V_LIBARCHIVE_FIXTURES)');
  return true;
}

const fixtureNames = [
  'test_read_format_cpio_bin_be.cpio',
  'test_read_format_cpio_bin_le.cpio',
  'test_compat_cpio_1.cpio',
  'test_read_format_cpio_afio_header.part1.cpio',
  'test_read_format_cpio_symlink_trailer.cpio',
  'test_gcpio_compat_ref.bin',
  'test_gcpio_compat_ref.crc',
  'test_gcpio_compat_ref.newc',
  'test_extract.cpio.gz',
];

/** The afio large-header fixture is one header cut in two files (libarchive reads them as one stream). */
function afioJoined(): Buffer {
  return Buffer.concat([fixture('test_read_format_cpio_afio_header.part1.cpio'), fixture('test_read_format_cpio_afio_header.part2.cpio')]);
}

/** An odc TRAILER!!! member. */
function odcTrailer(): Buffer {
  return text(`070707${'0'.repeat(30)}000001${'0'.repeat(6)}${'0'.repeat(11)}000013${'0'.repeat(11)}TRAILER!!!\0`);
}

/** Every archive the chunk and truncation tests run over: fixtures (when present) and GNU cpio output. */
function allArchives(): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  if (fixtureDir) {
    for (const name of fixtureNames) out.push([name, fixture(name)]);
    out.push(['afio part1+part2+trailer', Buffer.concat([afioJoined(), odcTrailer()])]);
  }
  const gnu = gnuArchives();
  if (gnu) for (const [format, bytes] of gnu.archives) out.push([`GNU cpio -H ${format}`, bytes]);
  for (const [name, bytes] of handMade()) out.push([name, bytes]);
  return out;
}

// --- hand-made newc, for fields no writer produces -------------------------------------------

interface NewcMember {
  name: string;
  mode?: number;
  uid?: number;
  gid?: number;
  nlink?: number;
  ino?: number;
  mtime?: number;
  data?: Uint8Array | string;
  /** override the declared filesize */
  fileSize?: number;
  /** override the declared namesize */
  nameSize?: number;
  check?: number;
  magic?: '070701' | '070702';
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function newcMember(m: NewcMember): Buffer {
  const data = typeof m.data === 'string' ? text(m.data) : Buffer.from(m.data ?? new Uint8Array(0));
  const name = text(`${m.name}\0`);
  const header = text(
    (m.magic ?? '070701') +
      [m.ino ?? 1, m.mode ?? 0o100644, m.uid ?? 0, m.gid ?? 0, m.nlink ?? 1, m.mtime ?? 1_000_000_000, m.fileSize ?? data.length, 0, 0, 0, 0, m.nameSize ?? name.length, m.check ?? 0]
        .map(hex8)
        .join(''),
  );
  return Buffer.concat([header, name, Buffer.alloc(pad4(110 + name.length)), data, Buffer.alloc(pad4(data.length))]);
}

function newcArchive(members: NewcMember[], magic: '070701' | '070702' = '070701'): Buffer {
  return Buffer.concat([...members.map((m) => newcMember({ magic, ...m })), newcMember({ name: 'TRAILER!!!', mode: 0, ino: 0, mtime: 0, magic })]);
}

function handMade(): Array<[string, Buffer]> {
  return [
    [
      'hand-made newc',
      newcArchive([
        { name: 'd', mode: 0o40755, ino: 10, nlink: 2 },
        { name: 'd/f', data: 'abcdefg', ino: 11 },
        { name: 'd/l1', ino: 12, nlink: 3 },
        { name: 'd/l2', ino: 12, nlink: 3 },
        { name: 'd/l3', ino: 12, nlink: 3, data: 'shared body\n' },
        { name: 'd/s', mode: 0o120777, ino: 13, data: '../etc/passwd' },
        { name: 'e1', ino: 14, nlink: 2 },
        { name: 'e2', ino: 14, nlink: 2 },
        { name: 'p', mode: 0o10644, ino: 15 },
      ]),
    ],
  ];
}

// --- GNU cpio ---------------------------------------------------------------------------------

interface TreeItem {
  path: string;
  type: Entry['type'];
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  size: number;
  linkTarget: string | undefined;
  devMajor: number | undefined;
  devMinor: number | undefined;
  body: string | undefined;
  links: string[];
}

const gnuFormats = ['odc', 'newc', 'crc', 'bin'] as const;
let gnuCache: { archives: Map<string, Buffer>; tree: TreeItem[]; devices: boolean } | null | undefined;

/** A small tree with every member type GNU cpio writes in all four formats, archived four ways. */
function gnuArchives(): typeof gnuCache {
  if (gnuCache !== undefined) return gnuCache;
  if (!haveTool('cpio')) return (gnuCache = null);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-cpio-unit-'));
  try {
    const root = path.join(work, 'tree');
    const p = (rel: string) => path.join(root, rel);
    fs.mkdirSync(p('d/sub'), { recursive: true });
    fs.writeFileSync(p('d/a.txt'), 'hello\n');
    fs.writeFileSync(p('empty'), '');
    const high = Buffer.alloc(1027);
    for (let i = 0; i < high.length; i++) high[i] = (i * 151 + 7) & 0xff;
    fs.writeFileSync(p('high.bin'), high);
    fs.writeFileSync(p('setuid'), '#!/bin/sh\n');
    fs.writeFileSync(p('h1'), 'linked three times\n');
    fs.linkSync(p('h1'), p('d/h2'));
    fs.linkSync(p('h1'), p('h3'));
    fs.writeFileSync(p('e1'), '');
    fs.linkSync(p('e1'), p('e2'));
    fs.writeFileSync(p(`d/sub/${'long-name-'.repeat(15)}x`), 'x');
    fs.symlinkSync('d/a.txt', p('s-rel'));
    fs.symlinkSync('/etc/passwd', p('s-abs'));
    fs.symlinkSync('sub', p('d/s-dir'));
    run('mkfifo', [p('fifo')]);
    let devices = false;
    try {
      run('mknod', [p('d/null'), 'c', '1', '3']);
      devices = true;
    } catch {
      // not root, or no CAP_MKNOD: no device in the tree
    }
    const owners = typeof process.getuid === 'function' && process.getuid() === 0;
    const items = sh('cd "$1" && find . -mindepth 1 -printf "%P\\n" | LC_ALL=C sort', [root]).stdout.toString('latin1').split('\n').filter(Boolean);
    let mtime = 1_234_567_890;
    for (const rel of items) {
      if (owners) fs.lchownSync(p(rel), 1000 + (rel.length % 7), 100 + (rel.length % 5));
      if (rel === 'setuid') fs.chmodSync(p(rel), 0o4755);
      if (rel === 'd') fs.chmodSync(p(rel), 0o2750);
    }
    // mtimes last: creating the entries above changed their directories' mtimes
    for (const rel of items) fs.lutimesSync(p(rel), mtime, (mtime += 3600));

    const tree: TreeItem[] = [];
    const inodes = new Map<number, string[]>();
    for (const rel of items) {
      const st = fs.lstatSync(p(rel));
      if (st.isFile() && st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    }
    for (const rel of items) {
      const st = fs.lstatSync(p(rel));
      const type: Entry['type'] = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : 'block';
      const dev = type === 'char' || type === 'block';
      tree.push({
        path: rel,
        type,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtimeNs: sec(Math.floor(st.mtimeMs / 1000)),
        size: type === 'file' ? st.size : 0,
        linkTarget: type === 'symlink' ? fs.readlinkSync(p(rel), { encoding: 'buffer' }).toString('latin1') : undefined,
        devMajor: dev ? Math.floor(st.rdev / 256) : undefined,
        devMinor: dev ? st.rdev % 256 : undefined,
        // an empty file has no body (entry.body is only there when there are bytes to read)
        body: type === 'file' && st.size > 0 ? fs.readFileSync(p(rel)).toString('hex') : undefined,
        links: type === 'file' && st.nlink > 1 ? [...inodes.get(st.ino)!].sort() : [],
      });
    }
    const archives = new Map<string, Buffer>();
    for (const format of gnuFormats) {
      const file = path.join(work, `tree.${format}`);
      sh('cd "$1" && find . -mindepth 1 -printf "%P\\n" | LC_ALL=C sort | cpio -o -H "$2" --quiet > "$3"', [root, format, file]);
      archives.set(format, fs.readFileSync(file));
    }
    gnuCache = { archives, tree, devices };
  } finally {
    if (!process.env.ZONEP2V_KEEP_TEST_FILES) fs.rmSync(work, { recursive: true, force: true });
  }
  return gnuCache;
}

function skipWithoutCpio(t: TestContext): boolean {
  if (gnuArchives()) return false;
  t.skip('GNU cpio not installed');
  return true;
}

// ---------------------------------------------------------------------------------------------
// 1. libarchive fixtures

test('libarchive: binary cpio in both byte orders (test_read_format_cpio_bin_be/_le)', async (t) => {
  if (skipWithoutFixtures(t)) return;
  for (const [file, label] of [
    ['test_read_format_cpio_bin_be.cpio', 'cpio(bin-be)'],
    ['test_read_format_cpio_bin_le.cpio', 'cpio(bin-le)'],
  ] as const) {
    const outcome = await readArchive(fixture(file));
    assertOk(outcome, file);
    assert.deepEqual(outcome.chain, [label]);
    assert.deepEqual(outcome.warnings, []);
    assert.deepEqual(outcome.entries, [
      {
        path: 'file1111222233334444',
        type: 'file',
        mode: 0o644,
        uid: 1000,
        gid: 0,
        size: 5,
        mtimeNs: sec(1240664175),
        linkTarget: undefined,
        devMajor: undefined,
        devMinor: undefined,
        body: text('abcde'),
        offset: 0,
      },
    ]);
  }
});

test('libarchive: repeated inode numbers with nlink 1 are not hard links (test_compat_cpio_1)', async (t) => {
  if (skipWithoutFixtures(t)) return;
  // foo1, foo2, bar1 and bar2 all carry inode 0x569ebe; foo1/foo2 have nlink 1 (distinct files
  // that a writer numbered alike), bar1/bar2 nlink 2 (a real pair; data on bar1, bar2 empty)
  const outcome = await readArchive(fixture('test_compat_cpio_1.cpio'));
  assertOk(outcome, 'test_compat_cpio_1');
  assert.deepEqual(outcome.chain, ['cpio(newc)']);
  const common = { mode: 0o644, uid: 1000, gid: 1000, mtimeNs: sec(1260250228), devMajor: undefined, devMinor: undefined };
  assert.deepEqual(outcome.entries, [
    { path: 'foo1', type: 'file', ...common, size: 4, linkTarget: undefined, body: text('foo\n'), offset: 0 },
    { path: 'foo2', type: 'file', ...common, size: 4, linkTarget: undefined, body: text('bar\n'), offset: 120 },
    { path: 'bar1', type: 'file', ...common, size: 4, linkTarget: undefined, body: text('baz\n'), offset: 240 },
    { path: 'bar2', type: 'hardlink', ...common, size: 0, linkTarget: 'bar1', body: undefined, offset: 360 },
  ]);
});

test('libarchive: afio large ASCII header (test_read_format_cpio_afio_header.part1/2)', async (t) => {
  if (skipWithoutFixtures(t)) return;
  // part1 is the first 76 bytes of a 116-byte 070727 header (76 = the odc header size, the
  // amount a reader that takes 070727 for odc would look at); part2 the rest plus the name "a".
  const part1 = fixture('test_read_format_cpio_afio_header.part1.cpio');
  const alone = await readArchive(part1);
  assert.deepEqual(alone.chain, ['cpio(afio)']);
  const error = assertP2VFailure(alone, 'part1 alone', 76);
  assert.equal(error.details.offset, 76);
  assert.equal(error.details.layer, 'cpio(afio)');
  assert.match(error.message, /truncated cpio\(afio\) header/);

  // joined, the header decodes (the "m", "n", "s", ":" separators are where afio puts them):
  // member "a" (namesize 1, no NUL), mode 0 = no file type, so it is skipped with a warning;
  // no trailer follows, so the archive then ends with a truncation error after byte 117
  const joined = afioJoined();
  assert.equal(joined.length, 117);
  const noTrailer = await readArchive(joined);
  assert.equal(assertP2VFailure(noTrailer, 'part1+part2', 117).details.offset, 117);
  assert.match(noTrailer.error!.message, /TRAILER/);
  assert.deepEqual(noTrailer.warnings.map((w) => [w.code, w.entry]), [['P2V_ENTRY_INVALID', 'a']]);

  const complete = await readArchive(Buffer.concat([joined, odcTrailer()]));
  assertOk(complete, 'part1+part2+trailer');
  assert.deepEqual(complete.entries, []);
  assert.deepEqual(complete.warnings.map((w) => [w.code, w.entry]), [['P2V_ENTRY_INVALID', 'a']]);

  // the same header with a file mode and a body: afio's hex sizes and octal mode decode
  const header = Buffer.from(joined.subarray(0, 116));
  header.write('100640', 31, 'latin1'); // mode, octal
  header.write('000003e9', 37, 'latin1'); // uid 1001, hex
  header.write('0000000000000003', 99, 'latin1'); // filesize 3, hex
  header.write('000000004a000000', 69, 'latin1'); // mtime
  const file = await readArchive(Buffer.concat([header, text('axyz'), odcTrailer()]));
  assertOk(file, 'afio file member');
  assert.deepEqual(
    file.entries.map((e) => [e.path, e.type, e.mode, e.uid, e.size, e.mtimeNs, e.body?.toString('latin1')]),
    [['a', 'file', 0o640, 1001, 3, sec(0x4a000000), 'xyz']],
  );
});

test('libarchive: a symlink named TRAILER!!! ends the archive (test_read_format_cpio_symlink_trailer)', async (t) => {
  if (skipWithoutFixtures(t)) return;
  // The fixture is one newc member: a symlink named "TRAILER!!!" with a 128 KiB body, then EOF.
  // libarchive's test opens it with 13-byte blocks and asserts that the FIRST
  // archive_read_next_header() returns ARCHIVE_EOF: the name ends the archive whatever the
  // member's type (its bug was reading the symlink body first, which freed the buffer holding
  // the name before the trailer comparison). So the correct result is: no entries, no error, and
  // the 128 KiB body is never taken for a link target (it is over maxLinkTargetBytes, so doing
  // that would be a P2V_LIMIT error instead of a clean end).
  const bytes = fixture('test_read_format_cpio_symlink_trailer.cpio');
  assert.equal(bytes.length, 110 + 12 + 128 * 1024 + 2);
  for (const chunk of [bytes.length, 13, 4096]) {
    const outcome = await readArchive(bytes, { chunk });
    assertOk(outcome, `chunk ${chunk}`);
    assert.deepEqual(outcome.chain, ['cpio(newc)']);
    assert.deepEqual(outcome.entries, []);
    assert.deepEqual(outcome.warnings, []);
  }
  // with a link-target limit far below the body, still a clean end
  const strict = await readArchive(bytes, { chunk: 13, limits: { maxLinkTargetBytes: 16 } });
  assertOk(strict, 'maxLinkTargetBytes 16');
  assert.deepEqual(strict.entries, []);
});

test('libarchive: GNU cpio reference archives bin, crc and newc yield the same entries (test_gcpio_compat_ref)', async (t) => {
  if (skipWithoutFixtures(t)) return;
  const results = new Map<string, ReturnType<typeof canonical>>();
  for (const [ext, label] of [
    ['bin', 'cpio(bin-le)'],
    ['crc', 'cpio(crc)'],
    ['newc', 'cpio(newc)'],
  ] as const) {
    const outcome = await readArchive(fixture(`test_gcpio_compat_ref.${ext}`));
    assertOk(outcome, ext);
    assert.deepEqual(outcome.chain, [label]);
    assert.deepEqual(outcome.warnings, [], `${ext}: no warnings (crc sums are right)`);
    results.set(ext, canonical(outcome.entries));
  }
  const owner = { uid: 1000, gid: 1000, devMajor: undefined, devMinor: undefined };
  const file = { type: 'file', mode: 0o644, ...owner, mtimeNs: sec(1192073591), size: 10, linkTarget: undefined, body: text('123456789\n').toString('hex'), links: ['file', 'linkfile'] };
  const expected = [
    { path: 'dir', type: 'dir', mode: 0o775, ...owner, mtimeNs: sec(1192073605), size: 0, linkTarget: undefined, body: undefined, links: [] },
    { path: 'file', ...file },
    { path: 'linkfile', ...file },
    { path: 'symlink', type: 'symlink', mode: 0o755, ...owner, mtimeNs: sec(1192073604), size: 0, linkTarget: 'file', body: undefined, links: [] },
  ];
  for (const [ext, entries] of results) assert.deepEqual(entries, expected, ext);

  // which name carries the data follows the writer: first for bin, last for newc/crc
  const bin = await readArchive(fixture('test_gcpio_compat_ref.bin'));
  assert.deepEqual(bin.entries.filter((e) => e.type === 'hardlink').map((e) => [e.path, e.linkTarget]), [['linkfile', 'file']]);
  const newc = await readArchive(fixture('test_gcpio_compat_ref.newc'));
  assert.deepEqual(newc.entries.filter((e) => e.type === 'hardlink').map((e) => [e.path, e.linkTarget]), [['file', 'linkfile']]);
});

test('libarchive: gzip filter over odc (test_extract.cpio.gz)', async (t) => {
  if (skipWithoutFixtures(t)) return;
  const outcome = await readArchive(fixture('test_extract.cpio.gz'));
  assertOk(outcome, 'test_extract.cpio.gz');
  assert.deepEqual(outcome.chain, ['gzip', 'cpio(odc)']);
  assert.deepEqual(
    outcome.entries.map((e) => [e.path, e.type, e.mode, e.uid, e.gid, e.mtimeNs, e.body?.toString('latin1')]),
    [
      ['file1', 'file', 0o664, 1000, 1000, sec(1349238940), 'contents of file1.\n'],
      ['file2', 'file', 0o664, 1000, 1000, sec(1349238949), 'contents of file2.\n'],
    ],
  );
});

// ---------------------------------------------------------------------------------------------
// 2. GNU cpio, four formats

test('GNU cpio -H odc|newc|crc|bin: each describes the tree, and all four agree entry by entry', async (t) => {
  if (skipWithoutCpio(t)) return;
  const { archives, tree, devices } = gnuArchives()!;
  if (!devices) t.diagnostic('mknod failed: no device node in the tree');
  const labels: Record<string, string> = { odc: 'cpio(odc)', newc: 'cpio(newc)', crc: 'cpio(crc)', bin: 'cpio(bin-le)' };
  const read = new Map<string, ReturnType<typeof canonical>>();
  for (const format of gnuFormats) {
    const outcome = await readArchive(archives.get(format)!);
    assertOk(outcome, format);
    if (os.endianness() === 'LE') assert.deepEqual(outcome.chain, [labels[format]]);
    assert.deepEqual(outcome.warnings, [], `${format}: no warnings`);
    const entries = canonical(outcome.entries);
    assert.deepEqual(entries, tree, `GNU cpio -H ${format} read back equals the tree`);
    read.set(format, entries);
  }
  for (const format of gnuFormats) assert.deepEqual(read.get(format), read.get('odc'), `${format} equals odc`);
  // the tree has what the formats must carry
  const types = new Set(tree.map((e) => e.type));
  for (const type of ['file', 'dir', 'symlink', 'fifo'] as const) assert.ok(types.has(type), `tree has a ${type}`);
  assert.ok(tree.some((e) => e.links.length === 3) && tree.some((e) => e.links.length === 2 && e.size === 0), 'tree has a 3-name link group and an empty 2-name group');
});

test('GNU cpio: hard-link layout per format (newc/crc data on the last name, odc/bin on the first)', async (t) => {
  if (skipWithoutCpio(t)) return;
  const { archives } = gnuArchives()!;
  for (const format of gnuFormats) {
    const outcome = await readArchive(archives.get(format)!);
    const links = outcome.entries.filter((e) => e.type === 'hardlink').map((e) => `${e.path}->${e.linkTarget}`).sort();
    const dataLast = format === 'newc' || format === 'crc';
    // sorted names: d/h2 < h1 < h3; e1 < e2. An empty group never gets data: its first name is the file.
    const expected = dataLast ? ['d/h2->h3', 'e2->e1', 'h1->h3'] : ['e2->e1', 'h1->d/h2', 'h3->d/h2'];
    assert.deepEqual(links, expected, format);
    // every link comes after the member it names
    const seen = new Set<string>();
    for (const e of outcome.entries) {
      if (e.type === 'hardlink') assert.ok(seen.has(e.linkTarget!), `${format}: ${e.path} links to ${e.linkTarget}, not yet delivered`);
      seen.add(e.path);
    }
  }
});

/** A hand-made odc member (data on every member of a link group). */
function odcMember(name: string, ino: number, nlink: number, data: string): Buffer {
  const o = (n: number, width: number) => n.toString(8).padStart(width, '0');
  const header = `070707${o(1, 6)}${o(ino, 6)}${o(0o100644, 6)}${o(0, 6)}${o(0, 6)}${o(nlink, 6)}${o(0, 6)}${o(1_000_000_000, 11)}${o(name.length + 1, 6)}${o(data.length, 11)}`;
  return Buffer.concat([text(header), text(`${name}\0`), text(data)]);
}

test('hard-link tracker budget: complete groups are forgotten silently, GNU cpio archives read the same with a tiny budget', async (t) => {
  // 200 groups of two names each, one after the other (as GNU cpio writes them): each group is
  // complete when its second name is read, so a budget of two groups forgets them without loss
  const budget = { maxLinkTrackerBytes: 600 };
  const newc = newcArchive(Array.from({ length: 200 }, (_, i) => [
    { name: `n${i}a`, ino: 100 + i, nlink: 2 },
    { name: `n${i}b`, ino: 100 + i, nlink: 2, data: `body ${i}\n` },
  ]).flat());
  const odc = Buffer.concat([...Array.from({ length: 200 }, (_, i) => [odcMember(`o${i}a`, 100 + i, 2, `body ${i}\n`), odcMember(`o${i}b`, 100 + i, 2, `body ${i}\n`)]).flat(), odcTrailer()]);
  for (const [what, archive] of [['newc', newc], ['odc', odc]] as const) {
    const small = await readArchive(archive, { limits: budget });
    assertOk(small, what);
    assert.deepEqual(small.warnings, [], `${what}: no warning`);
    assert.deepEqual(canonical(small.entries), canonical((await readArchive(archive)).entries), `${what}: same as with the default budget`);
    assert.equal(small.entries.filter((e) => e.type === 'hardlink').length, 200, `${what}: every group linked`);
  }
  if (skipWithoutCpio(t)) return;
  const { archives, tree } = gnuArchives()!;
  for (const format of gnuFormats) {
    const outcome = await readArchive(archives.get(format)!, { limits: { maxLinkTrackerBytes: 1000 } });
    assertOk(outcome, format);
    assert.deepEqual(outcome.warnings, [], `${format}: no warnings`);
    assert.deepEqual(canonical(outcome.entries), tree, `GNU cpio -H ${format} with a 1000-byte tracker equals the tree`);
  }
});

test('hard-link tracker budget: open odc groups past it lose their link, not their data (one warning)', async () => {
  // 200 first names of groups whose second names all come at the end, newest group first
  const odc = Buffer.concat([
    ...Array.from({ length: 200 }, (_, i) => odcMember(`o${i}a`, 100 + i, 2, `body ${i}\n`)),
    ...Array.from({ length: 200 }, (_, i) => odcMember(`o${199 - i}b`, 299 - i, 2, `body ${199 - i}\n`)),
    odcTrailer(),
  ]);
  const outcome = await readArchive(odc, { limits: { maxLinkTrackerBytes: 2000 } });
  assertOk(outcome, 'odc');
  assert.equal(outcome.warnings.length, 1, JSON.stringify(outcome.warnings));
  assert.equal(outcome.warnings[0]!.code, 'P2V_LIMIT');
  const files = outcome.entries.filter((e) => e.type === 'file');
  const links = outcome.entries.filter((e) => e.type === 'hardlink');
  assert.ok(links.length > 0 && links.length < 200, `the last groups stay linked (${links.length})`);
  assert.equal(files.length + links.length, 400);
  // every name still reads as its body: a file of its own, or a link to the right group
  const byPath = new Map(outcome.entries.map((e) => [e.path, e]));
  for (let i = 0; i < 200; i++) {
    const second = byPath.get(`o${i}b`)!;
    if (second.type === 'hardlink') assert.equal(second.linkTarget, `o${i}a`);
    else assert.equal(second.body?.toString(), `body ${i}\n`);
  }
});

test('hard-link tracker budget: newc names waiting for their data past it end the run with P2V_LIMIT and an offset', async () => {
  const members = Array.from({ length: 200 }, (_, i) => ({ name: `w${i}`, ino: 100 + i, nlink: 2 }));
  const archive = newcArchive([...members, ...members.map((m) => ({ ...m, name: `${m.name}-data`, data: 'x' }))]);
  const outcome = await readArchive(archive, { limits: { maxLinkTrackerBytes: 2000 } });
  const error = assertP2VFailure(outcome, 'held names', archive.length, ['P2V_LIMIT']);
  assert.match(error.message, /waiting for their group's data/);
  assert.ok(error.details.offset! > 0 && error.details.offset! < 200 * 120, `offset ${error.details.offset} names the member that crossed the limit`);
  // newc groups with data on an earlier name and more names to come cannot be forgotten either
  // (their later names carry no data): the same error, not an empty file
  const early = newcArchive([
    ...members.map((m) => ({ ...m, data: 'x' })),
    ...members.map((m) => ({ ...m, name: `${m.name}-later` })),
  ]);
  assertP2VFailure(await readArchive(early, { limits: { maxLinkTrackerBytes: 2000 } }), 'open newc groups', early.length, ['P2V_LIMIT']);
  const ok = await readArchive(early);
  assertOk(ok, 'default budget');
  assert.equal(ok.entries.filter((e) => e.type === 'hardlink').length, 200);
});

test('afio: a real 070727 header (uid above odc range) reads like odc', async (t) => {
  if (!haveTool('afio')) return t.skip('afio not installed');
  if (!(typeof process.getuid === 'function' && process.getuid() === 0)) return t.skip('needs root to chown to uid 300000');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-afio-unit-'));
  try {
    fs.writeFileSync(path.join(work, 'big'), 'large uid\n');
    fs.lchownSync(path.join(work, 'big'), 300000, 7);
    fs.utimesSync(path.join(work, 'big'), 1_500_000_000, 1_500_000_000);
    fs.writeFileSync(path.join(work, 'small'), 'small uid\n');
    fs.utimesSync(path.join(work, 'small'), 1_500_000_001, 1_500_000_001);
    const bytes = sh('cd "$1" && printf "big\\nsmall\\n" | afio -o - 2>/dev/null', [work]).stdout;
    assert.equal(bytes.subarray(0, 6).toString('latin1'), '070727', 'afio used its large header for uid 300000');
    for (const chunk of [bytes.length, 1, 7]) {
      const outcome = await readArchive(bytes, { chunk });
      assertOk(outcome, `afio chunk ${chunk}`);
      assert.deepEqual(
        outcome.entries.map((e) => [e.path, e.type, e.mode, e.uid, e.gid, e.mtimeNs, e.body?.toString('latin1')]),
        [
          ['big', 'file', 0o644, 300000, 7, sec(1_500_000_000), 'large uid\n'],
          ['small', 'file', 0o644, 0, 0, sec(1_500_000_001), 'small uid\n'],
        ],
      );
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. chunk boundaries

test('chunk boundaries: every archive read 1..13 bytes at a time equals the whole-buffer read', { timeout: 300_000 }, async (t) => {
  const archives = allArchives();
  if (!fixtureDir) t.diagnostic('libarchive fixtures not found: only GNU cpio and hand-made archives');
  for (const [name, bytes] of archives) {
    const whole = comparable(await readArchive(bytes));
    for (let chunk = 1; chunk <= 13; chunk++) {
      assert.deepEqual(comparable(await readArchive(bytes, { chunk })), whole, `${name}, ${chunk}-byte chunks`);
    }
    // bodies left unread by the consumer are skipped by the reader the same way
    const unread = await readArchive(bytes, { chunk: 3, bodies: false });
    assert.deepEqual(
      unread.entries.map((e) => ({ ...e, body: undefined })),
      whole.entries.map((e) => ({ ...e, body: undefined })),
      `${name}, bodies not read`,
    );
    assert.deepEqual(errorSnap(unread.error), whole.error, `${name}, bodies not read: same outcome`);
  }
});

// ---------------------------------------------------------------------------------------------
// 4. crc checksums

/** Solaris cksum(): sum of signed chars, kept in 32 bits. */
function signedSum(data: Uint8Array): number {
  let sum = 0;
  for (const b of data) sum += b >= 0x80 ? b - 256 : b;
  return ((sum % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

function unsignedSum(data: Uint8Array): number {
  let sum = 0;
  for (const b of data) sum += b;
  return sum % 2 ** 32;
}

test('crc: GNU unsigned sum and Solaris signed sum pass; a wrong sum warns and still yields the entry', async (t) => {
  if (!haveTool('cpio')) return t.skip('GNU cpio not installed');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-crc-unit-'));
  let archive: Buffer;
  // mostly bytes >= 0x80, so the signed sum is negative (wraps to 0xffff....) and differs
  const data = Buffer.concat([Buffer.alloc(2000, 0xff), text('plain ascii'), Buffer.from([0x80, 0x7f, 0xc3, 0xa9, 0x00])]);
  try {
    fs.writeFileSync(path.join(work, 'hi.bin'), data);
    archive = sh('cd "$1" && echo hi.bin | cpio -o -H crc --quiet', [work]).stdout;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  assert.equal(archive.subarray(0, 6).toString('latin1'), '070702');
  const stored = Number.parseInt(archive.subarray(102, 110).toString('latin1'), 16);
  assert.equal(stored, unsignedSum(data), 'GNU cpio stores the unsigned sum');
  assert.notEqual(signedSum(data), unsignedSum(data));
  assert.ok(signedSum(data) > 0x80000000, 'the signed sum is negative (wrapped)');
  const withCheck = (check: number, magic = '070702') => {
    const copy = Buffer.from(archive);
    copy.write(magic, 0, 'latin1');
    copy.write(hex8(check), 102, 'latin1');
    return copy;
  };
  const expectEntry = (outcome: Outcome, what: string) => {
    assertOk(outcome, what);
    assert.deepEqual(outcome.entries.map((e) => [e.path, e.type, e.size, e.body?.toString('hex')]), [['hi.bin', 'file', data.length, data.toString('hex')]], what);
  };

  for (const chunk of [archive.length, 1, 7]) {
    const unsigned = await readArchive(withCheck(unsignedSum(data)), { chunk });
    expectEntry(unsigned, 'unsigned sum');
    assert.deepEqual(unsigned.warnings, [], 'unsigned sum: no warning');

    const solaris = await readArchive(withCheck(signedSum(data)), { chunk });
    expectEntry(solaris, 'Solaris signed sum');
    assert.deepEqual(solaris.warnings, [], 'Solaris signed sum: no warning');

    for (const wrong of [unsignedSum(data) + 1, 0, signedSum(data) - 1, 0xffffffff]) {
      const bad = await readArchive(withCheck(wrong), { chunk });
      expectEntry(bad, `wrong sum ${wrong}`);
      assert.deepEqual(bad.warnings.map((w) => [w.code, w.entry]), [['P2V_BAD_CHECKSUM', 'hi.bin']], `wrong sum ${wrong}`);
      assert.match(bad.warnings[0]!.message, new RegExp(`stored ${wrong}\\b`));
    }
  }
  // the sum is checked even when the consumer does not read the body (the reader skips it)
  const unread = await readArchive(withCheck(unsignedSum(data) + 1), { bodies: false });
  assertOk(unread, 'unread body');
  assert.deepEqual(unread.warnings.map((w) => w.code), ['P2V_BAD_CHECKSUM']);
  // newc (070701) carries no checksum: whatever is in the field is ignored
  const newc = await readArchive(withCheck(12345, '070701'));
  assertOk(newc, 'newc with a check value');
  assert.deepEqual(newc.chain, ['cpio(newc)']);
  assert.deepEqual(newc.warnings, []);
});

test('crc: hand-made archives, empty files and several members', async () => {
  const members = [
    { name: 'a', data: Buffer.from([0x80, 0x81, 0x01]) },
    { name: 'empty', data: '' },
    { name: 'b', data: 'text' },
  ];
  const good = newcArchive(members.map((m) => ({ ...m, check: signedSum(typeof m.data === 'string' ? text(m.data) : m.data) })), '070702');
  const outcome = await readArchive(good);
  assertOk(outcome, 'crc, signed sums');
  assert.deepEqual(outcome.warnings, []);
  assert.deepEqual(outcome.entries.map((e) => e.path), ['a', 'empty', 'b']);
  const bad = newcArchive([{ name: 'a', data: 'x', check: 1 }, { name: 'b', data: 'y', check: 0x79 }], '070702');
  const badOutcome = await readArchive(bad);
  assertOk(badOutcome, 'crc, one wrong sum');
  assert.deepEqual(badOutcome.warnings.map((w) => [w.code, w.entry]), [['P2V_BAD_CHECKSUM', 'a']]);
  assert.deepEqual(badOutcome.entries.map((e) => e.body?.toString('latin1')), ['x', 'y']);
});

// ---------------------------------------------------------------------------------------------
// 5. hostile bytes

/** Where the reader has everything it needs: the end of the TRAILER!!! name and its padding. */
function trailerEnd(bytes: Uint8Array, variant: string): number {
  const at = Buffer.from(bytes).lastIndexOf(text('TRAILER!!!\0'));
  assert.ok(at > 0, 'archive has a trailer');
  const headerSize = variant.startsWith('bin') ? 26 : variant === 'odc' ? 76 : 110;
  const align = variant.startsWith('bin') ? 2 : variant === 'odc' ? 1 : 4;
  const end = at + 11;
  const start = at - headerSize;
  return end + ((align - ((end - start) % align)) % align);
}

test('truncation at every offset: a P2VError at or before the cut, or (past the trailer) the full result', { timeout: 300_000 }, async (t) => {
  const archives = allArchives().filter(([name, bytes]) => !name.endsWith('.gz') && !name.includes('symlink_trailer') && !name.includes('afio') && bytes.length <= 8192);
  assert.ok(archives.length > 0);
  for (const [name, bytes] of archives) {
    const full = await readArchive(bytes);
    assertOk(full, name);
    const end = trailerEnd(bytes, full.chain[0]!.slice(5, -1));
    // small archives: every cut, read whole and in 5-byte chunks (cuts then fall inside chunks);
    // the GNU ones (a few KiB): every third cut (3 is prime to the 2- and 4-byte alignments)
    const small = bytes.length <= 1024;
    for (const chunk of small ? [undefined, 5] : [undefined]) {
      for (let cut = 0; cut < bytes.length; cut += small ? 1 : 3) {
        const what = `${name} cut at ${cut}${chunk ? `, ${chunk}-byte chunks` : ''}`;
        const outcome = await readArchive(bytes.subarray(0, cut), { chunk });
        if (cut >= end) {
          assertOk(outcome, what);
          assert.deepEqual(outcome.entries, full.entries, what);
          continue;
        }
        assertP2VFailure(outcome, what, cut);
        // what was delivered before the failure is what a whole read delivers
        assert.deepEqual(outcome.entries, full.entries.slice(0, outcome.entries.length), `${what}: delivered entries are a prefix`);
      }
    }
  }
  if (!fixtureDir) t.diagnostic('libarchive fixtures not found: fewer archives');
});

test('truncation of a gzip image anywhere fails (the gzip trailer is verified after TRAILER!!!)', { timeout: 120_000 }, async (t) => {
  let gz: Buffer;
  if (fixtureDir) gz = fixture('test_extract.cpio.gz');
  else {
    const { gzipSync } = await import('node:zlib');
    gz = gzipSync(newcArchive([{ name: 'f', data: 'gzip body' }]));
  }
  for (let cut = 0; cut < gz.length; cut++) {
    for (const chunk of [undefined, 3]) {
      const outcome = await readArchive(gz.subarray(0, cut), { chunk });
      const error = assertP2VFailure(outcome, `gzip cut at ${cut}`, Number.MAX_SAFE_INTEGER);
      if (cut >= 10) assert.equal(error.details.layer, 'gzip', `cut at ${cut}: ${error.oneLine()}`);
    }
  }
  t.diagnostic(`${gz.length} cuts`);
});

/** xorshift32: deterministic garbage. */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const failureCodes = ['P2V_BAD_ARCHIVE', 'P2V_LIMIT'] as const;

test('garbage: random bytes, with and without a cpio magic in front, fail cleanly', { timeout: 120_000 }, async () => {
  const next = prng(0x5eed);
  const magics = ['', '070701', '070702', '070707', '070727', '\xc7\x71', '\x71\xc7'];
  for (let i = 0; i < 1500; i++) {
    const magic = text(magics[i % magics.length]!);
    const body = Buffer.alloc(next() % 700);
    for (let j = 0; j < body.length; j++) body[j] = next() & 0xff;
    const bytes = Buffer.concat([magic, body]);
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) continue;
    const outcome = await readArchive(bytes, { chunk: 1 + (i % 17) });
    assertP2VFailure(outcome, `garbage #${i} (${bytes.subarray(0, 8).toString('hex')})`, bytes.length, failureCodes);
  }
  // digits that only look right
  for (const bytes of [text('0707010'.padEnd(200, 'z')), text('070707'.padEnd(200, '9')), Buffer.alloc(4096), Buffer.alloc(4096, 0xff)]) {
    assertP2VFailure(await readArchive(bytes), `garbage ${bytes.subarray(0, 8).toString('hex')}`, bytes.length, failureCodes);
  }
});

test('mutated archives: flipped bytes give entries or a clean P2VError, never another exception', { timeout: 300_000 }, async () => {
  const next = prng(0xc0ffee);
  for (const [name, original] of allArchives()) {
    if (original.length > 8192) continue;
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(original);
      const flips = 1 + (next() % 3);
      for (let f = 0; f < flips; f++) bytes[next() % bytes.length] = next() & 0xff;
      const outcome = await readArchive(bytes, { chunk: 1 + (next() % 64) });
      // offsets count in the layer that failed: past the compressed length for a gzip'd archive
      const maxOffset = name.endsWith('.gz') ? Number.MAX_SAFE_INTEGER : bytes.length;
      if (outcome.error) assertP2VFailure(outcome, `${name} mutation #${i}`, maxOffset, failureCodes);
    }
  }
});

test('bad fields: a non-hex digit, namesize 0 and 0xFFFFFFFF, a filesize beyond the data', async () => {
  const archive = newcArchive([
    { name: 'first', data: 'one', ino: 1 },
    { name: 'second', data: 'two', ino: 2 },
  ]);
  const ok = await readArchive(archive);
  assertOk(ok, 'unpatched');
  const second = ok.entries[1]!.offset;
  const patched = (at: number, value: string) => {
    const copy = Buffer.from(archive);
    copy.write(value, at, 'latin1');
    return copy;
  };

  // a bad hex digit: the error names the field and its exact offset, in either member
  for (const [at, field] of [
    [14, 'mode'],
    [6, 'ino'],
    [54, 'filesize'],
    [second + 22, 'uid'],
    [second + 94, 'namesize'],
  ] as const) {
    const error = assertP2VFailure(await readArchive(patched(at + 3, 'g')), `bad digit in ${field}`, archive.length);
    assert.equal(error.details.offset, at, `${field}: offset of the field`);
    assert.equal(error.details.layer, 'cpio(newc)');
    assert.match(error.message, new RegExp(`bad ${field} field`));
    assert.match(error.oneLine(), new RegExp(`^test\\.cpio: cpio\\(newc\\) at byte ${at}: `));
  }
  // upper-case hex is hex
  const upper = await readArchive(patched(14, '000081A4'));
  assertOk(upper, 'upper-case hex');
  assert.equal(upper.entries[0]!.mode, 0o644);
  // a sign or a space is not a digit
  for (const junk of ['-', ' ', '+', 'x']) assertP2VFailure(await readArchive(patched(54, junk)), `filesize starting with "${junk}"`, archive.length);

  // namesize 0: nothing to name the member
  const zero = assertP2VFailure(await readArchive(patched(second + 94, '00000000')), 'namesize 0', archive.length);
  assert.equal(zero.details.offset, second);
  // namesize 0xFFFFFFFF: refused by limit before any allocation
  const huge = assertP2VFailure(await readArchive(patched(94, 'FFFFFFFF')), 'namesize 0xFFFFFFFF', archive.length, ['P2V_LIMIT']);
  assert.equal(huge.details.offset, 0);
  assert.match(huge.message, /4294967295/);
  // and the limit is the configured one
  assertP2VFailure(await readArchive(archive, { limits: { maxPathBytes: 5 } }), 'maxPathBytes 5', archive.length, ['P2V_LIMIT']);
  assertOk(await readArchive(archive, { limits: { maxPathBytes: 11 } }), 'maxPathBytes 11 fits "TRAILER!!!\\0"');

  // filesize beyond the data: the body runs into the end of the stream
  for (const size of ['00001000', 'FFFFFFFF']) {
    for (const bodies of [true, false]) {
      const outcome = await readArchive(patched(second + 54, size), { bodies, chunk: 11 });
      const error = assertP2VFailure(outcome, `filesize ${size}`, archive.length);
      assert.equal(error.details.offset, archive.length, 'truncation is reported where the data ends');
      assert.match(error.message, /truncated/);
      // an entry counts as delivered once its body is read; unread, once it is yielded
      assert.deepEqual(outcome.entries.map((e) => e.path), bodies ? ['first'] : ['first', 'second']);
    }
  }
  // a symlink whose target runs past the end
  const link = newcArchive([{ name: 'l', mode: 0o120777, data: 'target' }]);
  const linkPatched = Buffer.from(link);
  linkPatched.write('00000400', 54, 'latin1');
  assertP2VFailure(await readArchive(linkPatched), 'symlink target past the end', link.length);
  // a symlink target over the limit
  assertP2VFailure(await readArchive(link, { limits: { maxLinkTargetBytes: 3 } }), 'symlink over maxLinkTargetBytes', link.length, ['P2V_LIMIT']);
});

test('bad fields in odc and bin: non-octal digits, short headers', async () => {
  const odc = Buffer.concat([text('070707000001000002100644000000000000000001000000' + '12345670123' + '000002' + '00000000003'), text('f\0abc'), odcTrailer()]);
  const ok = await readArchive(odc);
  assertOk(ok, 'hand-made odc');
  assert.deepEqual(ok.entries.map((e) => [e.path, e.mode, e.mtimeNs, e.body?.toString('latin1')]), [['f', 0o644, sec(0o12345670123), 'abc']]);
  const eight = Buffer.from(odc);
  eight.write('8', 20, 'latin1'); // inside mode
  const error = assertP2VFailure(await readArchive(eight), 'odc mode with an 8', odc.length);
  assert.equal(error.details.offset, 18);
  // a hex letter in odc is not octal
  const hexLetter = Buffer.from(odc);
  hexLetter.write('a', 70, 'latin1');
  assert.equal(assertP2VFailure(await readArchive(hexLetter), 'odc filesize with "a"', odc.length).details.offset, 65);

  // bin: every field is a number, so only the lengths can be wrong
  const bin = Buffer.alloc(26);
  bin.writeUInt16LE(0o070707, 0);
  bin.writeUInt16LE(0o100644, 6);
  bin.writeUInt16LE(2, 20); // namesize
  bin.writeUInt16LE(0, 22);
  bin.writeUInt16LE(0xffff, 24); // filesize 65535, far past the end
  const binBytes = Buffer.concat([bin, text('f\0'), text('short')]);
  assertP2VFailure(await readArchive(binBytes), 'bin body past the end', binBytes.length);
  assertP2VFailure(await readArchive(bin.subarray(0, 20)), 'bin header cut', 20);
});
