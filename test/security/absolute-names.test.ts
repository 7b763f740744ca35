/**
 * Attack B.2 #1 — absolute member names.
 *
 * An archive made from "/" (or forged) names its members `/etc/passwd`, `//etc/x`, `///x`; a
 * naive extractor joins them to nothing and writes the host's files. Windows spellings
 * (`C:\x`, `C:x`, `\\?\C:\x`, `\\server\share\x`) are ordinary names on Unix and must simply
 * stay inside the root.
 * Anchors: node-tar CVE-2021-32804 (commit 1f036ca), CVE-2021-37713 / CVE-2026-31802 (drive-
 * relative paths); GNU tar strips a leading "/" (manual absolute.html); the illumos installer
 * rejects the whole archive (`e_absolute_archive` in common.ksh).
 * Our policy (path-policy.ts): refuse the image with P2V_ENTRY_UNSAFE, unless `stripAbsolute`,
 * in which case the leading slashes are stripped and the member lands under the root.
 * The absolute names used here are the sandbox's own sentinel paths, so an escape would hit
 * the sentinel rather than the host; one /etc case uses a unique name guarded on the host.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { expectError, expectReport, extractHostile, FORMATS, inRoot, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

for (const format of FORMATS) {
  describe(`absolute member names (${format})`, () => {
    test('an absolute name is refused with P2V_ENTRY_UNSAFE by default, nothing written outside', async () => {
      await withSandbox(`abs-refuse-${format}`, async (box) => {
        box.guardHost(`/etc/${box.unique}`);
        for (const [label, members] of [
          ['file over the sentinel', [{ name: box.secret, type: 'file', data: 'EVIL' }]],
          ['double slash', [{ name: `/${box.secret}`, type: 'file', data: 'EVIL' }]],
          ['triple slash into the sentinel dir', [{ name: `//${box.sentinelDir}/new`, type: 'file', data: 'EVIL' }]],
          ['dir over the sentinel dir, mode 0777', [{ name: box.sentinelDir, type: 'dir', mode: 0o777, uid: 1234 }]],
          ['symlink beside the sentinel', [{ name: `${box.outside}/planted`, type: 'symlink', target: '/' }]],
          ['after a good member', [{ name: 'good', type: 'file', data: 'ok' }, { name: box.secret, type: 'file', data: 'EVIL' }]],
          ['/etc on the host', [{ name: `/etc/${box.unique}`, type: 'file', data: 'EVIL' }]],
        ] as [string, CpioMember[]][]) {
          const outcome = await extractHostile(cpioArchive(members, { format }), box.root);
          const error = expectError(outcome, ['P2V_ENTRY_UNSAFE'], label);
          assert.ok(error.details.entry, `${label}: the error names the member`);
          box.assertUnchanged(label);
        }
      });
    });

    test('stripAbsolute: every spelling lands inside the root', async () => {
      await withSandbox(`abs-strip-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: box.secret, type: 'file', data: 'EVIL-1' },
          { name: `//${box.sentinelDir}/new`, type: 'file', data: 'EVIL-2' },
          { name: '///x', type: 'file', data: 'EVIL-3' },
          { name: `/${box.outside}/dir`, type: 'dir', mode: 0o777 },
          { name: `/etc/${box.unique}`, type: 'file', data: 'EVIL-4' },
          { name: '/', type: 'symlink', target: box.outside },
          { name: '//', type: 'file', data: 'root itself' },
        ];
        box.guardHost(`/etc/${box.unique}`);
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root, { stripAbsolute: true }));
        assert.equal(fs.readFileSync(inRoot(box.root, box.secret), 'utf8'), 'EVIL-1');
        assert.equal(fs.readFileSync(inRoot(box.root, `${box.sentinelDir}/new`), 'utf8'), 'EVIL-2');
        assert.equal(fs.readFileSync(inRoot(box.root, 'x'), 'utf8'), 'EVIL-3');
        assert.equal(fs.readFileSync(inRoot(box.root, `etc/${box.unique}`), 'utf8'), 'EVIL-4');
        assert.equal(lstat(inRoot(box.root, box.sentinelDir))!.mode & 0o7777, 0o777);
        // "/" and "//" name the root: never replaced by a symlink or a file
        assert.ok(lstat(box.root)!.isDirectory());
        assert.ok(report.warnings.some((w) => w.entry === '/' || w.entry === '//'), 'a member named like the root is reported');
      });
    });

    test('Windows-style names are plain names inside the root', async () => {
      await withSandbox(`abs-windows-${format}`, async (box) => {
        const names = ['C:\\x', 'C:x', '\\\\?\\C:\\x', '\\\\server\\share\\x', 'C:\\..\\..\\x', '..\\..\\outside\\secret'];
        const members: CpioMember[] = names.map((name, i) => ({ name, type: 'file', data: `W${i}` }));
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        names.forEach((name, i) => {
          assert.equal(fs.readFileSync(path.join(box.root, name), 'utf8'), `W${i}`, name);
        });
        assert.deepEqual(fs.readdirSync(box.root).sort(), [...names].sort());
      });
    });
  });
}
