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
import { checkModeThroughSymlink, modeThroughSymlinkCases } from '../helpers/attack-cases.js';
import { clearRoot, expectReport, extractHostile, FORMATS, lstat } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';

const at = (box: Sandbox, rel: string) => lstat(path.join(box.root, rel));

for (const format of FORMATS) {
  describe(`mode and ownership through a symlink (${format})`, () => {
    for (const c of modeThroughSymlinkCases) {
      test(c.name, async () => {
        await withSandbox(`mode-${format}`, (box) => checkModeThroughSymlink(box, c, (members) => cpioArchive(members, { format })));
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
