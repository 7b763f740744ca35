/**
 * Extended attributes land on the zone root where the file system takes them (src/extract/
 * xattrs.ts): user.* through `setfattr -h --restore`, everything else only in the content index.
 *
 *   - bsdtar --format pax --xattrs (LIBARCHIVE.xattr.* + SCHILY.xattr.*) and GNU tar --xattrs
 *     --xattrs-include='*' (SCHILY.xattr.*) archives of files set with `setfattr -n user.comment`:
 *     extracted, `getfattr` shows the same values, also on a directory and on a name full of
 *     bytes setfattr's dump format must escape (backslash, newline, space, "=", 0xff);
 *   - a synthetic Solaris cpio (formats.md 4.5: `/dev/null/<attr>.hdr` + value after the file)
 *     and the same pair as Solaris tar `E` members: the bare name `attr` becomes user.attr;
 *     SUNWattr_rw and security.* are recorded only, with one summary warning for the run;
 *   - a symlink member carrying an xattr, 'attrs' entries naming a symlink or a path through
 *     one, a file with an xattr replaced by a symlink: setfattr is never led through any of them
 *     (the sentinel beside the root is unchanged, ctime included, and has no new attribute).
 *     A planned path whose directory turned into a symlink is covered in
 *     test/unit/extract/xattrs.test.ts (an archive cannot empty a directory within one run).
 * Skipped when setfattr is missing or os.tmpdir() does not take user xattrs.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import type { Warning } from '../../src/extract/types.js';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { expectReport, extractHostile } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';
import { paxMember, solarisXattrHeader, tarArchive } from '../helpers/tar-writer.js';
import { haveTool, run, sh } from '../helpers/tools.js';

/** Why xattrs cannot be tested here, or undefined when they can. */
function unsupported(): string | undefined {
  if (!haveTool('setfattr') || !haveTool('getfattr')) return 'setfattr/getfattr missing (Debian package attr)';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-xattr-probe-'));
  try {
    fs.writeFileSync(path.join(dir, 'f'), '');
    const probe = run('setfattr', ['-n', 'user.probe', '-v', '1', path.join(dir, 'f')], { okStatus: 'any' });
    return probe.status === 0 ? undefined : `${os.tmpdir()} does not take user xattrs: ${probe.stderr.trim()}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const skip = unsupported();

/** The value of `name` on `file` (never following a symlink), or undefined when it has none. */
function getXattr(file: string, name: string): string | undefined {
  const result = run('getfattr', ['-h', '--absolute-names', '--only-values', '-n', name, file], { okStatus: 'any' });
  return result.status === 0 ? result.stdout.toString('latin1') : undefined;
}

/** The same for the one file in `dir` (its name need not be UTF-8: argv from a shell glob keeps
 *  the bytes, where Node would re-encode a Buffer argument as UTF-8). */
function getXattrOfOnly(dir: string, name: string): string | undefined {
  const result = sh('getfattr -h --only-values -n "$1" -- *', [name], { cwd: dir, okStatus: 'any' });
  return result.status === 0 ? result.stdout.toString('latin1') : undefined;
}

/** All user.* names on `file` (never following a symlink). */
function userXattrs(file: string): string[] {
  const result = run('getfattr', ['-h', '--absolute-names', '-m', '^user\\.', file], { okStatus: 'any' });
  return result.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith('user.'));
}

/** Warnings that are about this test, not the environment (a run that is not root says so). */
const ours = (warnings: Warning[]) => warnings.filter((w) => w.code !== 'P2V_NOT_ROOT');

const WEIRD = 'we\\ird\nname =x\xff'; // a byte string (latin1): every escape setfattr needs

function tempDir(t: TestContext, label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zonep2v-xattrs-${label}-`));
  t.after(() => {
    if (process.env.ZONEP2V_KEEP_TEST_FILES !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** src/ with f (user.comment=hello), d/ (user.dirattr=D) holding only the weird name
 *  (user.q=4), and a symlink. */
function makeSource(base: string): string {
  const src = path.join(base, 'src');
  fs.mkdirSync(path.join(src, 'd'), { recursive: true });
  fs.writeFileSync(path.join(src, 'f'), 'hi\n');
  fs.writeFileSync(Buffer.from(path.join(src, 'd', WEIRD), 'latin1'), 'weird\n');
  fs.symlinkSync('f', path.join(src, 'link'));
  run('setfattr', ['-n', 'user.comment', '-v', 'hello', path.join(src, 'f')]);
  run('setfattr', ['-n', 'user.dirattr', '-v', 'D', path.join(src, 'd')]);
  sh('setfattr -n user.q -v 4 -- *', [], { cwd: path.join(src, 'd') });
  return src;
}

const writers = [
  { id: 'bsdtar --format pax --xattrs', tool: 'bsdtar', script: 'bsdtar --format pax --xattrs -cf "$1" .' },
  { id: "GNU tar --xattrs --xattrs-include='*'", tool: 'tar', script: 'tar --format=posix --xattrs --xattrs-include="*" -cf "$1" .' },
];

for (const writer of writers) {
  test(`${writer.id}: user.* attributes are set on the extracted files`, { skip: skip ?? (haveTool(writer.tool) ? undefined : `${writer.tool} missing`) }, async (t) => {
    const base = tempDir(t, writer.tool);
    const src = makeSource(base);
    const archive = path.join(base, 'a.tar');
    sh(writer.script, [archive], { cwd: src });
    const dest = path.join(base, 'root');
    const index = path.join(base, 'index.jsonl');
    const report = await extract({ image: archive, dest, indexFile: index, jobs: 2 });
    assert.deepEqual(ours(report.warnings), []);
    assert.equal(getXattr(path.join(dest, 'f'), 'user.comment'), 'hello');
    assert.equal(getXattr(path.join(dest, 'd'), 'user.dirattr'), 'D');
    assert.deepEqual(fs.readdirSync(path.join(dest, 'd'), { encoding: 'buffer' }), [Buffer.from(WEIRD, 'latin1')]);
    assert.equal(getXattrOfOnly(path.join(dest, 'd'), 'user.q'), '4');
    assert.deepEqual(userXattrs(path.join(dest, 'link')), [], 'nothing on the symlink itself');
    // and recorded in the content index
    const rows = fs.readFileSync(index, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { path: string; xattrs?: Record<string, string> });
    assert.equal(rows.find((r) => r.path === 'f')?.xattrs?.['user.comment'], Buffer.from('hello').toString('base64'));
  });
}

/** The Solaris pair for `attr` of `file`: header entry then value entry, both under /dev/null/. */
function solarisCpioPair(file: string, attr: string, value: string, typeflag = '0'): CpioMember[] {
  return [
    { name: `/dev/null/${attr}.hdr`, type: 'file', rawMode: 0o130644, data: solarisXattrHeader(file, attr, typeflag) },
    { name: `/dev/null/${attr}`, type: 'file', rawMode: typeflag === '5' ? 0o130755 : 0o130644, data: value },
  ];
}

test('Solaris cpio /dev/null/<attr> pairs: a bare name becomes user.<name>; system attributes are recorded only', { skip }, async (t) => {
  const base = tempDir(t, 'solaris-cpio');
  const members: CpioMember[] = [
    { name: 'dir', type: 'dir' },
    { name: 'dir/file', type: 'file', data: 'content' },
    ...solarisCpioPair('dir/file', '.', '', '5'),
    ...solarisCpioPair('dir/file', 'attr', 'xattr value'),
    ...solarisCpioPair('dir/file', 'SUNWattr_rw', 'nvlist'),
    { name: 'other', type: 'file', data: 'o' },
    ...solarisCpioPair('other', 'SUNWattr_ro', 'nvlist'),
    ...solarisCpioPair('dir/', 'onthedir', 'D'),
  ];
  const dest = path.join(base, 'root');
  const report = expectReport(await extractHostile(cpioArchive(members, { format: 'newc' }), dest));
  assert.equal(getXattr(path.join(dest, 'dir/file'), 'user.attr'), 'xattr value');
  assert.equal(getXattr(path.join(dest, 'dir'), 'user.onthedir'), 'D');
  assert.deepEqual(userXattrs(path.join(dest, 'dir/file')), ['user.attr']);
  assert.deepEqual(userXattrs(path.join(dest, 'other')), []);
  const summaries = report.warnings.filter((w) => w.code === 'P2V_XATTRS');
  assert.equal(summaries.length, 1, `one summary warning: ${JSON.stringify(report.warnings)}`);
  assert.match(summaries[0]!.message, /^2 extended attribute\(s\) are kept in the content index only.*SUNWattr_rw, SUNWattr_ro/);
  assert.equal(ours(report.warnings).length, 1, JSON.stringify(report.warnings));
});

test('Solaris cpio: header and value alternate (an attribute named x.hdr), and an attribute\'s own system attribute is not the file\'s', { skip }, async (t) => {
  const base = tempDir(t, 'solaris-cpio-alternate');
  const members: CpioMember[] = [
    { name: 'f', type: 'file', data: 'content' },
    ...solarisCpioPair('f', 'notes.hdr', 'VALUE'),
    ...solarisCpioPair('f', 'myattr', 'REAL-VALUE'),
    // cpio -@ -/ on ZFS: the system attribute of myattr, h_names "f\0myattr\0SUNWattr_rw\0"
    ...solarisCpioPair('f', 'myattr\0SUNWattr_rw', 'NVLIST').map((m, i) => (i === 0 ? { ...m, name: '/dev/null/SUNWattr_rw.hdr' } : { ...m, name: '/dev/null/SUNWattr_rw' })),
  ];
  const dest = path.join(base, 'root');
  const report = expectReport(await extractHostile(cpioArchive(members, { format: 'newc' }), dest));
  assert.equal(getXattr(path.join(dest, 'f'), 'user.notes.hdr'), 'VALUE');
  assert.equal(getXattr(path.join(dest, 'f'), 'user.myattr'), 'REAL-VALUE', 'not overwritten by the attribute\'s own system attribute');
  assert.deepEqual(userXattrs(path.join(dest, 'f')).sort(), ['user.myattr', 'user.notes.hdr']);
  assert.deepEqual(report.warnings.filter((w) => w.code === 'P2V_ENTRY_INVALID'), []);
});

test('Solaris tar E members and pax security.* names: the same mapping', { skip }, async (t) => {
  const base = tempDir(t, 'solaris-tar');
  const bytes = tarArchive([
    paxMember('x', [['SCHILY.xattr.security.selinux', 'system_u:object_r:etc_t:s0'], ['SCHILY.xattr.user.linux', 'L']]),
    { name: 'file', data: 'content' },
    { name: '/dev/null/attr.hdr', typeflag: 'E', data: solarisXattrHeader('file', 'attr') },
    { name: '/dev/null/attr', typeflag: 'E', data: 'from E' },
  ]);
  const dest = path.join(base, 'root');
  const report = expectReport(await extractHostile(bytes, dest));
  assert.equal(getXattr(path.join(dest, 'file'), 'user.attr'), 'from E');
  assert.equal(getXattr(path.join(dest, 'file'), 'user.linux'), 'L');
  assert.deepEqual(
    ours(report.warnings).map((w) => w.code),
    ['P2V_XATTRS'],
  );
  assert.match(ours(report.warnings)[0]!.message, /security\.selinux/);
});

test('attributes on symlinks and on paths through symlinks never reach outside', { skip }, async () => {
  await withSandbox('xattrs-symlinks', async (box) => {
    const before = userXattrs(box.secret);
    const bytes = tarArchive([
      // a symlink member with an xattr of its own, pointing at the sentinel (absolute, relative)
      paxMember('x', [['SCHILY.xattr.user.evil', 'EVIL']]),
      { name: 'abs', typeflag: '2', linkname: box.secret },
      paxMember('x', [['SCHILY.xattr.user.evil', 'EVIL']]),
      { name: 'rel', typeflag: '2', linkname: '../outside/secret' },
      // Solaris attributes naming those links, and a directory link with a file "behind" it
      { name: '/dev/null/evil.hdr', typeflag: 'E', data: solarisXattrHeader('abs', 'evil') },
      { name: '/dev/null/evil', typeflag: 'E', data: 'EVIL' },
      { name: '/dev/null/evil.hdr', typeflag: 'E', data: solarisXattrHeader('rel', 'evil') },
      { name: '/dev/null/evil', typeflag: 'E', data: 'EVIL' },
      { name: 'dlink', typeflag: '2', linkname: box.outside },
      { name: '/dev/null/evil.hdr', typeflag: 'E', data: solarisXattrHeader('dlink/secret', 'evil') },
      { name: '/dev/null/evil', typeflag: 'E', data: 'EVIL' },
      // a file with an xattr, replaced by a symlink to the sentinel
      paxMember('x', [['SCHILY.xattr.user.evil', 'EVIL']]),
      { name: 'x', data: 'x' },
      { name: 'x', typeflag: '2', linkname: box.secret },
      { name: 'good', data: 'g' },
      { name: '/dev/null/fine.hdr', typeflag: 'E', data: solarisXattrHeader('good', 'fine') },
      { name: '/dev/null/fine', typeflag: 'E', data: 'ok' },
    ]);
    const report = expectReport(await extractHostile(bytes, box.root));
    assert.equal(getXattr(path.join(box.root, 'good'), 'user.fine'), 'ok', JSON.stringify(report.warnings));
    assert.deepEqual(userXattrs(box.secret), before, 'the sentinel got no attribute');
    assert.deepEqual(userXattrs(path.join(box.outside, 'dir')), []);
    // skipped with warnings, no crash; the sentinel check (withSandbox) covers ctime as well
    assert.ok(report.warnings.some((w) => w.code === 'P2V_XATTRS' && /symlinks or special files/.test(w.message)), JSON.stringify(report.warnings));
  });
});
