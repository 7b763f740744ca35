/**
 * An incremental dump applied to a tree that was changed between the levels, and an index the
 * zone can write (found by review, each reproduced first):
 *
 * - a directory of the previous level replaced by a symlink to outside the root: a member the
 *   level 1 dump says is unchanged but renamed was hard-linked (file) or moved (directory) from
 *   the path the index names, through that symlink - an outside file linked into the zone (and
 *   writable from it), an outside directory moved in;
 * - index records with ".." in their paths: the same calls (and the removals of members gone
 *   from the dump) reached outside the root;
 * - `--index` inside the tree: the index's temporary name, `<index>.tmp-<pid>`, planted as a
 *   symlink to outside (one per possible pid) was opened with 'w' - truncated and rewritten;
 *   the "dumpApplying" line was appended through a symlink in the index's place.
 *
 * Each asserts that nothing beside the root changed (the sentinel).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extract } from '../../src/extract/extract.js';
import { markApplying } from '../../src/store/content-index.js';
import { DumpWriter } from '../helpers/dump-writer.js';
import { makeSandbox, type Sandbox } from '../helpers/sentinel.js';
import { workDir } from '../helpers/work-dir.js';

const D0 = 1_700_000_000;
const D1 = 1_700_100_000;

function sandbox(t: TestContext, label: string): Sandbox {
  const box = makeSandbox(label);
  t.after(() => box.cleanup());
  return box;
}

function write(file: string, writer: DumpWriter): string {
  fs.writeFileSync(file, writer.bytes());
  return file;
}

/** level 0: a/secret (inode 4); level 1: the same inode, unchanged, also named b */
function renamedFileDumps(dir: string): { l0: string; l1: string } {
  const w0 = new DumpWriter({ family: 'linux', order: 'le', date: D0, level: 0 });
  w0.tape();
  w0.maps([2, 3, 4]);
  w0.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['a', 3]]);
  w0.directory(3, { mode: 0o40755 }, [['.', 3], ['..', 2], ['secret', 4]]);
  w0.inode(4, { mode: 0o100644 }, Buffer.from('zone file\n'));
  w0.end();
  const w1 = new DumpWriter({ family: 'linux', order: 'le', date: D1, ddate: D0, level: 1 });
  w1.tape();
  w1.maps([2], [2, 3, 4]);
  w1.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['a', 3], ['b', 4]]);
  w1.end();
  return { l0: write(path.join(dir, 'l0.dump'), w0), l1: write(path.join(dir, 'l1.dump'), w1) };
}

/** level 0: x/dir/keep; level 1: x renamed to z (x/dir and its file unchanged) */
function renamedDirectoryDumps(dir: string): { l0: string; l1: string } {
  const w0 = new DumpWriter({ family: 'linux', order: 'le', date: D0, level: 0 });
  w0.tape();
  w0.maps([2, 3, 4, 5]);
  w0.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['x', 3]]);
  w0.directory(3, { mode: 0o40755 }, [['.', 3], ['..', 2], ['dir', 4]]);
  w0.directory(4, { mode: 0o40755 }, [['.', 4], ['..', 3], ['keep', 5]]);
  w0.inode(5, { mode: 0o100644 }, Buffer.from('zone\n'));
  w0.end();
  const w1 = new DumpWriter({ family: 'linux', order: 'le', date: D1, ddate: D0, level: 1 });
  w1.tape();
  w1.maps([2, 3], [2, 3, 4, 5]);
  w1.directory(2, { mode: 0o40755 }, [['.', 2], ['..', 2], ['z', 3]]);
  w1.directory(3, { mode: 0o40755 }, [['.', 3], ['..', 2], ['dir', 4]]);
  w1.end();
  return { l0: write(path.join(dir, 'l0.dump'), w0), l1: write(path.join(dir, 'l1.dump'), w1) };
}

/** Level 0 with --index, then the directory `name` moved aside and a symlink to the outside put
 *  in its place, then level 1: the outside must be unchanged. Returns level 1's report. */
async function plantedBetweenLevels(t: TestContext, box: Sandbox, dumps: { l0: string; l1: string }, name: string) {
  const index = path.join(workDir(t, 'inc-index'), 'index'); // not beside the root: it changes
  await extract({ image: dumps.l0, dest: box.root, indexFile: index });
  fs.renameSync(path.join(box.root, name), path.join(box.root, `${name}-moved`));
  fs.symlinkSync(box.outside, path.join(box.root, name));
  box.resnapshot();
  const report = await extract({ image: dumps.l1, dest: box.root, indexFile: index });
  box.assertUnchanged('level 1');
  return report;
}

test('a renamed, unchanged file is not hard-linked from outside through a directory replaced by a symlink between the levels', async (t) => {
  const box = sandbox(t, 'inc-link');
  // between the levels: a -> the outside directory, which holds a "secret" as a/ did
  const report = await plantedBetweenLevels(t, box, renamedFileDumps(box.base), 'a');
  const b = fs.lstatSync(path.join(box.root, 'b'), { throwIfNoEntry: false });
  assert.ok(!b || b.ino !== fs.statSync(box.secret).ino, 'b is not the outside file');
  assert.ok(report.warnings.some((w) => w.code === 'P2V_BLOCKED' && /a\/secret/.test(w.message)), JSON.stringify(report.warnings));
});

test('a renamed, unchanged directory is not moved in from outside through a symlink planted between the levels', async (t) => {
  const box = sandbox(t, 'inc-move');
  const report = await plantedBetweenLevels(t, box, renamedDirectoryDumps(box.base), 'x');
  assert.ok(report.warnings.some((w) => w.code === 'P2V_BLOCKED'), JSON.stringify(report.warnings));
});

test('index records whose paths leave the root are not followed: nothing outside is moved in or removed', async (t) => {
  const box = sandbox(t, 'inc-dotdot');
  const dumps = renamedFileDumps(box.base);
  const index = path.join(workDir(t, 'inc-index'), 'index'); // not beside the root: it changes
  await extract({ image: dumps.l0, dest: box.root, indexFile: index });
  const relativeOutside = path.relative(box.root, box.outside);
  const forged = [
    { path: `${relativeOutside}/secret`, type: 'file', size: 8, mode: '0640', uid: 0, gid: 0, mtimeNs: '0', xxh64: '0000000000000000', inode: 4 },
    { path: `${relativeOutside}/dir/keep`, type: 'file', size: 4, mode: '0600', uid: 0, gid: 0, mtimeNs: '0', xxh64: '0000000000000000', inode: 9 },
  ];
  // the forged records first: a path the index names twice takes the last record
  const lines = fs.readFileSync(index, 'utf8').split('\n').filter((line) => !/"path":"a\/secret"/.test(line));
  fs.writeFileSync(index, [...forged.map((record) => JSON.stringify(record)), ...lines].join('\n'));
  box.resnapshot();
  await extract({ image: dumps.l1, dest: box.root, indexFile: index }).catch(() => undefined);
  box.assertUnchanged('level 1 with forged records');
});

test('--index inside the tree: a symlink planted at the temporary name or at the index itself is not written through', async (t) => {
  const box = sandbox(t, 'index-tmp');
  const image = renamedFileDumps(box.base).l0;
  const index = path.join(box.root, 'idx');
  // the temporary name this process will use, planted before the run (as an image can plant
  // one for every pid)
  fs.symlinkSync(box.secret, `${index}.tmp-${process.pid}`);
  box.resnapshot();
  await extract({ image, dest: box.root, indexFile: index });
  box.assertUnchanged('the index written');
  assert.ok(fs.lstatSync(index).isFile(), 'the index is a file of its own');
  assert.match(fs.readFileSync(index, 'utf8'), /"path":"a\/secret"/);

  fs.rmSync(index);
  fs.symlinkSync(box.secret, index);
  box.resnapshot();
  assert.throws(() => markApplying(index, { level: 1, date: D1, previousDate: D0 }), /ELOOP/);
  box.assertUnchanged('the "dumpApplying" line');
});
