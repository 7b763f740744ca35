/**
 * Attack B.2 #5 — a symlink planted by one archive (or by the zone's own root user), written
 * through by a later extraction into the same root.
 *
 *   archive 1: x -> ../../../victim/.ssh        archive 2: x/authorized_keys
 *
 * Re-imaging, resume and update-on-attach all extract into a root that already holds
 * attacker-influenced content (an installed zone root is writable by the zone's root user:
 * illumos `safe_dir` in common.ksh). The second extraction must not trust anything already in
 * the root: links met on the way are resolved inside the root, a link standing where a member
 * goes is replaced (never followed, never chmod'ed through), and the skip-if-identical fast
 * path (content index) must not be fooled into leaving a link in place.
 * Anchors: GNU tar CVE-2025-45582 (followed intermediate symlinks left by an earlier archive;
 * flatcar/Flatcar#1811); moby chrootarchive CVE-2018-15664 (never trust a populated root).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { assertInRootOrSkipped, clearRoot, expectReport, extractHostile, FORMATS, inRoot, lstat } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';
import { isRoot } from '../helpers/tools.js';

/** What the zone's root user leaves behind in the root before a re-run. */
function plant(box: Sandbox): void {
  const at = (name: string) => path.join(box.root, name);
  fs.symlinkSync(box.sentinelDir, at('abs-dir'));
  fs.symlinkSync(box.secret, at('abs-file'));
  fs.symlinkSync('../outside/dir', at('rel-dir'));
  fs.symlinkSync('../outside/secret', at('rel-file'));
  fs.symlinkSync('../../../../../../../../..', at('up'));
  fs.symlinkSync(box.outside, at('usr'));
  fs.mkdirSync(at('etc-real'));
  fs.symlinkSync(box.sentinelDir, at('etc-real/ssh'));
}

for (const format of FORMATS) {
  describe(`planted symlinks, re-run (${format})`, () => {
    test('archive 1 plants links, archive 2 writes through them: everything lands in the root', async () => {
      await withSandbox(`planted-rerun-${format}`, async (box) => {
        const first: CpioMember[] = [
          { name: 'x', type: 'symlink', target: '../../../outside/dir' },
          { name: 'y', type: 'symlink', target: box.sentinelDir },
          { name: 'z', type: 'symlink', target: '/../../..' },
        ];
        expectReport(await extractHostile(cpioArchive(first, { format }), box.root));
        const second: CpioMember[] = [
          { name: 'x/authorized_keys', type: 'file', data: 'EVIL-x' },
          { name: 'y/authorized_keys', type: 'file', data: 'EVIL-y' },
          { name: 'y/keep', type: 'file', data: 'EVIL-keep' },
          { name: `z${box.secret}`, type: 'file', data: 'EVIL-z' },
        ];
        const outcome = await extractHostile(cpioArchive(second, { format }), box.root);
        assertInRootOrSkipped(outcome, box.root, 'x/authorized_keys', 'outside/dir/authorized_keys', 'EVIL-x');
        assertInRootOrSkipped(outcome, box.root, 'y/authorized_keys', `${box.sentinelDir}/authorized_keys`, 'EVIL-y');
        assertInRootOrSkipped(outcome, box.root, 'y/keep', `${box.sentinelDir}/keep`, 'EVIL-keep');
        assertInRootOrSkipped(outcome, box.root, `z${box.secret}`, box.secret, 'EVIL-z');
      });
    });

    test('links planted on disk: members through them resolve in the root', async () => {
      await withSandbox(`planted-through-${format}`, async (box) => {
        plant(box);
        const members: CpioMember[] = [
          { name: 'abs-dir/keep', type: 'file', data: 'E1' },
          { name: 'rel-dir/keep', type: 'file', data: 'E2' },
          { name: 'up/outside/secret', type: 'file', data: 'E3' },
          { name: 'usr/bin/ls', type: 'file', data: 'E4', mode: 0o4755 },
          { name: 'etc-real/ssh/sshd_config', type: 'file', data: 'E5' },
          { name: 'abs-dir/big', type: 'file', data: 'B'.repeat(300 * 1024) },
          { name: 'rel-dir/newdir', type: 'dir', mode: 0o777 },
          { name: 'rel-dir/p', type: 'fifo', mode: 0o666 },
          { name: 'abs-dir/l', type: 'symlink', target: '/' },
          { name: 'abs-dir/h', type: 'hardlink', target: 'usr/bin/ls' },
        ];
        const outcome = await extractHostile(cpioArchive(members, { format }), box.root);
        assertInRootOrSkipped(outcome, box.root, 'abs-dir/keep', `${box.sentinelDir}/keep`, 'E1');
        assertInRootOrSkipped(outcome, box.root, 'rel-dir/keep', 'outside/dir/keep', 'E2');
        assertInRootOrSkipped(outcome, box.root, 'up/outside/secret', 'outside/secret', 'E3');
        assertInRootOrSkipped(outcome, box.root, 'usr/bin/ls', `${box.outside}/bin/ls`, 'E4');
        assertInRootOrSkipped(outcome, box.root, 'etc-real/ssh/sshd_config', `${box.sentinelDir}/sshd_config`, 'E5');
        const report = expectReport(outcome);
        assert.ok(lstat(inRoot(box.root, 'outside/dir/newdir'))?.isDirectory(), JSON.stringify(report.warnings));
        assert.equal(lstat(inRoot(box.root, 'outside/dir/newdir'))!.mode & 0o7777, 0o777);
        // the hard link resolves its target through the planted links the same way
        const h = lstat(inRoot(box.root, `${box.sentinelDir}/h`));
        if (h) assert.equal(h.ino, lstat(inRoot(box.root, `${box.outside}/bin/ls`))!.ino);
      });
    });

    test('links planted where members go are replaced, never followed or chmod-ed through', async () => {
      await withSandbox(`planted-replace-${format}`, async (box) => {
        plant(box);
        const members: CpioMember[] = [
          { name: 'abs-file', type: 'file', data: 'EVIL', mode: 0o4777, uid: 1234, gid: 1234 },
          { name: 'rel-file', type: 'file', data: 'R'.repeat(300 * 1024), mode: 0o6777 },
          { name: 'abs-dir', type: 'dir', mode: 0o777, uid: 1234, gid: 1234 },
          { name: 'rel-dir', type: 'fifo', mode: 0o666 },
          { name: 'usr', type: 'symlink', target: 'elsewhere' },
          { name: 'etc-real/ssh', type: 'dir', mode: 0o1777 },
          { name: 'up', type: 'hardlink', target: 'abs-file' },
        ];
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        const at = (name: string) => lstat(path.join(box.root, name))!;
        assert.ok(at('abs-file').isFile());
        assert.equal(fs.readFileSync(path.join(box.root, 'abs-file'), 'utf8'), 'EVIL');
        assert.ok(at('rel-file').isFile());
        assert.ok(at('abs-dir').isDirectory());
        assert.equal(at('abs-dir').mode & 0o7777, 0o777);
        assert.ok(at('rel-dir').isFIFO());
        assert.equal(fs.readlinkSync(path.join(box.root, 'usr')), 'elsewhere');
        assert.ok(at('etc-real/ssh').isDirectory());
        assert.equal(at('etc-real/ssh').mode & 0o7777, 0o1777);
        assert.equal(at('up').ino, at('abs-file').ino, JSON.stringify(report.warnings));
        if (isRoot()) {
          assert.equal(at('abs-file').uid, 1234);
          assert.equal(at('abs-file').mode & 0o7777, 0o4777, 'owner first, then mode');
        }
      });
    });

    test('skip-if-identical (content index) does not leave a planted link in place', async () => {
      const indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-sec-index-'));
      try {
        await withSandbox(`planted-index-${format}`, async (box) => {
          const indexFile = path.join(indexDir, `index-${format}.jsonl`);
          const small: CpioMember = { name: 'f', type: 'file', data: 'ORIGINAL', mode: 0o644, mtime: 1_600_000_000 };
          const large: CpioMember = { name: 'g', type: 'file', data: 'G'.repeat(300 * 1024), mode: 0o644, mtime: 1_600_000_000 };
          const archive = cpioArchive([small, large, { name: 'd', type: 'dir' }, { name: 'd/k', type: 'file', data: 'K' }], { format });
          expectReport(await extractHostile(archive, box.root, { indexFile }));
          // the zone's root swaps the extracted files for links to the sentinel, with the
          // recorded mtimes, and swaps the directory for a link to the sentinel directory
          for (const name of ['f', 'g']) {
            fs.rmSync(path.join(box.root, name));
            fs.symlinkSync(box.secret, path.join(box.root, name));
            fs.lutimesSync(path.join(box.root, name), 1_600_000_000, 1_600_000_000);
          }
          fs.rmSync(path.join(box.root, 'd'), { recursive: true });
          fs.symlinkSync(box.sentinelDir, path.join(box.root, 'd'));
          box.resnapshot();
          const report = expectReport(await extractHostile(archive, box.root, { indexFile }));
          assert.ok(lstat(path.join(box.root, 'f'))!.isFile(), 'f is a file again');
          assert.ok(lstat(path.join(box.root, 'g'))!.isFile(), 'g is a file again');
          assert.ok(lstat(path.join(box.root, 'd'))!.isDirectory(), 'd is a directory again');
          assert.equal(fs.readFileSync(path.join(box.root, 'd/k'), 'utf8'), 'K');
          assert.equal(report.unchanged, 0, 'nothing counted unchanged through a link');
        });
      } finally {
        fs.rmSync(indexDir, { recursive: true, force: true });
      }
    });

    test('the same archive twice: the second run changes nothing outside and keeps the root', async () => {
      await withSandbox(`planted-twice-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'l', type: 'symlink', target: box.outside },
          { name: 'l/secret', type: 'file', data: 'EVIL' },
          { name: 'm', type: 'symlink', target: '../outside/secret' },
          { name: 'n', type: 'hardlink', target: 'l/secret' },
        ];
        const archive = cpioArchive(members, { format });
        for (let run = 0; run < 2; run++) {
          expectReport(await extractHostile(archive, box.root), `run ${run}`);
          assert.equal(fs.readFileSync(inRoot(box.root, box.secret), 'utf8'), 'EVIL');
          assert.equal(lstat(path.join(box.root, 'n'))!.ino, lstat(inRoot(box.root, box.secret))!.ino);
          box.assertUnchanged(`run ${run}`);
        }
        clearRoot(box.root);
      });
    });
  });
}
