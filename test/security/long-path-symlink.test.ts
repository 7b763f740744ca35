/**
 * Attack B.2 #9 — long paths that slip past the symlink check.
 *
 * libarchive checked symlinks on the way to a member only up to a length, and kept a one-entry
 * cache of the last checked prefix: nesting 500+ byte components through a symlink to the test
 * directory (#744), or a sibling sharing the cached prefix as a string (`aaa/bbb` vs
 * `aaa/bbb2`, #745), skipped the check and wrote through the link. Must: check every
 * component regardless of length or depth; a path too long for the file system is a clean
 * P2VError or a reported skip — never a write elsewhere.
 * Anchors: libarchive#744 (test_write_disk_secure744.c), libarchive#745 (single-entry prefix
 * cache); Linux NAME_MAX 255 / PATH_MAX 4096 decide where the kernel itself refuses.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { assertInRootOrSkipped, expectReport, extractHostile, FORMATS, inRoot, type Outcome } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';

const L = (c: string, n = 200) => c.repeat(n);

/** `levels` nested directories of 200-byte names. */
function chain(levels: number): string {
  return Array.from({ length: levels }, (_, i) => L(String.fromCharCode(97 + (i % 26)))).join('/');
}

interface Case {
  name: string;
  members(box: Sandbox): CpioMember[];
  entry(box: Sandbox): string;
  /** where in-root resolution puts it; undefined when the kernel cannot hold the path at all */
  expected(box: Sandbox): string | undefined;
}

const cases: Case[] = [
  {
    name: '15 levels of 200-byte names, then an absolute link to the sentinel dir',
    members: (box) => [
      { name: chain(15), type: 'dir' },
      { name: `${chain(15)}/esc`, type: 'symlink', target: box.outside },
      { name: `${chain(15)}/esc/secret`, type: 'file', data: 'EVIL' },
    ],
    entry: () => `${chain(15)}/esc/secret`,
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: '15 levels, then a relative link climbing far past the root',
    members: () => [
      { name: `${chain(15)}/esc`, type: 'symlink', target: Array(40).fill('..').join('/') },
      { name: `${chain(15)}/esc/outside/secret`, type: 'file', data: 'EVIL' },
    ],
    entry: () => `${chain(15)}/esc/outside/secret`,
    expected: () => 'outside/secret',
  },
  {
    name: '30 levels (past PATH_MAX), a link to the sentinel at level 25',
    members: (box) => [
      { name: `${chain(25)}/esc`, type: 'symlink', target: box.outside },
      { name: `${chain(25)}/esc/secret`, type: 'file', data: 'EVIL' },
      { name: `${chain(30)}/deep`, type: 'file', data: 'deep' },
    ],
    entry: () => `${chain(25)}/esc/secret`,
    expected: () => undefined,
  },
  {
    name: 'a 255-byte link name (NAME_MAX) to the sentinel, then a file through it',
    members: (box) => [
      { name: L('s', 255), type: 'symlink', target: box.outside },
      { name: `${L('s', 255)}/secret`, type: 'file', data: 'EVIL' },
    ],
    entry: () => `${L('s', 255)}/secret`,
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: 'a 500-byte component (past NAME_MAX) naming a link and a file through it',
    members: (box) => [
      { name: L('t', 500), type: 'symlink', target: box.outside },
      { name: `${L('t', 500)}/secret`, type: 'file', data: 'EVIL' },
    ],
    entry: () => `${L('t', 500)}/secret`,
    expected: () => undefined,
  },
  {
    name: 'a link whose TARGET is long (3000 bytes of ./) and ends outside',
    members: () => [
      { name: 'l', type: 'symlink', target: `${'./'.repeat(1500)}../../outside` },
      { name: 'l/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'l/secret',
    expected: () => 'outside/secret',
  },
  {
    name: '#745 prefix cache: aaa/bbb checked, then aaa/bbb2 -> outside (shares the prefix as a string)',
    members: (box) => [
      { name: 'aaa/bbb', type: 'dir' },
      { name: 'aaa/bbb/f', type: 'file', data: 'f' },
      { name: 'aaa/bbb2', type: 'symlink', target: '../../outside' },
      { name: 'aaa/bbb2/secret', type: 'file', data: 'EVIL' },
      { name: 'aaa/bb', type: 'symlink', target: box.outside },
      { name: 'aaa/bb/keep', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'aaa/bbb2/secret',
    expected: () => 'outside/secret',
  },
];

function assertOutcome(outcome: Outcome, box: Sandbox, c: Case, members: CpioMember[]): void {
  const expected = c.expected(box);
  const data = members.find((m) => m.name === c.entry(box))!.data as string;
  if (expected === undefined) {
    // the kernel refuses such paths: a P2VError or a reported skip, nothing else
    if (outcome.report) assert.ok(outcome.report.warnings.length > 0, 'the unplaceable member is reported');
    return;
  }
  assertInRootOrSkipped(outcome, box.root, c.entry(box), expected, data);
}

for (const format of FORMATS) {
  describe(`long paths through symlinks (${format})`, () => {
    for (const c of cases) {
      test(c.name, async () => {
        await withSandbox(`longpath-${format}`, async (box) => {
          const members = c.members(box);
          const outcome = await extractHostile(cpioArchive(members, { format }), box.root);
          assertOutcome(outcome, box, c, members);
        });
      });
    }

    test('#745 sibling: aaa/bb/keep lands in the root too', async () => {
      await withSandbox(`longpath-745-${format}`, async (box) => {
        const members = cases.find((c) => c.name.startsWith('#745'))!.members(box);
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.equal(fs.readFileSync(inRoot(box.root, `${box.outside}/keep`), 'utf8'), 'EVIL');
        assert.equal(fs.readFileSync(inRoot(box.root, 'aaa/bbb/f'), 'utf8'), 'f');
      });
    });
  });
}
