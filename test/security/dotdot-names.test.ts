/**
 * Attack B.2 #2 — dot-dot member names.
 *
 * Members named `../x`, `a/../../x`, `./../x`, `a/b/../../../x`, `..`, `a/..`, `dir/../` climb
 * out of the root when joined naively (`../outside/secret` hits the sentinel directly). Any
 * member with a ".." component must be skipped — never "normalised" into something else — and
 * a path ending in ".." always rejected; the skip is reported and the rest of the image goes on.
 * Anchors: node-tar test `'.. paths'` (test/unpack.js); libarchive
 * ARCHIVE_EXTRACT_SECURE_NODOTDOT; GNU tar POINTYFEATHER CVE-2016-6321; GNU cpio CVE-2005-1229.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember, type CpioMemberType } from '../helpers/cpio-writer.js';
import { clearRoot, expectReport, expectWarning, extractHostile, FORMATS, listRoot } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

const names = [
  '../outside/secret',
  'a/../../outside/secret',
  './../outside/secret',
  'a/b/../../../outside/secret',
  '../outside/dir/new',
  '../../x',
  '../x',
  'a/../../x',
  '..',
  'a/..',
  'dir/../',
  '../',
  './..',
  '../root/inside-via-dotdot',
];

const types: CpioMemberType[] = ['file', 'dir', 'symlink', 'fifo'];

function member(name: string, type: CpioMemberType): CpioMember {
  switch (type) {
    case 'file':
      return { name, type, data: 'EVIL', mode: 0o777 };
    case 'dir':
      return { name, type, mode: 0o777, uid: 1234, gid: 1234 };
    case 'symlink':
      return { name, type, target: '/' };
    default:
      return { name, type, mode: 0o666 };
  }
}

for (const format of FORMATS) {
  describe(`dot-dot member names (${format})`, () => {
    for (const type of types) {
      test(`${type} members with ".." are skipped with a warning; the rest is extracted`, async () => {
        await withSandbox(`dotdot-${type}-${format}`, async (box) => {
          const members: CpioMember[] = [{ name: 'first', type: 'file', data: 'ok' }];
          for (const name of names) members.push(member(name, type), { name: `after-${members.length}`, type: 'file', data: 'ok' });
          const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root, { devices: true }));
          for (const name of names) expectWarning(report, name, ['P2V_ENTRY_UNSAFE'], name);
          // exactly the good members, nothing else (a ".." member "normalised" into the root
          // would show up here, e.g. "x" or "inside-via-dotdot")
          const expected = members.filter((m) => !names.includes(m.name as string)).map((m) => m.name as string);
          assert.deepEqual(listRoot(box.root), expected.sort());
          // the root's own metadata was not taken from a ".." directory member
          assert.notEqual(fs.statSync(box.root).mode & 0o7777, 0o777);
        });
      });
    }

    test('hard links named with ".." or linking to a ".." member are skipped', async () => {
      await withSandbox(`dotdot-hardlink-${format}`, async (box) => {
        const members: CpioMember[] = [
          // the data member is the ".." one: every link to it must be skipped
          { name: '../outside/secret', type: 'file', data: 'EVIL', ino: 50 },
          { name: 'mypasswd', type: 'hardlink', target: '../outside/secret', ino: 50 },
          // a good data member, a ".." link to it
          { name: 'good', type: 'file', data: 'GOOD', ino: 60 },
          { name: '../outside/dir/h', type: 'hardlink', target: 'good', ino: 60 },
        ];
        for (const linkData of ['first', 'last', 'every'] as const) {
          clearRoot(box.root);
          const report = expectReport(await extractHostile(cpioArchive(members, { format, linkData }), box.root), linkData);
          expectWarning(report, '../outside/dir/h', ['P2V_ENTRY_UNSAFE'], linkData);
          const mine = fs.lstatSync(path.join(box.root, 'good'), { throwIfNoEntry: false });
          const secret = fs.statSync(box.secret);
          if (mine) assert.notEqual(mine.ino, secret.ino, `${linkData}: good is not the sentinel`);
          const passwd = fs.lstatSync(path.join(box.root, 'mypasswd'), { throwIfNoEntry: false });
          if (passwd) assert.notEqual(passwd.ino, secret.ino, `${linkData}: mypasswd is not the sentinel`);
          box.assertUnchanged(linkData);
        }
      });
    });

    test('stripAbsolute does not turn "/../x" into something outside', async () => {
      await withSandbox(`dotdot-abs-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: '/../outside/secret', type: 'file', data: 'EVIL' },
          { name: `/${path.relative('/', box.root)}/../outside/secret`, type: 'file', data: 'EVIL' },
          { name: '//..//..//', type: 'dir', mode: 0o777 },
        ];
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root, { stripAbsolute: true }));
        for (const m of members) expectWarning(report, m.name as string, ['P2V_ENTRY_UNSAFE']);
        assert.deepEqual(listRoot(box.root), []);
      });
    });
  });
}
