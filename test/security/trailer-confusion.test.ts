/**
 * Attack B.2 #19 (cpio part) — parser differentials around TRAILER!!! and member names.
 *
 * cpio has no end-of-archive marker other than a member NAMED "TRAILER!!!". If two readers
 * disagree on what ends the archive (the name alone, or the name plus a type/size; a name with
 * bytes after its NUL; an archive read in odd-sized pieces so a header straddles reads), a
 * reviewer's tool and the extractor see different member lists, and members "after the end"
 * are written by one and not listed by the other. Must: one explicit rule (we follow GNU cpio
 * and libarchive: the name "TRAILER!!!" ends the archive, whatever its type; names end at the
 * first NUL), and the same result whatever the read sizes; nothing after the end is written.
 * Anchors: libarchive test_read_format_cpio_symlink_trailer.c (a symlink named TRAILER!!!, read
 * in 13-byte blocks to force buffer reallocation); the cpio trailer problem
 * (codercto.com/a/115974.html); astral-tokio-tar advisory (parser differential).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { clearRoot, expectError, expectReport, extractHostile, FORMATS, listRoot, type HostileOptions } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';

const READS: (number | undefined)[] = [undefined, 13, 1];

/** Members that must never be written: they follow the end of the archive. */
function afterTheEnd(box: Sandbox): CpioMember[] {
  return [
    { name: 'after-end', type: 'file', data: 'AFTER' },
    { name: 'l', type: 'symlink', target: box.outside },
    { name: 'l/secret', type: 'file', data: 'EVIL' },
    { name: '../outside/secret', type: 'file', data: 'EVIL' },
  ];
}

const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));

for (const format of FORMATS) {
  describe(`TRAILER!!! and name confusion (${format})`, () => {
    const run = async (box: Sandbox, bytes: Uint8Array, options: HostileOptions = {}) => {
      const results: string[][] = [];
      for (const chunkBytes of READS) {
        clearRoot(box.root);
        expectReport(await extractHostile(bytes, box.root, { ...options, chunkBytes }), `reads of ${chunkBytes ?? 'all'} bytes`);
        results.push(listRoot(box.root));
        box.assertUnchanged(`reads of ${chunkBytes ?? 'all'} bytes`);
      }
      // the same member list whatever the read sizes
      for (const r of results) assert.deepEqual(r, results[0]);
      return results[0]!;
    };

    test('a symlink named TRAILER!!! ends the archive; nothing after it is written', async () => {
      await withSandbox(`trailer-symlink-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'before', type: 'file', data: 'B' },
          { name: 'TRAILER!!!', type: 'symlink', target: box.outside },
          ...afterTheEnd(box),
        ];
        assert.deepEqual(await run(box, cpioArchive(members, { format })), ['before']);
      });
    });

    test('TRAILER!!! as a file with data, a directory, a FIFO: the name ends the archive', async () => {
      await withSandbox(`trailer-types-${format}`, async (box) => {
        for (const trailer of [
          { name: 'TRAILER!!!', type: 'file', data: 'x'.repeat(1000) },
          { name: 'TRAILER!!!', type: 'dir' },
          { name: 'TRAILER!!!', type: 'fifo' },
          { name: 'TRAILER!!!', type: 'file', ino: 5, nlink: 2 },
        ] as CpioMember[]) {
          const members: CpioMember[] = [{ name: 'before', type: 'file', data: 'B' }, trailer, ...afterTheEnd(box)];
          assert.deepEqual(await run(box, cpioArchive(members, { format })), ['before'], trailer.type);
        }
      });
    });

    test('names end at the first NUL: "TRAILER!!!\\0…" ends the archive, "safe\\0/../../x" is "safe"', async () => {
      await withSandbox(`trailer-nul-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: bytesOf('safe\0/../../outside/secret'), type: 'file', data: 'SAFE' },
          { name: bytesOf('\0../outside/secret'), type: 'file', data: 'ROOT?' },
          { name: bytesOf('TRAILER!!!\0junk'), type: 'file' },
          ...afterTheEnd(box),
        ];
        assert.deepEqual(await run(box, cpioArchive(members, { format })), ['safe']);
        assert.equal(fs.readFileSync(path.join(box.root, 'safe'), 'utf8'), 'SAFE');
      });
    });

    test('look-alike names are ordinary members inside the root', async () => {
      await withSandbox(`trailer-lookalike-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: './TRAILER!!!', type: 'file', data: 'dot' },
          { name: 'TRAILER!!!/', type: 'dir' },
          { name: 'trailer!!!', type: 'file', data: 'lower' },
          { name: 'TRAILER!!! ', type: 'file', data: 'space' },
          { name: 'after', type: 'file', data: 'A' },
        ];
        const listed = await run(box, cpioArchive(members, { format }));
        assert.ok(listed.includes('after'), `the archive did not end early: ${JSON.stringify(listed)}`);
        assert.ok(listed.includes('trailer!!!') && listed.includes('TRAILER!!! '));
      });
    });

    test('a second archive after the trailer (with hostile members) is ignored', async () => {
      await withSandbox(`trailer-second-${format}`, async (box) => {
        const first = cpioArchive([{ name: 'first', type: 'file', data: '1' }], { format });
        const second = cpioArchive(afterTheEnd(box), { format });
        const bytes = new Uint8Array(first.length + second.length);
        bytes.set(first, 0);
        bytes.set(second, first.length);
        assert.deepEqual(await run(box, bytes), ['first']);
      });
    });

    test('no trailer at all: what came before is kept, the truncation is a P2VError', async () => {
      await withSandbox(`trailer-missing-${format}`, async (box) => {
        const bytes = cpioArchive([{ name: 'a', type: 'file', data: 'A' }, { name: 'b', type: 'dir' }], { format, trailer: false });
        for (const chunkBytes of READS) {
          clearRoot(box.root);
          expectError(await extractHostile(bytes, box.root, { chunkBytes }), ['P2V_BAD_ARCHIVE'], `reads of ${chunkBytes ?? 'all'}`);
          assert.equal(fs.readFileSync(path.join(box.root, 'a'), 'utf8'), 'A', 'members before the truncation are on disk');
        }
      });
    });

    test('garbage where the next header should be is a P2VError, never a member', async () => {
      await withSandbox(`trailer-garbage-${format}`, async (box) => {
        const good = cpioArchive([{ name: 'a', type: 'file', data: 'A' }], { format, trailer: false });
        const garbage = bytesOf(`0707${'Z'.repeat(200)}../outside/secret\0`);
        const bytes = new Uint8Array(good.length + garbage.length);
        bytes.set(good, 0);
        bytes.set(garbage, good.length);
        expectError(await extractHostile(bytes, box.root), ['P2V_BAD_ARCHIVE']);
        assert.deepEqual(listRoot(box.root).filter((p) => p !== 'a'), []);
      });
    });
  });
}
