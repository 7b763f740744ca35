/**
 * Attack B.2 #3 — a symlink, then a member written through it, in the same archive.
 *
 *   Dir etc/; Symlink localetc -> /etc (or -> ../../.., or chained through a second symlink,
 *   or -> /dummy/../etc); File localetc/unbroken
 *
 * A naive extractor creates the link and then opens "localetc/unbroken", which the kernel
 * resolves on the host. A safe extractor either resolves the link inside the root (containerd's
 * fs.RootPath: absolute targets restart at the root, ".." stops there) — our model, which keeps
 * a system image's absolute links working — or refuses the member (node-tar, libarchive
 * SECURE_SYMLINKS). Never outside. A member named like the link itself must replace the link,
 * not write through it (containerd SymlinkEmptyFile).
 * Anchors: containerd archive/tar_test.go TestBreakouts (SymlinkAbsolute, SymlinkUpAndOut,
 * SymlinkMultipleAbsolute, SymlinkMultipleRelative, SymlinkEmptyFile); libarchive
 * test_write_disk_secure.c; moby/moby#20303 (`./tmp/.ssh -> /root/.ssh`, then
 * `./tmp/.ssh/authorized_keys`).
 * Link targets here are the sandbox's own sentinel paths (absolute, and relative climbing out
 * of the root), so an escape hits the sentinel; the /etc case uses a unique guarded name.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { assertInRootOrSkipped, assertNoTemporaries, clearRoot, expectReport, extractHostile, FORMATS, inRoot, lstat } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';

interface Case {
  name: string;
  members(box: Sandbox): CpioMember[];
  /** the member written through the link */
  entry(box: Sandbox): string;
  /** where in-root resolution puts it (relative to the root) */
  expected(box: Sandbox): string;
  guard?(box: Sandbox): string[];
}

const big = 'B'.repeat(300 * 1024); // past the small-file batch: the main-thread write path

const cases: Case[] = [
  {
    name: 'SymlinkAbsolute: link to the sentinel dir by its host path',
    members: (box) => [
      { name: 'etc', type: 'dir' },
      { name: 'localetc', type: 'symlink', target: box.outside },
      { name: 'localetc/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'localetc/secret',
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: 'SymlinkAbsolute, large file (written by the main thread in pieces)',
    members: (box) => [
      { name: 'localetc', type: 'symlink', target: box.outside },
      { name: 'localetc/secret', type: 'file', data: big },
    ],
    entry: () => 'localetc/secret',
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: 'link to /etc, then a new file through it',
    members: (box) => [
      { name: 'etc', type: 'dir' },
      { name: 'localetc', type: 'symlink', target: '/etc' },
      { name: `localetc/${box.unique}`, type: 'file', data: 'EVIL' },
    ],
    entry: (box) => `localetc/${box.unique}`,
    expected: (box) => `etc/${box.unique}`,
    guard: (box) => [`/etc/${box.unique}`],
  },
  {
    name: 'SymlinkUpAndOut: ../../.. then the host path of the sentinel',
    members: (box) => [
      { name: 'localetc', type: 'symlink', target: '../../..' },
      { name: `localetc${box.secret}`, type: 'file', data: 'EVIL' },
    ],
    entry: (box) => `localetc${box.secret}`,
    expected: (box) => box.secret,
  },
  {
    name: 'link to .. (the directory holding the root), then outside/secret',
    members: () => [
      { name: 'up', type: 'symlink', target: '..' },
      { name: 'up/outside/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'up/outside/secret',
    expected: () => 'outside/secret',
  },
  {
    name: 'deep relative climb from a subdirectory',
    members: () => [
      { name: 'a/b/c', type: 'dir' },
      { name: 'a/b/c/up', type: 'symlink', target: '../../../../../../../../../../..' },
      { name: 'a/b/c/up/outside/dir/new', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'a/b/c/up/outside/dir/new',
    expected: () => 'outside/dir/new',
  },
  {
    name: 'SymlinkMultipleAbsolute: absolute link to an absolute link',
    members: (box) => [
      { name: 'first', type: 'symlink', target: box.outside },
      { name: 'second', type: 'symlink', target: '/first' },
      { name: 'second/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'second/secret',
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: 'SymlinkMultipleRelative: ./dummy/... chained through a second link',
    members: () => [
      { name: 'dummy', type: 'symlink', target: '../../../../..' },
      { name: 'localetc', type: 'symlink', target: './dummy/../outside' },
      { name: 'localetc/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'localetc/secret',
    expected: () => 'outside/secret',
  },
  {
    name: '/dummy/../outside (a missing directory, then ..)',
    members: () => [
      { name: 'localetc', type: 'symlink', target: '/dummy/../../outside' },
      { name: 'localetc/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'localetc/secret',
    expected: () => 'outside/secret',
  },
  {
    name: 'moby#20303: tmp/.ssh -> sentinel dir, then tmp/.ssh/authorized_keys',
    members: (box) => [
      { name: 'tmp', type: 'dir', mode: 0o1777 },
      { name: 'tmp/.ssh', type: 'symlink', target: box.sentinelDir },
      { name: 'tmp/.ssh/authorized_keys', type: 'file', data: 'ssh-ed25519 EVIL' },
    ],
    entry: () => 'tmp/.ssh/authorized_keys',
    expected: (box) => `${box.sentinelDir}/authorized_keys`,
  },
  {
    name: 'directory member through a link, then a file in it',
    members: (box) => [
      { name: 'l', type: 'symlink', target: box.outside },
      { name: 'l/newdir', type: 'dir', mode: 0o777 },
      { name: 'l/newdir/f', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'l/newdir/f',
    expected: (box) => `${box.outside}/newdir/f`,
  },
];

for (const format of FORMATS) {
  describe(`symlink, then a file through it (${format})`, () => {
    for (const c of cases) {
      test(c.name, async () => {
        await withSandbox(`symfile-${format}`, async (box) => {
          if (c.guard) box.guardHost(...c.guard(box));
          const members = c.members(box);
          const outcome = await extractHostile(cpioArchive(members, { format }), box.root);
          const data = members.find((m) => m.name === c.entry(box))!.data as string;
          const how = assertInRootOrSkipped(outcome, box.root, c.entry(box), c.expected(box), data);
          // the engine's model is in-root resolution: hold it to that
          assert.equal(how, 'in-root', `${c.entry(box)}: expected in-root resolution`);
          assertNoTemporaries(box.root);
        });
      });
    }

    test('SymlinkEmptyFile: a member named like the link replaces it (every member type)', async () => {
      await withSandbox(`symfile-replace-${format}`, async (box) => {
        const replacements: [string, CpioMember][] = [
          ['empty file', { name: 'x', type: 'file', mode: 0o644 }],
          ['file', { name: 'x', type: 'file', data: 'EVIL', mode: 0o4777 }],
          ['large file', { name: 'x', type: 'file', data: big }],
          ['directory', { name: 'x', type: 'dir', mode: 0o777, uid: 1234 }],
          ['fifo', { name: 'x', type: 'fifo', mode: 0o666 }],
          ['symlink', { name: 'x', type: 'symlink', target: '/elsewhere' }],
        ];
        for (const target of [box.secret, '../outside/secret', box.sentinelDir, '../outside/dir']) {
          for (const [label, m] of replacements) {
            clearRoot(box.root);
            const members: CpioMember[] = [{ name: 'x', type: 'symlink', target }, m];
            const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root), `${label} over a link to ${target}`);
            const st = lstat(path.join(box.root, 'x'))!;
            const expectType = m.type === 'file' ? st.isFile() : m.type === 'dir' ? st.isDirectory() : m.type === 'fifo' ? st.isFIFO() : st.isSymbolicLink();
            assert.ok(expectType, `${label} over a link to ${target}: x is a ${m.type} now (warnings ${JSON.stringify(report.warnings)})`);
            if (m.type === 'file') assert.equal(fs.readFileSync(path.join(box.root, 'x'), 'utf8'), m.data ?? '');
            assertNoTemporaries(box.root);
            box.assertUnchanged(`${label} over a link to ${target}`);
          }
        }
      });
    });

    test('a file identical to the outside target is not "unchanged" through the link', async () => {
      // the writer skips rewriting identical files: it must compare with the member's own
      // path, not with what a symlink there points at
      await withSandbox(`symfile-identical-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'x', type: 'symlink', target: box.secret },
          { name: 'x', type: 'file', data: 'ORIGINAL', mode: 0o4755, uid: 77 },
        ];
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.ok(lstat(path.join(box.root, 'x'))!.isFile());
        assert.equal(report.written, 1);
      });
    });

    test('links resolved in the root keep working for later members', async () => {
      // a system image's absolute links (usr/lib -> /lib style) must resolve inside the root
      await withSandbox(`symfile-systemlinks-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'lib', type: 'dir' },
          { name: 'usr', type: 'dir' },
          { name: 'usr/lib', type: 'symlink', target: '/lib' },
          { name: 'usr/lib/libc.so.1', type: 'file', data: 'ELF' },
          { name: 'bin', type: 'symlink', target: './usr/bin' },
          { name: 'bin/ls', type: 'file', data: 'ls' },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.equal(fs.readFileSync(inRoot(box.root, 'lib/libc.so.1'), 'utf8'), 'ELF');
        assert.equal(fs.readFileSync(inRoot(box.root, 'usr/bin/ls'), 'utf8'), 'ls');
        assert.equal(fs.readlinkSync(inRoot(box.root, 'usr/lib')), '/lib');
      });
    });
  });
}
