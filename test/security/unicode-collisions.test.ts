/**
 * Attack B.2 #11 — Unicode and case-insensitive collisions.
 *
 *   Symlink ß -> ../outside; then File ss/x   (also ﬁ/FI, ſ/S, NFC/NFD pairs, case pairs)
 *
 * On a file system that folds names (case-insensitive, or normalising Unicode), two member
 * names that differ as bytes are one file: a symlink under one spelling is then written through
 * under the other, past an extractor whose bookkeeping (reservations, directory cache) compares
 * bytes. Must: bookkeeping folds the way the file system does, or the file system is byte-exact.
 * Our resolver checks every component with lstat on the real file system; its cache (knownDirs:
 * paths it created or verified as directories) is dropped whole whenever a directory is
 * replaced, whatever spelling replaced it (a folded "d" replacing a cached "D" once left "D"
 * cached, and members under it went through the link: found by review with a case-insensitive
 * FUSE file system), and the last pass over directories checks that each one it opens is at its
 * own path (dir-fixups.ts). So on any file system the link is found and resolved inside the
 * root. These tests run on the temp directory's file system (byte-exact ext4/tmpfs here) and
 * assert the result both ways: a distinct name lands as itself, a folded one inside the root;
 * the folding order itself is played on a byte-exact file system in root-resolver.test.ts and
 * dir-fixups.test.ts.
 * Anchors: node-tar CVE-2026-23950 (GHSA-r6q2-hw4h-h46w, test/ghsa-r6q2-hw4h-h46w.ts),
 * CVE-2021-37712; node-tar src/normalize-unicode.ts, src/path-reservations.ts (commit 3b1abfa).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { expectReport, extractHostile, FORMATS, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

const pairs: [link: string, other: string][] = [
  ['\u00df', 'ss'], // ß / ss
  ['\ufb01', 'fi'], // ﬁ ligature / fi
  ['\ufb01', 'FI'],
  ['\u017f', 'S'], // ſ long s / S
  ['caf\u00e9', 'cafe\u0301'], // NFC / NFD
  ['cafe\u0301', 'caf\u00e9'],
  ['Etc', 'etc'],
  ['K', '\u212a'], // Kelvin sign
];

for (const format of FORMATS) {
  describe(`Unicode and case collisions (${format})`, () => {
    for (const [link, other] of pairs) {
      test(`Symlink ${JSON.stringify(link)} -> outside; File ${JSON.stringify(other)}/x`, async () => {
        await withSandbox(`unicode-${format}`, async (box) => {
          const members: CpioMember[] = [
            { name: link, type: 'symlink', target: box.sentinelDir },
            { name: `${other}/keep`, type: 'file', data: 'EVIL' },
            { name: `${other}/x`, type: 'file', data: 'X' },
          ];
          expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
          const otherStat = lstat(path.join(box.root, other));
          assert.ok(otherStat, `${other} exists`);
          if (otherStat.isSymbolicLink()) {
            // a folding file system: the two names are one entry, resolved inside the root
            assert.equal(fs.readFileSync(path.join(box.root, box.sentinelDir.slice(1), 'x'), 'utf8'), 'X');
          } else {
            assert.ok(otherStat.isDirectory(), `${other} is a real directory`);
            assert.equal(fs.readFileSync(path.join(box.root, other, 'x'), 'utf8'), 'X');
            assert.ok(lstat(path.join(box.root, link))?.isSymbolicLink(), `${link} is still the link`);
          }
        });
      });
    }
  });
}
