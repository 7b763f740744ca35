/**
 * The security tests trust the sandbox's assertUnchanged() to notice any change beside the
 * root, so prove that it fails for each kind of change an escaping extractor could make.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeSandbox, type Sandbox } from '../../helpers/sentinel.js';
import { isRoot } from '../../helpers/tools.js';

const changes: [string, (box: Sandbox) => void, boolean?][] = [
  ['content rewritten', (box) => fs.writeFileSync(box.secret, 'EVIL')],
  ['content rewritten with the same bytes (mtime/ctime)', (box) => fs.writeFileSync(box.secret, 'ORIGINAL')],
  ['mode changed', (box) => fs.chmodSync(box.secret, 0o4777)],
  ['mode set to its own value (ctime)', (box) => fs.chmodSync(box.secret, 0o640)],
  ['owner changed', (box) => fs.chownSync(box.secret, 0, 0), true],
  ['hard-linked into the root', (box) => fs.linkSync(box.secret, path.join(box.root, 'h'))],
  ['replaced by rename', (box) => {
    fs.writeFileSync(path.join(box.outside, 'tmp'), 'ORIGINAL');
    fs.renameSync(path.join(box.outside, 'tmp'), box.secret);
  }],
  ['new file in the sentinel dir', (box) => fs.writeFileSync(path.join(box.sentinelDir, 'new'), '')],
  ['new file beside the root', (box) => fs.writeFileSync(path.join(box.base, 'new'), '')],
  ['sentinel dir mode', (box) => fs.chmodSync(box.sentinelDir, 0o777)],
  ['symlink retargeted', (box) => {
    fs.unlinkSync(path.join(box.outside, 'secret-link'));
    fs.symlinkSync('dir', path.join(box.outside, 'secret-link'));
  }],
  ['root replaced by a symlink', (box) => {
    fs.rmdirSync(box.root);
    fs.symlinkSync('outside', box.root);
  }],
];

for (const [name, change, rootOnly] of changes) {
  test(`sentinel notices: ${name}`, { skip: rootOnly && !isRoot() ? 'needs root' : false }, () => {
    const box = makeSandbox('self-test');
    try {
      box.assertUnchanged();
      // ctime has nanosecond resolution but the clock may tick coarsely: let it move
      const until = Date.now() + 20;
      while (Date.now() < until);
      change(box);
      assert.throws(() => box.assertUnchanged(), /changed|rewritten|root is no longer|written on the host/);
    } finally {
      box.cleanup();
    }
  });
}

test('sentinel: writes inside the root are not differences', () => {
  const box = makeSandbox('self-test');
  try {
    fs.mkdirSync(path.join(box.root, 'a/b'), { recursive: true });
    fs.writeFileSync(path.join(box.root, 'a/b/c'), 'x');
    fs.symlinkSync('/etc', path.join(box.root, 'etc'));
    box.assertUnchanged();
  } finally {
    box.cleanup();
  }
});
