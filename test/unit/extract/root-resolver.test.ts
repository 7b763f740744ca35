/**
 * RootResolver.parentOf(): the directory that holds a member, found inside the root whatever
 * symlinks lie on the way. Symlinks are read as if the root were "/" (absolute targets restart
 * at the root, ".." stops there), loops end after maxSymlinkHops, a non-directory on the way
 * skips the member, and forgetAll() makes a replaced directory be looked at again.
 *
 * Each test builds a small root in a temporary directory next to a "outside" directory that
 * must never be touched.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RootResolver } from '../../../src/extract/root-resolver.js';
import { isP2VError, type P2VError } from '../../../src/errors.js';
import { toBytePath } from '../../../src/entry.js';

interface Fixture {
  root: string;
  outside: string;
  touched: string[];
  resolver: RootResolver;
  /** path inside the root */
  at(rel: string): string;
}

function makeRoot(t: TestContext, maxSymlinkHops = 40): Fixture {
  const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-resolver-')));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const root = path.join(work, 'root');
  const outside = path.join(work, 'outside');
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'not for the zone');
  const touched: string[] = [];
  const resolver = new RootResolver(toBytePath(root), maxSymlinkHops, { beforeTouch: (physical) => void touched.push(physical) });
  return { root, outside, touched, resolver, at: (rel) => path.join(root, rel) };
}

async function refusal(promise: Promise<unknown>): Promise<P2VError> {
  let caught: unknown;
  try {
    const value = await promise;
    assert.fail(`resolved to ${JSON.stringify(value)}`);
  } catch (error) {
    caught = error;
  }
  assert.ok(isP2VError(caught), `a P2VError, got ${String(caught)}`);
  return caught;
}

function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      out.push(child);
      const st = fs.lstatSync(path.join(dir, child));
      if (st.isDirectory()) walk(child);
    }
  };
  walk('');
  return out.sort();
}

test('real directories: the parent is the logical parent; the member itself is never looked at', async (t) => {
  const f = makeRoot(t);
  fs.mkdirSync(f.at('etc/default'), { recursive: true });
  assert.equal(await f.resolver.parentOf(['etc', 'default', 'init'], false, 'etc/default/init'), 'etc/default');
  assert.equal(await f.resolver.parentOf(['top'], false, 'top'), '');
  assert.equal(await f.resolver.parentOf([], false, '.'), '');
  assert.deepEqual(f.touched, ['etc', 'etc/default'], 'only the directories on the way');
  assert.ok(f.resolver.isKnownDir('etc/default'));
  // known now: no second look
  f.touched.length = 0;
  assert.equal(await f.resolver.parentOf(['etc', 'default', 'other'], false, 'etc/default/other'), 'etc/default');
  assert.deepEqual(f.touched, []);
  // the member may be a symlink pointing anywhere: it is not followed
  fs.symlinkSync(f.outside, f.at('etc/default/escape'));
  assert.equal(await f.resolver.parentOf(['etc', 'default', 'escape'], false, 'etc/default/escape'), 'etc/default');
  assert.equal(f.resolver.abs('etc/default'), `${toBytePath(f.root)}/etc/default`);
  assert.equal(f.resolver.abs(''), toBytePath(f.root));
});

test('missing directories: created (mode 0755) when asked, a skipped error otherwise', async (t) => {
  const f = makeRoot(t);
  const error = await refusal(f.resolver.parentOf(['usr', 'lib', 'x'], false, 'usr/lib/x'));
  assert.equal(error.code, 'P2V_ENTRY_INVALID');
  assert.equal(error.severity, 'skipped');
  assert.equal(error.details.entry, 'usr/lib/x');
  assert.match(error.message, /"usr" does not exist/);
  assert.equal(fs.existsSync(f.at('usr')), false, 'nothing created without create');

  assert.equal(await f.resolver.parentOf(['usr', 'lib', 'x'], true, 'usr/lib/x'), 'usr/lib');
  for (const dir of ['usr', 'usr/lib']) {
    const st = fs.lstatSync(f.at(dir));
    assert.ok(st.isDirectory(), dir);
    assert.equal(st.mode & 0o777 & ~process.umask(), 0o755 & ~process.umask(), `${dir} mode`);
    assert.ok(f.resolver.isKnownDir(dir), `${dir} known`);
  }
});

test('absolute symlink targets resolve inside the root, never outside', async (t) => {
  const f = makeRoot(t);
  fs.mkdirSync(f.at('usr/lib'), { recursive: true });
  fs.symlinkSync('/usr/lib', f.at('lib'));
  assert.equal(await f.resolver.parentOf(['lib', 'libc.so.1'], false, 'lib/libc.so.1'), 'usr/lib');

  // a link to the real outside directory, by its absolute host path: read inside the root, where
  // that path does not exist
  fs.symlinkSync(f.outside, f.at('escape'));
  const error = await refusal(f.resolver.parentOf(['escape', 'secret'], false, 'escape/secret'));
  assert.equal(error.severity, 'skipped');
  // with create, the host path is made INSIDE the root
  const physical = await f.resolver.parentOf(['escape', 'new'], true, 'escape/new');
  const hostRel = path.relative('/', f.outside);
  assert.equal(physical, toBytePath(hostRel));
  assert.ok(fs.lstatSync(path.join(f.root, hostRel)).isDirectory());
  assert.deepEqual(fs.readdirSync(f.outside), ['secret'], 'the real outside directory is untouched');

  // "/" itself, and "/." and "//usr//lib/"
  fs.symlinkSync('/', f.at('slash'));
  assert.equal(await f.resolver.parentOf(['slash', 'x'], false, 'slash/x'), '');
  fs.symlinkSync('//usr//./lib/', f.at('messy'));
  assert.equal(await f.resolver.parentOf(['messy', 'x'], false, 'messy/x'), 'usr/lib');
  // a dangling absolute link, created inside the root
  fs.symlinkSync('/opt/new/dir', f.at('usr/dangling'));
  assert.equal(await f.resolver.parentOf(['usr', 'dangling', 'x'], true, 'usr/dangling/x'), 'opt/new/dir');
  assert.ok(fs.lstatSync(f.at('opt/new/dir')).isDirectory());
});

test('relative symlinks resolve from the link\'s own directory; ".." clamps at the root', async (t) => {
  const f = makeRoot(t);
  fs.mkdirSync(f.at('usr/lib'), { recursive: true });
  fs.mkdirSync(f.at('etc/inet'), { recursive: true });
  fs.symlinkSync('lib', f.at('usr/lib64'));
  assert.equal(await f.resolver.parentOf(['usr', 'lib64', 'x'], false, 'usr/lib64/x'), 'usr/lib');
  fs.symlinkSync('../etc/inet', f.at('usr/inet'));
  assert.equal(await f.resolver.parentOf(['usr', 'inet', 'hosts'], false, 'usr/inet/hosts'), 'etc/inet');

  // more ".." than there are levels: stops at the root, as ".." of "/" is "/"
  fs.symlinkSync('../../../../../../../../etc', f.at('usr/up'));
  assert.equal(await f.resolver.parentOf(['usr', 'up', 'passwd'], false, 'usr/up/passwd'), 'etc');
  fs.symlinkSync('..', f.at('dotdot'));
  assert.equal(await f.resolver.parentOf(['dotdot', 'x'], false, 'dotdot/x'), '');
  fs.symlinkSync('../../..', f.at('etc/inet/way-up'));
  assert.equal(await f.resolver.parentOf(['etc', 'inet', 'way-up', 'x'], false, 'etc/inet/way-up/x'), '');
  // through a symlink and then "..": ".." is taken in the physical directory (usr/lib → usr)
  fs.symlinkSync('usr/lib64/../..', f.at('back'));
  assert.equal(await f.resolver.parentOf(['back', 'x'], false, 'back/x'), '');
  fs.symlinkSync('./././lib', f.at('usr/dots'));
  assert.equal(await f.resolver.parentOf(['usr', 'dots', 'x'], false, 'usr/dots/x'), 'usr/lib');

  // chains: a → b → /c → d (relative to /), all inside
  fs.mkdirSync(f.at('d'));
  fs.symlinkSync('b', f.at('a'));
  fs.symlinkSync('/c', f.at('b'));
  fs.symlinkSync('d', f.at('c'));
  assert.equal(await f.resolver.parentOf(['a', 'x'], false, 'a/x'), 'd');
  assert.deepEqual(listTree(f.outside), ['secret']);
});

test('symlink loops stop after maxSymlinkHops with a skipped error', async (t) => {
  const f = makeRoot(t, 5);
  fs.symlinkSync('self', f.at('self'));
  fs.symlinkSync('/ping', f.at('pong'));
  fs.symlinkSync('pong', f.at('ping'));
  fs.mkdirSync(f.at('deep'));
  fs.symlinkSync('../deep/../deep/loop', f.at('deep/loop'));
  for (const first of ['self', 'ping', 'pong', 'deep']) {
    const components = first === 'deep' ? ['deep', 'loop', 'x'] : [first, 'x'];
    const started = performance.now();
    const error = await refusal(f.resolver.parentOf(components, true, components.join('/')));
    assert.ok(performance.now() - started < 2000, `${first}: stopped promptly`);
    assert.equal(error.code, 'P2V_ENTRY_INVALID', first);
    assert.equal(error.severity, 'skipped', first);
    assert.match(error.message, /more than 5 symlinks/, first);
    assert.equal(error.details.entry, components.join('/'));
  }

  // exactly maxSymlinkHops links in a chain is fine, one more is not
  fs.mkdirSync(f.at('end'));
  const chain = (n: number, prefix: string) => {
    for (let i = 0; i < n; i++) fs.symlinkSync(i === n - 1 ? 'end' : `${prefix}${i + 1}`, f.at(`${prefix}${i}`));
  };
  chain(5, 'five');
  chain(6, 'six');
  assert.equal(await f.resolver.parentOf(['five0', 'x'], false, 'five0/x'), 'end');
  assert.match((await refusal(f.resolver.parentOf(['six0', 'x'], false, 'six0/x'))).message, /more than 5 symlinks/);
  // hops are counted per call, not per resolver
  assert.equal(await f.resolver.parentOf(['five0', 'y'], false, 'five0/y'), 'end');
});

test('a file (or other non-directory) in the way skips the member', async (t) => {
  const f = makeRoot(t);
  fs.mkdirSync(f.at('etc'));
  fs.writeFileSync(f.at('etc/passwd'), 'root:x:0:0::/:/bin/sh\n');
  const error = await refusal(f.resolver.parentOf(['etc', 'passwd', 'x'], true, 'etc/passwd/x'));
  assert.equal(error.code, 'P2V_BLOCKED', 'the tree is in the way: the run is incomplete');
  assert.equal(error.severity, 'skipped');
  assert.match(error.message, /"etc\/passwd" is in the way and is not a directory/);
  assert.ok(fs.lstatSync(f.at('etc/passwd')).isFile(), 'the file is left alone');

  // reached through a symlink: the file is reported under its physical path
  fs.symlinkSync('/etc/passwd', f.at('pw'));
  assert.match((await refusal(f.resolver.parentOf(['pw', 'x'], true, 'pw/x'))).message, /"etc\/passwd" is in the way/);
  // a FIFO is no better
  const { spawnSync } = await import('node:child_process');
  if (spawnSync('mkfifo', [f.at('fifo')]).status === 0) {
    assert.match((await refusal(f.resolver.parentOf(['fifo', 'x'], true, 'fifo/x'))).message, /"fifo" is in the way/);
  }
});

test('forgetAll(): a cached directory replaced by a symlink is looked at again (CVE-2021-32803)', async (t) => {
  const f = makeRoot(t);
  fs.mkdirSync(f.at('d/sub'), { recursive: true });
  fs.mkdirSync(f.at('elsewhere/sub'), { recursive: true });
  assert.equal(await f.resolver.parentOf(['d', 'sub', 'x'], false, 'd/sub/x'), 'd/sub');
  assert.ok(f.resolver.isKnownDir('d') && f.resolver.isKnownDir('d/sub'));

  // the image replaces the directory "d" by a symlink; the cache still holds the old answer,
  // which is why whoever replaces a directory must call forgetAll()
  fs.rmSync(f.at('d'), { recursive: true });
  fs.symlinkSync('elsewhere', f.at('d'));
  assert.equal(await f.resolver.parentOf(['d', 'sub', 'x'], false, 'd/sub/x'), 'd/sub', 'stale without forgetAll()');

  fs.mkdirSync(f.at('keep'));
  await f.resolver.parentOf(['keep', 'x'], false, 'keep/x');
  f.resolver.noteDir('made/by/writer', true);
  f.resolver.forgetAll();
  for (const gone of ['d', 'd/sub', 'keep', 'made/by/writer']) assert.equal(f.resolver.isKnownDir(gone), false, gone);
  assert.equal(f.resolver.createdThisRun('made/by/writer'), false);
  assert.ok(f.resolver.isKnownDir(''), 'the root stays known');
  f.touched.length = 0;
  assert.equal(await f.resolver.parentOf(['d', 'sub', 'x'], false, 'd/sub/x'), 'elsewhere/sub');
  assert.ok(f.touched.includes('d'), 'd was looked at again');
});

test('forgetAll() covers a directory replaced under another spelling (a case-folding file system: "d" replaces "D")', async (t) => {
  // what a folding file system does, played on a byte-exact one: the cache learned "D"; the
  // member that replaced it by a link to the outside was named "d" (lstat("d") found "D" there)
  const f = makeRoot(t);
  fs.mkdirSync(f.at('D'));
  assert.equal(await f.resolver.parentOf(['D', 'x'], true, 'D/x'), 'D');
  fs.rmdirSync(f.at('D'));
  fs.symlinkSync(path.relative(f.root, f.outside), f.at('D')); // ../outside, seen as "D" too
  f.resolver.forgetAll(); // the writer's call after replacing "d"
  assert.equal(await f.resolver.parentOf(['D', 'x'], true, 'D/x'), 'outside', 'resolved inside the root, not through the link');
  assert.deepEqual(listTree(f.outside), ['secret']);
});

test('a cached directory replaced by a symlink to the outside cannot be used to escape after forgetAll()', async (t) => {
  const f = makeRoot(t);
  fs.mkdirSync(f.at('var'));
  assert.equal(await f.resolver.parentOf(['var', 'x'], true, 'var/x'), 'var');
  fs.rmdirSync(f.at('var'));
  fs.symlinkSync(path.relative(f.root, f.outside), f.at('var')); // ../outside
  f.resolver.forgetAll();
  // "../outside" from the root clamps to "/outside" inside the root
  assert.equal(await f.resolver.parentOf(['var', 'x'], true, 'var/x'), 'outside');
  assert.ok(fs.lstatSync(f.at('outside')).isDirectory());
  assert.deepEqual(listTree(f.outside), ['secret']);
});

test('a walk through symlinks is bounded in components, not only in hops; ordinary chains resolve', async (t) => {
  const f = makeRoot(t);
  fs.mkdirSync(f.at('d'));
  // 3 links of 4,001 components each: within 40 hops, but 12,000 components to walk per member
  const pad = '/.'.repeat(2000);
  fs.symlinkSync(`d${pad}`, f.at('l2'));
  fs.symlinkSync(`l2${pad}`, f.at('l1'));
  fs.symlinkSync(`l1${pad}`, f.at('l0'));
  const error = await refusal(f.resolver.parentOf(['l0', 'x'], true, 'l0/x'));
  assert.equal(error.code, 'P2V_ENTRY_INVALID');
  assert.equal(error.severity, 'skipped');
  assert.match(error.message, /more than 4096 path components/);
  assert.equal(await f.resolver.parentOf(['l2', 'x'], true, 'l2/x'), 'd', 'one such link is fine');
  // a system root's kind of chain: relative, "..", absolute, a few hops
  fs.mkdirSync(f.at('usr/lib/64'), { recursive: true });
  fs.symlinkSync('../usr/lib', f.at('d/lib'));
  fs.symlinkSync('/d/lib/./64', f.at('lib64'));
  fs.symlinkSync('lib64/../64', f.at('m'));
  assert.equal(await f.resolver.parentOf(['m', 'x'], true, 'm/x'), 'usr/lib/64');
  assert.equal(await f.resolver.parentOf(['lib64', '..', '..', '..', '..', 'usr', 'x'], true, 'lib64/../../../../usr/x'), 'usr');
});
