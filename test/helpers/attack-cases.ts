/**
 * Attack cases that do not depend on the archive format, described once and run by every
 * reader that shares the writer (security.md B.2: "run each case once per input format (tar/pax,
 * cpio odc/newc/bin, flar wrapper) because the sink is shared"):
 *   - test/security/<attack>.test.ts run them once per cpio family (cpio-writer.ts);
 *   - test/security/tar-shared-cases.test.ts runs them once per tar flavour
 *     (tar-from-members.ts: ustar + pax records, GNU long-name members).
 * Members are CpioMember lists (the fields every format has); each table comes with the check
 * its attack needs, and `build` turns the members into the format's bytes.
 *
 * Tables: B.2 #3 a symlink, then a file through it (symlinkThenFileCases), #4 directory-cache
 * poisoning (dirCacheCases), #8 mode and ownership through a symlink (modeThroughSymlinkCases),
 * #9 long paths through symlinks (longPathCases). The opening comments of the cpio test files
 * describe each attack and its anchors.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CpioMember } from './cpio-writer.js';
import { assertInRootOrSkipped, assertNoTemporaries, expectReport, extractHostile, lstat, type Outcome } from './hostile.js';
import type { Sandbox } from './sentinel.js';
import { isRoot } from './tools.js';

/** The archive bytes for a case's members, in the format under test. */
export type Build = (members: CpioMember[]) => Uint8Array;

// ---- B.2 #3: a symlink, then a member written through it --------------------------------------

export interface SymlinkThenFileCase {
  name: string;
  members(box: Sandbox): CpioMember[];
  /** the member written through the link */
  entry(box: Sandbox): string;
  /** where in-root resolution puts it (relative to the root) */
  expected(box: Sandbox): string;
  guard?(box: Sandbox): string[];
}

const big = 'B'.repeat(300 * 1024); // past the small-file batch: the main-thread write path

export const symlinkThenFileCases: SymlinkThenFileCase[] = [
  {
    name: 'SymlinkAbsolute: link to the sentinel dir by its host path',
    members: (box) => [
      { name: 'etc', type: 'dir' },
      { name: 'localetc', type: 'symlink', target: box.outside },
      { name: 'localetc/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'localetc/secret',
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: 'SymlinkAbsolute, large file (written by the main thread in pieces)',
    members: (box) => [
      { name: 'localetc', type: 'symlink', target: box.outside },
      { name: 'localetc/secret', type: 'file', data: big },
    ],
    entry: () => 'localetc/secret',
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: 'link to /etc, then a new file through it',
    members: (box) => [
      { name: 'etc', type: 'dir' },
      { name: 'localetc', type: 'symlink', target: '/etc' },
      { name: `localetc/${box.unique}`, type: 'file', data: 'EVIL' },
    ],
    entry: (box) => `localetc/${box.unique}`,
    expected: (box) => `etc/${box.unique}`,
    guard: (box) => [`/etc/${box.unique}`],
  },
  {
    name: 'SymlinkUpAndOut: ../../.. then the host path of the sentinel',
    members: (box) => [
      { name: 'localetc', type: 'symlink', target: '../../..' },
      { name: `localetc${box.secret}`, type: 'file', data: 'EVIL' },
    ],
    entry: (box) => `localetc${box.secret}`,
    expected: (box) => box.secret,
  },
  {
    name: 'link to .. (the directory holding the root), then outside/secret',
    members: () => [
      { name: 'up', type: 'symlink', target: '..' },
      { name: 'up/outside/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'up/outside/secret',
    expected: () => 'outside/secret',
  },
  {
    name: 'deep relative climb from a subdirectory',
    members: () => [
      { name: 'a/b/c', type: 'dir' },
      { name: 'a/b/c/up', type: 'symlink', target: '../../../../../../../../../../..' },
      { name: 'a/b/c/up/outside/dir/new', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'a/b/c/up/outside/dir/new',
    expected: () => 'outside/dir/new',
  },
  {
    name: 'SymlinkMultipleAbsolute: absolute link to an absolute link',
    members: (box) => [
      { name: 'first', type: 'symlink', target: box.outside },
      { name: 'second', type: 'symlink', target: '/first' },
      { name: 'second/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'second/secret',
    expected: (box) => `${box.outside}/secret`,
  },
  {
    name: 'SymlinkMultipleRelative: ./dummy/... chained through a second link',
    members: () => [
      { name: 'dummy', type: 'symlink', target: '../../../../..' },
      { name: 'localetc', type: 'symlink', target: './dummy/../outside' },
      { name: 'localetc/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'localetc/secret',
    expected: () => 'outside/secret',
  },
  {
    name: '/dummy/../outside (a missing directory, then ..)',
    members: () => [
      { name: 'localetc', type: 'symlink', target: '/dummy/../../outside' },
      { name: 'localetc/secret', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'localetc/secret',
    expected: () => 'outside/secret',
  },
  {
    name: 'moby#20303: tmp/.ssh -> sentinel dir, then tmp/.ssh/authorized_keys',
    members: (box) => [
      { name: 'tmp', type: 'dir', mode: 0o1777 },
      { name: 'tmp/.ssh', type: 'symlink', target: box.sentinelDir },
      { name: 'tmp/.ssh/authorized_keys', type: 'file', data: 'ssh-ed25519 EVIL' },
    ],
    entry: () => 'tmp/.ssh/authorized_keys',
    expected: (box) => `${box.sentinelDir}/authorized_keys`,
  },
  {
    name: 'directory member through a link, then a file in it',
    members: (box) => [
      { name: 'l', type: 'symlink', target: box.outside },
      { name: 'l/newdir', type: 'dir', mode: 0o777 },
      { name: 'l/newdir/f', type: 'file', data: 'EVIL' },
    ],
    entry: () => 'l/newdir/f',
    expected: (box) => `${box.outside}/newdir/f`,
  },
];

/** The member written through the link lands where in-root resolution puts it. */
export async function checkSymlinkThenFile(box: Sandbox, c: SymlinkThenFileCase, build: Build): Promise<void> {
  if (c.guard) box.guardHost(...c.guard(box));
  const members = c.members(box);
  const outcome = await extractHostile(build(members), box.root);
  const data = members.find((m) => m.name === c.entry(box))!.data as string;
  const how = assertInRootOrSkipped(outcome, box.root, c.entry(box), c.expected(box), data);
  // the engine's model is in-root resolution: hold it to that
  assert.equal(how, 'in-root', `${c.entry(box)}: expected in-root resolution`);
  assertNoTemporaries(box.root);
}

// ---- B.2 #4: directory-cache poisoning --------------------------------------------------------

export interface DirCacheCase {
  name: string;
  members(box: Sandbox): CpioMember[];
  /** the member that must not go through the link, and where in-root resolution puts it */
  entry: string;
  expected(box: Sandbox): string;
}

export const dirCacheCases: DirCacheCase[] = [
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

/** The member after the replaced directory never goes through the new link. */
export async function checkDirCache(box: Sandbox, c: DirCacheCase, build: Build): Promise<void> {
  const members = c.members(box);
  const outcome = await extractHostile(build(members), box.root);
  const data = members.find((m) => m.name === c.entry)!.data as string;
  assertInRootOrSkipped(outcome, box.root, c.entry, c.expected(box), data);
}

// ---- B.2 #8: mode, ownership and times through a symlink -------------------------------------

export interface ModeCase {
  name: string;
  members(box: Sandbox): CpioMember[];
  check?(box: Sandbox): void;
}

const at = (box: Sandbox, rel: string) => lstat(path.join(box.root, rel));

export const modeThroughSymlinkCases: ModeCase[] = [
  {
    name: 'Symlink sym -> sentinel dir; Dir sym mode 0777 (the dir replaces the link)',
    members: (box) => [
      { name: 'sym', type: 'symlink', target: box.sentinelDir },
      { name: 'sym', type: 'dir', mode: 0o777, uid: 1234, gid: 1234, mtime: 1 },
    ],
    check: (box) => {
      assert.ok(at(box, 'sym')!.isDirectory());
      assert.equal(at(box, 'sym')!.mode & 0o7777, 0o777);
    },
  },
  {
    name: 'Symlink sym -> ../outside/dir; Dir sym/ mode 0777',
    members: () => [
      { name: 'sym', type: 'symlink', target: '../outside/dir' },
      { name: 'sym/', type: 'dir', mode: 0o777 },
    ],
  },
  {
    name: 'symlink entries carrying mode 0666 and owners, pointing at the sentinel',
    members: (box) => [
      { name: 'l1', type: 'symlink', target: box.secret, mode: 0o666, uid: 1234, gid: 1234, mtime: 1 },
      { name: 'l2', type: 'symlink', target: '../outside/secret', mode: 0o4777, uid: 1, gid: 1, mtime: 2 },
      { name: 'l3', type: 'symlink', target: box.sentinelDir, mode: 0o777, mtime: 3 },
    ],
    check: (box) => {
      assert.ok(at(box, 'l1')!.isSymbolicLink());
      if (isRoot()) assert.equal(at(box, 'l1')!.uid, 1234, 'the owner is set on the link itself');
      assert.equal(at(box, 'l1')!.mtimeMs, 1000, 'the mtime is set on the link itself');
    },
  },
  {
    name: 'Dir d/ (fixup deferred), later Symlink d -> sentinel dir: the fixup does not follow',
    members: (box) => [
      { name: 'd', type: 'dir', mode: 0o777, uid: 1234, gid: 1234, mtime: 1 },
      { name: 'd', type: 'symlink', target: box.sentinelDir },
    ],
    check: (box) => assert.ok(at(box, 'd')!.isSymbolicLink()),
  },
  {
    name: 'Dir d/ deep in the tree, later the parent becomes a link (refused: not empty)',
    members: (box) => [
      { name: 'p/d', type: 'dir', mode: 0o777, mtime: 1 },
      { name: 'p', type: 'symlink', target: box.outside },
    ],
    check: (box) => {
      assert.ok(at(box, 'p')!.isDirectory());
      assert.equal(at(box, 'p/d')!.mode & 0o7777, 0o777);
    },
  },
  {
    name: '"." mode 0777 applies to the root only; ".." mode 0777 is skipped (the directory holding the root keeps its mode)',
    members: () => [
      { name: '.', type: 'dir', mode: 0o777, mtime: 1 },
      { name: '..', type: 'dir', mode: 0o777, mtime: 1 },
    ],
    check: (box) => assert.equal(fs.statSync(box.root).mode & 0o7777, 0o777),
  },
  {
    name: 'File named like a link to the sentinel, mode 04777: the file replaces the link',
    members: (box) => [
      { name: 'f', type: 'symlink', target: box.secret },
      { name: 'f', type: 'file', data: 'ORIGINAL', mode: 0o4777, uid: 1234, mtime: 1 },
      { name: 'g', type: 'symlink', target: box.secret },
      { name: 'g', type: 'file', data: 'G'.repeat(300 * 1024), mode: 0o4777, uid: 1234, mtime: 1 },
    ],
    check: (box) => {
      assert.ok(at(box, 'f')!.isFile());
      assert.equal(at(box, 'f')!.mode & 0o7777, 0o4777);
      assert.ok(at(box, 'g')!.isFile());
    },
  },
  {
    name: 'FIFO named like a link to the sentinel, mode 0666',
    members: (box) => [
      { name: 'n', type: 'symlink', target: box.secret },
      { name: 'n', type: 'fifo', mode: 0o666, uid: 1234, mtime: 1 },
    ],
    check: (box) => assert.ok(at(box, 'n')!.isFIFO()),
  },
  {
    name: 'hard link named like a link to the sentinel dir: no metadata applied through it',
    members: (box) => [
      { name: 't', type: 'file', data: 'T', mode: 0o4777 },
      { name: 'h', type: 'symlink', target: box.sentinelDir },
      { name: 'h', type: 'hardlink', target: 't', mode: 0o4777 },
    ],
    check: (box) => assert.equal(at(box, 'h')!.ino, at(box, 't')!.ino),
  },
];

/** The extraction completes and the case's own check holds (the sandbox checks the sentinel). */
export async function checkModeThroughSymlink(box: Sandbox, c: ModeCase, build: Build): Promise<void> {
  const report = expectReport(await extractHostile(build(c.members(box)), box.root));
  try {
    c.check?.(box);
  } catch (error) {
    throw new Error(`${(error as Error).message} (warnings: ${JSON.stringify(report.warnings)})`, { cause: error });
  }
}

// ---- B.2 #9: long paths through symlinks -------------------------------------------------------

const L = (c: string, n = 200) => c.repeat(n);

/** `levels` nested directories of 200-byte names. */
function chain(levels: number): string {
  return Array.from({ length: levels }, (_, i) => L(String.fromCharCode(97 + (i % 26)))).join('/');
}

export interface LongPathCase {
  name: string;
  members(box: Sandbox): CpioMember[];
  entry(box: Sandbox): string;
  /** where in-root resolution puts it; undefined when the kernel cannot hold the path at all */
  expected(box: Sandbox): string | undefined;
}

export const longPathCases: LongPathCase[] = [
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

function assertLongPathOutcome(outcome: Outcome, box: Sandbox, c: LongPathCase, members: CpioMember[]): void {
  const expected = c.expected(box);
  const data = members.find((m) => m.name === c.entry(box))!.data as string;
  if (expected === undefined) {
    // the kernel refuses such paths: that member is skipped and reported, the image goes on
    const report = expectReport(outcome, "a path too long for the file system is one member's problem");
    assert.ok(report.warnings.some((w) => w.code === 'P2V_IO' || w.code === 'P2V_ENTRY_INVALID'), 'the unplaceable member is reported');
  } else {
    assertInRootOrSkipped(outcome, box.root, c.entry(box), expected, data);
  }
  if (outcome.report) assert.equal(fs.readFileSync(path.join(box.root, 'after'), 'utf8'), 'after', 'later members are extracted');
}

/** In root where resolution puts it; a path the kernel cannot hold is a reported skip. */
export async function checkLongPath(box: Sandbox, c: LongPathCase, build: Build): Promise<void> {
  const members: CpioMember[] = [...c.members(box), { name: 'after', type: 'file', data: 'after' }];
  assertLongPathOutcome(await extractHostile(build(members), box.root), box, c, members);
}
