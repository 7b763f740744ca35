/**
 * Attack B.2 #18 — replacing the extraction root or its type.
 *
 *   entries named ".", "./", "" (empty) as a symlink, a file, a FIFO, a device, a hard link;
 *   Symlink .. -> /etc/
 *
 * An extractor that treats "." like any other name unlinks the root and puts a symlink there:
 * every later member then goes wherever it points (containerd SymlinkParentDirectory /
 * SymlinkEmptyFilename). Must: the root may only be (re)applied as a directory's metadata;
 * anything else naming the root is ignored (and reported); ".." is never a member.
 * Anchors: node-tar [CHECKPATH] ("an archive can set properties on the extraction directory,
 * but it may not replace the cwd"); containerd archive/tar_test.go SymlinkParentDirectory,
 * SymlinkEmptyFilename.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { clearRoot, expectReport, expectWarning, extractHostile, FORMATS, listRoot } from '../helpers/hostile.js';
import { withSandbox, type Sandbox } from '../helpers/sentinel.js';
import { isRoot } from '../helpers/tools.js';

/** Names of the root itself ("" is a namesize of 1: just the NUL; "//" with stripAbsolute). */
const rootNames = ['.', './', '', './/.', '././', '//'];

function replacements(box: Sandbox, name: string): [string, CpioMember[]][] {
  return [
    ['symlink to the sentinel dir', [{ name, type: 'symlink', target: box.sentinelDir }]],
    ['symlink to ..', [{ name, type: 'symlink', target: '..' }]],
    ['file', [{ name, type: 'file', data: 'EVIL', mode: 0o4777 }]],
    ['large file', [{ name, type: 'file', data: 'E'.repeat(300 * 1024) }]],
    ['fifo', [{ name, type: 'fifo', mode: 0o666 }]],
    ['char device', [{ name, type: 'char', rdevMajor: 1, rdevMinor: 3 }]],
    ['hard link data member', [{ name, type: 'file', data: 'EVIL', ino: 31 }, { name: 'h', type: 'hardlink', target: name, ino: 31 }]],
    ['hard link to the root', [{ name: 't', type: 'file', data: 'T', ino: 32 }, { name, type: 'hardlink', target: 't', ino: 32 }]],
  ];
}

for (const format of FORMATS) {
  describe(`replacing the root (${format})`, () => {
    test('".", "./", "" and friends as anything but a directory are ignored; the root stays', async () => {
      await withSandbox(`replace-root-${format}`, async (box) => {
        for (const name of rootNames) {
          for (const [label, members] of replacements(box, name)) {
            clearRoot(box.root);
            const context = `${JSON.stringify(name)} as ${label}`;
            const all: CpioMember[] = [...members, { name: 'after/f', type: 'file', data: 'AFTER' }];
            const report = expectReport(await extractHostile(cpioArchive(all, { format }), box.root, { stripAbsolute: true }), context);
            assert.ok(fs.lstatSync(box.root).isDirectory(), `${context}: the root is still a directory`);
            assert.equal(fs.readFileSync(path.join(box.root, 'after/f'), 'utf8'), 'AFTER', `${context}: later members land in the root`);
            assert.ok(report.warnings.length > 0, `${context}: reported`);
            const unexpected = listRoot(box.root).filter((p) => !['after', 'after/f', 't', 'h'].includes(p));
            assert.deepEqual(unexpected, [], context);
            box.assertUnchanged(context);
          }
        }
      });
    });

    test('"." as a directory sets the root\'s metadata (and only that)', async () => {
      await withSandbox(`replace-root-dir-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: '.', type: 'dir', mode: 0o750, uid: 1234, gid: 4321, mtime: 1_500_000_000 },
          { name: 'f', type: 'file', data: 'f' },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        const st = fs.lstatSync(box.root);
        assert.ok(st.isDirectory());
        assert.equal(st.mode & 0o7777, 0o750);
        assert.equal(st.mtimeMs, 1_500_000_000_000);
        if (isRoot()) assert.equal(st.uid, 1234);
      });
    });

    test('"..", "../", "./.." as any type are refused; the directory holding the root keeps everything', async () => {
      await withSandbox(`replace-parent-${format}`, async (box) => {
        for (const name of ['..', '../', './..', '../.', '.././']) {
          const members: CpioMember[] = [
            { name, type: 'symlink', target: '/etc/' },
            { name, type: 'dir', mode: 0o777, uid: 1234 },
            { name, type: 'file', data: 'EVIL' },
          ];
          const report = expectReport(await extractHostile(cpioArchive(members, { format }), box.root), name);
          expectWarning(report, name, ['P2V_ENTRY_UNSAFE'], name);
          box.assertUnchanged(name);
        }
        assert.deepEqual(listRoot(box.root), []);
      });
    });

    test('containerd SymlinkParentDirectory / SymlinkEmptyFilename', async () => {
      await withSandbox(`replace-containerd-${format}`, async (box) => {
        const members: CpioMember[] = [
          { name: '', type: 'symlink', target: '/' },
          { name: './', type: 'symlink', target: box.outside },
          { name: '../', type: 'symlink', target: '../' },
          { name: 'x', type: 'file', data: 'X' },
        ];
        expectReport(await extractHostile(cpioArchive(members, { format }), box.root));
        assert.deepEqual(listRoot(box.root), ['x']);
      });
    });
  });
}
