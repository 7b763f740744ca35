/**
 * Attack B.2 #6 / #3 in tar — a link path that goes through a symlink.
 *
 *   Symlink localetc -> /etc (or ../outside, or a chain); then a hard link whose linkpath — a
 *   pax `linkpath` record, a GNU `K` long link, or the header linkname — is
 *   `localetc/passwd`.
 *
 * The hard link's target is a path like any member name, but extractors check member names and
 * forget the target: link("localetc/passwd", "mypasswd") resolves the symlink on the host, and
 * the zone gets a second name for the host's /etc/passwd. A symlink member's own linkpath is
 * stored verbatim (a system image needs its absolute links), so it may point anywhere on the
 * host; what must never happen is a later member written, linked, chmod-ed or given xattrs
 * through it. Must: a hard-link target is resolved inside the root with the zone root as "/"
 * (missing there: skipped with a warning); legitimate in-root links (usr/lib -> /lib) keep
 * working; loops end; the sentinel's link count, content and metadata never change.
 * Anchors: containerd TestBreakouts HardlinkSymlinkRelative / HardlinkSymlinkAbsolute;
 * libarchive#746 (symlinks in hard-link targets); node-tar GHSA-8qq5-rm4j-mr97 and
 * CVE-2026-24842; moby/moby#20303.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clearRoot, expectReport, expectWarning, extractHostile, inRoot, lstat } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';
import { paxMember, solarisXattrHeader, tarArchive, type TarMember } from '../helpers/tar-writer.js';

type Carrier = 'header' | 'pax linkpath' | 'GNU K';
const CARRIERS: Carrier[] = ['header', 'pax linkpath', 'GNU K'];

/** A hard link `name` → `target`, the target carried as `carrier` says (header linkname 'decoy'
 *  when it is carried elsewhere, so the override is what counts). */
function hardlink(name: string, target: string, carrier: Carrier): TarMember[] {
  if (carrier === 'header') return [{ name, typeflag: '1', linkname: target }];
  if (carrier === 'pax linkpath') return [paxMember('x', [['linkpath', target]]), { name, typeflag: '1', linkname: 'decoy' }];
  return [{ name: '././@LongLink', typeflag: 'K', flavour: 'gnu', data: `${target}\0` }, { name, typeflag: '1', linkname: 'decoy', flavour: 'gnu' }];
}
const symlink = (name: string, target: string): TarMember => ({ name, typeflag: '2', linkname: target });
const file = (name: string, data: string): TarMember => ({ name, data });

function assertSentinelLinks(box: Sandbox): void {
  assert.equal(fs.statSync(box.secret).nlink, 1, 'the sentinel has no second name');
}

/** Ways to reach the sentinel directory through symlinks, by the link "localetc". */
const routes = (box: Sandbox): Array<[string, TarMember[]]> => [
  ['absolute', [symlink('localetc', box.outside)]],
  ['relative', [symlink('localetc', '../outside')]],
  ['absolute with ..', [symlink('localetc', '/../../../..' + box.outside)]],
  ['chain of two', [symlink('hop', '../../../..'), symlink('localetc', `hop${box.outside}`)]],
  ['through a nested directory', [{ name: 'a/b', typeflag: '5' }, symlink('a/b/up', '../../..'), symlink('localetc', 'a/b/up/outside')]],
];

describe('tar: link paths through symlinks', () => {
  for (const carrier of CARRIERS) {
    test(`${carrier}: a hard link to localetc/secret never reaches the sentinel`, async () => {
      await withSandbox(`tar-linkpath-${carrier}`, async (box) => {
        for (const [route, links] of routes(box)) {
          for (const target of ['localetc/secret', 'localetc/secret-link', 'localetc/dir/keep', 'localetc//./secret']) {
            // the reader's buffer boundaries, once per route
            for (const chunkBytes of target === 'localetc/secret' ? [undefined, 11] : [undefined]) {
              clearRoot(box.root);
              const label = `${route}, ${target}, chunks of ${chunkBytes ?? 'all'}`;
              const members = [...links, ...hardlink('mypasswd', target, carrier), file('after', 'ok')];
              const report = expectReport(await extractHostile(tarArchive(members), box.root, { chunkBytes }), label);
              expectWarning(report, 'mypasswd', ['P2V_ENTRY_INVALID'], label);
              assert.equal(lstat(path.join(box.root, 'mypasswd')), undefined, label);
              assert.equal(fs.readFileSync(path.join(box.root, 'after'), 'utf8'), 'ok', label);
              assertSentinelLinks(box);
              box.assertUnchanged(label);
            }
          }
        }
      });
    });

    test(`${carrier}: the same path written inside the root first — the link joins the in-root file`, async () => {
      await withSandbox(`tar-linkpath-inroot-${carrier}`, async (box) => {
        for (const [route, links] of routes(box)) {
          clearRoot(box.root);
          const members = [...links, file('localetc/secret', 'IN ROOT'), ...hardlink('mypasswd', 'localetc/secret', carrier)];
          expectReport(await extractHostile(tarArchive(members), box.root), route);
          assert.equal(fs.readFileSync(path.join(box.root, 'mypasswd'), 'utf8'), 'IN ROOT', route);
          const inside = inRoot(box.root, route === 'relative' || route === 'through a nested directory' ? 'outside/secret' : `${box.outside}/secret`);
          assert.equal(fs.statSync(path.join(box.root, 'mypasswd')).ino, fs.statSync(inside).ino, route);
          assertSentinelLinks(box);
        }
      });
    });
  }

  test('a long (GNU K / pax) link path of 300 bytes through a symlink resolves in the root too', async () => {
    await withSandbox('tar-linkpath-long', async (box) => {
      const target = `localetc/${'./'.repeat(150)}secret`;
      for (const carrier of ['pax linkpath', 'GNU K'] as const) {
        clearRoot(box.root);
        const members = [symlink('localetc', box.outside), ...hardlink('mypasswd', target, carrier)];
        expectWarning(expectReport(await extractHostile(tarArchive(members), box.root), carrier), 'mypasswd', ['P2V_ENTRY_INVALID'], carrier);
        assertSentinelLinks(box);
      }
    });
  });

  test('legitimate in-root links keep working for link targets (usr/lib -> /lib, bin -> usr/bin)', async () => {
    await withSandbox('tar-linkpath-legit', async (box) => {
      const members: TarMember[] = [
        { name: 'lib/', typeflag: '5' },
        { name: 'usr/bin/', typeflag: '5' },
        symlink('usr/lib', '/lib'),
        symlink('bin', 'usr/bin'),
        file('lib/libc.so.1', 'ELF'),
        file('usr/bin/ls', 'ls'),
        ...hardlink('usr/lib/libc-copy.so.1', 'usr/lib/libc.so.1', 'pax linkpath'),
        ...hardlink('ls-copy', 'bin/ls', 'GNU K'),
        ...hardlink('abs-copy', '/usr/lib/libc.so.1', 'header'),
      ];
      const report = expectReport(await extractHostile(tarArchive(members), box.root, { stripAbsolute: true }));
      assert.deepEqual(report.warnings, []);
      assert.equal(fs.statSync(path.join(box.root, 'lib/libc-copy.so.1')).ino, fs.statSync(path.join(box.root, 'lib/libc.so.1')).ino);
      assert.equal(fs.statSync(path.join(box.root, 'ls-copy')).ino, fs.statSync(path.join(box.root, 'usr/bin/ls')).ino);
      assert.equal(fs.statSync(path.join(box.root, 'abs-copy')).ino, fs.statSync(path.join(box.root, 'lib/libc.so.1')).ino);
    });
  });

  test('symlink loops and ".." in a link path end in a skip, not a hang or an escape', async () => {
    await withSandbox('tar-linkpath-loops', async (box) => {
      const members: TarMember[] = [
        symlink('a', 'b'),
        symlink('b', 'a'),
        symlink('self', 'self'),
        symlink('localetc', box.outside),
        ...hardlink('h1', 'a/x', 'pax linkpath'),
        ...hardlink('h2', 'self/x', 'header'),
        ...hardlink('h3', 'localetc/../outside/secret', 'pax linkpath'),
        ...hardlink('h4', 'localetc/../../secret', 'GNU K'),
        file('after', 'ok'),
      ];
      const report = expectReport(await extractHostile(tarArchive(members), box.root, { timeoutMs: 20_000 }));
      expectWarning(report, 'h1', ['P2V_ENTRY_INVALID']);
      expectWarning(report, 'h2', ['P2V_ENTRY_INVALID']);
      expectWarning(report, 'h3', ['P2V_ENTRY_UNSAFE']);
      expectWarning(report, 'h4', ['P2V_ENTRY_UNSAFE']);
      assertSentinelLinks(box);
    });
  });

  test('a symlink whose own linkpath runs through another link: nothing is ever done through it', async () => {
    // s -> localetc/secret, localetc -> <outside>: on the host, s leads to the sentinel. Every
    // later member naming s (file, directory, FIFO, hard link, link to s, attributes) must act
    // on the link itself or resolve inside the root.
    await withSandbox('tar-linkpath-symlink-target', async (box) => {
      const variants: Array<[string, TarMember[], (root: string) => void]> = [
        ['a file named s replaces it', [file('s', 'EVIL')], (root) => assert.ok(lstat(path.join(root, 's'))!.isFile())],
        ['a directory named s replaces it', [{ name: 's', typeflag: '5', mode: 0o777 }], (root) => assert.ok(lstat(path.join(root, 's'))!.isDirectory())],
        ['a FIFO named s replaces it', [{ name: 's', typeflag: '6', mode: 0o666 }], (root) => assert.ok(lstat(path.join(root, 's'))!.isFIFO())],
        ['a hard link to s links the symlink', hardlink('h', 's', 'pax linkpath'), (root) => assert.ok(lstat(path.join(root, 'h'))!.isSymbolicLink())],
        ['a file through s resolves in the root', [file('s2/x', 'EVIL')], (root) => assert.ok(lstat(inRoot(root, `${box.outside}/secret/x`))?.isFile())],
        [
          'attributes of s are not set through it',
          [
            { name: '/dev/null/evil.hdr', typeflag: 'E', data: solarisXattrHeader('s', 'evil') },
            { name: '/dev/null/evil', typeflag: 'E', data: 'EVIL' },
          ],
          (root) => assert.ok(lstat(path.join(root, 's'))!.isSymbolicLink()),
        ],
      ];
      for (const [label, tail, check] of variants) {
        clearRoot(box.root);
        const members: TarMember[] = [
          symlink('localetc', box.outside),
          paxMember('x', [['linkpath', 'localetc/secret'], ['SCHILY.xattr.user.evil', 'EVIL']]),
          { name: 's', typeflag: '2', linkname: 'decoy' },
          { name: 's2', typeflag: '2', linkname: 'localetc/secret' },
          ...tail,
        ];
        const report = expectReport(await extractHostile(tarArchive(members), box.root), label);
        try {
          check(box.root);
        } catch (error) {
          throw new Error(`${label}: ${(error as Error).message} (warnings ${JSON.stringify(report.warnings)})`, { cause: error });
        }
        assertSentinelLinks(box);
        box.assertUnchanged(label);
      }
    });
  });
});
