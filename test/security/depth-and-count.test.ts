/**
 * Attack B.2 #17 — excessive depth and entry count.
 *
 * One member path with 5 000 components makes a recursive extractor (or one that walks every
 * prefix for every member) burn stack and time; symlinks can multiply depth (a link to
 * `a/a/a/…`, loops `a -> b -> a`, a link to "." reused 50 times); millions of empty files make
 * an extractor that keeps per-entry state run out of memory. Must: cap depth (skip with an
 * error, carry on), bound the work done per member (symlink hops), stream the rest.
 * Anchors: node-tar maxDepth 1024 (CVE-2024-28863, commit fe8cd57) and commit 631ae59
 * ("list: prevent unbounded recursion"); limits.ts maxPathDepth / maxSymlinkHops.
 * "10 million files" is scaled down to 10 000 here; the test checks it streams in bounded time.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { expectReport, expectWarning, extractHostile, FORMATS, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';

const deep = (n: number, leaf = 'x') => `${'a/'.repeat(n)}${leaf}`;

for (const format of FORMATS) {
  describe(`depth and entry count (${format})`, () => {
    test('5 000 components: skipped with P2V_LIMIT before anything is created; the rest goes on', { timeout: 60_000 }, async () => {
      await withSandbox(`depth-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: deep(5000), type: 'file', data: 'deep' },
          { name: deep(5000, 'd'), type: 'dir' },
          { name: `${'./'.repeat(3000)}${deep(1100)}`, type: 'symlink', target: '/' },
          { name: 'after', type: 'file', data: 'ok' },
        ];
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        expectWarning(report, deep(5000), ['P2V_LIMIT']);
        assert.equal(lstat(path.join(box.root, 'a')), undefined, 'no directory of the refused path was made');
        assert.equal(fs.readFileSync(path.join(box.root, 'after'), 'utf8'), 'ok');
      });
    });

    test('the depth limit is exact and configurable', async () => {
      await withSandbox(`depth-limit-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: deep(9), type: 'file', data: '10 components' },
          { name: deep(10, 'y'), type: 'file', data: '11 components' },
        ];
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root, { limits: { maxPathDepth: 10 } }));
        assert.equal(fs.readFileSync(path.join(box.root, deep(9)), 'utf8'), '10 components');
        assert.equal(lstat(path.join(box.root, deep(10, 'y'))), undefined);
        assert.ok(report.warnings.some((w) => w.code === 'P2V_LIMIT'));
      });
    });

    test('symlink loops and depth multiplied through links are bounded (hops limit)', { timeout: 60_000 }, async () => {
      await withSandbox(`depth-loops-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: 'self', type: 'symlink', target: 'self' },
          { name: 'self/x', type: 'file', data: 'EVIL' },
          { name: 'a1', type: 'symlink', target: 'b1' },
          { name: 'b1', type: 'symlink', target: 'a1' },
          { name: 'a1/x', type: 'file', data: 'EVIL' },
          { name: 'dot', type: 'symlink', target: '.' },
          { name: `${'dot/'.repeat(60)}x`, type: 'file', data: 'sixty dots' },
          // each link doubles the path: 2^30 components if expanded without a bound
          ...Array.from({ length: 30 }, (_, i): CpioMember => ({ name: `x${i + 1}`, type: 'symlink', target: `x${i}/x${i}` })),
          { name: 'x0', type: 'dir' },
          { name: 'x30/f', type: 'file', data: 'doubled' },
          { name: 'abs', type: 'symlink', target: `/${'abs/'.repeat(50)}` },
          { name: 'abs/f', type: 'file', data: 'EVIL' },
          { name: 'after', type: 'file', data: 'ok' },
        ];
        const started = performance.now();
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.ok(performance.now() - started < 30_000, 'bounded time');
        expectWarning(report, 'self/x');
        expectWarning(report, 'a1/x');
        expectWarning(report, `${'dot/'.repeat(60)}x`);
        expectWarning(report, 'abs/f');
        assert.equal(fs.readFileSync(path.join(box.root, 'after'), 'utf8'), 'ok');
      });
    });

    test('10 000 empty files and 1 000 directories stream through in bounded time', { timeout: 180_000 }, async () => {
      await withSandbox(`count-${format}`, async (box) => {
        const members: CpioMember[] = [];
        for (let d = 0; d < 1000; d++) {
          members.push({ name: `d${d}`, type: 'dir', mode: 0o755 });
          for (let f = 0; f < 10; f++) members.push({ name: `d${d}/f${f}`, type: 'file' });
        }
        const bytes = cpioArchive(members, { format });
        const started = performance.now();
        const report = expectReport(await extractHostile(bytes, box.root, { timeoutMs: 170_000 }));
        assert.equal(report.files, 10_000);
        assert.equal(report.dirs, 1000);
        assert.ok(performance.now() - started < 170_000);
        assert.equal(fs.readdirSync(path.join(box.root, 'd999')).length, 10);
      });
    });
  });
}
