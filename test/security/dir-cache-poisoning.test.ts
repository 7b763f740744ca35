/**
 * Attack B.2 #4 — directory-cache poisoning.
 *
 *   Dir a/; Symlink a -> ../outside (same name as the directory just created); File a/x
 *
 * An extractor that remembers "a is a directory I made" (node-tar's dirCache, our resolver's
 * knownDirs) and does not forget it when `a` is replaced writes `a/x` through the new link.
 * Variants spell the same path differently (`a/`, `./a`, `a//`, `a/.`), or nearly the same
 * (`a\`, NFC vs NFD "café", case), nest it, or replace the directory with a hard link or a FIFO
 * first. Must: drop the cache entry when the path is replaced; `a/x` never goes outside (it
 * lands where in-root resolution of the new link says, or is skipped).
 * Anchors: node-tar CVE-2021-32803 (GHSA-r628-mhmh-qjhw; commits 23312ce "drop dirCache for
 * symlink on all platforms", 3aaf19b), CVE-2021-37701 (other spellings), CVE-2021-37712
 * (GHSA-qq89-hq3f-393p, Unicode); zone-writer.ts clearPath() → resolver.forget().
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { checkDirCache, dirCacheCases } from '../helpers/attack-cases.js';
import { clearRoot, expectReport, extractHostile, FORMATS, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

for (const format of FORMATS) {
  describe(`directory-cache poisoning (${format})`, () => {
    for (const c of dirCacheCases) {
      test(c.name, async () => {
        await withSandbox(`dircache-${format}`, (box) => checkDirCache(box, c, (members) => cpioArchive(members, { format })));
      });
    }

    test('a non-empty directory is not replaced by a link; later members stay in the real directory', async () => {
      await withSandbox(`dircache-nonempty-${format}`, async (box) => {
        for (const withLargeFile of [false, true]) {
          clearRoot(box.root);
          const members: CpioMember[] = [
            { name: 'a', type: 'dir' },
            // still queued in a write batch when the symlink member arrives
            { name: 'a/queued', type: 'file', data: withLargeFile ? 'Q'.repeat(300 * 1024) : 'Q' },
            { name: 'a', type: 'symlink', target: '../outside' },
            { name: 'a/x', type: 'file', data: 'X' },
          ];
          const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
          assert.ok(lstat(path.join(box.root, 'a'))!.isDirectory());
          assert.equal(fs.readFileSync(path.join(box.root, 'a/x'), 'utf8'), 'X');
          assert.ok(report.warnings.some((w) => w.entry === 'a'), 'the refused replacement is reported');
          box.assertUnchanged(`large=${withLargeFile}`);
        }
      });
    });

    test('near-miss spellings (a\\, NFC/NFD, case) are different names on a byte-exact file system', async () => {
      await withSandbox(`dircache-spellings-${format}`, async (box) => {
        const nfc = 'caf\u00e9';
        const nfd = 'cafe\u0301';
        const members: CpioMember[] = [
          { name: 'a\\', type: 'dir' },
          { name: 'a', type: 'symlink', target: '../outside' },
          { name: 'a\\/x', type: 'file', data: 'backslash' },
          { name: nfc, type: 'dir' },
          { name: nfd, type: 'symlink', target: '../outside' },
          { name: `${nfc}/x`, type: 'file', data: 'nfc' },
          { name: `${nfd}/y`, type: 'file', data: 'through nfd' },
          { name: 'A', type: 'dir' },
          { name: 'b', type: 'symlink', target: box.outside },
          { name: 'A/x', type: 'file', data: 'upper' },
          { name: 'b/z', type: 'file', data: 'through b' },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.equal(fs.readFileSync(path.join(box.root, 'a\\/x'), 'utf8'), 'backslash');
        assert.equal(fs.readFileSync(path.join(box.root, `${nfc}/x`), 'utf8'), 'nfc');
        assert.equal(fs.readFileSync(path.join(box.root, 'outside/y'), 'utf8'), 'through nfd');
        assert.equal(fs.readFileSync(path.join(box.root, 'A/x'), 'utf8'), 'upper');
        assert.equal(fs.readFileSync(path.join(box.root, box.outside.slice(1), 'z'), 'utf8'), 'through b');
      });
    });
  });
}
