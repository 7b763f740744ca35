/**
 * The dump reader (src/formats/dump) on dumps built record by record with test/helpers/
 * dump-writer.ts: Solaris ufsdump in both byte orders and with MTB record sizes, Linux dump
 * (4.4BSD layout) in both byte orders, FreeBSD UFS2. All SYNTHETIC (formats.md 6; no real
 * Solaris dump exists to test with); real Linux dumps, and real ones rewritten into the Solaris
 * layout, are in test/integration/dump-real-tools.test.ts.
 *
 * 1. One sample tree per layout: directories, hard links, short and long symlinks (Solaris: a
 *    short target kept in the block pointers), devices (old and new encodings), a FIFO, a sparse
 *    file spanning a TS_ADDR continuation, blocks past di_size, big ids; Solaris ACL shadows
 *    (embedded and trailing) and an attribute directory; Linux EA records with an ACL.
 * 2. Chunk boundaries: each sample fed 1..13 bytes at a time reads exactly like the whole.
 * 3. Holes: EntryBody.pieces() gives them as numbers; extract() leaves them unallocated.
 * 4. The Solaris converter (test/helpers/dump-solarize.ts) keeps every entry of a Linux dump.
 * 5. Volumes: every cut of a sample into volumes reads like the whole; a missing, repeated,
 *    foreign or cut-short volume is a one-line error naming it.
 * 6. Damage: bad checksum, missing TS_END, truncated block, dangling name, bad names, lying
 *    counts, and a seeded mutation run: only P2VErrors with offsets, never a crash or a hang.
 * 7. Limits: maxDumpMapBytes, maxDumpTreeBytes, maxLinkTargetBytes, maxMetaRecordBytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Entry } from '../../../src/entry.js';
import { extract } from '../../../src/index.js';
import { openImage } from '../../../src/image.js';
import { concatVolumes } from '../../../src/io/concat-volumes.js';
import { bufferSource } from '../../../src/io/source.js';
import { resolveLimits } from '../../../src/limits.js';
import { dumpFormat } from '../../../src/formats/dump/index.js';
import type { DumpLevel } from '../../../src/formats/format.js';
import { pickFormat } from '../../../src/formats/registry.js';
import { assertFailure, assertOk, readDump, type Snap } from '../../helpers/dump-read.js';
import { solarizeDump } from '../../helpers/dump-solarize.js';
import {
  DR_EXTATTRIBUTES,
  DR_NEWINODEFMT,
  DumpWriter,
  ext2Attributes,
  setChecksum,
  posixAclValue,
  solarisShadow,
  TS_ADDR,
  TS_INODE,
  type Block,
  type Family,
  type Order,
} from '../../helpers/dump-writer.js';

// ---------------------------------------------------------------------------------------------
// the sample tree

interface Sample {
  writer: DumpWriter;
  bytes: Uint8Array;
  /** what the reader must yield, in order */
  expected: Snap[];
}

interface SampleOptions {
  family: Family;
  order: Order;
  tpBsize?: number;
  /** Solaris ACL/xattr records, Linux EA records (default true) */
  metadata?: boolean;
  date?: number;
}

const pattern = (length: number, seed: number) => {
  const out = Buffer.alloc(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const latin1 = (s: string) => Buffer.from(s, 'latin1');
const longTarget = '/opt/SUNWlong/' + 'abcdefghij'.repeat(10);

function buildSample(options: SampleOptions): Sample {
  const { family, order } = options;
  const metadata = options.metadata ?? true;
  const w = new DumpWriter({ family, order, tpBsize: options.tpBsize, date: options.date, perHeader: family === 'linux' ? 256 : undefined });
  const tp = w.tp;
  const le = order === 'le';
  const solaris = family === 'solaris';
  const expected: Snap[] = [];
  // times: Solaris stores microseconds, the others nanoseconds
  const frac = (n: number) => (solaris ? n : n * 1000);
  const ns = (sec: number, micro: number) => BigInt(sec) * 1_000_000_000n + BigInt(micro) * 1000n;
  const meta = (ino: number, mode: number, extra: Partial<{ uid: number; gid: number }> = {}) => ({
    mode,
    uid: extra.uid ?? 0,
    gid: extra.gid ?? 0,
    mtime: 1_000_000_000 + ino * 1000,
    mtimeFraction: family === 'ufs2' || ino % 2 === 0 ? frac(ino * 7) : 0,
  });
  const mtimeOf = (ino: number) => ns(1_000_000_000 + ino * 1000, family === 'ufs2' || ino % 2 === 0 ? ino * 7 : 0);
  const snapOf = (path: string, type: Entry['type'], ino: number, mode: number, extra: Partial<Snap> = {}): Snap => ({
    path,
    type,
    mode: mode & 0o7777,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeNs: mtimeOf(ino),
    ...extra,
  });

  const withAttrs = metadata && solaris;
  const dumped = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, ...(withAttrs ? [17, 18, 19] : [])];
  w.tape();
  w.maps(dumped);

  // directories, ascending inode order
  const etcEntries: Array<[string, number, number?]> = [
    ['.', 3, 4], ['..', 2, 4], ['motd', 4, 8], ['big', 5, 8], ['null', 8, 2], ['disk', 9, 6], ['pipe', 10, 1], ['empty', 16, 8],
  ];
  if (withAttrs) etcEntries.push(['late', 19, 8]);
  w.directory(2, meta(2, 0o40755), [['.', 2, 4], ['..', 2, 4], ['etc', 3, 4], ['usr', 12, 4], ['sbin', 14, 4], ['short', 6, 10], ['long', 7, 10]]);
  w.directory(3, meta(3, 0o40750, { gid: 3 }), etcEntries);
  const etcAcl = [
    { tag: 0x01, perm: 7, id: 0 },
    { tag: 0x04, perm: 5, id: 0 },
    { tag: 0x08, perm: 5, id: 5678 },
    { tag: 0x10, perm: 5, id: 0 },
    { tag: 0x20, perm: 0, id: 0 },
    { tag: 0x1001, perm: 7, id: 0 },
    { tag: 0x1004, perm: 5, id: 0 },
    { tag: 0x1020, perm: 0, id: 0 },
  ];
  let etcSnap = snapOf('etc', 'dir', 3, 0o40750, { gid: 3 });
  if (metadata && solaris) {
    // a trailing shadow record after the directory's data
    const shadow = solarisShadow(etcAcl, le);
    w.header({ type: TS_ADDR, ino: 3, inode: { mode: 0o130000, size: shadow.length }, addr: [1] });
    w.data(shadow);
    etcSnap = { ...etcSnap, acls: [{ kind: 'posix', text: 'user::rwx,group::r-x,group:5678:r-x,mask:r-x,other:---' }, { kind: 'posix', text: 'default:user::rwx,default:group::r-x,default:other:---' }] };
  }
  if (metadata && family === 'linux') {
    const ea = ext2Attributes([{ index: 1, name: 'dir', value: latin1('d') }]);
    w.inode(3, { ...meta(3, 0o40750, { gid: 3 }), size: ea.length }, ea, { flags: DR_NEWINODEFMT | DR_EXTATTRIBUTES, extattributes: 3 });
    etcSnap = { ...etcSnap, xattrs: { 'user.dir': 'd' } };
  }
  w.directory(12, meta(12, 0o40755), [['.', 12], ['..', 2], ['bin', 13]]);
  w.directory(13, meta(13, 0o40755), [['.', 13], ['..', 12], ['ksh', 11], ['passwd', 15]]);
  w.directory(14, meta(14, 0o40755), [['.', 14], ['..', 2], ['sh', 11]]);
  if (withAttrs) {
    // Solaris extended-attribute directory of inode 19: ".." names the owner
    w.directory(18, meta(18, 0o160755), [['.', 18], ['..', 19], ['comment', 17]]);
  }
  expected.push(snapOf('.', 'dir', 2, 0o40755), etcSnap, snapOf('sbin', 'dir', 14, 0o40755), snapOf('usr', 'dir', 12, 0o40755), snapOf('usr/bin', 'dir', 13, 0o40755));

  // files, ascending inode order
  const motd = latin1('Oracle Corporation      SunOS 5.10      Generic Patch   January 2005\n');
  const motdAcl = [
    { tag: 0x01, perm: 6, id: 0 },
    { tag: 0x02, perm: 7, id: 1234 },
    { tag: 0x04, perm: 4, id: 0 },
    { tag: 0x10, perm: 5, id: 0 },
    { tag: 0x20, perm: 4, id: 0 },
  ];
  const motdAclText = 'user::rw-,user:1234:rwx,group::r--,mask:r-x,other:r--';
  if (metadata && solaris) {
    w.inode(4, { ...meta(4, 0o100644, { gid: 3 }), shadow: 30 }, motd, { shadow: solarisShadow(motdAcl, le) });
    expected.push(snapOf('etc/motd', 'file', 4, 0o100644, { gid: 3, size: motd.length, body: hex(motd), acls: [{ kind: 'posix', text: motdAclText }] }));
  } else {
    w.inode(4, meta(4, 0o100644, { gid: 3 }), motd, { extraBlocks: family === 'linux' ? 3 : 0 });
    expected.push(snapOf('etc/motd', 'file', 4, 0o100644, { gid: 3, size: motd.length, body: hex(motd) }));
  }
  if (metadata && family === 'linux') {
    const acl = posixAclValue([{ tag: 1, perm: 6 }, { tag: 2, perm: 7, id: 1234 }, { tag: 4, perm: 4 }, { tag: 0x10, perm: 5 }, { tag: 0x20, perm: 4 }]);
    const ea = ext2Attributes([
      { index: 1, name: 'comment', value: latin1('xattr-value') },
      { index: 2, name: '', value: acl },
    ]);
    w.inode(4, { ...meta(4, 0o100644, { gid: 3 }), size: ea.length }, ea, { flags: DR_NEWINODEFMT | DR_EXTATTRIBUTES, extattributes: 3 });
    expected.push({ path: 'etc/motd', type: 'attrs', mode: 0, uid: 0, gid: 0, size: 0, mtimeNs: 0n, xattrs: { 'user.comment': 'xattr-value' }, acls: [{ kind: 'posix', text: motdAclText }] });
  }

  // a sparse file of 600 blocks: data at blocks 0, 1, 100, 101, ..., and the last, cut short
  const bigBlocks: Block[] = [];
  const bigLogical = Buffer.alloc(600 * tp - 100);
  for (let i = 0; i < 600; i++) {
    const present = i % 100 < 2 || i === 599;
    if (!present) {
      bigBlocks.push(null);
      continue;
    }
    const block = pattern(i === 599 ? tp - 100 : tp, i + 1);
    bigBlocks.push(block);
    block.copy(bigLogical, i * tp);
  }
  w.inode(5, { ...meta(5, 0o100600), size: bigLogical.length }, bigBlocks);
  expected.push(snapOf('etc/big', 'file', 5, 0o100600, { size: bigLogical.length, body: hex(bigLogical) }));

  // symlinks: Solaris keeps a short target in the block pointers, the others dump a data block
  const short = 'etc/motd';
  if (solaris) {
    const area = new Uint8Array(60);
    area.set(latin1(short));
    w.inode(6, { ...meta(6, 0o120777), size: short.length, blockArea: area }, []);
  } else {
    w.inode(6, { ...meta(6, 0o120777), size: short.length }, [Buffer.concat([latin1(short), Buffer.alloc(1)])]);
  }
  expected.push(snapOf('short', 'symlink', 6, 0o120777, { linkTarget: short }));
  w.inode(7, meta(7, 0o120777), latin1(longTarget));
  expected.push(snapOf('long', 'symlink', 7, 0o120777, { linkTarget: longTarget }));

  w.inode(8, { ...meta(8, 0o20666), rdev: { major: 1, minor: 3 } });
  expected.push(snapOf('etc/null', 'char', 8, 0o20666, { devMajor: 1, devMinor: 3 }));
  const disk = family === 'ufs2' ? { major: 7, minor: 0x10001 } : { major: 259, minor: 1 };
  w.inode(9, { ...meta(9, 0o60640, { gid: 3 }), rdev: disk });
  expected.push(snapOf('etc/disk', 'block', 9, 0o60640, { gid: 3, devMajor: disk.major, devMinor: disk.minor }));
  w.inode(10, meta(10, 0o10600));
  expected.push(snapOf('etc/pipe', 'fifo', 10, 0o10600));

  const ksh = pattern(3000, 11);
  w.inode(11, { ...meta(11, 0o100555), nlink: 2 }, ksh);
  expected.push(snapOf('sbin/sh', 'file', 11, 0o100555, { size: ksh.length, body: hex(ksh) }), snapOf('usr/bin/ksh', 'hardlink', 11, 0o100555, { linkTarget: 'sbin/sh' }));
  if (metadata && solaris) {
    const shadow = solarisShadow(motdAcl, le);
    w.header({ type: TS_ADDR, ino: 11, inode: { mode: 0o130000, size: shadow.length }, addr: [1] });
    w.data(shadow);
    expected.push({ path: 'sbin/sh', type: 'attrs', mode: 0, uid: 0, gid: 0, size: 0, mtimeNs: 0n, acls: [{ kind: 'posix', text: motdAclText }] });
  }

  w.inode(15, meta(15, 0o104755, { uid: 70000, gid: 80000 }), latin1('x'));
  expected.push(snapOf('usr/bin/passwd', 'file', 15, 0o104755, { uid: 70000, gid: 80000, size: 1, body: hex(latin1('x')) }));
  w.inode(16, meta(16, 0o100444));
  expected.push(snapOf('etc/empty', 'file', 16, 0o100444));

  if (withAttrs) {
    w.inode(17, meta(17, 0o100644), latin1('attr-value')); // the attribute, before its file
    w.header({ type: TS_ADDR, ino: 30, inode: { mode: 0o130000, size: 8 }, addr: [1] }); // a shadow inode on its own
    w.data(new Uint8Array(8));
    w.inode(19, meta(19, 0o100644), latin1('late'));
    expected.push(snapOf('etc/late', 'file', 19, 0o100644, { size: 4, body: hex(latin1('late')) }));
    expected.push({ path: 'etc/late', type: 'attrs', mode: 0, uid: 0, gid: 0, size: 0, mtimeNs: 0n, xattrs: { comment: 'attr-value' } });
  }
  w.end();
  // Linux dump fills its last tape record with more TS_END records
  if (family === 'linux') w.end();
  return { writer: w, bytes: w.bytes(), expected };
}

const layouts: Array<{ name: string; label: string; options: SampleOptions }> = [
  { name: 'Solaris big-endian', label: 'ufsdump(solaris-be)', options: { family: 'solaris', order: 'be' } },
  { name: 'Solaris little-endian', label: 'ufsdump(solaris-le)', options: { family: 'solaris', order: 'le' } },
  { name: 'Solaris MTB 8 KiB records', label: 'ufsdump(solaris-mtb-be)', options: { family: 'solaris', order: 'be', tpBsize: 8192 } },
  { name: 'Linux little-endian', label: 'dump(linux-le)', options: { family: 'linux', order: 'le' } },
  { name: 'Linux big-endian', label: 'dump(linux-be)', options: { family: 'linux', order: 'be' } },
  { name: 'FreeBSD UFS2', label: 'dump(ufs2-le)', options: { family: 'ufs2', order: 'le', metadata: false } },
];

// ---------------------------------------------------------------------------------------------
// 1. layouts

for (const layout of layouts) {
  test(`${layout.name}: every entry, in order`, async () => {
    const sample = buildSample(layout.options);
    const outcome = await readDump(sample.bytes);
    assertOk(outcome, layout.name);
    assert.deepEqual(outcome.chain, [layout.label]);
    assert.deepEqual(outcome.entries, sample.expected);
    assert.deepEqual(outcome.warnings, []);
  });
}

test('the registry picks the dump reader; bids need the magic and TS_TAPE, a checksum adds confidence', async () => {
  const sample = buildSample({ family: 'linux', order: 'le' });
  assert.equal(await pickFormat(sample.bytes.subarray(0, 1024))?.load(), dumpFormat);
  assert.equal(dumpFormat.bid(sample.bytes.subarray(0, 1024)), 96);
  assert.equal(dumpFormat.bid(sample.bytes.subarray(0, 512)), 64, 'a short head: magic and type only');
  const bad = Uint8Array.from(sample.bytes.subarray(0, 1024));
  bad[100] ^= 1;
  assert.equal(dumpFormat.bid(bad), 64, 'checksum fails: still a candidate, the reader says what is wrong');
  // a GNU .mo catalog can hold 60012 (LE) at offset 24; its first word is its own magic
  const mo = new Uint8Array(1024);
  new DataView(mo.buffer).setUint32(0, 0x950412de, true);
  new DataView(mo.buffer).setUint32(24, 60012, true);
  assert.equal(dumpFormat.bid(mo), 0);
  const mtb = buildSample({ family: 'solaris', order: 'le', tpBsize: 4096 });
  assert.equal(dumpFormat.bid(mtb.bytes.subarray(0, 1024)), 64, 'MTB: the checksum spans the whole record');
});

// ---------------------------------------------------------------------------------------------
// 2. chunk boundaries

for (const layout of [layouts[0]!, layouts[3]!]) {
  test(`${layout.name}: fed 1..13 bytes at a time, read exactly as whole`, async () => {
    const sample = buildSample(layout.options);
    const whole = await readDump(sample.bytes);
    assertOk(whole, 'whole');
    for (let chunk = 1; chunk <= 13; chunk++) {
      const outcome = await readDump(sample.bytes, { chunk });
      assertOk(outcome, `chunk ${chunk}`);
      assert.deepEqual(outcome.entries, whole.entries, `chunk ${chunk}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// 3. holes

test('holes come as numbers from pieces(), data as views; together they are the file', async () => {
  const sample = buildSample({ family: 'solaris', order: 'be' });
  const opened = await openImage(bufferSource('s.dump', sample.bytes), { limits: resolveLimits(undefined), warn: () => undefined });
  let seen = false;
  for await (const entry of opened.entries) {
    if (entry.path !== 'etc/big' || entry.type !== 'file') continue;
    seen = true;
    const parts: Buffer[] = [];
    let holes = 0;
    let holeBytes = 0;
    for await (const piece of entry.body!.pieces!()) {
      if (typeof piece === 'number') {
        holes++;
        holeBytes += piece;
        parts.push(Buffer.alloc(piece));
      } else parts.push(Buffer.from(piece));
    }
    const body = Buffer.concat(parts);
    assert.equal(body.length, entry.size);
    assert.equal(hex(body), sample.expected.find((e) => e.path === 'etc/big')!.body);
    assert.ok(holes >= 6, `${holes} hole runs`);
    assert.ok(holeBytes > entry.size * 0.9, 'the holes are most of the file');
  }
  assert.ok(seen);
});

test('extract() leaves the holes of a sparse file unallocated, and a re-run keeps the file', async () => {
  const w = new DumpWriter({ family: 'linux', order: 'le' });
  const blocks: Block[] = [];
  const logical = Buffer.alloc(4096 * 1024);
  for (let i = 0; i < 4096; i++) {
    if (i === 0 || i === 2048 || i === 4095) {
      const block = pattern(1024, i + 3);
      blocks.push(block);
      block.copy(logical, i * 1024);
    } else blocks.push(null);
  }
  w.tape();
  w.maps([2, 3]);
  w.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['sparse', 3]]);
  w.inode(3, { mode: 0o100644, mtime: 1_000_000_000 }, blocks);
  w.end();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-dump-sparse-'));
  try {
    const dest = path.join(dir, 'root');
    const bytes = w.bytes();
    const report = await extract({ image: 'sparse.dump', source: bufferSource('sparse.dump', bytes), dest, jobs: 1 });
    assert.equal(report.written, 1);
    const file = path.join(dest, 'sparse');
    assert.ok(fs.readFileSync(file).equals(logical), 'the content, holes read back as zeros');
    const st = fs.statSync(file);
    assert.equal(st.size, logical.length);
    assert.ok(st.blocks * 512 < 1024 * 1024, `allocated ${st.blocks * 512} bytes of ${st.size}: the holes were not written`);
    const again = await extract({ image: 'sparse.dump', source: bufferSource('sparse.dump', bytes), dest, jobs: 1 });
    assert.equal(again.unchanged, 1, 'a re-run compares the holes with the file and leaves it alone');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// 4. the Solaris converter

test('dump-solarize: a Linux dump rewritten into the Solaris layout (both orders) reads the same, minus EA records', async () => {
  const linux = buildSample({ family: 'linux', order: 'le', metadata: false });
  const original = await readDump(linux.bytes);
  assertOk(original, 'linux');
  for (const order of ['le', 'be'] as const) {
    const converted = await readDump(solarizeDump(linux.bytes, order));
    assertOk(converted, order);
    assert.deepEqual(converted.chain, [`ufsdump(solaris-${order})`]);
    // times keep microseconds only; the sample's fractions are whole microseconds
    assert.deepEqual(converted.entries, original.entries, order);
  }
});

// ---------------------------------------------------------------------------------------------
// 5. volumes

test('every cut into volumes reads like the single stream (concatVolumes)', async () => {
  for (const options of [{ family: 'linux', order: 'le' }, { family: 'solaris', order: 'be' }] as const) {
    const sample = buildSample(options);
    const whole = await readDump(sample.bytes);
    const records = sample.bytes.length / 1024;
    for (let per = 3; per < records; per += options.family === 'linux' ? 1 : 3) {
      const volumes = sample.writer.volumes(per);
      const source = concatVolumes(volumes.map((v, i) => bufferSource(`vol${i + 1}`, v, 777)));
      const outcome = await readDump(source);
      assertOk(outcome, `${options.family}, ${per} records per volume`);
      assert.deepEqual(outcome.entries, whole.entries, `${options.family}, ${per} records per volume`);
    }
  }
});

test('volumes missing, repeated, out of order, foreign or cut short: one-line errors that say so', async () => {
  const sample = buildSample({ family: 'linux', order: 'le' });
  const vols = sample.writer.volumes(10);
  assert.ok(vols.length >= 4);
  const read = (parts: Uint8Array[]) => readDump(concatVolumes(parts.map((v, i) => bufferSource(`v${i}`, v))));

  let error = assertFailure(await read([vols[0]!, vols[2]!, ...vols.slice(3)]), 'missing');
  assert.match(error.message, /volume 2 is missing/);
  error = assertFailure(await read([vols[0]!, vols[1]!, vols[1]!, ...vols.slice(2)]), 'repeated');
  // at a header position the repeated volume header says so; inside a file's data it is taken
  // for data (a dump may hold dump files) and the records going back in inode order give it away
  assert.match(error.message, /volume 2 comes again|volume 2 came again/);
  error = assertFailure(await read([vols[1]!, vols[0]!]), 'second first');
  assert.match(error.message, /volume 2 of a dump: give volume 1 first/);
  error = assertFailure(await read(vols.slice(0, 2)), 'last missing');
  assert.match(error.message, /without a TS_END record.*volume 3 .*missing/);
  error = assertFailure(await read([vols[0]!.subarray(0, vols[0]!.length - 1024), ...vols.slice(1)]), 'cut short');
  assert.match(error.message, /end of volume 1 is missing/);
  const other = buildSample({ family: 'linux', order: 'le', date: 1_600_000_000 }).writer.volumes(10);
  error = assertFailure(await read([vols[0]!, ...other.slice(1)]), 'foreign');
  assert.match(error.message, /another dump/);
});

test('Solaris TS_EOM ends a volume early: the rest of it is padding up to the next volume header', async () => {
  const sample = buildSample({ family: 'solaris', order: 'le' });
  const whole = await readDump(sample.bytes);
  const vols = sample.writer.volumes(12);
  // volume 1 ends with a TS_EOM (a copy of its volume header, retyped) and two blocks of junk
  const eom = Uint8Array.from(vols[0]!.subarray(0, 1024));
  new DataView(eom.buffer).setInt32(0, 7, true);
  setChecksum(eom, true);
  const first = Buffer.concat([vols[0]!, eom, Buffer.alloc(2048, 0xaa)]);
  const outcome = await readDump(concatVolumes([bufferSource('v1', first), ...vols.slice(1).map((v, i) => bufferSource(`v${i + 2}`, v))]));
  assertOk(outcome, 'EOM');
  assert.deepEqual(outcome.entries, whole.entries);
});

test('an incremental dump: announced; unchanged names and metadata-only records become unchanged entries', async () => {
  const w = new DumpWriter({ family: 'linux', order: 'le', level: 1, ddate: 1_690_000_000 });
  w.tape();
  w.maps([2, 4, 5], [2, 3, 4, 5]);
  w.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['unchanged', 3], ['chmoded', 4], ['new', 5]]);
  w.header({ type: TS_INODE, ino: 4, inode: { mode: 0o100600, size: 100 }, flags: DR_NEWINODEFMT | 0x100 }); // DR_METAONLY
  w.inode(5, { mode: 0o100644 }, latin1('new'));
  w.end();
  const outcome = await readDump(w.bytes());
  assertOk(outcome, 'incremental');
  // names of inodes the dump does not carry come after the directories; a metadata-only record
  // (content unchanged, new mode) in inode order, with its new mode
  assert.deepEqual(outcome.entries.map((e) => `${e.type} ${e.path}`), ['dir .', 'unchanged unchanged', 'unchanged chmoded', 'file new']);
  assert.equal(outcome.entries[2]!.mode, 0o600);
  assert.deepEqual(outcome.warnings.map((x) => x.code), ['P2V_INCREMENTAL']);
  assert.match(outcome.warnings[0]!.message, /level 1 \(incremental\)/);

  // what extract() sees: the inode of every entry, and which unchanged entry brings new metadata
  const seen: Array<[string, number | undefined, boolean | undefined]> = [];
  let level: DumpLevel | undefined;
  const opened = await openImage(bufferSource('inc.dump', w.bytes()), { limits: resolveLimits(undefined), warn: () => undefined, dumpLevel: (l) => (level = l) });
  for await (const entry of opened.entries) seen.push([entry.path, entry.inode, entry.newMetadata]);
  assert.deepEqual(seen, [['.', 2, undefined], ['unchanged', 3, undefined], ['chmoded', 4, true], ['new', 5, undefined]]);
  assert.deepEqual({ level: level!.level, previousDate: level!.previousDate }, { level: 1, previousDate: 1_690_000_000 });
  assert.deepEqual([2, 3, 4, 5, 6].map((ino) => [level!.inUse(ino), level!.dumped(ino)]), [[true, true], [true, false], [true, true], [true, true], [false, false]]);
});

test('recognised but not read: pre-4.2BSD dumps (OFS_MAGIC) and Linux dump -z records', async () => {
  const old = new DumpWriter({ family: 'solaris', order: 'be' });
  old.tape();
  old.end();
  const oldBytes = old.bytes();
  new DataView(oldBytes.buffer).setUint32(24, 60011, false);
  setChecksum(oldBytes.subarray(0, 1024), false);
  assert.match(assertFailure(await readDump(oldBytes), 'OFS', 'P2V_UNSUPPORTED').message, /pre-4\.2BSD/);
  const z = new DumpWriter({ family: 'linux', order: 'le' });
  z.tape({ flags: 0x83 });
  z.end();
  assert.match(assertFailure(await readDump(z.bytes()), 'compressed', 'P2V_UNSUPPORTED').message, /-z\/-j/);
});

// ---------------------------------------------------------------------------------------------
// 6. damage

function headerOffsets(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = 0; at + 1024 <= bytes.length; at += 1024) {
    if (new DataView(bytes.buffer, bytes.byteOffset + at).getUint32(24, true) === 60012) out.push(at);
  }
  return out;
}

test('a bad header checksum fails at that header', async () => {
  const sample = buildSample({ family: 'linux', order: 'le' });
  const at = headerOffsets(sample.bytes)[5]!;
  const bad = Uint8Array.from(sample.bytes);
  bad[at + 40] ^= 0x10;
  const error = assertFailure(await readDump(bad), 'checksum');
  assert.equal(error.details.offset, at);
  assert.match(error.message, /checksum mismatch/);
  assert.equal(error.details.image, 'test.dump');
});

test('a dump without TS_END fails where the record should be', async () => {
  const sample = buildSample({ family: 'solaris', order: 'be' });
  const cut = sample.bytes.subarray(0, sample.bytes.length - 1024);
  const error = assertFailure(await readDump(cut), 'no TS_END');
  assert.equal(error.details.offset, cut.length);
  assert.match(error.message, /without a TS_END/);
});

test('a truncated data block fails with the offset of the cut', async () => {
  const sample = buildSample({ family: 'linux', order: 'le' });
  const offsets = headerOffsets(sample.bytes);
  const cut = sample.bytes.subarray(0, offsets[offsets.length - 3]! - 300);
  const error = assertFailure(await readDump(cut), 'truncated');
  assert.match(error.message, /truncated/);
  assert.ok(error.details.offset! <= cut.length);
});

test('a directory entry naming an inode not in use when dump read the maps (made while it ran) is skipped with a warning; one beyond the maps is corrupt', async () => {
  const build = (ghost: number) => {
    const w = new DumpWriter({ family: 'linux', order: 'le' });
    w.tape();
    w.maps([2, 3]);
    w.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['file', 3], ['ghost', ghost]]);
    w.inode(3, { mode: 0o100644 }, latin1('data'));
    w.end();
    return w.bytes();
  };
  const made = await readDump(build(300));
  assertOk(made, 'made while dump ran');
  assert.deepEqual(made.entries.map((e) => e.path), ['.', 'file']);
  assert.equal(made.warnings.length, 1);
  assert.match(made.warnings[0]!.message, /inode 300 is not in this dump and was not in use/);
  assert.equal(made.warnings[0]!.entry, 'ghost');
  // the maps here have a bit for each of 8192 inodes (one 1 KiB block)
  const error = assertFailure(await readDump(build(8193)), 'beyond the maps');
  assert.match(error.message, /"ghost" names inode 8193, beyond the file system's inodes \(the dump's maps cover 8192\)/);
  assert.equal(error.details.offset, 5 * 1024, 'the directory record');
});

test('an inode in use but left out of the dump (nodump) is a warning; one listed but never written is skipped with a warning at level 0 (removed while dump ran), kept from the previous level in an incremental', async () => {
  const build = (bits: number[], used: number[], level = 0) => {
    const w = new DumpWriter({ family: 'linux', order: 'le', ...(level > 0 ? { level, ddate: 1_600_000_000 } : {}) });
    w.tape();
    w.maps(bits, used);
    w.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['file', 3], ['skipped', 4]]);
    w.inode(3, { mode: 0o100644 }, latin1('data'));
    w.end();
    return w.bytes();
  };
  const nodump = await readDump(build([2, 3], [2, 3, 4]));
  assertOk(nodump, 'nodump');
  assert.deepEqual(nodump.entries.map((e) => e.path), ['.', 'file']);
  assert.match(nodump.warnings[0]!.message, /inode 4 is not in this dump/);
  const removed = await readDump(build([2, 3, 4], [2, 3, 4]));
  assertOk(removed, 'listed, never written');
  assert.deepEqual(removed.entries.map((e) => e.path), ['.', 'file']);
  assert.deepEqual(removed.warnings.map((w) => [w.entry, /inode 4 is in the dump's map but its data never came/.test(w.message)]), [['skipped', true]]);
  // an incremental names it as kept from the previous level (restore -r keeps the old file)
  const incremental = await readDump(build([2, 3, 4], [2, 3, 4], 1));
  assertOk(incremental, 'incremental, listed, never written');
  assert.deepEqual(incremental.entries.filter((e) => e.path === 'skipped').map((e) => e.type), ['unchanged']);
  assert.match(incremental.warnings.find((w) => w.entry === 'skipped')!.message, /inode 4 is in the dump's map but its data never came .*the previous level's file is kept/);
});

test('names with "/" or NUL, lying block counts and missing continuations fail', async () => {
  const slash = new DumpWriter({ family: 'solaris', order: 'le' });
  slash.tape();
  slash.maps([2, 3]);
  slash.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['../../etc/passwd', 3]]);
  slash.end();
  assert.match(assertFailure(await readDump(slash.bytes()), 'slash').message, /invalid name/);

  const count = new DumpWriter({ family: 'linux', order: 'le' });
  count.tape();
  count.maps([2, 3]);
  count.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['f', 3]]);
  count.header({ type: TS_INODE, ino: 3, inode: { mode: 0o100644, size: 10 }, count: 600 });
  count.end();
  assert.match(assertFailure(await readDump(count.bytes()), 'count').message, /lists 600 blocks/);

  const short = new DumpWriter({ family: 'linux', order: 'le' });
  short.tape();
  short.maps([2, 3, 4]);
  short.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['f', 3], ['g', 4]]);
  short.header({ type: TS_INODE, ino: 3, inode: { mode: 0o100644, size: 3000 }, addr: [1] }); // 3 blocks needed, 1 listed
  short.data(pattern(1024, 1));
  short.inode(4, { mode: 0o100644 }, latin1('g'));
  short.end();
  assert.match(assertFailure(await readDump(short.bytes()), 'continuation').message, /inode 3: its data stops after 1024 of 3000 bytes/);
});

test('seeded mutations and every truncation: P2VErrors with offsets, never a crash', async () => {
  const sample = buildSample({ family: 'solaris', order: 'be' });
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let round = 0; round < 300; round++) {
    const bytes = Uint8Array.from(sample.bytes);
    for (let k = 0; k < 1 + Math.floor(random() * 4); k++) bytes[Math.floor(random() * bytes.length)] ^= 1 << Math.floor(random() * 8);
    const outcome = await readDump(bytes);
    if (outcome.error) assert.equal(typeof outcome.error.details.offset, 'number', outcome.error.oneLine());
  }
  for (let cut = 0; cut < sample.bytes.length; cut += 509) {
    const outcome = await readDump(sample.bytes.subarray(0, cut));
    assert.ok(outcome.error, `cut at ${cut}: must fail`);
    assert.equal(typeof outcome.error.details.offset, 'number');
  }
});

// ---------------------------------------------------------------------------------------------
// 7. limits

test('limits: map size, names held, symlink target, attribute record', async () => {
  const linux = buildSample({ family: 'linux', order: 'le' });
  assertFailure(await readDump(linux.bytes, { limits: { maxDumpMapBytes: 512 } }), 'maxDumpMapBytes', 'P2V_LIMIT');
  assertFailure(await readDump(linux.bytes, { limits: { maxDumpTreeBytes: 100 } }), 'maxDumpTreeBytes', 'P2V_LIMIT');
  assertFailure(await readDump(linux.bytes, { limits: { maxLinkTargetBytes: 50 } }), 'maxLinkTargetBytes', 'P2V_LIMIT');
  assertFailure(await readDump(linux.bytes, { limits: { maxMetaRecordBytes: 16 } }), 'maxMetaRecordBytes', 'P2V_LIMIT');
});

test('limits: a directory chain whose names outgrow maxPathBytes is cut there, with a warning; what is above it is read', async () => {
  // each directory's whole path is held while the names are walked: a deep chain of long names
  // grew as the square of its depth (3,000 levels of 250 bytes took 2.4 GB)
  const depth = 40;
  const w = new DumpWriter({ family: 'linux', order: 'le' });
  w.tape();
  const inodes = Array.from({ length: depth + 1 }, (_, i) => i + 2);
  w.maps(inodes);
  for (let i = 2; i < depth + 2; i++) w.directory(i, { mode: 0o40755 }, [['.', i], ['..', i === 2 ? 2 : i - 1], ['d'.repeat(99), i + 1]]);
  w.directory(depth + 2, { mode: 0o40755 }, [['.', depth + 2], ['..', depth + 1]]);
  w.end();
  const outcome = await readDump(w.bytes(), { limits: { maxPathBytes: 1000 } });
  assert.equal(outcome.error, undefined, String(outcome.error));
  const dirs = outcome.entries.filter((e) => e.type === 'dir' && e.path !== '.');
  assert.equal(dirs.length, 10, 'ten levels of 100 bytes fit in 1000');
  assert.ok(dirs.every((e) => e.path.length <= 1000));
  assert.ok(outcome.warnings.some((w) => /longer than maxPathBytes \(1000\): skipped with everything below them/.test(w.message)), JSON.stringify(outcome.warnings.map((w) => w.message)));
});
