/**
 * Attack B.2 #6, tar's way — hard-link members whose target names something outside the root.
 *
 * In tar a hard link is a header (typeflag '1') whose linkname is the name of an earlier member:
 * the extractor calls link(target, name), and a target of `../outside/secret`, `/etc/passwd`,
 * or `localetc/passwd` with `localetc -> /etc` gives the zone a second name for a host file (a
 * later write through the zone's name rewrites the host's). The target may also come from a pax
 * `linkpath` record or a GNU `K` long-link member that overrides a harmless header linkname,
 * and a pax archive's hard link may carry data (POSIX 2001), which an extractor that writes it
 * writes into the target's inode. Must: resolve the target inside the root or skip it; never
 * link an outside inode (the sentinel's link count stays 1); never write link data anywhere;
 * link(2) on a symlink target links the symlink itself, never what it points at.
 * Anchors: libarchive#746 (test_write_disk_secure746.c); node-tar CVE-2026-24842
 * (GHSA-34x7-hfp2-rc4v) and test/ghsa-8qq5-rm4j-mr97.ts; containerd TestBreakouts
 * HardlinkRelative, HardlinkDownAndOut, HardlinkAbsolute, HardlinkSymlinkRelative/Absolute.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clearRoot, expectError, expectReport, expectWarning, extractHostile, inRoot, lstat, type Outcome } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';
import { paxMember, tarArchive, type TarMember } from '../helpers/tar-writer.js';

/** No inode in the root is the sentinel's. */
function assertNoSentinelInode(box: Sandbox): void {
  const secret = fs.statSync(box.secret);
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      assert.ok(!(st.ino === secret.ino && st.dev === secret.dev), `${p} is the sentinel's inode`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(box.root);
}

const link = (name: string, target: string, extra: Partial<TarMember> = {}): TarMember => ({ name, typeflag: '1', linkname: target, ...extra });
const file = (name: string, data: string): TarMember => ({ name, data });
const symlink = (name: string, target: string): TarMember => ({ name, typeflag: '2', linkname: target });

/** Fed whole and in 13-byte pieces: a reader's buffer boundaries must not change the outcome. */
async function both(bytes: Uint8Array, box: Sandbox, options: Parameters<typeof extractHostile>[2] = {}): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const chunkBytes of [undefined, 13]) {
    clearRoot(box.root);
    outcomes.push(await extractHostile(bytes, box.root, { ...options, chunkBytes }));
    assertNoSentinelInode(box);
    box.assertUnchanged(`chunks of ${chunkBytes ?? 'all'}`);
  }
  return outcomes;
}

for (const flavour of ['ustar', 'gnu'] as const) {
  const f = (m: TarMember): TarMember => ({ flavour, ...m });
  const archive = (members: TarMember[]) => tarArchive(members.map(f));

  describe(`tar hard-link targets (${flavour} headers)`, () => {
    test('targets with ".." are skipped; the members around them are extracted', async () => {
      await withSandbox(`tar-hl-dotdot-${flavour}`, async (box) => {
        const targets = ['../outside/secret', 'a/../../outside/secret', './../outside/secret', 'a/b/../../../outside/secret', '..', '../', 'x/..'];
        const members: TarMember[] = [file('first', 'ok')];
        targets.forEach((target, i) => members.push(link(`l${i}`, target), file(`after${i}`, 'ok')));
        for (const outcome of await both(archive(members), box)) {
          const report = expectReport(outcome);
          targets.forEach((target, i) => {
            expectWarning(report, `l${i}`, ['P2V_ENTRY_UNSAFE'], target);
            assert.equal(lstat(path.join(box.root, `l${i}`)), undefined, `l${i} → ${target} was not made`);
          });
          assert.equal(fs.readFileSync(path.join(box.root, `after${targets.length - 1}`), 'utf8'), 'ok');
        }
      });
    });

    test('HardlinkAbsolute: refused by default; with stripAbsolute resolved inside the root', async () => {
      await withSandbox(`tar-hl-abs-${flavour}`, async (box) => {
        for (const target of [box.secret, `//${box.secret}`, `${box.outside}/./secret`]) {
          for (const outcome of await both(archive([link('mypasswd', target)]), box)) expectError(outcome, ['P2V_ENTRY_UNSAFE'], target);
          // stripped: the target is looked up inside the root, where nothing has that name
          for (const outcome of await both(archive([link('mypasswd', target)]), box, { stripAbsolute: true })) {
            expectWarning(expectReport(outcome), 'mypasswd', ['P2V_ENTRY_INVALID'], target);
          }
          // ... unless the archive put a file there first: then the link is to that copy
          const withCopy = archive([file(box.secret.slice(1), 'COPY'), link('mypasswd', target)]);
          for (const outcome of await both(withCopy, box, { stripAbsolute: true })) {
            expectReport(outcome);
            assert.equal(fs.statSync(path.join(box.root, 'mypasswd')).ino, fs.statSync(inRoot(box.root, box.secret)).ino, target);
          }
        }
      });
    });

    test('HardlinkSymlinkRelative/Absolute: a target named through a link to outside resolves in the root', async () => {
      await withSandbox(`tar-hl-symlink-${flavour}`, async (box) => {
        for (const to of [box.outside, '../outside', '../../../../../..' + box.outside, '/../outside']) {
          // nothing at the in-root place: skipped
          const bare = archive([symlink('localetc', to), link('mypasswd', 'localetc/secret')]);
          for (const outcome of await both(bare, box)) {
            expectWarning(expectReport(outcome), 'mypasswd', ['P2V_ENTRY_INVALID'], to);
            assert.equal(lstat(path.join(box.root, 'mypasswd')), undefined);
          }
          // a file written through the same link first: the link joins that in-root file
          const through = archive([symlink('localetc', to), file('localetc/secret', 'IN ROOT'), link('mypasswd', 'localetc/secret')]);
          for (const outcome of await both(through, box)) {
            expectReport(outcome, to);
            assert.equal(fs.readFileSync(path.join(box.root, 'mypasswd'), 'utf8'), 'IN ROOT', to);
            assert.equal(fs.statSync(path.join(box.root, 'mypasswd')).nlink, 2, to);
          }
        }
      });
    });

    test('a target that is a symlink to the sentinel: the link is to the symlink itself', async () => {
      await withSandbox(`tar-hl-tosymlink-${flavour}`, async (box) => {
        for (const to of [box.secret, '../outside/secret', 'secret-link-in-root']) {
          const members = [symlink('secret-link-in-root', box.secret), symlink('s', to), link('h', 's'), link('h2', 'secret-link-in-root')];
          for (const outcome of await both(archive(members), box)) {
            expectReport(outcome, to);
            assert.ok(lstat(path.join(box.root, 'h'))!.isSymbolicLink(), `${to}: h is a second name of the symlink`);
            assert.ok(lstat(path.join(box.root, 'h2'))!.isSymbolicLink());
          }
        }
      });
    });

    test('a link member over a name that is a symlink to the sentinel replaces the symlink', async () => {
      await withSandbox(`tar-hl-over-${flavour}`, async (box) => {
        for (const to of [box.secret, '../outside/secret', box.sentinelDir]) {
          for (const outcome of await both(archive([file('t', 'T'), symlink('l', to), link('l', 't')]), box)) {
            expectReport(outcome, to);
            assert.equal(fs.lstatSync(path.join(box.root, 'l')).ino, fs.lstatSync(path.join(box.root, 't')).ino, to);
          }
        }
      });
    });

    test('targets that are directories, missing, or the link itself are skipped without harm', async () => {
      await withSandbox(`tar-hl-odd-${flavour}`, async (box) => {
        const members = [
          { name: 'd/', typeflag: '5' },
          link('h1', 'd'),
          link('h2', 'd/'),
          link('h3', 'missing'),
          link('self', 'self'),
          file('kept', 'K'),
          link('kept', 'kept'),
          link('h4', ''),
          link('h5', '.'),
        ];
        for (const outcome of await both(archive(members), box)) {
          const report = expectReport(outcome);
          for (const name of ['h1', 'h2', 'h3', 'self', 'h4', 'h5']) {
            expectWarning(report, name, undefined, name);
            assert.equal(lstat(path.join(box.root, name)), undefined, name);
          }
          assert.equal(fs.readFileSync(path.join(box.root, 'kept'), 'utf8'), 'K', 'a self-link leaves its file alone');
        }
      });
    });

    test('pax linkpath / GNU K records decide the target, whatever the header linkname says', async () => {
      await withSandbox(`tar-hl-override-${flavour}`, async (box) => {
        const cases: Array<{ label: string; members: TarMember[]; made: boolean }> = [
          { label: 'pax linkpath ../ over a safe linkname', members: [file('t', 'T'), paxMember('x', [['linkpath', '../outside/secret']]), link('h', 't')], made: false },
          { label: 'pax linkpath absolute over a safe linkname', members: [file('t', 'T'), paxMember('x', [['linkpath', box.secret]]), link('h', 't')], made: false },
          { label: 'GNU K ../ over a safe linkname', members: [file('t', 'T'), { name: '././@LongLink', typeflag: 'K', flavour: 'gnu', data: '../outside/secret\0' }, link('h', 't')], made: false },
          { label: 'global g linkpath ../ for every later link', members: [file('t', 'T'), paxMember('g', [['linkpath', '../outside/secret']]), link('h', 't'), link('h2', 't')], made: false },
          { label: 'a safe pax linkpath over a hostile linkname', members: [file('t', 'T'), paxMember('x', [['linkpath', 't']]), link('h', '../outside/secret')], made: true },
        ];
        for (const c of cases) {
          clearRoot(box.root);
          const outcome = await extractHostile(archive(c.members), box.root);
          assertNoSentinelInode(box);
          box.assertUnchanged(c.label);
          if (c.made) {
            expectReport(outcome, c.label);
            assert.equal(fs.statSync(path.join(box.root, 'h')).ino, fs.statSync(path.join(box.root, 't')).ino, c.label);
          } else {
            // ".." is skipped with a warning; an absolute target refuses the image
            if (outcome.report) expectWarning(outcome.report, 'h', ['P2V_ENTRY_UNSAFE'], c.label);
            else expectError(outcome, ['P2V_ENTRY_UNSAFE'], c.label);
            assert.equal(lstat(path.join(box.root, 'h')), undefined, c.label);
          }
        }
      });
    });
  });
}

describe('tar hard links carrying data', () => {
  test('pax (POSIX 2001): the data of a link member is never written, to the target or through a symlink', async () => {
    await withSandbox('tar-hl-data', async (box) => {
      for (const to of [box.secret, '../outside/secret']) {
        const members: TarMember[] = [
          paxMember('x', [['mtime', '1700000000.5']]), // a pax archive: links may carry data
          file('t', 'T'),
          symlink('s', to),
          paxMember('x', [['size', '4']]),
          link('h', 't', { size: 4, data: 'EVIL' }),
          link('hs', 's', { size: 4, data: 'EVIL' }),
          link('hout', '../outside/secret', { size: 4, data: 'EVIL' }),
          file('after', 'A'),
        ];
        for (const outcome of await both(tarArchive(members), box)) {
          expectReport(outcome, to);
          assert.equal(fs.readFileSync(path.join(box.root, 't'), 'utf8'), 'T', 'the target keeps its content');
          assert.equal(fs.readFileSync(path.join(box.root, 'h'), 'utf8'), 'T');
          assert.ok(lstat(path.join(box.root, 'hs'))!.isSymbolicLink());
          assert.equal(fs.readFileSync(path.join(box.root, 'after'), 'utf8'), 'A', 'the data was skipped, the next header found');
        }
      }
    });
  });

  test('ustar: a link header with a size and data after it is read as no data (the data is not a header): a P2VError, nothing written', async () => {
    await withSandbox('tar-hl-data-ustar', async (box) => {
      const members: TarMember[] = [file('t', 'T'), symlink('s', box.secret), link('h', 's', { size: 4, data: 'EVIL' }), file('after', 'A')];
      for (const outcome of await both(tarArchive(members), box)) {
        if (outcome.error) assert.equal(outcome.error.code, 'P2V_BAD_ARCHIVE');
        assert.equal(fs.readFileSync(path.join(box.root, 't'), 'utf8'), 'T');
      }
    });
  });
});
