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
import { assertInRootOrSkipped, clearRoot, expectReport, extractHostile, FORMATS, lstat } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';

interface Case {
  name: string;
  members(box: Sandbox): CpioMember[];
  /** the member that must not go through the link, and where in-root resolution puts it */
  entry: string;
  expected(box: Sandbox): string;
}

const cases: Case[] = [
  {
    name: 'Dir a; Symlink a -> ../outside; File a/x',
    members: () => [
      { name: 'a', type: 'dir' },
      { name: 'a', type: 'symlink', target: '../outside' },
      { name: 'a/x', type: 'file', data: 'EVIL' },
    ],
    entry: 'a/x',
    expected: () => 'outside/x',
  },
  {
    name: 'same, link by the sentinel host path',
    members: (box) => [
      { name: 'a', type: 'dir' },
      { name: 'a', type: 'symlink', target: box.sentinelDir },
      { name: 'a/keep', type: 'file', data: 'EVIL' },
    ],
    entry: 'a/keep',
    expected: (box) => `${box.sentinelDir}/keep`,
  },
  {
    name: 'nested: Dir a/b ; Symlink a/b -> sentinel ; File a/b/secret',
    members: (box) => [
      { name: 'a/b', type: 'dir' },
      { name: 'a/b', type: 'symlink', target: box.outside },
      { name: 'a/b/secret', type: 'file', data: 'EVIL' },
    ],
    entry: 'a/b/secret',
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: 'spellings: Dir a/ ; Symlink ./a/ ; File ./a//x',
    members: () => [
      { name: 'a/', type: 'dir' },
      { name: './a/', type: 'symlink', target: '../outside' },
      { name: './a//x', type: 'file', data: 'EVIL' },
    ],
    entry: './a//x',
    expected: () => 'outside/x',
  },
  {
    name: 'spellings: Dir ./a ; Symlink a/. ; File a/./x',
    members: () => [
      { name: './a', type: 'dir' },
      { name: 'a/.', type: 'symlink', target: '../outside' },
      { name: 'a/./x', type: 'file', data: 'EVIL' },
    ],
    entry: 'a/./x',
    expected: () => 'outside/x',
  },
  {
    name: 'a/b/c cycled through every type, then a link to the sentinel; File a/b/c/x',
    members: (box) => [
      { name: 'a/b/c', type: 'dir' },
      { name: 'a/b/c', type: 'symlink', target: '/' }, // empties a/b so it can be replaced
      { name: 'a/b/c', type: 'dir' },
      { name: 'a/b/c', type: 'fifo' },
      { name: 'a/b/c', type: 'file', data: 'f' },
      { name: 'zzz', type: 'file', data: 'flush' },
      { name: 'a/b/c', type: 'symlink', target: box.outside },
      { name: 'a/b/c/x', type: 'file', data: 'EVIL' },
    ],
    entry: 'a/b/c/x',
    expected: (box) => `${box.outside}/x`,
  },
  {
    name: 'the directory replaced by a hard link first, then by a symlink',
    members: () => [
      { name: 't', type: 'file', data: 'T' },
      { name: 'a', type: 'dir' },
      { name: 'a', type: 'hardlink', target: 't' },
      { name: 'a', type: 'symlink', target: '../outside' },
      { name: 'a/x', type: 'file', data: 'EVIL' },
    ],
    entry: 'a/x',
    expected: () => 'outside/x',
  },
  {
    name: 'the directory replaced by a FIFO first, then by a symlink',
    members: () => [
      { name: 'a', type: 'dir' },
      { name: 'a', type: 'fifo' },
      { name: 'a', type: 'symlink', target: '../outside' },
      { name: 'a/x', type: 'file', data: 'EVIL' },
    ],
    entry: 'a/x',
    expected: () => 'outside/x',
  },
  {
    name: 'a large file in the cached directory, then the link, then a large file through it',
    members: () => [
      { name: 'a', type: 'dir' },
      { name: 'a', type: 'symlink', target: '../outside' },
      { name: 'a/secret', type: 'file', data: 'E'.repeat(300 * 1024) },
    ],
    entry: 'a/secret',
    expected: () => 'outside/secret',
  },
];

for (const format of FORMATS) {
  describe(`directory-cache poisoning (${format})`, () => {
    for (const c of cases) {
      test(c.name, async () => {
        await withSandbox(`dircache-${format}`, async (box) => {
          const members = c.members(box);
          const outcome = await extractHostile(cpioArchive(members, { format }), box.root);
          const data = members.find((m) => m.name === c.entry)!.data as string;
          assertInRootOrSkipped(outcome, box.root, c.entry, c.expected(box), data);
        });
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
