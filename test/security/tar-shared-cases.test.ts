/**
 * The format-independent attack cases, through the tar reader (security.md B.2, test advice:
 * "run each case once per input format … because the sink is shared").
 *
 * The tables in test/helpers/attack-cases.ts — B.2 #3 a symlink then a file through it, #4
 * directory-cache poisoning, #8 mode and ownership through a symlink, #9 long paths through
 * symlinks — run here once per tar flavour: ustar headers with pax `x` records for names and
 * targets over 100 bytes, and GNU headers with `L`/`K` long-name members. The cpio files run the
 * same tables once per cpio family; what a case asserts (in-root resolution, the sentinel
 * beside the root unchanged) is the same for every format.
 * Not here: the hard-link cases, which in cpio are inode groups (tar-hardlink-targets.test.ts
 * has tar's own), and the cpio re-run / race tests, whose archives carry nothing tar-specific.
 */
import { describe, test } from 'node:test';
import {
  checkDirCache,
  checkLongPath,
  checkModeThroughSymlink,
  checkSymlinkThenFile,
  dirCacheCases,
  longPathCases,
  modeThroughSymlinkCases,
  symlinkThenFileCases,
} from '../helpers/attack-cases.js';
import { withSandbox } from '../helpers/sentinel.js';
import { TAR_FLAVOURS, tarFromMembers } from '../helpers/tar-from-members.js';

for (const flavour of TAR_FLAVOURS) {
  const build = (members: Parameters<typeof tarFromMembers>[0]) => tarFromMembers(members, flavour);
  describe(`tar (${flavour}): symlink, then a file through it`, () => {
    for (const c of symlinkThenFileCases) test(c.name, () => withSandbox(`tar-symfile-${flavour}`, (box) => checkSymlinkThenFile(box, c, build)));
  });
  describe(`tar (${flavour}): directory-cache poisoning`, () => {
    for (const c of dirCacheCases) test(c.name, () => withSandbox(`tar-dircache-${flavour}`, (box) => checkDirCache(box, c, build)));
  });
  describe(`tar (${flavour}): mode and ownership through a symlink`, () => {
    for (const c of modeThroughSymlinkCases) test(c.name, () => withSandbox(`tar-mode-${flavour}`, (box) => checkModeThroughSymlink(box, c, build)));
  });
  describe(`tar (${flavour}): long paths through symlinks`, () => {
    for (const c of longPathCases) test(c.name, () => withSandbox(`tar-longpath-${flavour}`, (box) => checkLongPath(box, c, build)));
  });
}
