/**
 * Attack B.2 #19 (parser differentials), #1 and #2 in tar — a pax `path` record overriding the
 * safe name in the ustar header.
 *
 *   x: path=../outside/secret      then a header named "harmless.txt"
 *
 * The header a naive tool (or a reviewer's `tar tvf` with a reader that skips pax) shows is
 * harmless; the name the extractor uses is the pax one. An extractor must apply the same checks
 * to the name it actually uses — whichever of pax `path` (per member `x`, Sun `X`, or global
 * `g`), GNU `L` long name, `GNU.sparse.name` or the header wins — and define that precedence
 * once. Malformed records (a NUL inside the path, a record longer than the header) must fail the
 * archive, not be skipped or truncated into a different name.
 * Must: the effective name is checked like any name (".." skipped with a warning, absolute
 * refused unless --strip-absolute); the header name is NOT created in its place; nothing beside
 * the root changes.
 * Anchors: astral-tokio-tar advisory (pax/ustar name differential); node-tar commits 7a635c2,
 * 21a8220, e02a4e9 (pax and long-name precedence); Go archive/tar (NUL in pax path values is
 * ErrHeader); security.md B.2 #19.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { clearRoot, expectError, expectReport, expectWarning, extractHostile, inRoot, listRoot } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';
import { paxMember, paxRecord, tarArchive, type TarMember } from '../helpers/tar-writer.js';

const HOSTILE = ['../outside/secret', 'a/../../outside/secret', './../outside/dir/new', '../../x', '..', 'a/..'];

const longName = (value: string): TarMember => ({ name: '././@LongLink', typeflag: 'L', flavour: 'gnu', data: `${value}\0` });

/** Ways of giving the next member (named "harmless.txt" in its header) the name `hostile`. */
const carriers: Array<{ label: string; members(hostile: string): TarMember[] }> = [
  { label: 'x path', members: (h) => [paxMember('x', [['path', h]])] },
  { label: 'Sun X path', members: (h) => [paxMember('X', [['path', h]])] },
  { label: 'g path (global)', members: (h) => [paxMember('g', [['path', h]])] },
  { label: 'GNU L long name', members: (h) => [longName(h)] },
  { label: 'x path after a safe one in the same header', members: (h) => [paxMember('x', [['path', 'safe-1'], ['path', h]])] },
  { label: 'x path after a safe GNU L', members: (h) => [longName('safe-2'), paxMember('x', [['path', h]])] },
  { label: 'GNU.sparse.name over a safe x path', members: (h) => [paxMember('x', [['path', 'safe-3'], ['GNU.sparse.name', h]])] },
  { label: 'two x headers: a safe one, then the hostile one', members: (h) => [paxMember('x', [['path', 'safe-4']]), paxMember('x', [['path', h]])] },
];

const types: Array<{ type: string; member: Partial<TarMember> }> = [
  { type: 'file', member: { typeflag: '0', data: 'EVIL', mode: 0o4777 } },
  { type: 'dir', member: { typeflag: '5', mode: 0o777 } },
  { type: 'symlink', member: { typeflag: '2', linkname: '/' } },
  { type: 'fifo', member: { typeflag: '6', mode: 0o666 } },
];

describe('pax path overriding a safe header name', () => {
  for (const carrier of carriers) {
    test(`${carrier.label}: ".." names are skipped, the header name is not used instead`, async () => {
      await withSandbox(`tar-paxpath-${carrier.label}`, async (box) => {
        for (const { type, member } of types) {
          clearRoot(box.root);
          const members: TarMember[] = [{ name: 'first', data: 'ok' }];
          for (const hostile of HOSTILE) members.push(...carrier.members(hostile), { name: 'harmless.txt', ...member });
          // a global path sticks: end it (empty value = delete) before the last member
          members.push(paxMember('g', [['path', '']]), { name: 'last', data: 'ok' });
          for (const chunkBytes of [undefined, 7]) {
            clearRoot(box.root);
            const label = `${carrier.label}, ${type}, chunks of ${chunkBytes ?? 'all'}`;
            const report = expectReport(await extractHostile(tarArchive(members), box.root, { chunkBytes }), label);
            for (const hostile of HOSTILE) expectWarning(report, hostile, ['P2V_ENTRY_UNSAFE'], `${label}: ${hostile}`);
            assert.deepEqual(listRoot(box.root), ['first', 'last'], `${label}: nothing else (the header name is not a fallback)`);
            box.assertUnchanged(label);
          }
        }
      });
    });

    test(`${carrier.label}: an absolute name is refused, or stripped into the root`, async () => {
      await withSandbox(`tar-paxpath-abs-${carrier.label}`, async (box) => {
        const members = [...carrier.members(box.secret), { name: 'harmless.txt', data: 'EVIL' }];
        expectError(await extractHostile(tarArchive(members), box.root), ['P2V_ENTRY_UNSAFE'], carrier.label);
        box.assertUnchanged(`${carrier.label}, refused`);
        clearRoot(box.root);
        expectReport(await extractHostile(tarArchive(members), box.root, { stripAbsolute: true }), carrier.label);
        assert.equal(fs.readFileSync(inRoot(box.root, box.secret), 'utf8'), 'EVIL', `${carrier.label}: inside the root`);
        assert.equal(fs.existsSync(path.join(box.root, 'harmless.txt')), false);
      });
    });
  }

  test('the reverse: a safe pax path over a hostile header name (and a hostile GNU L) is what is extracted', async () => {
    await withSandbox('tar-paxpath-reverse', async (box) => {
      const members: TarMember[] = [
        paxMember('x', [['path', 'safe-a']]),
        { name: '../outside/secret', data: 'A' },
        longName('../outside/secret'),
        paxMember('x', [['path', 'safe-b']]),
        { name: '../outside/dir/keep', data: 'B' },
        // prefix field + name joined: "../outside" + "/" + "secret" — overridden too
        paxMember('x', [['path', 'safe-c']]),
        { name: 'secret', prefix: '../outside', data: 'C' },
      ];
      const report = expectReport(await extractHostile(tarArchive(members), box.root));
      assert.deepEqual(report.warnings, []);
      assert.deepEqual(listRoot(box.root), ['safe-a', 'safe-b', 'safe-c']);
    });
  });

  test('a symlink renamed by pax, then a file through it: resolved in the root', async () => {
    await withSandbox('tar-paxpath-symlink', async (box) => {
      const members: TarMember[] = [
        paxMember('x', [['path', 'l']]),
        { name: 'harmless', typeflag: '2', linkname: box.outside },
        paxMember('x', [['path', 'l/secret']]),
        { name: 'harmless.txt', data: 'EVIL' },
      ];
      expectReport(await extractHostile(tarArchive(members), box.root));
      assert.equal(fs.readFileSync(inRoot(box.root, `${box.outside}/secret`), 'utf8'), 'EVIL');
    });
  });

  test('malformed path records fail the archive: a NUL inside, a length past the header, an over-long length', async () => {
    await withSandbox('tar-paxpath-malformed', async (box) => {
      const enc = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
      const bodies: Array<[string, Uint8Array]> = [
        ['NUL inside the path', paxRecord('path', enc('safe\0../../outside/secret'))],
        ['NUL at the end of the path', paxRecord('path', enc('../outside/secret\0'))],
        ['length past the header', enc('99 path=../outside/secret\n')],
        ['length short of the newline', enc('20 path=../outside/secret\n')],
        ['no length', enc(' path=../outside/secret\n')],
        ['seventeen digits of length', enc('00000000000000030 path=../outside/secret\n')],
        ['a record without "="', enc('25 path../outside/secret\n')],
        ['data after the NUL padding', new Uint8Array([...paxRecord('path', 'ok'), 0, 0x41])],
      ];
      for (const [label, body] of bodies) {
        clearRoot(box.root);
        const members: TarMember[] = [{ name: 'PaxHeaders/x', typeflag: 'x', data: body }, { name: 'harmless.txt', data: 'EVIL' }];
        for (const chunkBytes of [undefined, 5]) {
          expectError(await extractHostile(tarArchive(members), box.root, { chunkBytes }), ['P2V_BAD_ARCHIVE'], label);
          assert.deepEqual(listRoot(box.root), [], `${label}: nothing extracted under either name`);
          box.assertUnchanged(label);
        }
      }
    });
  });

  test('an x header not followed by a member (end of archive) is an error, not applied to nothing', async () => {
    await withSandbox('tar-paxpath-dangling', async (box) => {
      const members: TarMember[] = [{ name: 'ok', data: 'ok' }, paxMember('x', [['path', '../outside/secret']])];
      expectError(await extractHostile(tarArchive(members), box.root), ['P2V_BAD_ARCHIVE']);
    });
  });
});
