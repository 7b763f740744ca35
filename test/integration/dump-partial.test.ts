/**
 * A level 0 dump of a subdirectory (Linux dump `dump -0 -f F /mnt/sub`; Solaris ufsdump makes
 * the same kind from a list of files): the directories on the way to the selection are dumped
 * whole, so they name files that are not in the dump, and Linux dump does not even mark those
 * as in use. restore extracts the selection and skips the rest; so must we, with one warning,
 * where such a name in a whole dump is a corrupt directory (dump-real-tools.test.ts).
 *
 * Needs root, dump/restore, mke2fs, and a loop device that can be mounted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import { isPartialDump } from '../../src/formats/dump/index.js';
import { diffTrees } from '../helpers/tree-compare.js';
import { isRoot, missingTools, run } from '../helpers/tools.js';
import { restoreInto, withLoop } from '../helpers/dump-tools.js';

test('a dump names itself partial in its file-system field (ufsdump and Linux dump)', () => {
  assert.equal(isPartialDump('a partial file system'), true);
  assert.equal(isPartialDump('/mnt/data (dir /export/home)'), true);
  assert.equal(isPartialDump('/mnt/data'), false);
  assert.equal(isPartialDump('/export/home (dir'), false);
  assert.equal(isPartialDump('an unlisted file system'), false);
});

test('a level 0 dump of a subdirectory extracts like restore -r: the selection, one warning for the rest', async (t) => {
  const missing = missingTools(['dump', 'restore', 'mke2fs', 'losetup', 'mount', 'umount']);
  if (missing.length > 0 || !isRoot()) {
    t.skip(missing.length > 0 ? `missing: ${missing.join(', ')}` : 'needs root (loop device and mount)');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-partial-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'export', 'home', 'user'), { recursive: true });
  fs.writeFileSync(path.join(source, 'export', 'home', 'user', 'profile'), 'PATH=/usr/bin\n');
  fs.symlinkSync('user/profile', path.join(source, 'export', 'home', 'link'));
  fs.writeFileSync(path.join(source, 'export', 'sibling'), 'not selected\n');
  fs.writeFileSync(path.join(source, 'top'), 'not selected either\n');
  const image = path.join(work, 'fs.img');
  run('mke2fs', ['-q', '-t', 'ext2', '-d', source, image, '8M']);
  const mountPoint = path.join(work, 'mnt');
  fs.mkdirSync(mountPoint);
  const dump = path.join(work, 'home.dump');
  const mounted = withLoop(image, (device) => {
    if (run('mount', [device, mountPoint], { okStatus: 'any' }).status !== 0) return false;
    try {
      run('dump', ['-0', '-f', dump, path.join(mountPoint, 'export', 'home')]);
    } finally {
      run('umount', [mountPoint], { okStatus: 'any' });
    }
    return true;
  });
  if (!mounted) {
    t.skip('mount of a loop device is not allowed here');
    return;
  }

  const dest = path.join(work, 'root');
  const report = await extract({ image: dump, dest });
  const partialWarnings = report.warnings.filter((warning) => /a partial dump \(.* \(dir \/export\/home\)\): \d+ name\(s\) in its directories are outside what was dumped/.test(warning.message));
  assert.equal(partialWarnings.length, 1, JSON.stringify(report.warnings));
  assert.match(partialWarnings[0]!.message, /"top"/);
  assert.deepEqual(report.warnings.filter((warning) => warning !== partialWarnings[0]), [], 'no other warning');
  assert.equal(fs.readFileSync(path.join(dest, 'export', 'home', 'user', 'profile'), 'utf8'), 'PATH=/usr/bin\n');
  assert.equal(fs.existsSync(path.join(dest, 'export', 'sibling')), false);
  assert.equal(fs.existsSync(path.join(dest, 'top')), false);

  const reference = path.join(work, 'restored');
  restoreInto(reference, dump);
  const diffs = diffTrees(reference, dest, { ignoreRootMeta: true });
  assert.deepEqual(diffs, [], JSON.stringify(diffs, null, 1));
});
