/**
 * The content index records a hard link with its target's hash. The writer keeps the hashes of
 * the files it wrote last only (two generations of 16,384): a link whose target was written
 * earlier than that (odc carries each name with the data, so a link may come anywhere after its
 * target) gets the hash from the target's bytes on disk. Both must give the target's hash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.join(fileURLToPath(new URL('../../../', import.meta.url)), 'bin', 'zonep2v.js');

function odcMember(name: string, ino: number, nlink: number, data: string, mode = 0o100644): Buffer {
  const o = (n: number, width: number) => n.toString(8).padStart(width, '0');
  const header = `070707${o(1, 6)}${o(ino, 6)}${o(mode, 6)}${o(0, 6)}${o(0, 6)}${o(nlink, 6)}${o(0, 6)}${o(1_000_000_000, 11)}${o(name.length + 1, 6)}${o(data.length, 11)}`;
  return Buffer.from(`${header}${name}\0${data}`, 'latin1');
}

test('hard-link records carry their target\'s hash, near their target or 40,000 files after it', { timeout: 120_000 }, (t) => {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const work = fs.mkdtempSync(path.join(base, 'zonep2v-link-records-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const members = [odcMember('near', 2, 2, 'near body\n'), odcMember('near-link', 2, 2, 'near body\n'), odcMember('far', 3, 2, 'far body\n'), odcMember('d', 4, 2, '', 0o40755)];
  for (let i = 0; i < 40_000; i++) members.push(odcMember(`d/f${i}`, 10 + (i % 200_000), 1, `${i}`));
  members.push(odcMember('far-link', 3, 2, 'far body\n'), odcMember('TRAILER!!!', 0, 1, ''));
  const image = path.join(work, 'image.cpio');
  fs.writeFileSync(image, Buffer.concat(members));
  const index = path.join(work, 'index.jsonl');
  const run = spawnSync(process.execPath, [bin, 'extract', '-q', '--index', index, image, path.join(work, 'root')], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const records = new Map<string, { type: string; xxh64?: string; linkPath?: string }>();
  for (const line of fs.readFileSync(index, 'utf8').split('\n')) {
    if (line.startsWith('{"path"')) records.set(JSON.parse(line).path, JSON.parse(line));
  }
  for (const [target, link] of [['near', 'near-link'], ['far', 'far-link']]) {
    const file = records.get(target)!;
    const made = records.get(link)!;
    assert.equal(file.type, 'file', target);
    assert.match(file.xxh64 ?? '', /^[0-9a-f]{16}$/, target);
    assert.equal(made.type, 'hardlink', link);
    assert.equal(made.linkPath, target, link);
    assert.equal(made.xxh64, file.xxh64, `${link} carries ${target}'s hash`);
  }
  assert.notEqual(records.get('near')!.xxh64, records.get('far')!.xxh64);
});
