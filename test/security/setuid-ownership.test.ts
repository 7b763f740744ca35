/**
 * Attack B.2 #14 — setuid/setgid bits and ownership.
 *
 *   File usr/bin/passwd mode 04555 uid 0;  File tmp/x mode 06777 uid 1000.
 *
 * A system image needs its set-id programs exactly as they were, so the bits cannot simply be
 * cleared (PEP 706's `data` filter does, for plain data bundles). The dangers are the order
 * (chown after chmod silently clears set-id bits: the image is broken) and the target (a
 * chmod/chown that reaches a file through a link, or a file we did not create, hands out a
 * set-id program). Must: owner first, then mode, only on what we created, never through links.
 * Anchors: libarchive ARCHIVE_EXTRACT_PERM (restores SUID/SGID only when owner/group are right,
 * archive_write_disk.3); containerd applies chmod after chown for this reason (archive/tar.go).
 * Owners can only be set as root: those checks are skipped otherwise.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { expectReport, extractHostile, FORMATS, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';
import { isRoot } from '../helpers/tools.js';

const big = (c: string) => c.repeat(300 * 1024);

interface Expect {
  name: string;
  mode: number;
  uid: number;
  gid: number;
}

function check(root: string, e: Expect, context: string): void {
  const st = lstat(path.join(root, e.name));
  assert.ok(st, `${context}: ${e.name} exists`);
  assert.equal(st.mode & 0o7777, e.mode, `${context}: ${e.name} mode 0${(st.mode & 0o7777).toString(8)}, expected 0${e.mode.toString(8)}`);
  if (isRoot()) {
    assert.equal(st.uid, e.uid, `${context}: ${e.name} uid`);
    assert.equal(st.gid, e.gid, `${context}: ${e.name} gid`);
  }
}

for (const format of FORMATS) {
  describe(`setuid/setgid and ownership (${format})`, () => {
    test('set-id bits and owners are restored exactly (owner first, then mode): small, large, dirs', async () => {
      await withSandbox(`setid-${format}`, async (box) => {
        // bin's uid/gid fields are 16 bits: keep owners below 65536 in every format
        const members: CpioMember[] = [
          { name: 'usr/bin', type: 'dir', mode: 0o755, uid: 0, gid: 2 },
          { name: 'usr/bin/passwd', type: 'file', data: 'ELF passwd', mode: 0o4555, uid: 0, gid: 3 },
          { name: 'tmp', type: 'dir', mode: 0o1777, uid: 0, gid: 0 },
          { name: 'tmp/x', type: 'file', data: 'x', mode: 0o6777, uid: 1000, gid: 1000 },
          { name: 'usr/bin/big-suid', type: 'file', data: big('S'), mode: 0o4755, uid: 1000, gid: 10 },
          { name: 'usr/bin/sgid', type: 'file', data: 'g', mode: 0o2711, uid: 7, gid: 8 },
          { name: 'var/mail', type: 'dir', mode: 0o2775, uid: 0, gid: 6 },
          { name: 'usr/bin/empty-suid', type: 'file', mode: 0o4711, uid: 12, gid: 13 },
        ];
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        for (const m of members) check(box.root, { name: m.name as string, mode: m.mode!, uid: m.uid!, gid: m.gid! }, JSON.stringify(report.warnings));
      });
    });

    test('a re-run with identical content but new owners/modes fixes them in place, owner first', async () => {
      await withSandbox(`setid-rerun-${format}`, async (box) => {
        const first: CpioMember[] = [
          { name: 'a', type: 'file', data: 'A', mode: 0o755, uid: 1, gid: 1 },
          { name: 'b', type: 'file', data: big('B'), mode: 0o755, uid: 1, gid: 1 },
        ];
        expectReport(await extractHostile(cpioArchive(first, { format }), box.root));
        const second: CpioMember[] = [
          { name: 'a', type: 'file', data: 'A', mode: 0o4755, uid: 2000, gid: 2001 },
          { name: 'b', type: 'file', data: big('B'), mode: 0o6755, uid: 2000, gid: 2001 },
        ];
        const report = expectReport(await extractHostile(cpioArchive(second, { format }), box.root));
        check(box.root, { name: 'a', mode: 0o4755, uid: 2000, gid: 2001 }, 'small, unchanged content');
        check(box.root, { name: 'b', mode: 0o6755, uid: 2000, gid: 2001 }, 'large, unchanged content');
        assert.equal(report.unchanged + report.written, 2);
      });
    });

    test('never through links: set-id members over links to the sentinel replace the links', async () => {
      await withSandbox(`setid-links-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'passwd', type: 'symlink', target: box.secret },
          { name: 'passwd', type: 'file', data: 'EVIL', mode: 0o4777, uid: 1000, gid: 1000 },
          { name: 'big', type: 'symlink', target: '../outside/secret' },
          { name: 'big', type: 'file', data: big('E'), mode: 0o6777, uid: 1000, gid: 1000 },
          { name: 'd', type: 'symlink', target: box.sentinelDir },
          { name: 'd', type: 'dir', mode: 0o6777, uid: 1000, gid: 1000 },
          // a hard link to a set-id file shares its inode inside the root, nothing else
          { name: 'suid', type: 'file', data: 'S', mode: 0o4755, uid: 0, gid: 0 },
          { name: 'suid-link', type: 'hardlink', target: 'suid' },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        check(box.root, { name: 'passwd', mode: 0o4777, uid: 1000, gid: 1000 }, 'passwd');
        check(box.root, { name: 'big', mode: 0o6777, uid: 1000, gid: 1000 }, 'big');
        check(box.root, { name: 'd', mode: 0o6777, uid: 1000, gid: 1000 }, 'd');
        assert.equal(lstat(path.join(box.root, 'suid-link'))!.ino, lstat(path.join(box.root, 'suid'))!.ino);
        assert.ok(!fs.readdirSync(box.root).some((n) => n.startsWith('.zonep2v-')));
      });
    });

    test('symlink owners go on the link itself (lchown), never on its target', { skip: isRoot() ? false : 'needs root' }, async () => {
      await withSandbox(`setid-lchown-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'l', type: 'symlink', target: box.secret, uid: 1234, gid: 4321 },
          { name: 'm', type: 'symlink', target: box.sentinelDir, uid: 1, gid: 1 },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.equal(lstat(path.join(box.root, 'l'))!.uid, 1234);
        assert.equal(lstat(path.join(box.root, 'l'))!.gid, 4321);
      });
    });
  });
}
