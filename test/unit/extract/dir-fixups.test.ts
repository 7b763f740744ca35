/**
 * The last pass over directories (dir-fixups.ts): metadata goes only to the directory at the
 * very path recorded. A directory above it replaced by a symlink (which the writer's byte-keyed
 * bookkeeping can miss on a file system that folds names) must not lead the pass elsewhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DirFixups } from '../../../src/extract/dir-fixups.js';

function sandbox(t: { after(fn: () => void): void }): { root: string; outside: string } {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-dir-fixups-')));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(path.join(root, 'a/b'), { recursive: true });
  fs.mkdirSync(path.join(outside, 'b'), { recursive: true });
  fs.chmodSync(path.join(outside, 'b'), 0o755);
  return { root, outside };
}

const abs = (root: string) => (physical: string) => (physical === '' ? root : `${root}/${physical}`);

test('metadata lands on the directory at the recorded path', (t) => {
  const { root } = sandbox(t);
  const fixups = new DirFixups();
  fixups.set('a/b', { mode: 0o700, uid: 0, gid: 0, mtimeSeconds: 1_000_000_000 });
  const { failures } = fixups.apply(abs(root), false);
  assert.deepEqual(failures, []);
  const stat = fs.statSync(path.join(root, 'a/b'));
  assert.equal(stat.mode & 0o7777, 0o700);
  assert.equal(stat.mtimeMs, 1_000_000_000_000);
});

test('a directory above replaced by a symlink to the outside: nothing is changed there, the path is reported', (t) => {
  const { root, outside } = sandbox(t);
  const fixups = new DirFixups();
  fixups.set('a/b', { mode: 0o777, uid: 0, gid: 0, mtimeSeconds: 1_000_000_000 });
  fs.rmSync(path.join(root, 'a'), { recursive: true });
  fs.symlinkSync(outside, path.join(root, 'a'));
  const before = fs.statSync(path.join(outside, 'b'));
  const { failures } = fixups.apply(abs(root), false);
  assert.deepEqual(failures, [{ path: 'a/b', code: 'ELOOP' }]);
  const after = fs.statSync(path.join(outside, 'b'));
  assert.equal(after.mode, before.mode, 'mode outside untouched');
  assert.equal(after.mtimeMs, before.mtimeMs, 'mtime outside untouched');
});
