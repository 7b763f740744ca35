/**
 * Attacks B.2 #1, #2, #3 inside a Solaris flash archive — the flar wrapper case.
 *
 *   FlAsH-aRcHiVe-2.0 / identification / … / section_begin=archive, then a cpio (or pax)
 *   payload whose members are named `../x`, `../outside/secret`, `a/../../outside/secret`, an
 *   absolute host path, or go through a symlink to outside.
 *
 * A flar is text sections around an ordinary archive; the payload is read through the same
 * format layers (context.openNested) and must reach the same writer with the same policy: an
 * extractor that trusts "the installer made this" or applies its checks only at the top level
 * writes where the payload says. Must: ".." members skipped with a warning, absolute names
 * refused (the illumos installer's e_absolute_archive) or stripped on request, links resolved
 * in the root; nothing beside the root changes, whatever the payload's archiver.
 * Anchors: security.md B.2 test advice ("run each case once per input format (tar/pax, cpio
 * odc/newc/bin, flar wrapper)"); illumos common.ksh e_absolute_archive; flash_archive(4).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { clearRoot, expectError, expectReport, expectWarning, extractHostile, FORMATS, inRoot, listRoot } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';
import { tarFromMembers } from '../helpers/tar-from-members.js';
import { paxMember, tarArchive } from '../helpers/tar-writer.js';

/** A flash archive: cookie, identification (+ a user section), then the payload as is. */
function flar(payload: Uint8Array, method: 'cpio' | 'pax'): Uint8Array {
  const identification = [
    'cookie=FlAsH-aRcHiVe-2.0',
    'archive_id=5ec0ffee',
    `files_archived_method=${method}`,
    'files_compressed_method=none',
    `files_archived_size=${payload.length}`,
    'creation_date=20110711123456',
    'creation_master=sunbox',
    'content_name=hostile',
    'type=FULL',
  ];
  const text = ['FlAsH-aRcHiVe-2.0', 'section_begin=identification', ...identification, 'section_end=identification', 'section_begin=X-site', 'owner=nobody', 'section_end=X-site', 'section_begin=archive', ''].join('\n');
  return Buffer.concat([Buffer.from(text, 'latin1'), payload]);
}

const DOTDOT = ['../x', '../outside/secret', 'a/../../outside/secret', './../outside/dir/keep', '..'];

function dotdotMembers(): CpioMember[] {
  const members: CpioMember[] = [{ name: 'first', type: 'file', data: 'ok' }];
  DOTDOT.forEach((name, i) => members.push({ name, type: 'file', data: 'EVIL', mode: 0o4777 }, { name: `after${i}`, type: 'file', data: 'ok' }));
  return members;
}

const throughLink = (box: Sandbox): CpioMember[] => [
  { name: 'localetc', type: 'symlink', target: box.outside },
  { name: 'localetc/secret', type: 'file', data: 'EVIL' },
  { name: 'up', type: 'symlink', target: '../..' },
  { name: 'up/outside/dir/keep', type: 'file', data: 'EVIL' },
];

/** Every payload the flar can carry: the cpio families, and pax (ustar + pax records). */
const payloads: Array<{ label: string; method: 'cpio' | 'pax'; build(members: CpioMember[]): Uint8Array }> = [
  ...FORMATS.map((format) => ({ label: `cpio ${format}`, method: 'cpio' as const, build: (members: CpioMember[]) => cpioArchive(members, { format }) })),
  { label: 'pax', method: 'pax', build: (members) => tarFromMembers(members, 'pax') },
];

for (const payload of payloads) {
  describe(`flar around a hostile ${payload.label} payload`, () => {
    test('".." members are skipped with a warning; the rest of the payload is extracted', async () => {
      await withSandbox(`flar-dotdot-${payload.label}`, async (box) => {
        const members = dotdotMembers();
        for (const chunkBytes of [undefined, 13]) {
          clearRoot(box.root);
          const report = expectReport(await extractHostile(flar(payload.build(members), payload.method), box.root, { chunkBytes }));
          assert.equal(report.chain[0], 'flar', JSON.stringify(report.chain));
          for (const name of DOTDOT) expectWarning(report, name, ['P2V_ENTRY_UNSAFE'], name);
          assert.deepEqual(listRoot(box.root), members.filter((m) => !DOTDOT.includes(m.name as string)).map((m) => m.name as string).sort());
          box.assertUnchanged(`chunks of ${chunkBytes ?? 'all'}`);
        }
      });
    });

    test('absolute names refuse the image; with stripAbsolute they land inside the root', async () => {
      await withSandbox(`flar-abs-${payload.label}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'first', type: 'file', data: 'ok' },
          { name: box.secret, type: 'file', data: 'EVIL' },
          { name: `//${box.sentinelDir}/keep`, type: 'file', data: 'EVIL' },
        ];
        const bytes = flar(payload.build(members), payload.method);
        expectError(await extractHostile(bytes, box.root), ['P2V_ENTRY_UNSAFE']);
        box.assertUnchanged('refused');
        clearRoot(box.root);
        expectReport(await extractHostile(bytes, box.root, { stripAbsolute: true }));
        assert.equal(fs.readFileSync(inRoot(box.root, box.secret), 'utf8'), 'EVIL');
        assert.equal(fs.readFileSync(inRoot(box.root, `${box.sentinelDir}/keep`), 'utf8'), 'EVIL');
      });
    });

    test('members through a symlink to outside resolve inside the root', async () => {
      await withSandbox(`flar-symlink-${payload.label}`, async (box) => {
        expectReport(await extractHostile(flar(payload.build(throughLink(box)), payload.method), box.root));
        assert.equal(fs.readFileSync(inRoot(box.root, `${box.outside}/secret`), 'utf8'), 'EVIL');
        assert.equal(fs.readFileSync(inRoot(box.root, 'outside/dir/keep'), 'utf8'), 'EVIL');
      });
    });
  });
}

test('flar around a pax payload whose pax path records carry ".." and absolute names', async () => {
  await withSandbox('flar-pax-records', async (box) => {
    const members = [
      paxMember('x', [['path', '../outside/secret']]),
      { name: 'harmless', data: 'EVIL' },
      paxMember('x', [['linkpath', '../outside/secret']]),
      { name: 'link', typeflag: '1', linkname: 'harmless' },
      { name: 'after', data: 'ok' },
    ];
    const report = expectReport(await extractHostile(flar(tarArchive(members), 'pax'), box.root));
    expectWarning(report, '../outside/secret', ['P2V_ENTRY_UNSAFE']);
    expectWarning(report, 'link', ['P2V_ENTRY_UNSAFE']);
    assert.deepEqual(listRoot(box.root), ['after']);
    clearRoot(box.root);
    const absolute = [paxMember('x', [['path', box.secret]]), { name: 'harmless', data: 'EVIL' }];
    expectError(await extractHostile(flar(tarArchive(absolute), 'pax'), box.root), ['P2V_ENTRY_UNSAFE']);
  });
});
