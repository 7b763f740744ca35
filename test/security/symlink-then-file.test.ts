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
import { checkSymlinkThenFile, symlinkThenFileCases } from '../helpers/attack-cases.js';
import { assertNoTemporaries, clearRoot, expectReport, extractHostile, FORMATS, inRoot, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

const big = 'B'.repeat(300 * 1024); // past the small-file batch: the main-thread write path

for (const format of FORMATS) {
  describe(`symlink, then a file through it (${format})`, () => {
    for (const c of symlinkThenFileCases) {
      test(c.name, async () => {
        await withSandbox(`symfile-${format}`, (box) => checkSymlinkThenFile(box, c, (members) => cpioArchive(members, { format })));
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
