/**
 * Hard links to a file still being written are made once its batch has landed, without holding
 * up the entries behind them (zone-writer.ts placeHardlink). Whatever comes later at the link's
 * path, at its target, or over the directory holding it must see what linking at once gave.
 * The archives are tar (typeflag '1' names its target exactly).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectReport, extractHostile, lstat } from '../../helpers/hostile.js';
import { withSandbox } from '../../helpers/sentinel.js';
import { tarArchive, type TarMember } from '../../helpers/tar-writer.js';

const file = (name: string, data: string): TarMember => ({ name, data, mode: 0o644 });
const hardlink = (name: string, target: string): TarMember => ({ name, typeflag: '1', linkname: target, mode: 0o644 });

describe('hard links to files in flight', () => {
  test('later members at the link, at its target or over its directory see the link made', async () => {
    await withSandbox('deferred-links', async (box) => {
      const members: TarMember[] = [
        file('a', 'A1'),
        hardlink('b', 'a'),
        { name: 'b', typeflag: '2', linkname: 'a', mode: 0o777 }, // a symlink over the link
        file('c', 'C1'),
        hardlink('d', 'c'),
        file('c', 'C2 (longer)'), // the target replaced: the link keeps the first content
        file('e', 'E'),
        hardlink('f', 'e'),
        { name: 'f', typeflag: '5', mode: 0o755 }, // a directory over the link
        { name: 'g', typeflag: '5', mode: 0o755 },
        file('h', 'H'),
        hardlink('g/l', 'h'),
        { name: 'g', typeflag: '2', linkname: box.sentinelDir, mode: 0o777 }, // over a directory holding a link
        file('i', 'I'),
        hardlink('j', 'i'),
        hardlink('k', 'j'),
        hardlink('m', 'nowhere'),
      ];
      const report = expectReport(await extractHostile(tarArchive(members), box.root));
      const read = (rel: string) => fs.readFileSync(path.join(box.root, rel), 'utf8');
      const ino = (rel: string) => lstat(path.join(box.root, rel))!.ino;
      assert.equal(fs.readlinkSync(path.join(box.root, 'b')), 'a');
      assert.equal(read('a'), 'A1');
      assert.equal(read('d'), 'C1', 'linked before c was replaced');
      assert.equal(read('c'), 'C2 (longer)');
      assert.notEqual(ino('c'), ino('d'));
      assert.ok(lstat(path.join(box.root, 'f'))!.isDirectory());
      assert.ok(lstat(path.join(box.root, 'g'))!.isDirectory(), 'g held a link by then: not replaced');
      assert.equal(ino('g/l'), ino('h'));
      assert.ok(report.warnings.some((w) => w.entry === 'g'), JSON.stringify(report.warnings));
      assert.equal(ino('j'), ino('i'));
      assert.equal(ino('k'), ino('i'), 'a link to a link still in flight');
      assert.equal(lstat(path.join(box.root, 'm')), undefined);
      assert.ok(report.warnings.some((w) => w.entry === 'm' && /does not exist/.test(w.message)), JSON.stringify(report.warnings));
      assert.equal(report.hardlinks, 6);
    });
  });
});
