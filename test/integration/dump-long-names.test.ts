/**
 * Linux dump 0.4b47 stores the d_reclen of a directory entry with a 244..255-byte name modulo
 * 256 and leaves the name out (the next entry starts at that d_reclen). restore reads on and
 * loses only that name; we once stopped reading the 512-byte chunk there, and every later name
 * in it was lost too (found by review: 18 unrelated files, exit 0 with orphan warnings).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import { isRoot, missingTools, run } from '../helpers/tools.js';
import { withLoop } from '../helpers/dump-tools.js';

test('a directory with 244..255-byte names in a Linux dump: every other name is read', async (t) => {
  const missing = missingTools(['dump', 'mke2fs', 'losetup']);
  if (missing.length > 0 || !isRoot()) {
    t.skip(missing.length > 0 ? `missing: ${missing.join(', ')}` : 'needs root (loop device)');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-longnames-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'd'), { recursive: true });
  const short = [...Array.from({ length: 5 }, (_, i) => `before${i}`), ...Array.from({ length: 8 }, (_, i) => `after${i}`)];
  for (const name of short) fs.writeFileSync(path.join(source, 'd', name), `${name}\n`);
  for (const length of [244, 250, 255]) fs.writeFileSync(path.join(source, 'd', 'L'.repeat(length)), 'long\n');
  const image = path.join(work, 'fs.img');
  run('mke2fs', ['-q', '-t', 'ext2', '-d', source, image, '8M']);
  const dump = path.join(work, 'fs.dump');
  withLoop(image, (device) => run('dump', ['-0', '-f', dump, device]));

  const dest = path.join(work, 'root');
  const report = await extract({ image: dump, dest });
  const names = new Set(fs.readdirSync(path.join(dest, 'd')));
  for (const name of short) assert.ok(names.has(name), `${name} is there`);
  for (const name of names) assert.equal(fs.readFileSync(path.join(dest, 'd', name), 'utf8'), name.startsWith('L') ? 'long\n' : `${name}\n`);
  // the names dump left out are reported (orphans), no more
  const lost = 3 - [...names].filter((name) => name.startsWith('L')).length;
  assert.equal(report.warnings.filter((warning) => /orphan/.test(warning.message)).length, lost);
});
