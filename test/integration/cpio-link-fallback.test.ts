/**
 * odc, bin and afio cpio carry a hard-link group's data on every name. When the group's first
 * name cannot be placed (a ".." name, refused), its later names still can: the first of them
 * becomes the file, from its own copy of the data, and the rest link to it - as GNU cpio
 * writes them (found by review: they were lost, with a warning that blamed the wrong name).
 * newc/crc carry the data once, on the last name: nothing to fall back on there, unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { expectReport, extractHostile } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

for (const format of ['odc', 'bin-le', 'bin-be'] as const) {
  test(`cpio ${format}: a hard-link group whose first name is refused is written from its next name`, async () => {
    await withSandbox(`link-fallback-${format}`, async (box) => {
      const members: CpioMember[] = [
        { name: 'd', type: 'dir' },
        { name: '../outside', type: 'file', ino: 5, nlink: 3, data: 'group data' },
        { name: 'd/ok', type: 'file', ino: 5, nlink: 3, data: 'group data' },
        { name: 'd/ok2', type: 'file', ino: 5, nlink: 3, data: 'group data' },
        { name: 'after', type: 'file', data: 'after the group' },
      ];
      const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
      assert.equal(fs.readFileSync(path.join(box.root, 'd/ok'), 'utf8'), 'group data');
      const ok = fs.statSync(path.join(box.root, 'd/ok'));
      const ok2 = fs.statSync(path.join(box.root, 'd/ok2'));
      assert.equal(ok2.ino, ok.ino, 'the rest of the group links to it');
      assert.equal(ok.nlink, 2);
      assert.equal(fs.readFileSync(path.join(box.root, 'after'), 'utf8'), 'after the group');
      assert.deepEqual(report.warnings.map((warning) => warning.entry), ['../outside'], 'only the refused name is reported');
      box.assertUnchanged(format);
    });
  });
}

test('what is learnt of a refused first name does not carry over to a later group of the same name', async () => {
  await withSandbox('link-fallback-reused-name', async (box) => {
    const members: CpioMember[] = [
      // group ONE: its first name is in the way of a file, so "a" becomes the file
      { name: 'p', type: 'file', data: 'a file where a directory comes later' },
      { name: 'p/f', type: 'file', ino: 5, nlink: 2, data: 'ONE' },
      { name: 'a', type: 'file', ino: 5, nlink: 2, data: 'ONE' },
      // group TWO: the same first name, placed this time; "b" must link to it
      { name: 'p', type: 'dir' },
      { name: 'p/f', type: 'file', ino: 6, nlink: 2, data: 'TWO' },
      { name: 'b', type: 'file', ino: 6, nlink: 2, data: 'TWO' },
      // groups THREE and FOUR: both refused first names
      { name: '../x', type: 'file', ino: 7, nlink: 2, data: 'THREE' },
      { name: 'c', type: 'file', ino: 7, nlink: 2, data: 'THREE' },
      { name: '../x', type: 'file', ino: 8, nlink: 2, data: 'FOUR' },
      { name: 'd', type: 'file', ino: 8, nlink: 2, data: 'FOUR' },
    ];
    expectReport(await extractHostile(cpioArchive(members, { format: 'odc' }), box.root));
    const read = (name: string) => fs.readFileSync(path.join(box.root, name), 'utf8');
    assert.deepEqual([read('a'), read('p/f'), read('b'), read('c'), read('d')], ['ONE', 'TWO', 'TWO', 'THREE', 'FOUR']);
    assert.equal(fs.statSync(path.join(box.root, 'b')).ino, fs.statSync(path.join(box.root, 'p/f')).ino, 'b links to the second p/f');
    box.assertUnchanged('reused names');
  });
});
