/**
 * The security tests trust test/helpers/cpio-writer.ts to write archives that real tools read
 * the way the writer meant them, so prove it against GNU cpio (and bsdcpio when present): every
 * format is listed with `cpio -itv` and extracted with `cpio -idmu`, and the result is checked
 * member by member (names, types, modes, owners, mtimes, data, symlink targets, hard-link
 * groups, device numbers). Our own reader must agree too. Skips when GNU cpio is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpioArchive, cpioWriteFormats, type CpioMember, type CpioWriteFormat } from '../../helpers/cpio-writer.js';
import { haveTool, isRoot, run } from '../../helpers/tools.js';
import { listEntries } from '../../../src/index.js';
import { bufferSource } from '../../../src/io/source.js';

const odd = Buffer.alloc(1001, 0).map((_, i) => (i * 7 + 3) & 0xff);

/** One of everything, with odd name and data lengths to exercise every padding rule. */
function sampleMembers(): CpioMember[] {
  return [
    { name: 'd', type: 'dir', mode: 0o750, uid: 12, gid: 34, mtime: 1_600_000_000 },
    { name: 'd/f', type: 'file', mode: 0o640, uid: 5, gid: 6, mtime: 1_600_000_001, data: 'hello\n' },
    { name: 'd/odd-name.x', type: 'file', mode: 0o600, data: odd, mtime: 1_600_000_002 },
    { name: 'd/empty', type: 'file', mode: 0o444, mtime: 1_600_000_003 },
    { name: 'd/l', type: 'symlink', target: 'f', mtime: 1_600_000_004 },
    { name: 'd/h', type: 'hardlink', target: 'd/f', mode: 0o640, uid: 5, gid: 6, mtime: 1_600_000_001 },
    { name: 'd/caf\u00e9', type: 'file', mode: 0o4755, data: 'suid', mtime: 1_600_000_005 },
    { name: 'p', type: 'fifo', mode: 0o620, mtime: 1_600_000_006 },
    { name: 'null', type: 'char', mode: 0o666, rdevMajor: 1, rdevMinor: 3, mtime: 1_600_000_007 },
    { name: 'loop0', type: 'block', mode: 0o660, rdevMajor: 7, rdevMinor: 0, mtime: 1_600_000_008 },
  ];
}

const cpioReadable = haveTool('cpio');

for (const format of cpioWriteFormats) {
  test(`cpio-writer ${format}: GNU cpio lists and extracts what was written`, { skip: cpioReadable ? false : 'GNU cpio missing' }, () => {
    const bytes = cpioArchive(sampleMembers(), { format });
    assert.equal(bytes.length % 512, 0, 'padded to 512-byte blocks');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `zonep2v-cpiow-${format}-`));
    try {
      const archive = path.join(tmp, 'a.cpio');
      fs.writeFileSync(archive, bytes);

      // listing: names in order, nothing unexpected on stderr
      const listed = run('cpio', ['-it', '--quiet'], { input: bytes });
      assert.deepEqual(listed.stdout.toString('utf8').trim().split('\n'), sampleMembers().map((m) => m.name as string));
      assert.equal(clean(listed.stderr, format), '');
      const verbose = run('cpio', ['-itv', '--quiet'], { input: bytes, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } }).stdout.toString('utf8');
      const lines = verbose.trim().split('\n');
      assert.match(lines[0]!, /^drwxr-x---\s/);
      assert.match(lines[1]!, /^-rw-r-----\s+2\s/, 'hard-link group: nlink 2');
      assert.match(lines[4]!, /^lrwxrwxrwx .* d\/l -> f$/);
      assert.match(lines[6]!, /^-rwsr-xr-x\s/);
      assert.match(lines[7]!, /^prw--w----\s/);
      assert.match(lines[8]!, /^crw-rw-rw-\s+1\s+\S+\s+\S+\s+1,\s+3\s/);
      assert.match(lines[9]!, /^brw-rw----\s+1\s+\S+\s+\S+\s+7,\s+0\s/);

      // extraction
      const out = path.join(tmp, 'out');
      fs.mkdirSync(out);
      const args = ['-idmu', '--quiet', '--no-absolute-filenames'];
      if (!isRoot()) args.push('--no-preserve-owner');
      const extracted = run('cpio', args, { cwd: out, input: bytes, okStatus: 'any' });
      // as non-root, mknod of the devices fails; everything else must be clean
      if (isRoot()) {
        assert.equal(extracted.status, 0, extracted.stderr);
        assert.equal(clean(extracted.stderr, format), '');
      }
      const at = (rel: string) => fs.lstatSync(path.join(out, rel));
      assert.ok(at('d').isDirectory());
      assert.equal(at('d').mode & 0o7777, 0o750);
      assert.equal(fs.readFileSync(path.join(out, 'd/f'), 'utf8'), 'hello\n');
      assert.equal(at('d/f').mode & 0o7777, 0o640);
      assert.equal(at('d/f').mtimeMs, 1_600_000_001_000);
      assert.deepEqual(fs.readFileSync(path.join(out, 'd/odd-name.x')), Buffer.from(odd));
      assert.equal(at('d/odd-name.x').mtimeMs, 1_600_000_002_000);
      assert.equal(at('d/empty').size, 0);
      assert.equal(at('d/empty').mode & 0o7777, 0o444);
      assert.ok(at('d/l').isSymbolicLink());
      assert.equal(fs.readlinkSync(path.join(out, 'd/l')), 'f');
      assert.equal(at('d/h').ino, at('d/f').ino, 'd/h is a hard link of d/f');
      assert.equal(at('d/f').nlink, 2);
      assert.equal(fs.readFileSync(path.join(out, 'd/caf\u00e9'), 'utf8'), 'suid');
      assert.equal(at('p').isFIFO(), true);
      assert.equal(at('p').mode & 0o7777, 0o620);
      if (isRoot()) {
        assert.equal(at('d').uid, 12);
        assert.equal(at('d').gid, 34);
        assert.equal(at('d/f').uid, 5);
        assert.equal(at('d/f').gid, 6);
        assert.equal(at('d/caf\u00e9').mode & 0o7777, 0o4755);
        assert.ok(at('null').isCharacterDevice());
        assert.equal(at('null').rdev, rdev(1, 3));
        assert.ok(at('loop0').isBlockDevice());
        assert.equal(at('loop0').rdev, rdev(7, 0));
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test(`cpio-writer ${format}: bsdcpio lists what was written`, { skip: haveTool('bsdcpio') ? false : 'bsdcpio missing' }, () => {
    const bytes = cpioArchive(sampleMembers(), { format });
    const listed = run('bsdcpio', ['-it'], { input: bytes });
    assert.deepEqual(listed.stdout.toString('utf8').trim().split('\n'), sampleMembers().map((m) => m.name as string));
    assert.doesNotMatch(listed.stderr, /warn|error|damaged|truncat/i);
  });

  test(`cpio-writer ${format}: zonep2v's reader agrees`, async () => {
    const bytes = cpioArchive(sampleMembers(), { format });
    const { chain, entries } = await listEntries({ image: 'mem', source: bufferSource('mem', bytes, 13) });
    assert.equal(chain[chain.length - 1], `cpio(${format})`);
    const seen: { path: string; type: string; linkTarget?: string; mode: number; dev?: string }[] = [];
    for await (const entry of entries) {
      seen.push({ path: entry.path, type: entry.type, linkTarget: entry.linkTarget, mode: entry.mode, dev: entry.devMajor === undefined ? undefined : `${entry.devMajor},${entry.devMinor}` });
    }
    const byPath = new Map(seen.map((e) => [Buffer.from(e.path, 'latin1').toString('utf8'), e]));
    assert.equal(byPath.get('d')?.type, 'dir');
    assert.equal(byPath.get('d/l')?.linkTarget, 'f');
    assert.equal(byPath.get('null')?.dev, '1,3');
    assert.equal(byPath.get('loop0')?.dev, '7,0');
    assert.equal(byPath.get('d/caf\u00e9')?.mode, 0o4755);
    // one of d/f, d/h carries the data and the other links to it
    const pair = [byPath.get('d/f')!, byPath.get('d/h')!];
    assert.deepEqual(pair.map((e) => e.type).sort(), ['file', 'hardlink']);
    assert.equal(seen.length, sampleMembers().length);
  });
}

test('cpio-writer: newc puts hard-link data on the last member only, odc on every member', () => {
  const members: CpioMember[] = [
    { name: 'a', type: 'file', data: 'DATA' },
    { name: 'b', type: 'hardlink', target: 'a' },
  ];
  const sizeOf = (bytes: Uint8Array, format: CpioWriteFormat) => {
    const text = Buffer.from(bytes).toString('latin1');
    if (format === 'newc') {
      const first = parseInt(text.slice(54, 62), 16);
      const second = text.indexOf('070701', 110);
      return [first, parseInt(text.slice(second + 54, second + 62), 16)];
    }
    const first = parseInt(text.slice(65, 76), 8);
    const second = text.indexOf('070707', 76);
    return [first, parseInt(text.slice(second + 65, second + 76), 8)];
  };
  assert.deepEqual(sizeOf(cpioArchive(members, { format: 'newc' }), 'newc'), [0, 4]);
  assert.deepEqual(sizeOf(cpioArchive(members, { format: 'odc' }), 'odc'), [4, 4]);
});

test('cpio-writer: hostile knobs are written as given', () => {
  const bytes = cpioArchive([{ name: 'x', type: 'file', data: 'abc', rawMode: 0o160200, fileSizeOverride: 0x7fff, nameSizeOverride: 0xffffffff }], { format: 'newc', trailer: false });
  const text = Buffer.from(bytes).toString('latin1');
  assert.equal(text.slice(14, 22), (0o160200).toString(16).toUpperCase().padStart(8, '0'));
  assert.equal(text.slice(54, 62), '00007FFF');
  assert.equal(text.slice(94, 102), 'FFFFFFFF');
  assert.equal(text.includes('TRAILER!!!'), false);
  assert.equal(bytes.length, 110 + 2 + 0 + 3 + 1); // header, "x\0", no name pad (112 % 4 = 0), data, data pad
});

/** GNU cpio on a little-endian host notes (correctly) that a big-endian bin archive is swapped. */
function clean(stderr: string, format: CpioWriteFormat): string {
  const swapped = format === 'bin-be' && os.endianness() === 'LE';
  return swapped ? stderr.replace(/^cpio: warning: archive header has reverse byte-order\n/m, '') : stderr;
}

function rdev(major: number, minor: number): number {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
}
