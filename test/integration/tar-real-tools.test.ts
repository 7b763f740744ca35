/**
 * tar archives written by real tools, read by listEntries() and extract() and compared with the
 * tree they were made from.
 *
 * The rich tree (test/helpers/rich-tree.ts: hard-link groups, every kind of symlink incl. a
 * 150-char target, a ~190-char path, a 5 MiB sparse file, uid/gid 70000/80000, set-id files,
 * FIFOs and, as root, device nodes) gets a user xattr (setfattr) and is archived by
 *   bsdtar --format pax --xattrs --acls | ustar | gnutar          (libarchive 3.6)
 *   tar --format=posix --xattrs --xattrs-include='*' --acls --sparse   (GNU tar: GNU.sparse 1.0)
 *   tar --format=gnu --sparse                                       (old GNU 'S' sparse headers)
 *   pax -w -x ustar | tar                                           (MirBSD pax, Debian)
 * and each archive is
 *   1. extracted by bsdtar (-xp --numeric-owner) and compared with the source: the differences
 *      must be exactly the writer's documented losses (below), which keeps the list honest;
 *   2. listed by listEntries(): the names must be bsdtar's (-tf) one for one, the xattr must be
 *      there for the formats that carry it, and no /dev/null or pax-header name may leak;
 *   3. extracted by extract() and compared with the source minus those losses; the report's
 *      chain names the tar variant.
 *
 * What the writers lose (seen with bsdtar 3.6.2, GNU tar 1.34, pax 20201030):
 * - ustar (bsdtar, pax): symlink targets over 100 bytes ("Link contents too long"): the
 *   150-char symlink is left out (pax exits 1);
 * - v7 tar (pax -x tar): no FIFOs or device nodes, no names over 100 bytes (the long path and
 *   its deepest directory), no targets over 100 bytes; exit status 1.
 * Everything else (owners as root, modes incl. set-id, mtimes, hard links, sparse contents,
 * long names through pax / GNU L records or the ustar prefix) survives every writer.
 *
 * Tools that are missing make their cases skip with the reason.
 * Set ZONEP2V_KEEP_TEST_FILES=1 to keep the temporary directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract, listEntries } from '../../src/index.js';
import type { Entry } from '../../src/index.js';
import { makeRichTree, type RichTree, type TreeItem } from '../helpers/rich-tree.js';
import { diffTrees, formatDiffs } from '../helpers/tree-compare.js';
import { haveTool, isRoot, missingTools, run, sh } from '../helpers/tools.js';

interface TarCase {
  id: string;
  /** programs needed to write the archive */
  writer: string[];
  /** shell script run in the source tree; "$1" is the archive */
  script: string;
  /** exit statuses of the writer that are fine (pax exits 1 when it leaves something out) */
  okStatus: number[];
  /** what report.format must be */
  format: string;
  /** relative paths the writer leaves out */
  dropped(tree: RichTree): string[];
  /** the user xattr set on etc/motd travels in this format */
  xattrs: boolean;
}

const longTargets = (tree: RichTree): TreeItem[] => tree.items.filter((i) => i.kind === 'symlink' && Buffer.byteLength(i.target ?? '') > 100);

/** v7 tar as MirBSD pax writes it: names "./<path>" (+ "/" for directories) of at most 100 bytes. */
function v7Losses(tree: RichTree): string[] {
  const tooLong = (i: TreeItem) => Buffer.byteLength(`./${i.path}${i.kind === 'dir' ? '/' : ''}`) > 100;
  const special = (i: TreeItem) => i.kind === 'fifo' || i.kind === 'char' || i.kind === 'block';
  const lost = new Set(tree.items.filter((i) => tooLong(i) || special(i)).map((i) => i.path));
  for (const i of longTargets(tree)) lost.add(i.path);
  // a lost directory takes its subtree with it
  return tree.items.filter((i) => [...lost].some((l) => i.path === l || i.path.startsWith(`${l}/`))).map((i) => i.path);
}

const cases: TarCase[] = [
  { id: 'bsdtar-pax', writer: ['bsdtar'], script: 'bsdtar --format pax --xattrs --acls -cf "$1" .', okStatus: [0], format: 'tar(pax)', dropped: () => [], xattrs: true },
  { id: 'bsdtar-ustar', writer: ['bsdtar'], script: 'bsdtar --format ustar -cf "$1" .', okStatus: [0], format: 'tar(ustar)', dropped: (t) => longTargets(t).map((i) => i.path), xattrs: false },
  { id: 'bsdtar-gnutar', writer: ['bsdtar'], script: 'bsdtar --format gnutar -cf "$1" .', okStatus: [0], format: 'tar(gnu)', dropped: () => [], xattrs: false },
  {
    id: 'gnutar-posix',
    writer: ['tar'],
    script: "tar --format=posix --xattrs --xattrs-include='*' --acls --sparse -cf \"$1\" .",
    okStatus: [0],
    format: 'tar(pax)',
    dropped: () => [],
    xattrs: true,
  },
  { id: 'gnutar-gnu', writer: ['tar'], script: 'tar --format=gnu --sparse -cf "$1" .', okStatus: [0], format: 'tar(gnu)', dropped: () => [], xattrs: false },
  { id: 'pax-ustar', writer: ['pax'], script: 'pax -w -x ustar -f "$1" .', okStatus: [0, 1], format: 'tar(ustar)', dropped: (t) => longTargets(t).map((i) => i.path), xattrs: false },
  { id: 'pax-tar', writer: ['pax'], script: 'pax -w -x tar -f "$1" .', okStatus: [0, 1], format: 'tar(v7)', dropped: v7Losses, xattrs: false },
];

const pairs = (diffs: Array<{ path: string; property: string }>) => diffs.map((d) => `${d.path}: ${d.property}`).sort();

test('tar archives written by real tools', async (t) => {
  const needed = ['find', 'mkfifo'];
  if (missingTools(needed).length > 0) {
    t.skip(`missing: ${missingTools(needed).join(', ')}`);
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-tar-'));
  if (process.env.ZONEP2V_KEEP_TEST_FILES) t.diagnostic(`keeping ${work}`);
  else t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const src = path.join(work, 'src');
  const tree = makeRichTree(src);
  let xattrSet = false;
  if (haveTool('setfattr')) {
    xattrSet = run('setfattr', ['-n', 'user.comment', '-v', 'xattr-value', path.join(src, 'etc/motd')], { okStatus: 'any' }).status === 0;
  }
  if (!xattrSet) t.diagnostic('user xattrs unavailable here (setfattr missing or the filesystem refuses): xattr checks skipped');
  const owners = tree.ownersApplied && isRoot();

  for (const c of cases) {
    await t.test(c.id, async (t) => {
      const missing = missingTools(c.writer);
      if (missing.length > 0) {
        t.skip(`missing: ${missing.join(', ')}`);
        return;
      }
      const archive = path.join(work, `${c.id}.tar`);
      sh(c.script, [archive], { cwd: src, okStatus: c.okStatus });
      const dropped = c.dropped(tree);
      const base = { ignoreOwners: !owners, ignoreRootMeta: true };

      await t.test('bsdtar -xp shows exactly the documented losses', (t) => {
        if (!haveTool('bsdtar')) {
          t.skip('missing: bsdtar');
          return;
        }
        const reference = path.join(work, `${c.id}.bsdtar-x`);
        fs.mkdirSync(reference);
        run('bsdtar', ['-xpf', archive, '-C', reference, '--numeric-owner']);
        const diffs = diffTrees(src, reference, base);
        assert.deepEqual(pairs(diffs), dropped.map((p) => `${p}: missing`).sort(), formatDiffs(diffs.map((d) => d.message)));
      });

      await t.test('listEntries() reads what bsdtar lists, xattrs included', async (t) => {
        const warnings: Array<{ code: string; message: string }> = [];
        const { chain, entries } = await listEntries({ image: archive }, warnings);
        const seen: Entry[] = [];
        for await (const entry of entries) seen.push(entry);
        assert.deepEqual(chain, [c.format]);
        assert.deepEqual(warnings, []);
        assert.ok(seen.every((e) => !e.path.includes('PaxHeader') && !e.path.includes('@LongLink') && !e.path.startsWith('/dev/null')));
        if (haveTool('bsdtar')) {
          const listed = run('bsdtar', ['-tf', archive]).stdout.toString('latin1').split('\n').filter((l) => l.length > 0);
          assert.deepEqual(seen.map((e) => e.path), listed);
        } else t.diagnostic('missing bsdtar: names not cross-checked');
        const motd = seen.find((e) => e.path === './etc/motd');
        assert.ok(motd, './etc/motd listed');
        if (c.xattrs && xattrSet) {
          assert.equal(Buffer.from(motd.xattrs?.get('user.comment') ?? []).toString(), 'xattr-value', 'user xattr from the archive');
        }
        const bigId = seen.find((e) => e.path === './export/home/bigid/profile');
        if (owners && bigId) assert.deepEqual([bigId.uid, bigId.gid], [70000, 80000]);
        const setuid = seen.find((e) => e.path === './usr/bin/passwd');
        assert.equal(setuid?.mode, 0o4755);
      });

      await t.test('extract() gives the source tree minus the documented losses', async () => {
        const dest = path.join(work, `${c.id}.extracted`);
        const report = await extract({ image: archive, dest });
        assert.deepEqual(report.chain, [c.format]);
        assert.equal(report.format, c.format);
        const diffs = diffTrees(src, dest, { ...base, ignore: dropped });
        assert.deepEqual(diffs.map((d) => d.message), [], `extract() differs from the source:\n${formatDiffs(diffs.map((d) => d.message))}`);
        const groups = new Map<string, number>();
        for (const item of tree.items) if (item.linkGroup !== undefined && !dropped.includes(item.path)) groups.set(item.linkGroup, (groups.get(item.linkGroup) ?? 0) + 1);
        assert.equal(report.hardlinks, [...groups.values()].reduce((n, k) => n + k - 1, 0), 'hard links as links, not copies');
        assert.equal(report.unchanged, 0);
        assert.equal(report.written, report.files);
      });
    });
  }

  await t.test('gzip around a GNU tar posix archive: gzip → tar(pax)', async (t) => {
    if (missingTools(['tar', 'gzip']).length > 0) {
      t.skip(`missing: ${missingTools(['tar', 'gzip']).join(', ')}`);
      return;
    }
    const archive = path.join(work, 'gnutar-posix.tar.gz');
    sh("tar --format=posix --sparse -cf - . | gzip -c > \"$1\"", [archive], { cwd: src });
    const dest = path.join(work, 'gzip.extracted');
    const report = await extract({ image: archive, dest });
    assert.deepEqual(report.chain, ['gzip', 'tar(pax)']);
    const diffs = diffTrees(src, dest, { ignoreOwners: !owners, ignoreRootMeta: true });
    assert.deepEqual(diffs.map((d) => d.message), []);
  });
});

test('GNU tar with a volume label (tar -V; gnu, oldgnu, posix): recognised, the label skipped, the members read', async (t) => {
  if (!haveTool('tar')) {
    t.skip('needs GNU tar');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-tar-label-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(source, 'etc', 'motd'), 'labelled\n');
  for (const format of ['gnu', 'oldgnu', 'posix']) {
    const image = path.join(work, `${format}.tar`);
    sh(`tar --format=${format} -V "SOL10 root" -C "$1" -cf "$2" etc`, [source, image]);
    const dest = path.join(work, `root-${format}`);
    const report = await extract({ image, dest });
    assert.deepEqual(report.warnings, [], format);
    assert.equal(report.files, 1, format);
    assert.equal(fs.readFileSync(path.join(dest, 'etc', 'motd'), 'utf8'), 'labelled\n', format);
  }
});
