/**
 * Root without root's powers: `unshare --user --map-root-user` makes us uid 0 in a user namespace
 * where only our own uid is mapped and device nodes cannot be made, as in many containers and
 * rootless CI runners. An extraction there must complete (exit 0) with every member's content,
 * mode and time: an owner that cannot be set (chown EINVAL) is reported once, and its member
 * keeps the owner of the run without set-uid/set-gid bits (GNU tar does the same); a device node
 * mknod refuses (EPERM) is skipped and reported like one made without root; FIFOs are made.
 * Skips where unprivileged user namespaces are not allowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpioArchive, type CpioMember } from '../helpers/cpio-writer.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'zonep2v.js');

const usable = spawnSync('unshare', ['--user', '--map-root-user', 'true']).status === 0;

test('in a user namespace: owners that cannot be set and refused device nodes are reported, everything else is there', { skip: usable ? false : 'unshare --user --map-root-user is not allowed here' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-userns-'));
  try {
    const members: CpioMember[] = [
      { name: 'usr', type: 'dir', mode: 0o755, uid: 2, gid: 2, mtime: 1_200_000_000 },
      { name: 'usr/bin', type: 'dir', mode: 0o2755, uid: 2, gid: 2, mtime: 1_200_000_001 },
      { name: 'usr/bin/ls', type: 'file', data: 'ls', mode: 0o555, uid: 2, gid: 2, mtime: 1_200_000_002 },
      { name: 'usr/bin/passwd', type: 'file', data: 'passwd', mode: 0o4555, uid: 0, gid: 3, mtime: 1_200_000_003 },
      { name: 'usr/bin/big', type: 'file', data: 'B'.repeat(300 * 1024), mode: 0o6755, uid: 2, gid: 2, mtime: 1_200_000_004 },
      { name: 'usr/bin/mine', type: 'file', data: 'mine', mode: 0o4755, uid: 0, gid: 0, mtime: 1_200_000_005 },
      { name: 'usr/sh', type: 'symlink', target: 'bin/ls', uid: 2, gid: 2, mtime: 1_200_000_006 },
      { name: 'dev', type: 'dir', mode: 0o2755, mtime: 1_200_000_007 },
      { name: 'dev/null', type: 'char', rdevMajor: 13, rdevMinor: 2, mode: 0o666 },
      { name: 'dev/dsk', type: 'block', rdevMajor: 32, rdevMinor: 0, mode: 0o640 },
      { name: 'dev/fifo', type: 'fifo', mode: 0o4640, uid: 2, gid: 2, mtime: 1_200_000_008 },
    ];
    const image = path.join(dir, 'image.cpio');
    fs.writeFileSync(image, cpioArchive(members, { format: 'newc' }));
    const root = path.join(dir, 'root');
    const r = spawnSync('unshare', ['--user', '--map-root-user', process.execPath, bin, 'extract', '--json', image, root], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as { warnings: { code: string; message: string; entry?: string }[]; devices: number; fifos: number; skippedSpecial: number; written: number };
    const at = (rel: string) => fs.lstatSync(path.join(root, rel));
    const mode = (rel: string) => at(rel).mode & 0o7777;
    // content and times of everything; modes without set-id bits where the owner was refused
    assert.equal(fs.readFileSync(path.join(root, 'usr/bin/ls'), 'utf8'), 'ls');
    assert.equal(fs.readFileSync(path.join(root, 'usr/bin/big'), 'utf8'), 'B'.repeat(300 * 1024));
    assert.equal(mode('usr/bin/ls'), 0o555);
    assert.equal(mode('usr/bin/passwd'), 0o555, 'set-uid dropped: its gid could not be set');
    assert.equal(mode('usr/bin/big'), 0o755, 'set-id dropped on a large file (written by the main thread)');
    assert.equal(mode('usr/bin/mine'), 0o4755, 'owned by the run as the image says: set-uid kept');
    assert.equal(mode('usr/bin'), 0o755, 'set-gid dropped on a directory whose owner was refused');
    assert.equal(mode('dev'), 0o2755, 'kept on one owned by the run as the image says');
    assert.equal(at('usr/bin/ls').mtimeMs, 1_200_000_002_000);
    assert.equal(at('usr/bin').mtimeMs, 1_200_000_001_000);
    assert.equal(fs.readlinkSync(path.join(root, 'usr/sh')), 'bin/ls');
    assert.equal(at('usr/sh').mtimeMs, 1_200_000_006_000);
    assert.ok(at('dev/fifo').isFIFO());
    assert.equal(mode('dev/fifo'), 0o640);
    assert.equal(fs.existsSync(path.join(root, 'dev/null')), false);
    assert.equal(report.written, 4);
    assert.equal(report.fifos, 1);
    assert.equal(report.devices, 0);
    assert.equal(report.skippedSpecial, 2);
    const skipped = report.warnings.filter((w) => w.code === 'P2V_SKIPPED_SPECIAL').map((w) => w.entry).sort();
    assert.deepEqual(skipped, ['dev/dsk', 'dev/null']);
    const owners = report.warnings.filter((w) => w.code === 'P2V_OWNER_NOT_SET');
    assert.equal(owners.length, 1, JSON.stringify(report.warnings));
    // usr, usr/bin, ls, passwd, big, the symlink, the FIFO
    assert.match(owners[0]!.message, /owner not restored on 7 member\(s\).*EINVAL/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
