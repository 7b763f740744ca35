/**
 * Sparse files stay sparse: a 64 MiB file with 8 KiB of data, from GNU tar's sparse formats
 * (GNU.sparse 0.0/0.1/1.0 in pax, the old GNU 'S' header) and from a directory image, must land
 * with its holes (found by review: a 9 GiB sparse file took 9 GiB of disk). The content is
 * compared byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import { haveTool, sh } from '../helpers/tools.js';

const logical = 64 * 1024 * 1024;

function makeSparse(file: string): void {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, Buffer.alloc(4096, 0x41), 0, 4096, 0);
  fs.writeSync(fd, Buffer.alloc(4096, 0x42), 0, 4096, 20 * 1024 * 1024);
  fs.ftruncateSync(fd, logical); // and a hole at the end
  fs.closeSync(fd);
}

function assertSparseCopy(copy: string, original: string, what: string): void {
  const stat = fs.statSync(copy);
  assert.equal(stat.size, logical, `${what}: size`);
  assert.ok(stat.blocks * 512 < 1024 * 1024, `${what}: ${stat.blocks * 512} bytes on disk for 8 KiB of data`);
  assert.ok(fs.readFileSync(copy).equals(fs.readFileSync(original)), `${what}: content`);
}

test('sparse files from GNU tar (pax 0.0, 0.1, 1.0 and gnu) and from a directory image keep their holes', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-sparse-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  makeSparse(path.join(source, 'sparse'));
  if (fs.statSync(path.join(source, 'sparse')).blocks * 512 >= 1024 * 1024) {
    t.skip('this file system does not make holes');
    return;
  }
  const dirCopy = path.join(work, 'from-dir');
  await extract({ image: source, dest: dirCopy });
  assertSparseCopy(path.join(dirCopy, 'sparse'), path.join(source, 'sparse'), 'directory image');

  if (!haveTool('tar')) return;
  for (const [name, flags] of [['pax-0.0', '--format=posix --sparse-version=0.0'], ['pax-0.1', '--format=posix --sparse-version=0.1'], ['pax-1.0', '--format=posix --sparse-version=1.0'], ['gnu', '--format=gnu']] as const) {
    const image = path.join(work, `${name}.tar`);
    sh(`tar ${flags} --sparse -C "$1" -cf "$2" sparse`, [source, image]);
    const dest = path.join(work, name);
    await extract({ image, dest });
    assertSparseCopy(path.join(dest, 'sparse'), path.join(source, 'sparse'), name);
  }
});
