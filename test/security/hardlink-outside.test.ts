/**
 * Attack B.2 #6 — a hard link to a file outside the root.
 *
 *   Link mypasswd -> /etc/passwd | ../../etc/passwd | localetc/passwd (localetc -> /etc),
 *   and a hard-link entry that carries data.
 *
 * A hard link made to an outside inode gives the zone a second name for a host file (and a
 * later write through the zone's name rewrites the host's); writing the link's data rewrites it
 * at once. In cpio a hard link is not a name but an inode group: members sharing (dev, ino)
 * with nlink > 1, the group's data on the last member (newc/crc) or on every member (odc/bin).
 * The reader turns the group into one file plus links to its name, so the attack is a group
 * whose data member is named outside (`../`, absolute, or through a symlink), a group mixing
 * a link planted over a symlink, or a link member carrying data. Must: resolve the target
 * inside the root or refuse it; the resulting inode is never the outside file (its link count
 * stays 1); link data never changes `outside/secret`.
 * Anchors: libarchive#746 / test_write_disk_secure746.c; node-tar CVE-2026-24842
 * (GHSA-34x7-hfp2-rc4v) and test/ghsa-8qq5-rm4j-mr97.ts; containerd TestBreakouts
 * HardlinkRelative, HardlinkDownAndOut, HardlinkAbsolute, HardlinkSymlinkRelative/Absolute/
 * Chmod; kevva/decompress#113 (CVE-2026-39243).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { clearRoot, expectError, expectReport, expectWarning, extractHostile, FORMATS, inRoot, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

const LINK_DATA = ['first', 'last', 'every'] as const;

/** Inode numbers in the root that are the sentinel's: there must be none. */
function assertNoSentinelInode(root: string, secret: string): void {
  const bad = new Set([fs.statSync(secret).ino]);
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      assert.ok(!bad.has(st.ino) || st.dev !== fs.statSync(secret).dev, `${p} is the sentinel's inode`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
}

for (const format of FORMATS) {
  describe(`hard links to files outside (${format})`, () => {
    test('HardlinkRelative / DownAndOut: the group\'s data member is named with ".."', async () => {
      await withSandbox(`hardlink-rel-${format}`, async (box) => {
        for (const linkData of LINK_DATA) {
          for (const order of ['link first', 'data first'] as const) {
            clearRoot(box.root);
            const data: CpioMember = { name: '../outside/secret', type: 'file', data: 'EVIL', ino: 70 };
            const link: CpioMember = { name: 'mypasswd', type: 'hardlink', target: '../outside/secret', ino: 70 };
            const down: CpioMember = { name: 'a/b/../../../outside/dir/keep', type: 'hardlink', target: '../outside/secret', ino: 70 };
            const members = order === 'link first' ? [link, down, data] : [data, link, down];
            const label = `${linkData}, ${order}`;
            const report = expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), label);
            expectWarning(report, '../outside/secret', ['P2V_ENTRY_UNSAFE'], label);
            // mypasswd is either absent, or (when a reader made it the data holder) a new file
            const mine = lstat(path.join(box.root, 'mypasswd'));
            if (mine) assert.ok(mine.isFile() && mine.nlink === 1, `${label}: mypasswd is a lone file`);
            assertNoSentinelInode(box.root, box.secret);
            box.assertUnchanged(label);
          }
        }
      });
    });

    test('HardlinkAbsolute: refused by default, inside the root with stripAbsolute', async () => {
      await withSandbox(`hardlink-abs-${format}`, async (box) => {
        for (const linkData of LINK_DATA) {
          clearRoot(box.root);
          const members: CpioMember[] = [
            { name: 'mypasswd', type: 'hardlink', target: box.secret, ino: 80 },
            { name: box.secret, type: 'file', data: 'EVIL', ino: 80 },
          ];
          const bytes = cpioArchive(members, { format, linkData });
          expectError(await extractHostile(bytes, box.root), ['P2V_ENTRY_UNSAFE'], linkData);
          box.assertUnchanged(`${linkData}, refused`);
          clearRoot(box.root);
          const report = expectReport(await extractHostile(bytes, box.root, { stripAbsolute: true }), linkData);
          const inside = lstat(inRoot(box.root, box.secret));
          assert.ok(inside?.isFile(), `${linkData}: the data member is inside the root (${JSON.stringify(report.warnings)})`);
          const mine = lstat(path.join(box.root, 'mypasswd'))!;
          assert.equal(mine.ino, inside!.ino, `${linkData}: mypasswd links to the copy inside the root`);
          assertNoSentinelInode(box.root, box.secret);
          box.assertUnchanged(`${linkData}, stripped`);
        }
      });
    });

    test('HardlinkSymlinkRelative/Absolute: the data member is named through a link to outside', async () => {
      await withSandbox(`hardlink-symlink-${format}`, async (box) => {
        for (const target of [box.outside, '../outside', '../../../../../..' + box.outside]) {
          for (const linkData of LINK_DATA) {
            clearRoot(box.root);
            const members: CpioMember[] = [
              { name: 'localetc', type: 'symlink', target },
              { name: 'mypasswd', type: 'hardlink', target: 'localetc/secret', ino: 90 },
              { name: 'localetc/secret', type: 'file', data: 'EVIL', ino: 90, mode: 0o4777 },
            ];
            const label = `${target}, ${linkData}`;
            const report = expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), label);
            const mine = lstat(path.join(box.root, 'mypasswd'));
            assert.ok(mine, `${label}: mypasswd made (${JSON.stringify(report.warnings)})`);
            assertNoSentinelInode(box.root, box.secret);
            box.assertUnchanged(label);
          }
        }
      });
    });

    test('HardlinkSymlinkChmod: a link member landing on a symlink name links the symlink, not its target', async () => {
      // odc/bin: data on the first name, later names become links to it. If "s" is replaced by
      // a symlink to the sentinel in between, the link is made to the symlink itself (link(2)
      // does not follow on Linux): the sentinel's link count must stay 1, its mode untouched.
      await withSandbox(`hardlink-chmod-${format}`, async (box) => {
        for (const linkData of LINK_DATA) {
          clearRoot(box.root);
          const members: CpioMember[] = [
            { name: 's', type: 'file', data: 'S', ino: 100, mode: 0o644 },
            { name: 's', type: 'symlink', target: box.secret },
            { name: 'h', type: 'hardlink', target: 's', ino: 100, mode: 0o4777, data: 'EVIL' },
          ];
          expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), linkData);
          assertNoSentinelInode(box.root, box.secret);
          box.assertUnchanged(linkData);
        }
      });
    });

    test('a link member carrying data over a symlink to the sentinel: the data never reaches it', async () => {
      await withSandbox(`hardlink-data-${format}`, async (box) => {
        for (const linkData of LINK_DATA) {
          for (const target of [box.secret, '../outside/secret']) {
            clearRoot(box.root);
            const members: CpioMember[] = [
              { name: 'l', type: 'symlink', target },
              { name: 't', type: 'file', data: 'T', ino: 110 },
              { name: 'l', type: 'hardlink', target: 't', ino: 110, data: 'EVIL' },
            ];
            const label = `${linkData}, ${target}`;
            expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), label);
            const l = lstat(path.join(box.root, 'l'))!;
            assert.ok(l.isFile(), `${label}: l is a regular file now, not the link`);
            assertNoSentinelInode(box.root, box.secret);
            box.assertUnchanged(label);
          }
        }
      });
    });

    test('a link whose target resolves to a directory or to nothing is skipped', async () => {
      await withSandbox(`hardlink-dir-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'up', type: 'symlink', target: '..' },
          { name: 'd', type: 'dir' },
          // newc: a held name that never gets data becomes an empty file; odc: the first name
          { name: 'h1', type: 'hardlink', target: 'missing/x', ino: 120, nlink: 2 },
          { name: 'h2', type: 'file', ino: 121, nlink: 2 },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assertNoSentinelInode(box.root, box.secret);
      });
    });
  });
}
