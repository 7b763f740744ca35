/**
 * memberComponents(): the lexical gate every member name passes before any file-system call.
 * Pure string work, so the cases are exhaustive: what is accepted and to which components,
 * what is refused, with which code and severity (fatal stops the image, skipped drops the member).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberComponents, type PathPolicy } from '../../../src/extract/path-policy.js';
import { isP2VError, type P2VError } from '../../../src/errors.js';

const relative: PathPolicy = { stripAbsolute: false, maxPathDepth: 1024 };
const strip: PathPolicy = { stripAbsolute: true, maxPathDepth: 1024 };

function refusal(name: string, policy: PathPolicy): P2VError {
  let caught: unknown;
  try {
    const components = memberComponents(name, policy);
    assert.fail(`${JSON.stringify(name)} accepted as ${JSON.stringify(components)}`);
  } catch (error) {
    caught = error;
  }
  assert.ok(isP2VError(caught), `${JSON.stringify(name)}: a P2VError, got ${String(caught)}`);
  return caught;
}

test('relative names: "." and empty components vanish, the rest is kept verbatim', () => {
  const cases: Array<[string, string[]]> = [
    ['a', ['a']],
    ['a/b/c', ['a', 'b', 'c']],
    ['./a', ['a']],
    ['./a/./b/', ['a', 'b']],
    ['a//b', ['a', 'b']],
    ['a///b//', ['a', 'b']],
    ['././././a', ['a']],
    ['a/.', ['a']],
    ['a/./', ['a']],
    // the root itself
    ['.', []],
    ['./', []],
    ['./.', []],
    ['.//./', []],
    ['', []],
    // dots that are names, not "." or ".."
    ['...', ['...']],
    ['.../x', ['...', 'x']],
    ['..a', ['..a']],
    ['a..', ['a..']],
    ['a/..b/c..', ['a', '..b', 'c..']],
    ['.hidden/.profile', ['.hidden', '.profile']],
    ['. /x', ['. ', 'x']],
    [' ..', [' ..']],
    // a backslash is an ordinary byte on Solaris, not a separator
    ['a\\..\\b', ['a\\..\\b']],
    ['..\\x', ['..\\x']],
    // byte strings (latin1, one char per byte): non-UTF-8 names pass through untouched
    ['\xff\xfe/caf\xc3\xa9', ['\xff\xfe', 'caf\xc3\xa9']],
    ['a\nb/c', ['a\nb', 'c']],
  ];
  for (const [name, expected] of cases) {
    assert.deepEqual(memberComponents(name, relative), expected, JSON.stringify(name));
    // stripAbsolute changes nothing for relative names
    assert.deepEqual(memberComponents(name, strip), expected, `${JSON.stringify(name)} with stripAbsolute`);
  }
});

test('absolute names: refused (fatal, the whole image) unless stripAbsolute', () => {
  const cases: Array<[string, string[]]> = [
    ['/', []],
    ['/etc/passwd', ['etc', 'passwd']],
    ['//x', ['x']],
    ['///x//y/', ['x', 'y']],
    ['/./x', ['x']],
    ['/.', []],
    ['//', []],
  ];
  for (const [name, stripped] of cases) {
    const error = refusal(name, relative);
    assert.equal(error.code, 'P2V_ENTRY_UNSAFE', name);
    assert.equal(error.severity, 'fatal', `${name}: an image made from "/" is refused as a whole`);
    assert.equal(error.details.entry, name);
    assert.match(error.message, /absolute/);
    assert.match(error.message, /--strip-absolute/, 'the message says what to do');
    assert.deepEqual(memberComponents(name, strip), stripped, `${name} stripped`);
  }
  // "./" in front makes a name relative, however many slashes follow
  assert.deepEqual(memberComponents('.//etc', relative), ['etc']);
});

test('".." anywhere: skipped (P2V_ENTRY_UNSAFE), even where it would stay inside', () => {
  const names = [
    '..',
    '../',
    '../x',
    '../../etc/passwd',
    'a/..',
    'a/../',
    'a/b/..',
    'a/../b',
    'a/b/../../c',
    './..',
    './../x',
    'a/./../b',
    'a//..//b',
    'a/b/c/..',
    '.../..',
  ];
  for (const name of names) {
    for (const policy of [relative, strip]) {
      const error = refusal(name, policy);
      assert.equal(error.code, 'P2V_ENTRY_UNSAFE', name);
      assert.equal(error.severity, 'skipped', `${name}: the member is dropped, the image goes on`);
      assert.equal(error.details.entry, name);
      assert.match(error.message, /"\.\."/);
    }
  }
  // absolute AND "..": without stripping it is the absolute name that stops the image
  assert.equal(refusal('/../etc', relative).severity, 'fatal');
  assert.match(refusal('/../etc', relative).message, /absolute/);
  // stripped, the ".." is what is left, and the member is skipped
  const stripped = refusal('/../etc', strip);
  assert.equal(stripped.code, 'P2V_ENTRY_UNSAFE');
  assert.equal(stripped.severity, 'skipped');
  assert.equal(refusal('//a/..', strip).severity, 'skipped');
});

test('depth limit: counted in real components ("." and empty ones do not count)', () => {
  const policy: PathPolicy = { stripAbsolute: true, maxPathDepth: 3 };
  assert.deepEqual(memberComponents('a/b/c', policy), ['a', 'b', 'c']);
  assert.deepEqual(memberComponents('./a/./b//c/.', policy), ['a', 'b', 'c']);
  assert.deepEqual(memberComponents('/a/b/c/', policy), ['a', 'b', 'c']);
  for (const name of ['a/b/c/d', './a/b/c/d/', '/a/b/c/d']) {
    const error = refusal(name, policy);
    assert.equal(error.code, 'P2V_LIMIT', name);
    assert.equal(error.severity, 'skipped', name);
    assert.match(error.message, /4 components deep \(limit 3\)/);
  }
  // a ".." is refused as such, not as a depth problem
  assert.equal(refusal('a/b/c/d/..', policy).code, 'P2V_ENTRY_UNSAFE');

  // the default-sized limit against a hostile name (node-tar CVE-2024-28863): refused quickly,
  // and the entry named in the error is cut to a printable length
  const deep = 'x/'.repeat(100_000);
  const started = performance.now();
  const error = refusal(deep, { stripAbsolute: false, maxPathDepth: 1024 });
  assert.ok(performance.now() - started < 1000, 'refused in well under a second');
  assert.equal(error.code, 'P2V_LIMIT');
  assert.ok(error.details.entry!.length <= 200, `entry cut to 200 characters, got ${error.details.entry!.length}`);
  assert.deepEqual(memberComponents('x/'.repeat(1024), { stripAbsolute: false, maxPathDepth: 1024 }).length, 1024);
  assert.equal(refusal('x/'.repeat(1025), { stripAbsolute: false, maxPathDepth: 1024 }).code, 'P2V_LIMIT');
  // a depth limit of 0 leaves only the root itself
  assert.deepEqual(memberComponents('./', { stripAbsolute: false, maxPathDepth: 0 }), []);
  assert.equal(refusal('a', { stripAbsolute: false, maxPathDepth: 0 }).code, 'P2V_LIMIT');
});

test('the entry in an error is the display form (UTF-8 decoded) of the byte-string name', () => {
  const name = '../caf\xc3\xa9';
  assert.equal(refusal(name, relative).details.entry, '../café');
  assert.equal(refusal('/caf\xc3\xa9', relative).details.entry, '/café');
});

test('a component is never "", ".", ".." or contains "/"', () => {
  // generated names over a small alphabet: every accepted result obeys the invariant
  const alphabet = ['', '.', '..', 'a', '/', '//', '...'];
  const seen = new Set<string>();
  const build = (parts: number, prefix: string): void => {
    if (parts === 0) {
      if (seen.has(prefix)) return;
      seen.add(prefix);
      for (const policy of [relative, strip]) {
        let components: string[];
        try {
          components = memberComponents(prefix, policy);
        } catch (error) {
          assert.ok(isP2VError(error), `${JSON.stringify(prefix)}: ${String(error)}`);
          const hasDotDot = prefix.split('/').includes('..');
          const absolute = prefix.startsWith('/');
          assert.ok(hasDotDot || (absolute && !policy.stripAbsolute), `${JSON.stringify(prefix)} refused without reason: ${error.message}`);
          continue;
        }
        for (const c of components) assert.ok(c !== '' && c !== '.' && c !== '..' && !c.includes('/'), `${JSON.stringify(prefix)} → ${JSON.stringify(components)}`);
        assert.ok(!prefix.split('/').includes('..'), `${JSON.stringify(prefix)} accepted with ".."`);
        assert.deepEqual(components, prefix.split('/').filter((c) => c !== '' && c !== '.'));
      }
      return;
    }
    for (const piece of alphabet) build(parts - 1, prefix + piece);
  };
  build(5, '');
  assert.ok(seen.size > 1000);
});
