/**
 * Dumps written by the real Linux dump (0.4b47) of ext2 images, read back by the dump reader and
 * extracted by extract(), compared with the source tree and with `restore -r`.
 *
 * The rich source tree (test/helpers/rich-tree.ts: hard links across directories, short and
 * 150-char symlinks, a 5 MiB sparse file, a FIFO, devices, set-id files, uid/gid 70000/80000)
 * gets a user xattr (setfattr) and, when setfacl exists, a POSIX ACL; `mke2fs -d` turns it into
 * ext2 images with 1 KiB and 4 KiB blocks. dump needs a block device, so each image is attached
 * to a loop device (`losetup -f --show`), always detached in `finally`; the tests skip with the
 * reason when the tools, root or a free loop device are missing.
 *
 * Dumps: level 0 with the default and `-b 64` records, level 0 of the 4 KiB image, a level 1
 * after changing the image with `debugfs -w` (a file written, a file removed), and a level 0
 * split into volumes with `-B`. Checks:
 *   1. listEntries: labels, the xattr and ACL as 'attrs' entries of their file;
 *   2. extract() equals the source tree (minus lost+found) and `restore -r`'s tree, except
 *      where restore itself loses: it reads only the old 8+8-bit device number, so a block
 *      device 259,1 comes back 0,0 from restore (extract() keeps 259,1, as the source has it);
 *      the sparse file stays sparse;
 *   3. a small dump fed 1..13 bytes at a time reads exactly like the whole;
 *   4. damage (bad checksum, missing TS_END, truncated block, a directory entry naming an inode
 *      that is never dumped): a one-line P2VError with the offset, exit status 1 from the CLI,
 *      nothing written beside the destination;
 *   5. level 1 over level 0 (both with one --index) equals restore -r of both, the deletion
 *      included (renames and the rest: dump-incremental.test.ts);
 *   6. the Solaris converter (test/helpers/dump-solarize.ts, SYNTHETIC output) in both byte
 *      orders: same entries minus the Linux EA records, same extracted tree;
 *   7. the volumes of a `-B` dump joined by concatVolumes extract like the single dump; a missing
 *      volume is named.
 * Set ZONEP2V_KEEP_TEST_FILES=1 to keep the temporary directory for a look.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extract } from '../../src/index.js';
import { concatVolumes } from '../../src/io/concat-volumes.js';
import { bufferSource, openFileSource } from '../../src/io/source.js';
import { listEntries } from '../../src/list.js';
import type { Entry } from '../../src/entry.js';
import { assertFailure, assertOk, readDump, type Snap } from '../helpers/dump-read.js';
import { solarizeDump } from '../helpers/dump-solarize.js';
import { makeRichTree, type RichTree } from '../helpers/rich-tree.js';
import { makeSandbox } from '../helpers/sentinel.js';
import { diffTrees, type CompareOptions } from '../helpers/tree-compare.js';
import { haveTool, isRoot, missingTools, removeTree, run, sh } from '../helpers/tools.js';
import { restoreInto, withLoop } from '../helpers/dump-tools.js';

const keep = process.env.ZONEP2V_KEEP_TEST_FILES === '1';

interface Fixture {
  work: string;
  tree: RichTree;
  /** source tree of the small dump */
  miniTree: string;
  dumps: { l0: string; l0b64: string; l04k: string; l1: string; mini: string; volumes: string[] };
  /** restore -r of l0, and of l0 then l1 */
  refs: { l0: string; l1: string };
  acl: boolean;
}

let skipReason: string | undefined = (() => {
  const missing = missingTools(['dump', 'restore', 'mke2fs', 'debugfs', 'losetup', 'setfattr']);
  if (missing.length > 0) return `missing: ${missing.join(', ')} (apt-get install -y dump e2fsprogs attr)`;
  if (!isRoot()) return 'dump needs a loop device: run as root';
  const free = run('losetup', ['-f'], { okStatus: 'any' });
  if (free.status !== 0) return `no loop device on this machine (losetup -f: ${free.stderr.trim() || `exit ${free.status}`})`;
  return undefined;
})();
let fixture: Fixture | undefined;

function build(): Fixture {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-dump-'));
  const at = (name: string) => path.join(work, name);
  const tree = makeRichTree(at('tree'));
  run('setfattr', ['-n', 'user.comment', '-v', 'xattr-value', at('tree/etc/motd')]);
  const acl = haveTool('setfacl');
  if (acl) run('setfacl', ['-m', 'u:1234:rwx,g:5678:r-x', at('tree/opt/app/data.db')]);
  // mke2fs -d copies owners, modes, times (seconds), xattrs and ACLs; it updates no mtime
  run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-d', at('tree'), '-L', 'rich1k', at('img1k'), '16M']);
  run('mke2fs', ['-q', '-t', 'ext2', '-b', '4096', '-d', at('tree'), '-L', 'rich4k', at('img4k'), '16M']);
  // a small tree for byte-by-byte feeding and damage
  const mini = at('mini');
  fs.mkdirSync(path.join(mini, 'd'), { recursive: true });
  fs.writeFileSync(path.join(mini, 'a.txt'), 'hello\n');
  fs.linkSync(path.join(mini, 'a.txt'), path.join(mini, 'd', 'a-link'));
  fs.symlinkSync('a.txt', path.join(mini, 'short'));
  fs.writeFileSync(path.join(mini, 'd', 'data.bin'), Buffer.alloc(3000, 0x5a));
  run('setfattr', ['-n', 'user.note', '-v', 'mini', path.join(mini, 'a.txt')]);
  run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-d', mini, '-L', 'mini', at('imgmini'), '2M']);
  // level 1 takes what changed since level 0 (mtime or ctime >= its date): let the image's
  // ctimes fall into an earlier second than level 0
  spawnSync('sleep', ['1.1']);

  const dumps = { l0: at('l0.dump'), l0b64: at('l0b64.dump'), l04k: at('l04k.dump'), l1: at('l1.dump'), mini: at('mini.dump'), volumes: [] as string[] };
  withLoop(at('img1k'), (device) => {
    run('dump', ['-0', '-f', dumps.l0, device]);
    run('dump', ['-0', '-b', '64', '-f', dumps.l0b64, device]);
    const names = Array.from({ length: 12 }, (_, i) => at(`vol${i + 1}.dump`));
    run('dump', ['-0', '-B', '150', '-f', names.join(','), device]);
    dumps.volumes = names.filter((n) => fs.existsSync(n));
  });
  withLoop(at('img4k'), (device) => run('dump', ['-0', '-f', dumps.l04k, device]));
  withLoop(at('imgmini'), (device) => run('dump', ['-0', '-f', dumps.mini, device]));

  // level 1: a file written, a file removed (debugfs works on the image, no mount needed)
  const level0Date = fs.readFileSync(dumps.l0).readUInt32LE(4);
  fs.writeFileSync(at('newfile.txt'), 'written after level 0\n');
  run('debugfs', ['-w', '-R', `write ${at('newfile.txt')} /etc/newfile.txt`, at('img1k')]);
  run('debugfs', ['-w', '-R', 'rm /var/tmp/scratch', at('img1k')]);
  // and a file replaced (a new inode under an old name)
  fs.writeFileSync(at('replaced.txt'), 'replaced after level 0\n');
  run('debugfs', ['-w', '-R', 'rm /etc/one-byte', at('img1k')]);
  run('debugfs', ['-w', '-R', `write ${at('replaced.txt')} /etc/one-byte`, at('img1k')]);
  const since = sh('date -d "@$1" "+%a %b %e %H:%M:%S %Y"', [String(level0Date)]).stdout.toString('latin1').trim();
  withLoop(at('img1k'), (device) => run('dump', ['-1', '-T', since, '-f', dumps.l1, device]));

  const refs = { l0: at('ref0'), l1: at('ref1') };
  restoreInto(refs.l0, dumps.l0);
  restoreInto(refs.l1, dumps.l0, dumps.l1);
  return { work, tree, miniTree: mini, dumps, refs, acl };
}

before(() => {
  if (skipReason) return;
  try {
    fixture = build();
  } catch (error) {
    skipReason = `could not make the dumps: ${(error as Error).message.split('\n')[0]}`;
  }
});

after(() => {
  if (fixture && !keep) removeTree(fixture.work);
  else if (fixture) console.log(`keeping ${fixture.work}`);
});

function ready(t: TestContext): Fixture | undefined {
  if (skipReason || !fixture) {
    t.skip(skipReason ?? 'no fixture');
    return undefined;
  }
  return fixture;
}

function tempDir(t: TestContext, label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zonep2v-dump-${label}-`));
  if (!keep) t.after(() => removeTree(dir));
  return dir;
}

/** What a dump of an ext2 file system adds to the source: lost+found. */
const vsSource: CompareOptions = { ignoreRootMeta: true, ignore: ['lost+found'] };
/** restore -r reads only the old 8+8-bit device number (db[0]): 259,1 comes back 0,0 */
const restoreLoss = (rel: string, property: string) => rel === 'etc/devnodes/nvme0n1' && property === 'rdev';
const vsRestore: CompareOptions = { ignoreRootMeta: true, ignoreProperty: restoreLoss };

function assertNoDiffs(expected: string, actual: string, options: CompareOptions, what: string): void {
  const diffs = diffTrees(expected, actual, options);
  assert.deepEqual(diffs.map((d) => `${d.path}: ${d.message}`), [], what);
}

async function extractTo(t: TestContext, image: string, label: string) {
  const dest = path.join(tempDir(t, label), 'root');
  const report = await extract({ image, dest });
  return { dest, report };
}

// ---------------------------------------------------------------------------------------------

test('level 0: labels, names, and the xattr and ACL as metadata of their file', async (t) => {
  const f = ready(t);
  if (!f) return;
  const outcome = await readDump(fs.readFileSync(f.dumps.l0), { bodies: false });
  assertOk(outcome, 'l0');
  assert.deepEqual(outcome.chain, ['dump(linux-le)']);
  const byPath = (p: string, type: Snap['type']) => outcome.entries.find((e) => e.path === p && e.type === type);
  assert.ok(byPath('.', 'dir'));
  assert.deepEqual(byPath('etc/motd', 'attrs')?.xattrs, { 'user.comment': 'xattr-value' });
  if (f.acl) {
    const acls = byPath('opt/app/data.db', 'attrs')?.acls;
    assert.deepEqual(acls, [{ kind: 'posix', text: 'user::rw-,user:1234:rwx,group::r--,group:5678:r-x,mask:rwx,other:---' }]);
  }
  const ksh = outcome.entries.filter((e) => ['sbin/sh', 'usr/bin/ksh', 'usr/xpg4/bin/sh'].includes(e.path));
  assert.deepEqual(ksh.map((e) => e.type), ['file', 'hardlink', 'hardlink'], 'one data entry, then its other names');
  assert.deepEqual(outcome.entries.find((e) => e.path === 'var/opt/long-target')?.linkTarget, f.tree.items.find((i) => i.path === 'var/opt/long-target')!.target);
  assert.deepEqual(outcome.warnings, []);
});

for (const [name, which] of [
  ['level 0, 1 KiB blocks, default records', 'l0'],
  ['level 0, 1 KiB blocks, -b 64', 'l0b64'],
  ['level 0, 4 KiB blocks', 'l04k'],
] as const) {
  test(`${name}: extract() equals the source tree and restore -r`, async (t) => {
    const f = ready(t);
    if (!f) return;
    const { dest, report } = await extractTo(t, f.dumps[which], which);
    assert.deepEqual(report.chain, ['dump(linux-le)']);
    assertNoDiffs(f.tree.root, dest, vsSource, 'source tree vs extract()');
    assertNoDiffs(f.refs.l0, dest, vsRestore, 'restore -r vs extract()');
    const sparse = fs.statSync(path.join(dest, 'var/adm/lastlog'));
    assert.equal(sparse.size, 5 * 1024 * 1024);
    assert.ok(sparse.blocks * 512 < 256 * 1024, `the sparse file stays sparse (${sparse.blocks * 512} bytes allocated)`);
  });
}

test('a small real dump fed 1..13 bytes at a time reads exactly as whole', async (t) => {
  const f = ready(t);
  if (!f) return;
  const bytes = fs.readFileSync(f.dumps.mini);
  const whole = await readDump(bytes);
  assertOk(whole, 'whole');
  assert.ok(whole.entries.some((e) => e.path === 'd/a-link' && e.type === 'hardlink'));
  assert.deepEqual(whole.entries.find((e) => e.path === 'a.txt' && e.type === 'attrs')?.xattrs, { 'user.note': 'mini' });
  for (let chunk = 1; chunk <= 13; chunk++) {
    const outcome = await readDump(bytes, { chunk });
    assertOk(outcome, `chunk ${chunk}`);
    assert.deepEqual(outcome.entries, whole.entries, `chunk ${chunk}`);
  }
});

// ---------------------------------------------------------------------------------------------
// damage

interface Damage {
  name: string;
  damage(bytes: Uint8Array): Uint8Array;
  message: RegExp;
}

/** Offsets of the header records of a (little-endian, 1 KiB) dump, with their type and inode. */
function headers(bytes: Uint8Array): Array<{ at: number; type: number; ino: number; count: number; mode: number }> {
  const out: Array<{ at: number; type: number; ino: number; count: number; mode: number }> = [];
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 1024 <= b.length; at += 1024) {
    if (b.readUInt32LE(at + 24) === 60012) out.push({ at, type: b.readInt32LE(at), ino: b.readUInt32LE(at + 20), count: b.readInt32LE(at + 160), mode: b.readUInt16LE(at + 32) });
  }
  return out;
}

const damages: Damage[] = [
  {
    name: 'bad header checksum',
    damage(bytes) {
      const out = Uint8Array.from(bytes);
      const target = headers(out).find((h) => h.type === 2 && (h.mode & 0o170000) === 0o100000)!;
      out[target.at + 48] ^= 0x01; // the file's atime
      return out;
    },
    message: /checksum mismatch/,
  },
  {
    name: 'missing TS_END',
    damage(bytes) {
      return bytes.subarray(0, headers(bytes).find((h) => h.type === 5)!.at);
    },
    message: /without a TS_END/,
  },
  {
    name: 'truncated data block',
    damage(bytes) {
      const file = headers(bytes).find((h) => h.type === 2 && h.count > 0 && (h.mode & 0o170000) === 0o100000)!;
      return bytes.subarray(0, file.at + 1024 + 500);
    },
    message: /truncated/,
  },
  {
    name: 'directory entry naming an inode the file system cannot have',
    damage(bytes) {
      const out = Uint8Array.from(bytes);
      const root = headers(out).find((h) => h.type === 2 && h.ino === 2)!;
      // the third entry of the root directory (after "." and ".."): point it at inode 1999
      const v = new DataView(out.buffer, out.byteOffset + root.at + 1024);
      let at = 0;
      for (let i = 0; i < 2; i++) at += v.getUint16(at + 4, true);
      v.setUint32(at, 0x7fff_0000, true); // beyond the inodes the file system has (its maps)
      return out;
    },
    message: /names inode 2147418112, beyond the file system's inodes/,
  },
];

for (const d of damages) {
  test(`damage: ${d.name} → one-line error with offset, exit 1, nothing outside the destination`, async (t) => {
    const f = ready(t);
    if (!f) return;
    const damaged = d.damage(fs.readFileSync(f.dumps.mini));
    const outcome = await readDump(damaged, { name: 'damaged.dump' });
    const error = assertFailure(outcome, d.name);
    assert.match(error.message, d.message);
    assert.match(error.oneLine(), /^damaged\.dump: dump\(linux-le\) at byte \d+: /);

    const box = makeSandbox(`dump-${d.name}`);
    t.after(() => box.cleanup());
    const image = path.join(box.outside, 'damaged.dump');
    fs.writeFileSync(image, damaged);
    box.resnapshot();
    await assert.rejects(extract({ image, dest: box.root }), (e: Error) => e.name === 'P2VError');
    box.assertUnchanged(d.name);

    // the CLI: exit status 1 and one line on stderr
    const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const cli = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', `const { main } = await import(${JSON.stringify('file://' + main)}); process.exitCode = await main(['node', 'zonep2v', ...process.argv.slice(1)]);`, 'extract', image, path.join(box.base, 'cli-root')], {
      encoding: 'utf8',
    });
    assert.equal(cli.status, 1, cli.stderr);
    const lines = cli.stderr.trim().split('\n');
    assert.equal(lines.length, 1, cli.stderr);
    assert.match(lines[0]!, /at byte \d+/);
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * A dump as dump writes it of a mounted file system that changes while it runs: a file removed
 * after its directory was written and before the file pass (its inode is in the maps, its records
 * never come), and a file made after the maps were read (named by its directory, in neither map,
 * no records). Made from a real dump by leaving those records out and clearing the bits, as dump
 * would have. Record walk as restore's: TS_INODE/TS_ADDR carry a data block per non-zero c_addr
 * byte, TS_BITS/TS_CLRI c_count blocks of map.
 */
function asIfChangedDuringDump(bytes: Uint8Array, removed: number, made?: number): Uint8Array {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kept: Buffer[] = [];
  for (let at = 0; at + 1024 <= b.length; ) {
    assert.equal(b.readUInt32LE(at + 24), 60012, `a header at ${at}`);
    const type = b.readInt32LE(at);
    const count = b.readInt32LE(at + 160);
    let blocks = 0;
    if (type === 3 || type === 6) blocks = count;
    else if (type === 2 || type === 4) for (let i = 0; i < count; i++) blocks += b[at + 164 + i] !== 0 ? 1 : 0;
    const record = Buffer.from(b.subarray(at, at + 1024 * (1 + blocks)));
    const ino = b.readUInt32LE(at + 20);
    if ((type === 3 || type === 6) && made !== undefined) {
      // the map: `made` was not in use when dump read it (a map's bit for inode i is bit i-1)
      record[1024 + ((made - 1) >>> 3)]! &= ~(1 << ((made - 1) & 7));
    }
    if (!((type === 2 || type === 4) && (ino === removed || ino === made))) kept.push(record);
    at += 1024 * (1 + blocks);
    if (type === 5) {
      kept.push(Buffer.from(b.subarray(at)));
      break;
    }
  }
  return Buffer.concat(kept);
}

/** A dump's entries as the reader gives them (with their inode numbers), bodies unread. */
async function entriesOf(dump: Uint8Array): Promise<Entry[]> {
  const entries: Entry[] = [];
  for await (const entry of (await listEntries({ image: 'test.dump', source: bufferSource('test.dump', dump) }, [])).entries) entries.push(entry);
  return entries;
}

test('a dump of a file system that changed while dump ran: the files it lost are skipped with a warning, as restore -r does', async (t) => {
  const f = ready(t);
  if (!f) return;
  const original = fs.readFileSync(f.dumps.l0);
  const listed = await entriesOf(original);
  // two files of one name each, with data, in different directories
  const singles = listed.filter((e) => e.type === 'file' && e.size > 0 && listed.filter((o) => o.inode === e.inode).length === 1);
  const removed = singles[0]!;
  const made = singles.find((e) => path.dirname(e.path) !== path.dirname(removed.path))!;
  const work = tempDir(t, 'live');
  const image = path.join(work, 'live.dump');
  fs.writeFileSync(image, asIfChangedDuringDump(original, removed.inode!, made.inode!));

  const dest = path.join(work, 'root');
  const report = await extract({ image, dest });
  const about = (p: string) => report.warnings.filter((w) => w.entry === p).map((w) => w.message);
  assert.equal(report.warnings.length, 2, JSON.stringify(report.warnings));
  assert.match(about(removed.path).join(), new RegExp(`inode ${removed.inode} is in the dump's map but its data never came`));
  assert.match(about(made.path).join(), new RegExp(`inode ${made.inode} is not in this dump and was not in use`));
  assert.ok(!fs.existsSync(path.join(dest, removed.path)) && !fs.existsSync(path.join(dest, made.path)));
  // everything else as restore -r makes it of the same dump ("not found on tape" for both)
  const reference = path.join(work, 'ref');
  restoreInto(reference, image);
  assertNoDiffs(reference, dest, vsRestore, 'restore -r vs extract() of the changed dump');
  assert.ok(fs.existsSync(path.join(dest, path.dirname(made.path))), 'its directory is there');
});

test('a level 1 that lost files it lists (removed while dump ran) applies as restore -r applies it: the previous level\'s file stays', async (t) => {
  const f = ready(t);
  if (!f) return;
  const level1 = fs.readFileSync(f.dumps.l1);
  const listed = await entriesOf(level1);
  // a file new in level 1 (nothing at its name before), and one that replaced a level 0 file
  const fresh = listed.find((e) => e.path === 'etc/newfile.txt')!;
  const replaced = listed.find((e) => e.path === 'etc/one-byte')!;
  const base = tempDir(t, 'l1-lost');
  const image = path.join(base, 'l1-lost.dump');
  fs.writeFileSync(image, asIfChangedDuringDump(asIfChangedDuringDump(level1, fresh.inode!), replaced.inode!));
  const dest = path.join(base, 'root');
  const indexFile = path.join(base, 'index.jsonl');
  await extract({ image: f.dumps.l0, dest, indexFile });
  const report = await extract({ image, dest, indexFile });
  assert.deepEqual(report.warnings.map((w) => w.entry).sort(), ['etc/newfile.txt', 'etc/one-byte'], JSON.stringify(report.warnings));
  assert.ok(!fs.existsSync(path.join(dest, 'etc/newfile.txt')));
  assert.equal(fs.readFileSync(path.join(dest, 'etc/one-byte'), 'utf8'), 'x', 'the level 0 file stays');
  const reference = path.join(base, 'ref');
  restoreInto(reference, f.dumps.l0, image);
  assertNoDiffs(reference, dest, { ...vsRestore, ignoreProperty: (rel, property) => restoreLoss(rel, property) || (rel === 'var/tmp' && property === 'mtime') }, 'restore -r l0 l1-lost vs extract()');
  // the index describes the tree: its record of the kept file is the level 0 one, no "applying" mark
  const rows = fs.readFileSync(indexFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { path?: string; size?: number; dumpApplying?: unknown });
  assert.equal(rows.find((r) => r.path === 'etc/one-byte')?.size, 1);
  assert.ok(!rows.some((r) => r.dumpApplying !== undefined));
});

test('level 1 over level 0 (one --index) equals restore -r of both, the deletion included', async (t) => {
  const f = ready(t);
  if (!f) return;
  const base = tempDir(t, 'l1');
  const dest = path.join(base, 'root');
  const indexFile = path.join(base, 'index.jsonl');
  await extract({ image: f.dumps.l0, dest, indexFile });
  const report = await extract({ image: f.dumps.l1, dest, indexFile });
  assert.ok(!report.warnings.some((w) => w.code === 'P2V_INCREMENTAL'), 'applied, not merely read');
  assert.equal(fs.readFileSync(path.join(dest, 'etc/newfile.txt'), 'utf8'), 'written after level 0\n');
  assert.equal(fs.readFileSync(path.join(dest, 'etc/one-byte'), 'utf8'), 'replaced after level 0\n');
  assert.ok(!fs.existsSync(path.join(dest, 'var/tmp/scratch')), 'gone from the level 1 maps: removed');
  // debugfs left var/tmp's times alone (the kernel would not), so level 1 does not list it and
  // the removal (by the inode map) touches its mtime, in restore -r's tree as in ours
  assertNoDiffs(f.refs.l1, dest, { ...vsRestore, ignoreProperty: (rel, property) => restoreLoss(rel, property) || (rel === 'var/tmp' && property === 'mtime') }, 'restore -r l0 l1 vs extract() l0 l1');
  // without the index of level 0 it is refused
  await assert.rejects(extract({ image: f.dumps.l1, dest: path.join(base, 'other') }), (e: Error & { code?: string }) => e.code === 'P2V_USAGE');
});

test('dump-solarize (synthetic Solaris layout, both byte orders): the same entries and the same tree', async (t) => {
  const f = ready(t);
  if (!f) return;
  const linuxBytes = fs.readFileSync(f.dumps.l0);
  const linux = await readDump(linuxBytes);
  assertOk(linux, 'linux');
  const withoutEa = linux.entries.filter((e) => e.type !== 'attrs');
  const { dest: linuxDest } = await extractTo(t, f.dumps.l0, 'sol-ref');
  for (const order of ['le', 'be'] as const) {
    const bytes = solarizeDump(linuxBytes, order);
    const outcome = await readDump(bytes);
    assertOk(outcome, order);
    assert.deepEqual(outcome.chain, [`ufsdump(solaris-${order})`]);
    assert.deepEqual(outcome.entries, withoutEa, order);
    const image = path.join(tempDir(t, `sol-${order}`), `solaris-${order}.dump`);
    fs.writeFileSync(image, bytes);
    const { dest } = await extractTo(t, image, `sol-${order}-x`);
    assertNoDiffs(linuxDest, dest, { ignoreRootMeta: true }, `Solaris ${order} vs Linux extraction`);
  }
});

test('the volumes of a -B dump, joined by concatVolumes, extract like one dump; a missing volume is named', async (t) => {
  const f = ready(t);
  if (!f) return;
  assert.ok(f.dumps.volumes.length >= 3, `dump -B 150 made ${f.dumps.volumes.length} volumes`);
  const source = concatVolumes(await Promise.all(f.dumps.volumes.map((v) => openFileSource(v))));
  const dest = path.join(tempDir(t, 'volumes'), 'root');
  const report = await extract({ image: source.name, source, dest });
  assert.deepEqual(report.chain, ['dump(linux-le)']);
  assertNoDiffs(f.tree.root, dest, vsSource, 'source tree vs extract() of the volumes');

  const gap = [f.dumps.volumes[0]!, ...f.dumps.volumes.slice(2)];
  const outcome = await readDump(concatVolumes(await Promise.all(gap.map((v) => openFileSource(v)))));
  assert.match(assertFailure(outcome, 'volume 2 left out').message, /volume 2 is missing/);
});
