/**
 * Attack B.2 #10 — sibling-prefix escape.
 *
 * Root is `<base>/root`; a sibling `<base>/root-evil` exists. `Symlink l -> ../root-evil/x`
 * resolves to a path that starts with the root's path as a STRING ("/…/root" is a prefix of
 * "/…/root-evil/x"), so a containment check written as `startsWith(root)` lets it through.
 * Must: reject or resolve inside; containment is by path components (path.relative without a
 * leading "..", or a comparison with a trailing separator), never a bare startsWith.
 * Anchors: tar-fs GHSA-vj76-c3g6-qr5v (inCwd() boundary flaw, fixed 3.1.1/2.1.4/1.16.6);
 * moby's `strings.HasPrefix(targetPath, extractDir)` (moby/moby pkg/archive/archive.go).
 * The sibling directories (root-evil, root2, roo) are part of the sentinel snapshot.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { assertInRootOrSkipped, expectError, expectReport, extractHostile, FORMATS, inRoot } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';

function siblings(box: Sandbox): void {
  for (const name of ['root-evil', 'root2', 'roo']) {
    fs.mkdirSync(path.join(box.base, name));
    fs.writeFileSync(path.join(box.base, name, 'x'), 'SIBLING');
  }
  box.resnapshot();
}

for (const format of FORMATS) {
  describe(`sibling-prefix escape (${format})`, () => {
    test('links into root-evil, root2, roo (relative and absolute) resolve inside the root', async () => {
      await withSandbox(`sibling-${format}`, async (box) => {
        siblings(box);
        const members: CpioMember[] = [
          { name: 'l', type: 'symlink', target: '../root-evil' },
          { name: 'l/x', type: 'file', data: 'EVIL-1' },
          { name: 'm', type: 'symlink', target: `${box.root}-evil` },
          { name: 'm/x', type: 'file', data: 'EVIL-2' },
          { name: 'n', type: 'symlink', target: `${box.root}2/` },
          { name: 'n/x', type: 'file', data: 'EVIL-3' },
          { name: 'o', type: 'symlink', target: `${box.root}/../roo` },
          { name: 'o/x', type: 'file', data: 'EVIL-4' },
          { name: 'p', type: 'symlink', target: `${box.root}/../root-evil/x` },
          { name: 'p', type: 'file', data: 'EVIL-5' },
          { name: 'q', type: 'symlink', target: `${box.root}-evil` },
          { name: 'h', type: 'hardlink', target: 'q/y' },
          { name: 'q/y', type: 'file', data: 'EVIL-6' },
        ];
        const outcome = await extractHostile(cpioArchive(members, { format }), box.root);
        assertInRootOrSkipped(outcome, box.root, 'l/x', 'root-evil/x', 'EVIL-1');
        assertInRootOrSkipped(outcome, box.root, 'm/x', `${box.root}-evil/x`, 'EVIL-2');
        assertInRootOrSkipped(outcome, box.root, 'n/x', `${box.root}2/x`, 'EVIL-3');
        // "<root>/../roo" resolved in the root: <root> is a path inside the root, ".." of it
        assertInRootOrSkipped(outcome, box.root, 'o/x', `${path.dirname(box.root)}/roo/x`, 'EVIL-4');
        assert.equal(fs.readFileSync(path.join(box.root, 'p'), 'utf8'), 'EVIL-5');
        const h = fs.lstatSync(path.join(box.root, 'h'), { throwIfNoEntry: false });
        if (h) assert.equal(h.ino, fs.statSync(inRoot(box.root, `${box.root}-evil/y`)).ino, 'h links inside the root');
      });
    });

    test('names and hard links spelled through the root\'s own path', async () => {
      await withSandbox(`sibling-names-${format}`, async (box) => {
        siblings(box);
        const rel = path.basename(box.root); // "root"
        const members: CpioMember[] = [
          { name: `../${rel}-evil/x`, type: 'file', data: 'EVIL' },
          { name: `../${rel}/inside`, type: 'file', data: 'EVIL' },
          { name: 'ok', type: 'file', data: 'OK' },
        ];
        const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.equal(report.warnings.filter((w) => w.code === 'P2V_ENTRY_UNSAFE').length, 2);
        assert.deepEqual(fs.readdirSync(box.root), ['ok']);
        // absolute names through the sibling: refused by default, inside with stripAbsolute
        const abs = cpioArchive([{ name: `${box.root}-evil/x`, type: 'file', data: 'EVIL' }], { format });
        expectError(await extractHostile(abs, box.root), ['P2V_ENTRY_UNSAFE']);
        expectReport(await extractHostile(abs, box.root, { stripAbsolute: true }));
        assert.equal(fs.readFileSync(inRoot(box.root, `${box.root}-evil/x`), 'utf8'), 'EVIL');
      });
    });

    test('a root given with a trailing slash, or through a symlink, is the same root', async () => {
      await withSandbox(`sibling-dest-${format}`, async (box) => {
        siblings(box);
        const members: CpioMember[] = [
          { name: 'l', type: 'symlink', target: '../root-evil' },
          { name: 'l/x', type: 'file', data: 'EVIL' },
        ];
        for (const dest of [`${box.root}/`, `${box.root}//.`, `${box.root}/../root`]) {
          expectReport(await extractHostile(cpioArchive(members, { format }), dest), dest);
          assert.equal(fs.readFileSync(path.join(box.root, 'root-evil/x'), 'utf8'), 'EVIL', dest);
          box.assertUnchanged(dest);
        }
      });
    });
  });
}
