/**
 * Device nodes and FIFOs in numbers, as a Solaris root has them (/devices holds hundreds to
 * thousands): GNU cpio archives a tree made with mknod/mkfifo, extract() must give the same
 * tree, node for node (type, numbers, mode with set-id bits, owner, mtime), on a first run and a
 * re-run. The writer makes them in batches with one process (node-batch.ts), so the order of
 * what touches a queued node's path matters: later members at that path, below it, or over
 * its directory must see what one-by-one creation gave.
 * FIFOs need no privilege; device nodes are included when running as root.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';
import { assertNoTemporaries, expectReport, extractHostile, lstat } from '../helpers/hostile.js';
import { withSandbox } from '../helpers/sentinel.js';
import { haveTool, isRoot, run, sh } from '../helpers/tools.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';

/** A /devices-like tree: nested controller directories with a few nodes each, and one flat
 *  directory with many (more than two batches of 512 in all). */
function makeDeviceTree(src: string): number {
  const root = isRoot();
  let count = 0;
  const node = (rel: string, kind: 'c' | 'b' | 'p', mode: number, major = 0, minor = 0, uid = 0) => {
    const full = path.join(src, rel);
    if (kind === 'p') fs.mkdirSync(path.dirname(full), { recursive: true });
    else fs.mkdirSync(path.dirname(full), { recursive: true });
    const args = kind === 'p' ? [full] : [full, kind, String(major), String(minor)];
    run(kind === 'p' ? 'mkfifo' : 'mknod', args);
    if (root) fs.lchownSync(full, uid, uid % 3);
    fs.chmodSync(full, mode);
    fs.utimesSync(full, 1_000_000_000 + count, 1_000_000_000 + count * 7);
    count++;
  };
  for (let c = 0; c < 12; c++) {
    for (const slice of 'abcdefgh') {
      if (root) {
        node(`devices/pci@${c},0/scsi@2/sd@${c},0:${slice}`, 'b', 0o640, 32, c * 8 + 'abcdefgh'.indexOf(slice), 3);
        node(`devices/pci@${c},0/scsi@2/sd@${c},0:${slice},raw`, 'c', 0o640, 32, c * 8 + 'abcdefgh'.indexOf(slice), 3);
      } else node(`devices/pci@${c},0/scsi@2/p-${slice}`, 'p', 0o640);
    }
  }
  for (let i = 0; i < 1000; i++) {
    if (root && i % 4 !== 0) node(`devices/pseudo/n${i}`, 'c', i % 7 === 0 ? 0o6666 : 0o666, 100 + (i % 50), i * 131, i % 5);
    else node(`devices/pseudo/fifo${i}`, 'p', i % 11 === 0 ? 0o1620 : 0o600, 0, 0, i % 5);
  }
  for (let i = 0; i < 50; i++) fs.symlinkSync(`../devices/pseudo/fifo${i * 4}`, path.join(src, `devices/l${i}`));
  return count;
}

describe('device nodes and FIFOs in batches', { skip: haveTool('cpio') ? false : 'needs GNU cpio' }, () => {
  test('a tree of 1,000+ nodes archived by GNU cpio comes back node for node, twice', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-device-batches-'));
    try {
      const src = path.join(work, 'src');
      fs.mkdirSync(src);
      const count = makeDeviceTree(src);
      assert.ok(count > 1024, `${count} nodes`);
      const image = path.join(work, 'devices.cpio');
      sh('cd "$1" && find . | cpio -o -H newc --quiet > "$2"', [src, image]);
      const dest = path.join(work, 'dest');
      for (const runName of ['first run', 're-run']) {
        const report = await extract({ image, dest });
        assert.equal(report.devices + report.fifos, count, `${runName}: every node counted`);
        const diffs = compareTrees(src, dest, { ignoreRootMeta: true, ignoreOwners: !isRoot(), mtime: 'seconds', ignoreMtimeFor: ['symlink'] });
        assert.deepEqual(diffs, [], `${runName}: extract() differs from the source:\n${formatDiffs(diffs)}`);
        assertNoTemporaries(dest);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test('what comes after a queued node at its path, below it or over its directory wins, as one by one', async () => {
    await withSandbox('device-batch-order', async (box) => {
      const members: CpioMember[] = [
        { name: 'a', type: 'fifo' },
        // a file over a queued node (a large one: created at once, not later by a worker)
        { name: 'a', type: 'file', data: 'A'.repeat(300 * 1024) },
        { name: 'b', type: 'fifo' },
        { name: 'b', type: 'symlink', target: 'a' }, // a symlink over a queued node
        { name: 'c', type: 'fifo' },
        { name: 'c', type: 'dir' }, // a directory over a queued node
        { name: 'c/x', type: 'file', data: 'inside' },
        { name: 'd', type: 'dir' },
        { name: 'd/n', type: 'fifo' },
        { name: 'd', type: 'symlink', target: box.sentinelDir }, // over a directory holding a queued node
        { name: 'd/m', type: 'fifo' },
        { name: 'e', type: 'fifo', mode: 0o600 },
        { name: 'e', type: 'fifo', mode: 0o4640 }, // the same node again, another mode
        { name: 'f', type: 'fifo' },
        { name: 'g', type: 'fifo' },
      ];
      const report = expectReport(await extractHostile(cpioArchive(members, { format: 'newc' }), box.root, { devices: true }));
      const at = (rel: string) => lstat(path.join(box.root, rel));
      assert.ok(at('a')!.isFile(), 'a is the file'); // (reading a FIFO would block)
      assert.equal(fs.readFileSync(path.join(box.root, 'a'), 'utf8'), 'A'.repeat(300 * 1024));
      assert.equal(fs.readlinkSync(path.join(box.root, 'b')), 'a');
      assert.ok(at('c')!.isDirectory());
      assert.equal(fs.readFileSync(path.join(box.root, 'c/x'), 'utf8'), 'inside');
      // d held a node by then: the directory is not empty, so the symlink is refused (reported)
      assert.ok(at('d')!.isDirectory(), 'd is still a directory');
      assert.ok(at('d/n')!.isFIFO() && at('d/m')!.isFIFO());
      assert.ok(report.warnings.some((w) => w.entry === 'd'), JSON.stringify(report.warnings));
      assert.ok(at('e')!.isFIFO());
      assert.equal(at('e')!.mode & 0o7777, 0o4640);
      assert.ok(at('f')!.isFIFO() && at('g')!.isFIFO());
      assertNoTemporaries(box.root);
    });
  });
});

test('a device number Linux cannot hold (major 5000, minor 2^21): that member is not made, the others are, the run is incomplete', async (t) => {
  if (!isRoot()) {
    t.skip('needs root to make devices');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-bigdev-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  // alone (made one by one) and among many (a batch)
  for (const company of [0, 40]) {
    const members: CpioMember[] = [
      { name: 'dev', type: 'dir' },
      { name: 'dev/big-major', type: 'char', rdevMajor: 5000, rdevMinor: 1 },
      { name: 'dev/big-minor', type: 'block', rdevMajor: 32, rdevMinor: 2 ** 21 },
      ...Array.from({ length: company }, (_, i): CpioMember => ({ name: `dev/n${i}`, type: 'char', rdevMajor: 1, rdevMinor: 3 })),
      { name: 'dev/null', type: 'char', rdevMajor: 1, rdevMinor: 3 },
      { name: 'etc', type: 'dir' },
      { name: 'etc/motd', type: 'file', data: 'after the devices\n' },
    ];
    const image = path.join(work, `dev-${company}.cpio`);
    fs.writeFileSync(image, cpioArchive(members, { format: 'newc' }));
    const dest = path.join(work, `root-${company}`);
    const report = await extract({ image, dest });
    assert.deepEqual(report.warnings.map((warning) => `${warning.code} ${warning.entry}`).sort(), ['P2V_IO dev/big-major', 'P2V_IO dev/big-minor'], JSON.stringify(report.warnings));
    assert.match(report.warnings[0]!.message, /device \d+,\d+ not made: .*EINVAL/);
    assert.equal(fs.existsSync(path.join(dest, 'dev/big-major')), false);
    assert.ok(fs.lstatSync(path.join(dest, 'dev/null')).isCharacterDevice());
    assert.equal(fs.readFileSync(path.join(dest, 'etc/motd'), 'utf8'), 'after the devices\n');
  }
});
