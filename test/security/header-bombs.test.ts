/**
 * Attack B.2 #15 (cpio part) — huge declared sizes and header bombs.
 *
 * A few hundred bytes of cpio can declare a 4 GiB name (newc `namesize = 0xFFFFFFFF`), an
 * 8 GiB body (odc's 11 octal digits), a 4 GiB symlink target or Solaris side entry that a
 * reader would buffer whole, or a body longer than the bytes that follow. Must: refuse
 * metadata above a cap before allocating, read bodies in bounded chunks, reject malformed
 * numbers, report truncation as an error (P2VError, not a crash, an out-of-memory or a hang),
 * and leave no partial file behind.
 * Anchors: libarchive CPIO_PATHNAME_MAX (1 MiB) in archive_read_support_format_cpio.c; Go
 * CVE-2022-2879 (1 MiB header cap, golang/go#54853); node-tar maxMetaEntrySize and commit
 * 9e78bf0 (negative sizes); GNU tar CVE-2022-48303 (over-read in a header field parse).
 * Bombs of the compression layer (B.2 #16) belong to the filter tests.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember, type CpioWriteFormat } from '../helpers/cpio-writer.js';
import { assertNoTemporaries, clearRoot, expectError, extractHostile, FORMATS, listRoot } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

/** The largest value each format's field can declare. */
const maxNameSize: Record<CpioWriteFormat, number> = { newc: 0xffffffff, crc: 0xffffffff, odc: 0o777777, 'bin-le': 0xffff, 'bin-be': 0xffff };
const maxFileSize: Record<CpioWriteFormat, number> = { newc: 0xffffffff, crc: 0xffffffff, odc: 0o77777777777, 'bin-le': 0xffffffff, 'bin-be': 0xffffffff };

const TIME_LIMIT_MS = 20_000;

interface Bomb {
  name: string;
  members(format: CpioWriteFormat): CpioMember[];
  trailer?: boolean;
  codes: string[];
}

const bombs: Bomb[] = [
  {
    name: 'namesize at the field maximum, the archive ends after the header',
    members: (f) => [{ name: 'x', type: 'file', data: 'x', nameSizeOverride: maxNameSize[f] }],
    trailer: false,
    codes: ['P2V_LIMIT', 'P2V_BAD_ARCHIVE'],
  },
  {
    name: 'namesize at the field maximum, followed by a trailer',
    members: (f) => [{ name: 'x', type: 'file', data: 'x', nameSizeOverride: maxNameSize[f] }],
    codes: ['P2V_LIMIT', 'P2V_BAD_ARCHIVE'],
  },
  {
    name: 'namesize 0',
    members: () => [{ name: 'x', type: 'file', data: 'x', nameSizeOverride: 0 }],
    codes: ['P2V_BAD_ARCHIVE'],
  },
  {
    name: 'file size at the field maximum, ten bytes of data, no trailer',
    members: (f) => [{ name: 'huge', type: 'file', data: '0123456789', fileSizeOverride: maxFileSize[f] }],
    trailer: false,
    codes: ['P2V_BAD_ARCHIVE'],
  },
  {
    name: 'file size just above the small-file batch (300 KiB), ten bytes of data',
    members: () => [{ name: 'mid', type: 'file', data: '0123456789', fileSizeOverride: 300 * 1024 }],
    trailer: false,
    codes: ['P2V_BAD_ARCHIVE'],
  },
  {
    name: 'small declared size (1000) larger than the data, trailer bytes read as body',
    members: () => [{ name: 'small', type: 'file', data: '0123456789', fileSizeOverride: 1000 }],
    codes: ['P2V_BAD_ARCHIVE'],
  },
  {
    name: 'symlink target declared at the field maximum',
    members: (f) => [{ name: 'l', type: 'symlink', target: '/x', fileSizeOverride: maxFileSize[f] }],
    trailer: false,
    codes: ['P2V_LIMIT', 'P2V_BAD_ARCHIVE'],
  },
  {
    name: 'directory with a declared body at the field maximum',
    members: (f) => [{ name: 'd', type: 'dir', fileSizeOverride: maxFileSize[f] }],
    trailer: false,
    codes: ['P2V_BAD_ARCHIVE'],
  },
  {
    name: 'Solaris ACL side entry (mode 0o160200) declaring a huge body',
    members: (f) => [{ name: 'f', type: 'file', rawMode: 0o160200, data: 'x', fileSizeOverride: maxFileSize[f] }, { name: 'f', type: 'file', data: 'f' }],
    trailer: false,
    codes: ['P2V_LIMIT', 'P2V_BAD_ARCHIVE'],
  },
  {
    name: 'Solaris extended-attribute header (/dev/null/…hdr) declaring a huge body',
    members: (f) => [{ name: '/dev/null/attr.hdr', type: 'file', rawMode: 0o130644, data: 'x', fileSizeOverride: maxFileSize[f] }],
    trailer: false,
    codes: ['P2V_LIMIT', 'P2V_BAD_ARCHIVE'],
  },
  {
    name: 'hard-link group member with a huge body (held, then skipped)',
    members: (f) => [{ name: 'h', type: 'file', data: 'x', ino: 9, nlink: 2, fileSizeOverride: maxFileSize[f] }],
    trailer: false,
    codes: ['P2V_BAD_ARCHIVE'],
  },
];

/** Corrupt one header byte of the first member: a non-digit in a numeric field. */
function corrupt(bytes: Uint8Array, format: CpioWriteFormat): Uint8Array {
  const out = Uint8Array.from(bytes);
  if (format === 'newc' || format === 'crc') out[54] = 0x47; // 'G' in filesize
  else if (format === 'odc') out[66] = 0x39; // '9' is not octal
  else return out; // bin: every 16-bit value is a number
  return out;
}

for (const format of FORMATS) {
  describe(`header bombs (${format})`, () => {
    for (const bomb of bombs) {
      test(bomb.name, { timeout: 60_000 }, async () => {
        await withSandbox(`bomb-${format}`, async (box) => {
          const bytes = cpioArchive(bomb.members(format), { format, trailer: bomb.trailer ?? true });
          assert.ok(bytes.length < 4096, 'the bomb itself is small');
          for (const chunkBytes of [undefined, 13]) {
            clearRoot(box.root);
            const started = performance.now();
            const rssBefore = process.memoryUsage().rss;
            const outcome = await extractHostile(bytes, box.root, { chunkBytes, timeoutMs: TIME_LIMIT_MS });
            const error = expectError(outcome, bomb.codes, `${bomb.name}${chunkBytes ? ' (13-byte reads)' : ''}`);
            assert.ok(error.oneLine().length > 0);
            assert.ok(performance.now() - started < TIME_LIMIT_MS);
            assert.ok(process.memoryUsage().rss - rssBefore < 512 * 1024 * 1024, 'no huge allocation');
            // no partial file of the truncated member, no temporaries
            assertNoTemporaries(box.root);
            for (const rel of listRoot(box.root)) {
              const st = fs.lstatSync(path.join(box.root, rel));
              if (st.isFile()) assert.ok(st.size <= 10, `${rel}: no partial body of a truncated member (${st.size} bytes)`);
            }
          }
        });
      });
    }

    test('a non-digit in a numeric header field is a P2V_BAD_ARCHIVE', { skip: format.startsWith('bin') ? 'bin headers are binary words' : false }, async () => {
      await withSandbox(`bomb-digits-${format}`, async (box) => {
        const bytes = corrupt(cpioArchive([{ name: 'x', type: 'file', data: 'x' }], { format }), format);
        expectError(await extractHostile(bytes, box.root), ['P2V_BAD_ARCHIVE']);
      });
    });

    test('a member name longer than maxPathBytes is refused before it is read', async () => {
      await withSandbox(`bomb-longname-${format}`, async (box) => {
        const name = 'n/'.repeat(1000) + 'x'; // 2001 bytes
        const bytes = cpioArchive([{ name, type: 'file', data: 'x' }], { format });
        expectError(await extractHostile(bytes, box.root, { limits: { maxPathBytes: 1024 } }), ['P2V_LIMIT']);
        assert.deepEqual(listRoot(box.root), []);
      });
    });
  });
}
