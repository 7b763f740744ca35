/**
 * Which members a re-run may pass over (src/extract/partial-trust.ts): not what differs nor
 * anything beneath it, not a directory above it, not a hard-link group with a name that differs
 * or lies beneath what differs - with a few differences and with many (two ways of looking).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IndexRecord } from '../../../src/store/content-index.js';
import { TrustedRecords } from '../../../src/extract/partial-trust.js';

const link = (path: string, linkPath: string): IndexRecord => ({ path, type: 'hardlink', size: 0, mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, linkPath });

for (const padding of [0, 100]) {
  test(`trusted members, ${padding === 0 ? 'a few differences' : 'many differences'}`, () => {
    // (padding: more differing paths, elsewhere, to pass the few-differences shortcut)
    const differing = new Set(['usr/bin/ls', 'opt/pkg', 'var/x/f', ...Array.from({ length: padding }, (_, i) => `zz/p${i}`)]);
    const links = [link('usr/lib/l1', 'usr/lib/target'), link('usr/sbin/l2', 'usr/bin/ls'), link('etc/l3', 'opt/pkg/inner/t'), link('etc/l4', 'etc/t4')];
    const trust = new TrustedRecords(differing, links);
    const expect: [string, boolean][] = [
      ['usr/bin/ls', false], // differs
      ['usr/bin', false], // holds it
      ['usr', false],
      ['usr/bin/ls2', true], // a neighbour whose name starts the same
      ['usr/bin/l', true],
      ['usr/bin/cat', true],
      ['opt/pkg', false],
      ['opt/pkg/inner/t', false], // beneath what differs
      ['opt/pkgs/x', true],
      ['opt', false],
      ['var/x/f', false],
      ['var/x/f/g', false], // a file that became a directory: beneath it too
      ['var/x', false],
      ['var/y', true],
      ['usr/sbin/l2', false], // a link to what differs
      ['usr/sbin', false], // and it holds that link now
      ['etc/l3', false], // a link to something beneath what differs
      ['etc', false],
      ['etc/l4', true], // a group untouched
      ['etc/t4', true],
      ['usr/lib/l1', true],
      ['usr/lib/target', true],
      ['usr/lib', true],
    ];
    for (const [path, trusted] of expect) assert.equal(trust.trusts(path), trusted, path);
  });
}
