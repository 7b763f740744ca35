/**
 * The integration tests trust compareTrees() to notice when an extraction is wrong, so prove it
 * can fail: copy the rich tree with `cp -a` (which must compare equal), then change one property
 * at a time in a fresh copy and check that exactly that difference is reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeRichTree, type RichTree } from '../../helpers/rich-tree.js';
import { compareTrees, diffTrees, formatDiffs, type TreeDiff } from '../../helpers/tree-compare.js';
import { haveTool, isRoot, removeTree, run } from '../../helpers/tools.js';

interface Mutation {
  name: string;
  /** change the copy; `tree` describes the source */
  mutate(copy: string, tree: RichTree): void;
  /** path and property that must be reported */
  expect: Array<Pick<TreeDiff, 'path' | 'property'>>;
  /** other paths that may legitimately be reported too (the rest of a hard-link group) */
  alsoAllowed?: string[];
  rootOnly?: boolean;
}

const mutations: Mutation[] = [
  {
    name: 'mode',
    mutate: (copy) => fs.chmodSync(path.join(copy, 'usr/bin/ls'), 0o755),
    expect: [{ path: 'usr/bin/ls', property: 'mode' }],
  },
  {
    name: 'set-id bit dropped',
    mutate: (copy) => fs.chmodSync(path.join(copy, 'usr/bin/passwd'), 0o755),
    expect: [{ path: 'usr/bin/passwd', property: 'mode' }],
  },
  {
    name: 'sticky bit dropped from a directory (mtime kept)',
    mutate: (copy) => fs.chmodSync(path.join(copy, 'tmp'), 0o777),
    expect: [{ path: 'tmp', property: 'mode' }],
  },
  {
    name: 'content, same size (one byte deep inside the sparse file)',
    mutate: (copy) => {
      const file = path.join(copy, 'var/adm/lastlog');
      const { mtime } = fs.statSync(file);
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.from([0x01]), 0, 1, 4 * 1024 * 1024 + 7);
      fs.closeSync(fd);
      fs.utimesSync(file, mtime, mtime);
    },
    expect: [{ path: 'var/adm/lastlog', property: 'content' }],
  },
  {
    name: 'size',
    mutate: (copy) => {
      const file = path.join(copy, 'etc/motd');
      const { mtime } = fs.statSync(file);
      fs.appendFileSync(file, 'more\n');
      fs.utimesSync(file, mtime, mtime);
    },
    expect: [{ path: 'etc/motd', property: 'size' }],
  },
  {
    name: 'file mtime by one second',
    mutate: (copy) => {
      const file = path.join(copy, 'etc/one-byte');
      const { mtimeMs } = fs.statSync(file);
      const later = new Date(mtimeMs + 1000);
      fs.utimesSync(file, later, later);
    },
    expect: [{ path: 'etc/one-byte', property: 'mtime' }],
  },
  {
    name: 'symlink mtime',
    mutate: (copy) => fs.lutimesSync(path.join(copy, 'usr/sbin/ls'), 1_500_000_000, 1_500_000_000),
    expect: [{ path: 'usr/sbin/ls', property: 'mtime' }],
  },
  {
    name: 'directory mtime',
    mutate: (copy) => fs.utimesSync(path.join(copy, 'usr/lib'), 1_500_000_000, 1_500_000_000),
    expect: [{ path: 'usr/lib', property: 'mtime' }],
  },
  {
    name: 'symlink target',
    mutate: (copy) => {
      const link = path.join(copy, 'etc/hosts');
      const { mtime } = fs.lstatSync(link);
      const parent = fs.statSync(path.dirname(link)).mtime;
      fs.unlinkSync(link);
      fs.symlinkSync('inet/hosts', link); // "./inet/hosts" without "./": same file, other text
      fs.lutimesSync(link, mtime, mtime);
      fs.utimesSync(path.dirname(link), parent, parent);
    },
    expect: [{ path: 'etc/hosts', property: 'target' }],
  },
  {
    name: 'hard link broken (one name of the 3-name group becomes a copy)',
    mutate: (copy) => {
      const file = path.join(copy, 'usr/xpg4/bin/sh');
      const st = fs.statSync(file);
      const data = fs.readFileSync(file);
      const parent = fs.statSync(path.dirname(file)).mtime;
      fs.unlinkSync(file);
      fs.writeFileSync(file, data, { mode: st.mode & 0o7777 });
      fs.chmodSync(file, st.mode & 0o7777);
      if (isRoot()) fs.chownSync(file, st.uid, st.gid);
      fs.utimesSync(file, st.mtime, st.mtime);
      fs.utimesSync(path.dirname(file), parent, parent);
    },
    expect: [{ path: 'usr/xpg4/bin/sh', property: 'links' }],
    alsoAllowed: ['sbin/sh', 'usr/bin/ksh'],
  },
  {
    name: 'hard link added between two unrelated files of equal content',
    mutate: (copy) => {
      // turn var/tmp/scratch into a copy of etc/two-bytes, then make the two one inode
      const a = path.join(copy, 'etc/two-bytes');
      const st = fs.statSync(a);
      const twin = path.join(copy, 'var/tmp/scratch');
      const parents = [path.dirname(a), path.dirname(twin)].map((d) => [d, fs.statSync(d).mtime] as const);
      // give both the same content and metadata first, then link them
      fs.writeFileSync(twin, fs.readFileSync(a));
      fs.chmodSync(twin, st.mode & 0o7777);
      if (isRoot()) fs.chownSync(twin, st.uid, st.gid);
      fs.utimesSync(twin, st.mtime, st.mtime);
      fs.unlinkSync(a);
      fs.linkSync(twin, a);
      for (const [d, m] of parents) fs.utimesSync(d, m, m);
    },
    // var/tmp/scratch also changes content/size/mode/mtime; the point is the 'links' report
    expect: [
      { path: 'etc/two-bytes', property: 'links' },
      { path: 'var/tmp/scratch', property: 'links' },
    ],
  },
  {
    name: 'extra file',
    mutate: (copy) => {
      const dir = path.join(copy, 'etc');
      const { mtime } = fs.statSync(dir);
      fs.writeFileSync(path.join(dir, 'extra'), 'x');
      fs.utimesSync(dir, mtime, mtime);
    },
    expect: [{ path: 'etc/extra', property: 'unexpected' }],
  },
  {
    name: 'missing file',
    mutate: (copy) => {
      const dir = path.join(copy, 'opt/ro');
      const { mtime } = fs.statSync(dir);
      fs.chmodSync(dir, 0o755);
      fs.unlinkSync(path.join(dir, 'README'));
      fs.chmodSync(dir, 0o555);
      fs.utimesSync(dir, mtime, mtime);
    },
    expect: [{ path: 'opt/ro/README', property: 'missing' }],
  },
  {
    name: 'type (FIFO replaced by an empty file)',
    mutate: (copy) => {
      const fifo = path.join(copy, 'etc/initpipe');
      const st = fs.statSync(fifo);
      const parent = fs.statSync(path.dirname(fifo)).mtime;
      fs.unlinkSync(fifo);
      fs.writeFileSync(fifo, '');
      fs.chmodSync(fifo, st.mode & 0o7777);
      fs.utimesSync(fifo, st.mtime, st.mtime);
      fs.utimesSync(path.dirname(fifo), parent, parent);
    },
    expect: [{ path: 'etc/initpipe', property: 'type' }],
  },
  {
    name: 'owner',
    rootOnly: true,
    mutate: (copy) => fs.lchownSync(path.join(copy, 'opt/app/current'), 0, 0),
    expect: [{ path: 'opt/app/current', property: 'owner' }],
  },
  {
    name: 'device numbers',
    rootOnly: true,
    mutate: (copy) => {
      const node = path.join(copy, 'etc/devnodes/null');
      const st = fs.statSync(node);
      const parent = fs.statSync(path.dirname(node)).mtime;
      fs.unlinkSync(node);
      run('mknod', [node, 'c', '1', '5']);
      fs.chmodSync(node, st.mode & 0o7777);
      fs.utimesSync(node, st.mtime, st.mtime);
      fs.utimesSync(path.dirname(node), parent, parent);
    },
    expect: [{ path: 'etc/devnodes/null', property: 'rdev' }],
  },
];

test('compareTrees', async (t) => {
  if (!haveTool('cp')) {
    t.skip('cp is not installed');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-compare-'));
  t.after(() => removeTree(work));
  const source = path.join(work, 'src');
  const tree = makeRichTree(source);
  let copies = 0;
  const freshCopy = (): string => {
    const copy = path.join(work, `copy-${copies++}`);
    run('cp', ['-a', source, copy]);
    return copy;
  };

  await t.test('a cp -a copy compares equal, root metadata and nanoseconds included', () => {
    const copy = freshCopy();
    assert.deepEqual(compareTrees(source, copy, { mtime: 'ns' }), []);
  });

  await t.test('a tree compares equal to itself', () => {
    assert.deepEqual(compareTrees(source, source), []);
  });

  for (const m of mutations) {
    await t.test(`reports a changed ${m.name}`, (t) => {
      if (m.rootOnly && !isRoot()) {
        t.skip('needs root');
        return;
      }
      const copy = freshCopy();
      m.mutate(copy, tree);
      const diffs = diffTrees(source, copy, { ignoreOwners: !isRoot() });
      const shown = formatDiffs(diffs.map((d) => d.message));
      for (const want of m.expect) {
        assert.ok(
          diffs.some((d) => d.path === want.path && d.property === want.property),
          `expected a '${want.property}' difference for ${want.path}, got:\n${shown}`,
        );
      }
      // a single change must not smear into unrelated paths
      const allowed = new Set([...m.expect.map((e) => e.path), ...(m.alsoAllowed ?? [])]);
      const stray = diffs.filter((d) => !allowed.has(d.path));
      assert.deepEqual(stray.map((d) => d.message), [], `unrelated differences:\n${shown}`);
    });
  }

  await t.test('ignore options suppress exactly what they name', () => {
    const copy = freshCopy();
    fs.chmodSync(path.join(copy, 'usr/bin/ls'), 0o700);
    const { mtime } = fs.statSync(path.join(copy, 'etc'));
    fs.writeFileSync(path.join(copy, 'etc/extra'), 'x');
    fs.utimesSync(path.join(copy, 'etc'), mtime, mtime);
    fs.utimesSync(copy, 1_600_000_000, 1_600_000_000);

    assert.equal(compareTrees(source, copy).length, 3);
    assert.deepEqual(compareTrees(source, copy, { ignore: ['usr/bin/ls', 'etc/extra'], ignoreRootMeta: true }), []);
    // a directory in `ignore` covers its subtree
    assert.deepEqual(compareTrees(source, copy, { ignore: ['usr', 'etc'], ignoreRootMeta: true }), []);
    assert.deepEqual(
      compareTrees(source, copy, {
        ignorePath: (p) => p === 'etc/extra',
        ignoreProperty: (p, prop) => p === 'usr/bin/ls' && prop === 'mode',
        mtime: 'none',
      }),
      [],
    );
    // ignoring mtimes of directories does not hide the other differences
    assert.equal(compareTrees(source, copy, { ignoreMtimeFor: ['dir'] }).length, 2);
  });

  await t.test('nanosecond mtimes are compared only when asked', () => {
    const copy = freshCopy();
    const file = path.join(copy, 'etc/motd');
    const { mtimeMs } = fs.statSync(file);
    const withFraction = new Date(mtimeMs + 250);
    fs.utimesSync(file, withFraction, withFraction);
    assert.deepEqual(compareTrees(source, copy), []);
    const diffs = compareTrees(source, copy, { mtime: 'ns' });
    assert.equal(diffs.length, 1, formatDiffs(diffs));
    assert.match(diffs[0]!, /^etc\/motd: mtime/);
  });

  await t.test('the description matches the tree on disk', () => {
    for (const item of tree.items) {
      const st = fs.lstatSync(path.join(source, item.path));
      if (item.kind !== 'symlink') assert.equal(st.mode & 0o7777, item.mode, item.path);
      assert.equal(Math.floor(st.mtimeMs / 1000), item.mtime, item.path);
      if (tree.ownersApplied) assert.deepEqual([st.uid, st.gid], [item.uid, item.gid], item.path);
      if (item.size !== undefined) assert.equal(st.size, item.size, item.path);
      if (item.target !== undefined) assert.equal(fs.readlinkSync(path.join(source, item.path)), item.target);
    }
    const group = tree.items.filter((i) => i.linkGroup === 'A').map((i) => fs.statSync(path.join(source, i.path)).ino);
    assert.equal(group.length, 3);
    assert.equal(new Set(group).size, 1);
    const sparse = fs.statSync(path.join(source, 'var/adm/lastlog'));
    assert.ok(sparse.blocks * 512 < sparse.size, 'var/adm/lastlog should be sparse on disk');
  });
});
