/**
 * Attack B.2 #9 — long paths that slip past the symlink check.
 *
 * libarchive checked symlinks on the way to a member only up to a length, and kept a one-entry
 * cache of the last checked prefix: nesting 500+ byte components through a symlink to the test
 * directory (#744), or a sibling sharing the cached prefix as a string (`aaa/bbb` vs
 * `aaa/bbb2`, #745), skipped the check and wrote through the link. Must: check every
 * component regardless of length or depth; a path too long for the file system is a reported
 * skip of that one member (the image goes on) — never a write elsewhere.
 * Anchors: libarchive#744 (test_write_disk_secure744.c), libarchive#745 (single-entry prefix
 * cache); Linux NAME_MAX 255 / PATH_MAX 4096 decide where the kernel itself refuses.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { checkLongPath, longPathCases } from '../helpers/attack-cases.js';
import { cpioArchive } from '../helpers/cpio-writer.js';
import { expectReport, extractHostile, FORMATS, inRoot } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

for (const format of FORMATS) {
  describe(`long paths through symlinks (${format})`, () => {
    for (const c of longPathCases) {
      test(c.name, async () => {
        await withSandbox(`longpath-${format}`, (box) => checkLongPath(box, c, (members) => cpioArchive(members, { format })));
      });
    }

    test('#745 sibling: aaa/bb/keep lands in the root too', async () => {
      await withSandbox(`longpath-745-${format}`, async (box) => {
        const members = longPathCases.find((c) => c.name.startsWith('#745'))!.members(box);
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.equal(fs.readFileSync(inRoot(box.root, `${box.outside}/keep`), 'utf8'), 'EVIL');
        assert.equal(fs.readFileSync(inRoot(box.root, 'aaa/bbb/f'), 'utf8'), 'f');
      });
    });
  });
}
