/**
 * Attack B.2 #15 in tar — huge extended headers and header bombs.
 *
 *   a 1.5 KiB archive whose pax `x` header declares 2^40 bytes; the same for `g`, Sun `X`,
 *   GNU `L`/`K` long names, Solaris `A` ACL and `E` attribute members; a run of headers that are
 *   each under the limit but add up past it; one header under the limit packed with ~175 000
 *   tiny records; records whose length or value is out of range; sparse maps with millions of
 *   regions.
 *
 * A reader that buffers a meta member before checking its size allocates whatever the header
 * says (tar-stream buffers up to a hard-coded 4 MiB; Go's CVE-2022-2879); one that trusts record
 * counts or lengths loops or overflows. Must: refuse a meta member over limits.maxMetaRecordBytes
 * (1 MiB, as libarchive and Go) with P2V_LIMIT before reading it, whatever the numeric encoding
 * (octal, base-256), cap the headers that pile up before one member together, report malformed
 * records as P2V_BAD_ARCHIVE — a P2VError every time, never a crash or a hang — and leave
 * nothing beside the root changed.
 * Anchors: Go CVE-2022-2879 (golang/go#54853, 1 MiB cap), CVE-2025-58183 / CVE-2026-32288
 * (sparse maps); libarchive and Go `maxSpecialFileSize = 1 << 20`; node-tar maxMetaEntrySize and
 * commit 9e78bf0 (negative sizes); CPython bounded extended-header reads (python/cpython#151498).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clearRoot, expectError, expectReport, expectWarning, extractHostile, listRoot } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';
import { concat, paxMember, paxRecord, solarisXattrHeader, tarArchive, tarHeader, type TarMember, type TarNumber } from '../helpers/tar-writer.js';

const MiB = 1024 * 1024;
const TERA = { base256: 1n << 40n };
const OCTAL_MAX = 0o77777777777; // 8 GiB - 1, the largest 11-digit octal size

/** A meta header that declares `size` but is followed by `present` bytes only, then a member. */
function lying(typeflag: string, size: TarNumber, present = 0, name = 'PaxHeaders/x'): Uint8Array {
  const header = tarHeader({ name, typeflag, size });
  return concat([header, new Uint8Array(present), tarArchive([{ name: 'after', data: 'EVIL' }])]);
}

const metaTypes: Array<[typeflag: string, label: string]> = [
  ['x', 'pax x'],
  ['g', 'pax g'],
  ['X', 'Sun X'],
  ['L', 'GNU L'],
  ['K', 'GNU K'],
  ['A', 'Solaris A (ACL)'],
];

describe('huge extended headers', () => {
  for (const [typeflag, label] of metaTypes) {
    test(`${label}: a declared size past the limit is refused before anything is read`, async () => {
      await withSandbox(`tar-huge-${typeflag}`, async (box) => {
        for (const [what, size] of [
          ['2^40 bytes (base-256)', TERA],
          ['8 GiB - 1 (octal)', OCTAL_MAX],
          ['1 MiB + 1', MiB + 1],
        ] as Array<[string, TarNumber]>) {
          for (const chunkBytes of [undefined, 13]) {
            clearRoot(box.root);
            const bytes = lying(typeflag, size, 1024);
            const started = performance.now();
            const error = expectError(await extractHostile(bytes, box.root, { chunkBytes, timeoutMs: 20_000 }), ['P2V_LIMIT'], `${label}, ${what}`);
            assert.equal(error.details.offset, 0, `${label}, ${what}: the error names the header`);
            assert.ok(performance.now() - started < 5_000, `${label}, ${what}: refused at once`);
            assert.deepEqual(listRoot(box.root), [], `${label}, ${what}: the member after it was not extracted`);
            box.assertUnchanged(`${label}, ${what}`);
          }
        }
      });
    });
  }

  test('the limit is the one given (limits.maxMetaRecordBytes), and a header at the limit is fine', async () => {
    await withSandbox('tar-huge-limit', async (box) => {
      const comment = (bytes: number) => {
        // one "comment" record of exactly `bytes` bytes (an ignored key)
        let value = 'c'.repeat(bytes - 20);
        while (paxRecord('comment', value).length < bytes) value += 'c';
        while (paxRecord('comment', value).length > bytes) value = value.slice(1);
        return paxMember('x', [['comment', value]]);
      };
      const at = tarArchive([comment(64 * 1024), { name: 'f', data: 'ok' }]);
      expectReport(await extractHostile(at, box.root, { limits: { maxMetaRecordBytes: 64 * 1024 } }));
      assert.deepEqual(listRoot(box.root), ['f']);
      clearRoot(box.root);
      const over = tarArchive([comment(64 * 1024 + 1), { name: 'f', data: 'ok' }]);
      expectError(await extractHostile(over, box.root, { limits: { maxMetaRecordBytes: 64 * 1024 } }), ['P2V_LIMIT']);
      clearRoot(box.root);
      expectReport(await extractHostile(tarArchive([comment(MiB), { name: 'f', data: 'ok' }]), box.root), 'exactly 1 MiB');
    });
  });

  test('headers each under the limit that add up past it before one member are refused together', async () => {
    await withSandbox('tar-huge-pileup', async (box) => {
      const big = paxMember('x', [['comment', 'c'.repeat(700 * 1024)]]);
      const longName: TarMember = { name: '././@LongLink', typeflag: 'L', flavour: 'gnu', data: `${'n'.repeat(700 * 1024)}\0` };
      for (const [label, members] of [
        ['two x headers', [big, big]],
        ['an x header and a GNU L', [big, longName]],
        ['three x headers, each just under 1 MiB (300 of them would hold 300 MiB for one member)', Array(3).fill(paxMember('x', [['comment', 'c'.repeat(MiB - 20)]]))],
      ] as Array<[string, TarMember[]]>) {
        clearRoot(box.root);
        expectError(await extractHostile(tarArchive([...members, { name: 'f', data: 'x' }]), box.root), ['P2V_LIMIT'], label);
        assert.deepEqual(listRoot(box.root), [], label);
      }
      // global headers accumulate for the whole archive: distinct keys are capped the same way
      clearRoot(box.root);
      const globals = Array.from({ length: 3 }, (_, i) => paxMember('g', [[`comment${i}`, 'g'.repeat(600 * 1024)]]));
      expectError(await extractHostile(tarArchive([...globals, { name: 'f', data: 'x' }]), box.root), ['P2V_LIMIT'], 'g headers');
      // each member's own headers are counted afresh
      clearRoot(box.root);
      const members: TarMember[] = [];
      for (let i = 0; i < 4; i++) members.push(big, { name: `f${i}`, data: 'ok' });
      expectReport(await extractHostile(tarArchive(members), box.root), 'one big header per member');
      assert.deepEqual(listRoot(box.root), ['f0', 'f1', 'f2', 'f3']);
    });
  });

  test('one header under the limit packed with ~175 000 tiny records: extracted, no stack overflow', async () => {
    await withSandbox('tar-huge-records', async (box) => {
      const body = new Uint8Array(Buffer.from('6 a=b\n'.repeat(Math.floor((MiB - 100) / 6))));
      const distinct = concat(Array.from({ length: 60_000 }, (_, i) => paxRecord(`k${i}`, 'v')));
      for (const [label, data] of [
        ['the same key', body],
        ['60 000 distinct keys', distinct],
      ] as Array<[string, Uint8Array]>) {
        clearRoot(box.root);
        const started = performance.now();
        const members: TarMember[] = [{ name: 'PaxHeaders/f', typeflag: 'x', data }, { name: 'f', data: 'ok' }];
        const report = expectReport(await extractHostile(tarArchive(members), box.root), label);
        assert.deepEqual(report.warnings, [], label);
        assert.equal(fs.readFileSync(path.join(box.root, 'f'), 'utf8'), 'ok', label);
        assert.ok(performance.now() - started < 20_000, `${label}: took ${Math.round(performance.now() - started)} ms`);
        // and the same as a global header, which every later member resolves again
        clearRoot(box.root);
        const globalMembers: TarMember[] = [{ name: 'PaxHeaders/g', typeflag: 'g', data }, { name: 'f', data: 'ok' }, { name: 'g', data: 'ok' }];
        expectReport(await extractHostile(tarArchive(globalMembers), box.root), `${label}, global`);
      }
    });
  });

  test('record lengths and values out of range are P2V_BAD_ARCHIVE', async () => {
    await withSandbox('tar-huge-lengths', async (box) => {
      const enc = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
      const bodies: Array<[string, Uint8Array]> = [
        ['a length of 16 nines', enc('9999999999999999 comment=x\n')],
        ['a length of 17 digits', enc('99999999999999999 comment=x\n')],
        ['a length of zero', enc('0 comment=x\n')],
        ['size = 2^53 + 1', paxRecord('size', String(2 ** 53 + 1))],
        ['size with 17 digits', paxRecord('size', '12345678901234567')],
        ['negative size', paxRecord('size', '-1')],
        ['uid = 2^64', paxRecord('uid', '18446744073709551616')],
        ['mtime with 25 integer digits', paxRecord('mtime', '1'.repeat(25))],
        ['GNU.sparse.numblocks = 10^9', concat([paxRecord('GNU.sparse.major', '0'), paxRecord('GNU.sparse.minor', '0'), paxRecord('GNU.sparse.numblocks', '1000000000')])],
        ['GNU.sparse.map with 10^9 regions declared', concat([paxRecord('GNU.sparse.major', '0'), paxRecord('GNU.sparse.minor', '1'), paxRecord('GNU.sparse.numblocks', '1000000000'), paxRecord('GNU.sparse.map', '0,1')])],
      ];
      for (const [label, body] of bodies) {
        clearRoot(box.root);
        const members: TarMember[] = [{ name: 'PaxHeaders/f', typeflag: 'x', data: body }, { name: 'f', data: 'EVIL' }];
        const outcome = await extractHostile(tarArchive(members), box.root, { timeoutMs: 20_000 });
        expectError(outcome, ['P2V_BAD_ARCHIVE', 'P2V_LIMIT'], label);
        box.assertUnchanged(label);
      }
    });
  });

  test('a pax size far past the data that follows: truncated, streamed, never allocated', async () => {
    await withSandbox('tar-huge-size', async (box) => {
      for (const size of [String(2 ** 53 - 1), String(2 ** 40), String(OCTAL_MAX + 1)]) {
        clearRoot(box.root);
        const members: TarMember[] = [paxMember('x', [['size', size]]), { name: 'f', data: 'only this much' }];
        expectError(await extractHostile(tarArchive(members), box.root, { timeoutMs: 20_000 }), ['P2V_BAD_ARCHIVE'], size);
        box.assertUnchanged(size);
      }
    });
  });

  test('header size fields: negative base-256 and garbage are refused', async () => {
    await withSandbox('tar-huge-negative', async (box) => {
      for (const [label, size] of [
        ['-1 (base-256)', { base256: -1n }],
        ['-2^40 (base-256)', { base256: -(1n << 40n) }],
        ['2^80 (base-256, past a safe integer)', { base256: 1n << 80n }],
        ['octal garbage', { raw: '0000000012x\0' }],
      ] as Array<[string, TarNumber]>) {
        for (const typeflag of ['x', '0']) {
          clearRoot(box.root);
          expectError(await extractHostile(lying(typeflag, size, 512), box.root), ['P2V_BAD_ARCHIVE', 'P2V_LIMIT'], `${label}, ${typeflag}`);
          box.assertUnchanged(label);
        }
      }
    });
  });

  test('Solaris E attribute members: a huge header is refused, a huge value is skipped with a warning', async () => {
    await withSandbox('tar-huge-e', async (box) => {
      const hugeHeader = concat([tarHeader({ name: '/dev/null/a.hdr', typeflag: 'E', size: TERA }), tarArchive([{ name: 'after', data: 'x' }])]);
      expectError(await extractHostile(concat([tarArchive([{ name: 'f', data: 'f' }], { endBlocks: 0 }), hugeHeader]), box.root), ['P2V_LIMIT']);
      clearRoot(box.root);
      const members: TarMember[] = [
        { name: 'f', data: 'f' },
        { name: '/dev/null/big.hdr', typeflag: 'E', data: solarisXattrHeader('f', 'big') },
        { name: '/dev/null/big', typeflag: 'E', data: new Uint8Array(MiB + 1) },
        { name: 'after', data: 'ok' },
      ];
      const report = expectReport(await extractHostile(tarArchive(members), box.root));
      expectWarning(report, 'f', ['P2V_LIMIT']);
      assert.deepEqual(listRoot(box.root), ['after', 'f']);
    });
  });
});
