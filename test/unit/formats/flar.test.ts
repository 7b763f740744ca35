/**
 * The flash archive reader (src/formats/flar). No tool on Linux writes flars and no real
 * flarcreate output exists in any public corpus, so every flar here is SYNTHETIC: built in the
 * test from flash_archive(4) as summarised in formats.md 3 (cookie, identification first, any
 * of predeployment / postdeployment / reboot / summary / manifest / user X… sections, then
 * `section_begin=archive` and the payload to EOF) around real payloads: GNU cpio -H newc
 * (what `flarcreate` writes by default, as `cpio -c`) and bsdtar --format pax (`flarcreate -L
 * pax`), each also under `compress -c` (skipped while src/filters/compress.ts is not registered).
 *
 * Checked: the chain (flar → [compress →] payload format), entries identical to reading the
 * payload alone, the identification section reported through context.describe, the refusals
 * (rootpool, DIFFERENTIAL, unknown methods, versions), one-line corruption errors with the byte
 * offset, the line-length limit, the payload-size warning, and 1..13-byte chunk boundaries.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openImage } from '../../../src/image.js';
import { listEntries } from '../../../src/list.js';
import { bufferSource } from '../../../src/io/source.js';
import { isP2VError, type P2VError } from '../../../src/errors.js';
import type { Entry } from '../../../src/entry.js';
import type { Warning } from '../../../src/extract/types.js';
import type { LayerDescription } from '../../../src/formats/format.js';
import { flarFormat } from '../../../src/formats/flar/index.js';
import { parseIdentification } from '../../../src/formats/flar/identification.js';
import { filters } from '../../../src/filters/registry.js';
import { resolveLimits, type Limits } from '../../../src/limits.js';
import { cpioArchive } from '../../helpers/cpio-writer.js';
import { tarArchive } from '../../helpers/tar-writer.js';
import { haveTool, run, sh } from '../../helpers/tools.js';

const IMAGE = 'test.flar';

interface Snap {
  path: string;
  type: Entry['type'];
  mode: number;
  uid: number;
  size: number;
  mtimeNs: bigint;
  linkTarget?: string;
  body?: string;
}

interface Outcome {
  chain: string[];
  entries: Snap[];
  warnings: Warning[];
  descriptions: LayerDescription[];
  error?: P2VError;
}

async function read(bytes: Uint8Array, options: { chunk?: number; limits?: Partial<Limits> } = {}): Promise<Outcome> {
  const outcome: Outcome = { chain: [], entries: [], warnings: [], descriptions: [] };
  try {
    const opened = await openImage(bufferSource(IMAGE, bytes, options.chunk ?? Math.max(1, bytes.length)), {
      limits: resolveLimits(options.limits),
      warn: (w) => outcome.warnings.push(w),
      describe: (d) => outcome.descriptions.push(d),
    });
    for await (const entry of opened.entries) {
      let body: string | undefined;
      if (entry.body) {
        const pieces: Buffer[] = [];
        for await (const piece of entry.body.chunks()) pieces.push(Buffer.from(piece));
        body = Buffer.concat(pieces).toString('hex');
      }
      outcome.entries.push({ path: entry.path, type: entry.type, mode: entry.mode, uid: entry.uid, size: entry.size, mtimeNs: entry.mtimeNs, linkTarget: entry.linkTarget, body });
    }
    outcome.chain = opened.chain;
  } catch (error) {
    if (!isP2VError(error)) throw error;
    outcome.error = error.withContext({ image: IMAGE });
  }
  return outcome;
}

function assertOk(outcome: Outcome, what: string): void {
  if (outcome.error) assert.fail(`${what}: unexpected ${outcome.error.code}: ${outcome.error.oneLine()}`);
}

function assertFailure(outcome: Outcome, what: string, code: string, offset?: number): P2VError {
  const error = outcome.error;
  assert.ok(error, `${what}: expected ${code}, got ${outcome.entries.length} entries`);
  assert.equal(error.code, code, `${what}: ${error.oneLine()}`);
  assert.equal(typeof error.details.offset, 'number', `${what}: numeric offset in ${error.oneLine()}`);
  if (offset !== undefined) assert.equal(error.details.offset, offset, `${what}: offset in ${error.oneLine()}`);
  assert.ok(!error.oneLine().includes('\n'), `${what}: one line`);
  return error;
}

// ---------------------------------------------------------------------------------------------
// building flars

type Section = [name: string, lines: string[]];

/** a full identification section; `extra` lines replace base lines with the same key */
const identification = (extra: string[] = []): Section => {
  const key = (line: string) => line.slice(0, line.indexOf('=')).toLowerCase();
  const replaced = new Set(extra.map(key));
  return ['identification', [...baseIdentification.filter((l) => !l.includes('=') || !replaced.has(key(l))), ...extra]];
};

const baseIdentification = [
    'cookie=FlAsH-aRcHiVe-2.0',
    'archive_id=3a2b1c',
    'Files_Archived_Method=cpio',
    'files_compressed_method=none',
    'creation_date=20110711123456',
    'creation_master=sunbox',
    'content_name=Solaris 10 web server',
    'content_description=A web server',
    'spanning two lines',
    'creation_release=5.10',
    'creation_os_name=SunOS',
    'creation_hardware_class=sun4u',
    'type=FULL',
    'X-site=unknown keys are ignored',
];

const otherSections: Section[] = [
  ['predeployment', ['begin 644 predeployment.cpio.Z', 'M\'YV0<@"@4`H!', '`', 'end']],
  ['postdeployment', ['begin 644 postdeployment.cpio.Z', '`', 'end']],
  ['reboot', ['begin 644 reboot.cpio.Z', '`', 'end']],
  ['summary', ['summary of the archive', 'files=3']],
  ['X-department', ['owner=it', 'line without equals']],
];

function flar(sections: Section[], payload: Uint8Array, cookie = 'FlAsH-aRcHiVe-2.0'): Uint8Array {
  const text = [cookie, ...sections.flatMap(([name, lines]) => [`section_begin=${name}`, ...lines, `section_end=${name}`]), 'section_begin=archive', ''].join('\n');
  return Buffer.concat([Buffer.from(text, 'latin1'), payload]);
}

/** byte offset of the first occurrence of `needle` in a flar */
function offsetOf(bytes: Uint8Array, needle: string): number {
  const at = Buffer.from(bytes).indexOf(needle, 0, 'latin1');
  assert.ok(at >= 0, `${needle} is in the flar`);
  return at;
}

const cpioPayload = cpioArchive(
  [
    { name: '.', type: 'dir' },
    { name: 'etc', type: 'dir' },
    { name: 'etc/motd', type: 'file', data: 'Sun Microsystems Inc.   SunOS 5.10\n' },
    { name: 'etc/hosts', type: 'symlink', target: './inet/hosts' },
    { name: 'usr/bin/ls', type: 'file', mode: 0o555, data: 'ELF' },
  ],
  { format: 'newc' },
);

const tarPayload = tarArchive([
  { name: 'etc/', typeflag: '5' },
  { name: 'etc/motd', data: 'pax payload\n' },
]);

const compressRegistered = filters.some((f) => f.name === 'compress');

function compress(t: TestContext, payload: Uint8Array): Uint8Array | undefined {
  if (!compressRegistered) {
    t.skip('the compress filter is not registered yet (src/filters/registry.ts)');
    return undefined;
  }
  if (!haveTool('compress')) {
    t.skip('missing: compress (ncompress)');
    return undefined;
  }
  return run('compress', ['-c'], { input: payload, okStatus: [0, 2] }).stdout;
}

async function payloadAlone(payload: Uint8Array): Promise<Snap[]> {
  const { entries } = await listEntries({ image: 'payload', source: bufferSource('payload', payload) });
  const out: Snap[] = [];
  for await (const entry of entries) {
    let body: string | undefined;
    if (entry.body) {
      const pieces: Buffer[] = [];
      for await (const piece of entry.body.chunks()) pieces.push(Buffer.from(piece));
      body = Buffer.concat(pieces).toString('hex');
    }
    out.push({ path: entry.path, type: entry.type, mode: entry.mode, uid: entry.uid, size: entry.size, mtimeNs: entry.mtimeNs, linkTarget: entry.linkTarget, body });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

test('bid: the cookie prefix and a digit', () => {
  assert.equal(flarFormat.bid(Buffer.from('FlAsH-aRcHiVe-2.0\n')), 120);
  assert.equal(flarFormat.bid(Buffer.from('FlAsH-aRcHiVe-x.0\n')), 0);
  assert.equal(flarFormat.bid(Buffer.from('flash-archive-2.0\n')), 0);
  assert.equal(flarFormat.bid(Buffer.from('FlAsH-aRcHiVe-')), 0);
});

test('cpio payload, every section kind: flar → cpio(newc), entries as the payload alone', async () => {
  const bytes = flar([identification(), ...otherSections, ['manifest', ['- removed/file', '+ added/file']]], cpioPayload);
  const outcome = await read(bytes);
  assertOk(outcome, 'cpio flar');
  assert.deepEqual(outcome.chain, ['flar', 'cpio(newc)']);
  assert.deepEqual(outcome.entries, await payloadAlone(cpioPayload));
  assert.deepEqual(outcome.warnings, []);
  assert.deepEqual(outcome.descriptions[0], {
    layer: 'flar',
    title: 'flash archive',
    fields: [
      ['version', '2.0'],
      ['sections', 'identification, predeployment, postdeployment, reboot, summary, X-department, manifest, archive'],
    ],
  });
  const ident = outcome.descriptions[1]!;
  assert.equal(ident.title, 'identification section');
  assert.deepEqual(ident.fields.find(([k]) => k === 'Files_Archived_Method'), ['Files_Archived_Method', 'cpio'], 'keys as spelled');
  assert.deepEqual(ident.fields.find(([k]) => k === 'content_description'), ['content_description', 'A web server\nspanning two lines']);
  assert.deepEqual(ident.fields.find(([k]) => k === 'X-site'), ['X-site', 'unknown keys are ignored']);
});

test('pax payload (files_archived_method=pax): flar → tar(pax)', async () => {
  const bytes = flar([identification(['files_archived_method=pax'])], tarPayload);
  const outcome = await read(bytes);
  assertOk(outcome, 'pax flar');
  assert.deepEqual(outcome.chain, ['flar', 'tar(ustar)']);
  assert.deepEqual(outcome.entries, await payloadAlone(tarPayload));
  assert.deepEqual(outcome.warnings, []);
});

test('compress(1)-ed payloads: flar → compress → cpio / tar', async (t) => {
  for (const [method, payload, format] of [['cpio', cpioPayload, 'cpio(newc)'], ['pax', tarPayload, 'tar(ustar)']] as const) {
    const z = compress(t, payload);
    if (!z) return;
    const bytes = flar([identification([`files_archived_method=${method}`, 'files_compressed_method=compress', `files_archived_size=${z.length}`])], z);
    const outcome = await read(bytes);
    assertOk(outcome, `${method} compressed`);
    assert.deepEqual(outcome.chain, ['flar', 'compress', format]);
    assert.deepEqual(outcome.entries, await payloadAlone(payload));
    assert.deepEqual(outcome.warnings, []);
  }
});

test('real GNU cpio and bsdtar payloads, plain and compressed', async (t) => {
  if (!haveTool('cpio') || !haveTool('bsdtar')) {
    t.skip('missing: cpio or bsdtar');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-flar-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'etc', 'inet'), { recursive: true });
  fs.writeFileSync(path.join(src, 'etc', 'inet', 'hosts'), '127.0.0.1 localhost\n');
  fs.symlinkSync('./inet/hosts', path.join(src, 'etc', 'hosts'));
  fs.writeFileSync(path.join(src, 'etc', 'big'), Buffer.alloc(200_000, 7));
  fs.linkSync(path.join(src, 'etc', 'big'), path.join(src, 'etc', 'big-link'));
  const cpio = sh('find . | sort | cpio -o --quiet -H newc', [], { cwd: src }).stdout;
  const pax = sh('bsdtar --format pax -cf - .', [], { cwd: src }).stdout;
  for (const [method, payload, format] of [['cpio', cpio, 'cpio(newc)'], ['pax', pax, 'tar(pax)']] as const) {
    const plain = await read(flar([identification([`files_archived_method=${method}`, `files_archived_size=${payload.length}`]), ...otherSections], payload));
    assertOk(plain, `${method} plain`);
    assert.deepEqual(plain.chain, ['flar', format]);
    assert.deepEqual(plain.entries, await payloadAlone(payload));
    assert.deepEqual(plain.warnings, []);
    await t.test(`${method} under compress -c`, async (t) => {
      const z = compress(t, payload);
      if (!z) return;
      const packed = await read(flar([identification([`files_archived_method=${method}`, 'files_compressed_method=compress'])], z));
      assertOk(packed, `${method} compressed`);
      assert.deepEqual(packed.chain, ['flar', 'compress', format]);
      assert.deepEqual(packed.entries, plain.entries);
    });
  }
});

test('version 1 cookie (no type key) and cookie suffixes are accepted', async () => {
  const [name, lines] = identification();
  const v1: Section = [name, lines.filter((l) => !l.startsWith('type='))];
  assertOk(await read(flar([v1], cpioPayload, 'FlAsH-aRcHiVe-1.0')), 'version 1.0');
  assertOk(await read(flar([identification()], cpioPayload, 'FlAsH-aRcHiVe-2.1.3')), 'version 2.1.3');
  const noMethod: Section = [name, lines.filter((l) => !/^files_/i.test(l))];
  const defaults = await read(flar([noMethod], cpioPayload));
  assertOk(defaults, 'defaults: cpio, not compressed');
  assert.deepEqual(defaults.chain, ['flar', 'cpio(newc)']);
});

test('files_archived_size: silent when it matches, a warning when it does not', async () => {
  const good = await read(flar([identification([`files_archived_size=${cpioPayload.length}`])], cpioPayload));
  assertOk(good, 'size matches');
  assert.deepEqual(good.warnings, []);
  // block padding after the cpio trailer counts: the payload is every byte to EOF
  const padded = Buffer.concat([cpioPayload, Buffer.alloc(512)]);
  const bad = await read(flar([identification([`files_archived_size=${cpioPayload.length}`])], padded));
  assertOk(bad, 'size differs');
  assert.deepEqual(bad.warnings.map((w) => w.code), ['P2V_FLAR_SIZE']);
  assert.match(bad.warnings[0]!.message, new RegExp(`says ${cpioPayload.length} bytes but the archive section holds ${padded.length}`));
});

test('refused: ZFS root pool, differential, unknown methods and versions', async () => {
  const cases: Array<[string, Uint8Array, string, RegExp]> = [
    ['rootpool', flar([identification(['rootpool=rpool'])], cpioPayload), 'P2V_UNSUPPORTED', /flarcreate -L cpio.*flarcreate -L pax/],
    ['differential', flar([identification(['type=DIFFERENTIAL'])], cpioPayload), 'P2V_UNSUPPORTED', /differential/],
    ['odd type', flar([identification(['TYPE=partial'])], cpioPayload), 'P2V_UNSUPPORTED', /type "partial"/],
    ['archiver', flar([identification(['files_archived_method=zip'])], cpioPayload), 'P2V_UNSUPPORTED', /"zip" is not supported/],
    ['compression', flar([identification(['files_compressed_method=gzip'])], cpioPayload), 'P2V_UNSUPPORTED', /"gzip" is not supported/],
    ['version 3', flar([identification()], cpioPayload, 'FlAsH-aRcHiVe-3.0'), 'P2V_UNSUPPORTED', /version 3\.0/],
    ['version 0', flar([identification()], cpioPayload, 'FlAsH-aRcHiVe-0.9'), 'P2V_UNSUPPORTED', /version 0\.9/],
  ];
  for (const [what, bytes, code, message] of cases) {
    const outcome = await read(bytes);
    const error = assertFailure(outcome, what, code);
    assert.match(error.message, message, what);
    assert.equal(outcome.entries.length, 0, `${what}: nothing extracted`);
  }
  const rootpool = await read(flar([identification(['rootpool=rpool'])], cpioPayload));
  assert.equal(rootpool.error!.details.offset, offsetOf(flar([identification(['rootpool=rpool'])], cpioPayload), 'rootpool='), 'offset of the rootpool line');
});

test('corrupt envelopes: one-line P2V_BAD_ARCHIVE with the byte offset', async () => {
  const good = flar([identification(), ...otherSections], cpioPayload);
  const text = Buffer.from(good).toString('latin1');
  const cut = (needle: string) => Buffer.from(text.slice(0, text.indexOf(needle)), 'latin1');

  const cases: Array<[string, Uint8Array, number]> = [];
  cases.push(['bad cookie', Buffer.from(`FlAsH-aRcHiVe-2.x\n${text.slice(text.indexOf('\n') + 1)}`, 'latin1'), 0]);
  const noEnd = text.replace('section_end=summary\n', '');
  cases.push(['section_begin inside a section', Buffer.from(noEnd, 'latin1'), noEnd.indexOf('section_begin=X-department')]);
  const wrongEnd = text.replace('section_end=reboot', 'section_end=summary');
  cases.push(['section closed by another name', Buffer.from(wrongEnd, 'latin1'), wrongEnd.indexOf('section_end=summary')]);
  const truncatedSection = cut('section_end=postdeployment');
  cases.push(['EOF inside a section', truncatedSection, truncatedSection.length]);
  const noArchive = cut('section_begin=archive');
  cases.push(['EOF before the archive section', noArchive, noArchive.length]);
  const firstNotIdent = flar([otherSections[3]!, identification()], cpioPayload);
  cases.push(['identification not first', firstNotIdent, offsetOf(firstNotIdent, 'section_begin=summary')]);
  const stray = text.replace('section_begin=reboot', 'stray line\nsection_begin=reboot');
  cases.push(['a line outside any section', Buffer.from(stray, 'latin1'), stray.indexOf('stray line')]);
  const empty = flar([identification()], new Uint8Array(0));
  cases.push(['empty archive section', empty, empty.length]);
  const notCompressed = flar([identification(['files_compressed_method=compress'])], cpioPayload);
  cases.push(['compress declared, plain payload', notCompressed, notCompressed.length - cpioPayload.length]);

  for (const [what, bytes, offset] of cases) {
    const outcome = await read(bytes);
    const error = assertFailure(outcome, what, 'P2V_BAD_ARCHIVE', offset);
    assert.match(error.oneLine(), /^test\.flar: flar at byte \d+: /, what);
  }
});

test('a corrupt payload fails in its own layer', async () => {
  const truncated = cpioPayload.subarray(0, 200);
  const outcome = await read(flar([identification()], truncated));
  const error = assertFailure(outcome, 'truncated payload', 'P2V_BAD_ARCHIVE');
  assert.equal(error.details.layer, 'cpio(newc)');
});

test('lines: long lines pass, lines beyond the metadata limit are refused', async () => {
  const longUser: Section = ['X-big', [`blob=${'u'.repeat(100_000)}`]];
  const long = await read(flar([identification(), longUser], cpioPayload));
  assertOk(long, '100 kB line');
  const limited = await read(flar([identification(), longUser], cpioPayload), { limits: { maxMetaRecordBytes: 4096 } });
  assertFailure(limited, 'line over the limit', 'P2V_LIMIT');
});

test('an identification section longer in all than the metadata limit is refused (its lines are held), other sections are only read through', async () => {
  const manyLines = (n: number) => Array.from({ length: n }, (_, i) => `X-pad${i}=${'v'.repeat(1000)}`);
  const limits = { maxMetaRecordBytes: 64 * 1024 };
  const held = await read(flar([identification(manyLines(100))], cpioPayload), { limits });
  const error = assertFailure(held, 'identification over the limit', 'P2V_LIMIT');
  assert.match(error.message, /section "identification" is longer than 65536 bytes/);
  assertOk(await read(flar([identification(manyLines(50))], cpioPayload), { limits }), 'identification within the limit');
  assertOk(await read(flar([identification(), ['X-big', manyLines(500)]], cpioPayload), { limits }), 'a long user-defined section');
});

test('payload format disagreeing with files_archived_method: read anyway, with a warning', async () => {
  const outcome = await read(flar([identification()], tarPayload)); // says cpio
  assertOk(outcome, 'mismatch');
  assert.deepEqual(outcome.chain, ['flar', 'tar(ustar)']);
  assert.equal(outcome.warnings.length, 1);
  assert.match(outcome.warnings[0]!.message, /pax archive although files_archived_method is "cpio"/);
  const unknownSection = await read(flar([identification(), ['oddball', ['x']]], cpioPayload));
  assertOk(unknownSection, 'unknown section');
  assert.match(unknownSection.warnings[0]!.message, /unknown flash archive section "oddball"/);
});

test('identification parsing: case-insensitive keys, last value wins with a warning', () => {
  const warnings: string[] = [];
  const lines = ['FILES_ARCHIVED_METHOD=PAX', 'files_compressed_method=Compress', 'files_archived_method=cpio', 'files_archived_size=abc', 'no equals here'].map((text, i) => ({ text, offset: i * 10, terminated: true }));
  const ident = parseIdentification(lines, 'flar', { warn: (m) => warnings.push(m) });
  assert.equal(ident.archiver, 'cpio');
  assert.equal(ident.compression, 'compress');
  assert.equal(ident.archivedSize, undefined);
  assert.equal(warnings.length, 2, JSON.stringify(warnings));
  assert.match(warnings[0]!, /repeats files_archived_method/);
  assert.match(warnings[1]!, /files_archived_size "abc"/);
});

test('chunk boundaries: 1..13-byte chunks read exactly like the whole flar', async () => {
  const bytes = flar([identification([`files_archived_size=${cpioPayload.length}`]), ...otherSections], cpioPayload);
  const whole = await read(bytes);
  assertOk(whole, 'whole');
  for (let chunk = 1; chunk <= 13; chunk++) {
    const chunked = await read(bytes, { chunk });
    assertOk(chunked, `${chunk}-byte chunks`);
    assert.deepEqual({ ...chunked, error: undefined }, { ...whole, error: undefined }, `${chunk}-byte chunks`);
  }
  const broken = Buffer.from(Buffer.from(bytes).toString('latin1').replace('section_end=reboot\n', ''), 'latin1');
  const wholeError = (await read(broken)).error;
  for (const chunk of [1, 5, 13]) {
    const error = (await read(broken, { chunk })).error;
    assert.deepEqual([error?.code, error?.details.offset, error?.message], [wholeError?.code, wholeError?.details.offset, wholeError?.message]);
  }
});

test('seeded mutation fuzzer over the envelope: only P2VErrors, never a crash', async () => {
  const bytes = flar([identification([`files_archived_size=${cpioPayload.length}`]), ...otherSections], cpioPayload);
  const envelope = bytes.length - cpioPayload.length;
  let seed = 0x9e3779b9;
  const random = () => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed;
  };
  const mutations = [
    (b: Uint8Array) => void (b[random() % envelope] = random() & 0xff),
    (b: Uint8Array) => void (b[random() % envelope] = 0x0a),
    (b: Uint8Array) => void (b[random() % envelope] = 0x3d),
  ];
  let failures = 0;
  for (let round = 0; round < 300; round++) {
    const mutated = Uint8Array.from(bytes);
    for (let i = 0, n = 1 + (random() % 3); i < n; i++) mutations[random() % mutations.length]!(mutated);
    const outcome = await read(mutated, { limits: { maxMetaRecordBytes: 64 * 1024 } });
    if (outcome.error) {
      failures++;
      assert.equal(typeof outcome.error.details.offset, 'number', `round ${round}: ${outcome.error.oneLine()}`);
    }
  }
  assert.ok(failures > 0, 'some mutations are detected');
});
