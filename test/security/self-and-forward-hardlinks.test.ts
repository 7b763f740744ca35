/**
 * Attack B.2 #7 — self-referential and forward hard links.
 *
 *   Link a -> a (with a already present);  Link b -> c before File c appears.
 *
 * An extractor that unlinks the destination before link(2) deletes `a` and then fails to link
 * it to itself (libarchive#661, found with the star test suite): files vanish. A link that comes
 * before its target must be deferred or skipped with a warning, and a link that cannot be made
 * must not have destroyed what stood at its name. In cpio, newc/crc archives are forward links
 * by construction (data on the last name), and a group whose data never comes is legal.
 * Must: never unlink an existing file and then fail to recreate it; nothing outside changes.
 * Anchors: libarchive#661; node-tar test 'ignore self-referential hardlinks', commits 7d4cc17
 * and 9704d8c (links preempting their targets).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { clearRoot, expectReport, extractHostile, FORMATS, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

const LINK_DATA = ['first', 'last', 'every'] as const;
/**
 * The content a group's data reaches its file with. odc/bin readers take the FIRST name of a
 * group as its data holder (GNU cpio, afio and pax all put data there); an odc/bin archive with
 * the data only on the LAST name (no writer makes one) therefore yields an empty file, legally.
 */
const expectedContent = (format: string, linkData: string) => (linkData === 'last' && format !== 'newc' && format !== 'crc' ? '' : 'A');

const read = (root: string, name: string) => fs.readFileSync(path.join(root, name), 'utf8');

for (const format of FORMATS) {
  describe(`self-referential and forward hard links (${format})`, () => {
    test('Link a -> a: a keeps its content (fresh root, and with a already there)', async () => {
      await withSandbox(`selflink-${format}`, async (box) => {
        for (const linkData of LINK_DATA) {
          for (const preexisting of [false, true]) {
            clearRoot(box.root);
            if (preexisting) fs.writeFileSync(path.join(box.root, 'a'), 'A');
            const members: CpioMember[] = [
              { name: 'a', type: 'file', data: 'A', ino: 5, nlink: 2 },
              { name: 'a', type: 'hardlink', target: 'a', ino: 5, nlink: 2 },
            ];
            const label = `${linkData}, a ${preexisting ? 'present' : 'absent'}`;
            const report = expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), label);
            const st = lstat(path.join(box.root, 'a'));
            assert.ok(st?.isFile(), `${label}: a still exists (${JSON.stringify(report.warnings)})`);
            assert.equal(st!.nlink, 1, label);
            assert.equal(read(box.root, 'a'), expectedContent(format, linkData), label);
          }
        }
      });
    });

    test('a self-link through another spelling (./a, x/a with x -> .) does not delete a', async () => {
      await withSandbox(`selflink-spelling-${format}`, async (box) => {
        for (const linkData of LINK_DATA) {
          clearRoot(box.root);
          const members: CpioMember[] = [
            { name: 'x', type: 'symlink', target: '.' },
            { name: 'a', type: 'file', data: 'A', ino: 6 },
            { name: './a', type: 'hardlink', target: 'a', ino: 6 },
            { name: 'x/a', type: 'hardlink', target: 'a', ino: 6 },
          ];
          expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), linkData);
          assert.equal(read(box.root, 'a'), expectedContent(format, linkData), linkData);
          assert.ok(lstat(path.join(box.root, 'x'))?.isSymbolicLink(), `${linkData}: x is still the link`);
        }
      });
    });

    test('Link b -> c before File c: b and c end up one inode with c\'s data', async () => {
      await withSandbox(`forwardlink-${format}`, async (box) => {
        for (const linkData of LINK_DATA) {
          clearRoot(box.root);
          const members: CpioMember[] = [
            { name: 'b', type: 'hardlink', target: 'c', ino: 7 },
            { name: 'c', type: 'file', data: 'C', ino: 7 },
          ];
          const report = expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), linkData);
          const b = lstat(path.join(box.root, 'b'));
          const c = lstat(path.join(box.root, 'c'));
          assert.ok(b && c, `${linkData}: both names exist (${JSON.stringify(report.warnings)})`);
          assert.equal(b.ino, c.ino, `${linkData}: one inode`);
          // odc/bin with the data only on the LAST name is not what any writer produces (they
          // repeat it on every name); a reader taking the first name as the data holder gets ""
          if (linkData !== 'last' || format === 'newc' || format === 'crc') assert.equal(read(box.root, 'c'), 'C', linkData);
        }
      });
    });

    test('a forward link whose target never comes leaves an existing file intact or replaced whole', async () => {
      await withSandbox(`forwardlink-missing-${format}`, async (box) => {
        for (const linkData of LINK_DATA) {
          clearRoot(box.root);
          fs.writeFileSync(path.join(box.root, 'b'), 'KEEP');
          fs.writeFileSync(path.join(box.root, 'f'), 'a file in the way');
          const members: CpioMember[] = [
            // the group's data member is skipped ("..") or cannot be placed (f is a file)
            { name: 'b', type: 'hardlink', target: '../c', ino: 8, nlink: 2 },
            { name: '../c', type: 'file', data: 'C', ino: 8, nlink: 2 },
            { name: 'e', type: 'hardlink', target: 'f/c', ino: 9, nlink: 2 },
            { name: 'f/c', type: 'file', data: 'C', ino: 9, nlink: 2 },
          ];
          expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), linkData);
          const b = lstat(path.join(box.root, 'b'));
          assert.ok(b?.isFile(), `${linkData}: b was not deleted`);
          // either untouched, or rewritten as a complete member of its own — never half-gone
          assert.ok(['KEEP', '', 'C'].includes(read(box.root, 'b')), `${linkData}: b = ${read(box.root, 'b')}`);
          assert.equal(read(box.root, 'f'), 'a file in the way');
        }
      });
    });

    test('a group whose data never comes: one empty file and links (newc), data on the first name (odc)', async () => {
      await withSandbox(`forwardlink-nodata-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'p', type: 'file', ino: 10, nlink: 3 },
          { name: 'q', type: 'file', ino: 10, nlink: 3 },
          { name: 'p', type: 'file', ino: 10, nlink: 3 },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.equal(lstat(path.join(box.root, 'p'))!.ino, lstat(path.join(box.root, 'q'))!.ino);
        assert.equal(read(box.root, 'p'), '');
      });
    });

    test('links to a file of another group with the same name are not confused across (dev, ino)', async () => {
      await withSandbox(`hardlink-devs-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'one', type: 'file', data: 'ONE', ino: 11, dev: 1, nlink: 2 },
          { name: 'two', type: 'file', data: 'TWO', ino: 11, dev: 2, nlink: 2 },
          { name: 'one-link', type: 'file', data: 'ONE', ino: 11, dev: 1, nlink: 2 },
          { name: 'two-link', type: 'file', data: 'TWO', ino: 11, dev: 2, nlink: 2 },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format, linkData: 'every' }), box.root));
        assert.equal(read(box.root, 'one-link'), 'ONE');
        assert.equal(read(box.root, 'two-link'), 'TWO');
      });
    });
  });
}
