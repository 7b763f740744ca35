/**
 * Names that are not UTF-8, and their UTF-8 "repair" as a second name (found while writing the
 * xattr tests; a sibling of B.2 #11, where two spellings meet on one file system).
 *
 *   Symlink "\xef\xbf\xbd" -> /outside      (the UTF-8 bytes of U+FFFD)
 *   Dir "\xff" ; FIFO "\xff/p"               (0xff is not UTF-8)
 *
 * Solaris names are bytes. Any step that carries a name as text decodes 0xff to U+FFFD and
 * encodes it back as ef bf bd: another name. Node does that to every argument of a child
 * process, Buffers included, so `mkfifo <root>/\xff/p` ran as `mkfifo <root>/\xef\xbf\xbd/p`
 * and followed the planted link: the FIFO (as root, a device node) was made beside the root.
 * Must: every name reaches the file system as its exact bytes; nothing is made through the
 * "repaired" twin; the member lands at its own bytes or is skipped.
 * Anchors: node-tar CVE-2021-37712 (two spellings of one name defeat a check); Node's
 * child_process argument encoding; src/extract/special-nodes.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { clearRoot, expectReport, extractHostile, FORMATS } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';
import { TAR_FLAVOURS, tarFromMembers } from '../helpers/tar-from-members.js';
import { isRoot } from '../helpers/tools.js';

const FF = Buffer.from([0xff]);
const TWIN = Buffer.from([0xef, 0xbf, 0xbd]); // what 0xff becomes through a UTF-8 round trip
const bytes = (...parts: Array<Buffer | string>) => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));

/** Exact-byte lstat below the root. */
function lstatBytes(root: string, ...parts: Array<Buffer | string>): fs.Stats | undefined {
  try {
    return fs.lstatSync(Buffer.concat([Buffer.from(`${root}/`), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))]));
  } catch {
    return undefined;
  }
}

const builds: Array<{ label: string; build(members: CpioMember[]): Uint8Array }> = [
  ...FORMATS.map((format) => ({ label: `cpio ${format}`, build: (m: CpioMember[]) => cpioArchive(m, { format }) })),
  ...TAR_FLAVOURS.map((flavour) => ({ label: `tar ${flavour}`, build: (m: CpioMember[]) => tarFromMembers(m, flavour) })),
];

const nodes: Array<{ type: 'fifo' | 'char' | 'block'; extra: Partial<CpioMember>; is(st: fs.Stats): boolean }> = [
  { type: 'fifo', extra: { mode: 0o4666 }, is: (st) => st.isFIFO() },
  ...(isRoot()
    ? [
        { type: 'char' as const, extra: { rdevMajor: 1, rdevMinor: 3, mode: 0o666 }, is: (st: fs.Stats) => st.isCharacterDevice() },
        { type: 'block' as const, extra: { rdevMajor: 7, rdevMinor: 200, mode: 0o600 }, is: (st: fs.Stats) => st.isBlockDevice() },
      ]
    : []),
];

function trap(to: string): CpioMember[] {
  return [
    { name: bytes(TWIN), type: 'symlink', target: to },
    { name: bytes(FF), type: 'dir' },
  ];
}

for (const { label, build } of builds) {
  describe(`non-UTF-8 names and their UTF-8 twins (${label})`, () => {
    for (const node of nodes) {
      test(`${node.type}: made at its own bytes, never through the twin`, async () => {
        await withSandbox(`utf8-${node.type}-${label}`, async (box) => {
          for (const to of [box.outside, '../outside', box.sentinelDir]) {
            clearRoot(box.root);
            const members: CpioMember[] = [
              ...trap(to),
              // under the non-UTF-8 directory, and itself non-UTF-8 beside its twin
              { name: bytes(FF, '/p'), type: node.type, ...node.extra },
              { name: bytes(FF, '/q', FF), type: node.type, ...node.extra },
              { name: bytes('n', FF), type: node.type, ...node.extra },
              { name: bytes('n', TWIN), type: 'symlink', target: box.secret },
            ];
            const report = expectReport(await extractHostile(build(members), box.root, { devices: true }), to);
            for (const parts of [[FF, '/p'], [FF, '/q', FF], ['n', FF]] as Array<Array<Buffer | string>>) {
              const st = lstatBytes(box.root, ...parts);
              assert.ok(st && node.is(st), `${to}: ${node.type} at ${Buffer.concat(parts.map((p) => Buffer.from(p))).toString('hex')} (${JSON.stringify(report.warnings)})`);
            }
            assert.ok(lstatBytes(box.root, TWIN)!.isSymbolicLink(), 'the twin link is still a link');
            assert.ok(lstatBytes(box.root, 'n', TWIN)!.isSymbolicLink(), 'the twin of n is still a link');
            assert.deepEqual(
              fs.readdirSync(box.root, { encoding: 'buffer' }).filter((n) => n.toString('latin1').startsWith('.zonep2v-')),
              [],
              'no temporary name left',
            );
            box.assertUnchanged(to);
          }
        });
      });
    }

    test('files, directories and symlinks under the non-UTF-8 directory stay at their bytes', async () => {
      await withSandbox(`utf8-other-${label}`, async (box) => {
        const members: CpioMember[] = [
          ...trap(box.outside),
          { name: bytes(FF, '/secret'), type: 'file', data: 'EVIL' },
          { name: bytes(FF, '/big'), type: 'file', data: 'B'.repeat(300 * 1024) },
          { name: bytes(FF, '/dir'), type: 'dir', mode: 0o777 },
          { name: bytes(FF, '/l'), type: 'symlink', target: '/' },
        ];
        expectReport(await extractHostile(build(members), box.root));
        assert.equal(fs.readFileSync(Buffer.concat([Buffer.from(`${box.root}/`), FF, Buffer.from('/secret')]), 'utf8'), 'EVIL');
        assert.ok(lstatBytes(box.root, FF, '/big')!.isFile());
        assert.equal(lstatBytes(box.root, FF, '/dir')!.mode & 0o7777, 0o777);
        assert.ok(lstatBytes(box.root, FF, '/l')!.isSymbolicLink());
        assert.deepEqual(fs.readdirSync(path.join(box.outside)).sort(), ['dir', 'secret', 'secret-link']);
      });
    });
  });
}
