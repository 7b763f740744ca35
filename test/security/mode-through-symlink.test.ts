/**
 * Attack B.2 #8 — mode, ownership and times changed through a symlink.
 *
 *   Symlink sym -> ../target; then Dir sym mode 0777;  or a symlink entry carrying mode 0666;
 *   or Dir d/ followed later by Symlink d -> /outside and the deferred directory fixup.
 *
 * chmod/chown/utimes follow symlinks. An extractor that applies a directory's metadata by path
 * at the end (the usual "fixup" pass, so that read-only directories can still be filled) sets
 * the mode of whatever the path names by then: libarchive CVE-2021-31566 (#1566), and #745's
 * test where `target` must stay 0700; ACLs the same way (CVE-2021-23177). Must: never chmod/
 * chown/utime a symlink's target; the fixup re-checks with O_NOFOLLOW / lstat.
 * Anchors: libarchive#745 (test_write_disk_secure745.c), CVE-2021-31566, CVE-2021-23177;
 * linuxdeepin/deepin-compressor PRs #455, #460.
 * The sentinel's mode (0640), owner (4242:4343 as root), mtime and ctime are all compared, so
 * even a chmod to the same value would show.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { clearRoot, expectReport, extractHostile, FORMATS, lstat } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';
import { isRoot } from '../helpers/tools.js';

interface Case {
  name: string;
  members(box: Sandbox): CpioMember[];
  check?(box: Sandbox): void;
}

const at = (box: Sandbox, rel: string) => lstat(path.join(box.root, rel));

const cases: Case[] = [
  {
    name: 'Symlink sym -> sentinel dir; Dir sym mode 0777 (the dir replaces the link)',
    members: (box) => [
      { name: 'sym', type: 'symlink', target: box.sentinelDir },
      { name: 'sym', type: 'dir', mode: 0o777, uid: 1234, gid: 1234, mtime: 1 },
    ],
    check: (box) => {
      assert.ok(at(box, 'sym')!.isDirectory());
      assert.equal(at(box, 'sym')!.mode & 0o7777, 0o777);
    },
  },
  {
    name: 'Symlink sym -> ../outside/dir; Dir sym/ mode 0777',
    members: () => [
      { name: 'sym', type: 'symlink', target: '../outside/dir' },
      { name: 'sym/', type: 'dir', mode: 0o777 },
    ],
  },
  {
    name: 'symlink entries carrying mode 0666 and owners, pointing at the sentinel',
    members: (box) => [
      { name: 'l1', type: 'symlink', target: box.secret, mode: 0o666, uid: 1234, gid: 1234, mtime: 1 },
      { name: 'l2', type: 'symlink', target: '../outside/secret', mode: 0o4777, uid: 1, gid: 1, mtime: 2 },
      { name: 'l3', type: 'symlink', target: box.sentinelDir, mode: 0o777, mtime: 3 },
    ],
    check: (box) => {
      assert.ok(at(box, 'l1')!.isSymbolicLink());
      if (isRoot()) assert.equal(at(box, 'l1')!.uid, 1234, 'the owner is set on the link itself');
      assert.equal(at(box, 'l1')!.mtimeMs, 1000, 'the mtime is set on the link itself');
    },
  },
  {
    name: 'Dir d/ (fixup deferred), later Symlink d -> sentinel dir: the fixup does not follow',
    members: (box) => [
      { name: 'd', type: 'dir', mode: 0o777, uid: 1234, gid: 1234, mtime: 1 },
      { name: 'd', type: 'symlink', target: box.sentinelDir },
    ],
    check: (box) => assert.ok(at(box, 'd')!.isSymbolicLink()),
  },
  {
    name: 'Dir d/ deep in the tree, later the parent becomes a link (refused: not empty)',
    members: (box) => [
      { name: 'p/d', type: 'dir', mode: 0o777, mtime: 1 },
      { name: 'p', type: 'symlink', target: box.outside },
    ],
    check: (box) => {
      assert.ok(at(box, 'p')!.isDirectory());
      assert.equal(at(box, 'p/d')!.mode & 0o7777, 0o777);
    },
  },
  {
    name: '"." mode 0777 applies to the root only; ".." mode 0777 is skipped (the directory holding the root keeps its mode)',
    members: () => [
      { name: '.', type: 'dir', mode: 0o777, mtime: 1 },
      { name: '..', type: 'dir', mode: 0o777, mtime: 1 },
    ],
    check: (box) => assert.equal(fs.statSync(box.root).mode & 0o7777, 0o777),
  },
  {
    name: 'File named like a link to the sentinel, mode 04777: the file replaces the link',
    members: (box) => [
      { name: 'f', type: 'symlink', target: box.secret },
      { name: 'f', type: 'file', data: 'ORIGINAL', mode: 0o4777, uid: 1234, mtime: 1 },
      { name: 'g', type: 'symlink', target: box.secret },
      { name: 'g', type: 'file', data: 'G'.repeat(300 * 1024), mode: 0o4777, uid: 1234, mtime: 1 },
    ],
    check: (box) => {
      assert.ok(at(box, 'f')!.isFile());
      assert.equal(at(box, 'f')!.mode & 0o7777, 0o4777);
      assert.ok(at(box, 'g')!.isFile());
    },
  },
  {
    name: 'FIFO named like a link to the sentinel, mode 0666',
    members: (box) => [
      { name: 'n', type: 'symlink', target: box.secret },
      { name: 'n', type: 'fifo', mode: 0o666, uid: 1234, mtime: 1 },
    ],
    check: (box) => assert.ok(at(box, 'n')!.isFIFO()),
  },
  {
    name: 'hard link named like a link to the sentinel dir: no metadata applied through it',
    members: (box) => [
      { name: 't', type: 'file', data: 'T', mode: 0o4777 },
      { name: 'h', type: 'symlink', target: box.sentinelDir },
      { name: 'h', type: 'hardlink', target: 't', mode: 0o4777 },
    ],
    check: (box) => assert.equal(at(box, 'h')!.ino, at(box, 't')!.ino),
  },
];

for (const format of FORMATS) {
  describe(`mode and ownership through a symlink (${format})`, () => {
    for (const c of cases) {
      test(c.name, async () => {
        await withSandbox(`mode-${format}`, async (box) => {
          const report = expectReport(await extractHostile(cpioArchive(c.members(box), { format }), box.root));
          try {
            c.check?.(box);
          } catch (error) {
            throw new Error(`${(error as Error).message} (warnings: ${JSON.stringify(report.warnings)})`, { cause: error });
          }
        });
      });
    }

    test('re-run with identical content: metadata fixed on the file itself, never through a planted link', async () => {
      await withSandbox(`mode-rerun-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'f', type: 'file', data: 'ORIGINAL', mode: 0o644, mtime: 1_600_000_000 },
          { name: 'd', type: 'dir', mode: 0o755, mtime: 1_600_000_000 },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        // between runs: f becomes a link to the sentinel (same content!), d a link to the dir
        fs.rmSync(path.join(box.root, 'f'));
        fs.symlinkSync(box.secret, path.join(box.root, 'f'));
        fs.rmdirSync(path.join(box.root, 'd'));
        fs.symlinkSync(box.sentinelDir, path.join(box.root, 'd'));
        const second: CpioMember[] = [
          { name: 'f', type: 'file', data: 'ORIGINAL', mode: 0o4777, uid: 1234, mtime: 1 },
          { name: 'd', type: 'dir', mode: 0o777, uid: 1234, mtime: 1 },
        ];
        expectReport(await extractHostile(cpioArchive(second, { format }), box.root));
        assert.ok(at(box, 'f')!.isFile());
        assert.ok(at(box, 'd')!.isDirectory());
        clearRoot(box.root);
      });
    });
  });
}
