/**
 * Times before 1970 (negative seconds): Node's utimes family replaces a negative number by the
 * current time, so a 1969 mtime once became the time of extraction, silently, in every format.
 * Files, directories, symlinks and a large file (written from the main thread) are checked,
 * from a directory image and from GNU tar's pax archive, and a re-run recognises them as
 * unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extract } from '../../src/index.js';
import { haveTool, sh } from '../helpers/tools.js';
import { workDir } from '../helpers/work-dir.js';

/** name → mtime in whole seconds (negative), set with touch -h so symlinks get their own */
const times: Record<string, string> = {
  'old-file': '@-1',
  'dir/in-dir': '@-86400',
  'dir/link': '@-3600',
  large: '@-1000000000', // 1938: above the size the main thread writes itself
  dir: '@-7200',
};

function makeSource(work: string): string {
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(source, 'old-file'), 'from 1969\n');
  fs.writeFileSync(path.join(source, 'dir', 'in-dir'), 'from 1969 too\n');
  fs.symlinkSync('in-dir', path.join(source, 'dir', 'link'));
  fs.writeFileSync(path.join(source, 'large'), Buffer.alloc(3 * 1024 * 1024, 7));
  for (const [name, when] of Object.entries(times)) sh('touch -h -d "$1" "$2"', [when, path.join(source, name)]);
  return source;
}

function expectTimes(dest: string): void {
  for (const [name, when] of Object.entries(times)) {
    const seconds = Number(fs.lstatSync(path.join(dest, name), { bigint: true }).mtimeNs / 1_000_000_000n);
    assert.equal(seconds, Number(when.slice(1)), `${name}: mtime`);
  }
}


test('a directory image: mtimes before 1970 are kept, and a re-run finds every file unchanged', async (t) => {
  const work = workDir(t, '1969');
  const source = makeSource(work);
  const dest = path.join(work, 'root');
  await extract({ image: source, dest });
  expectTimes(dest);
  const again = await extract({ image: source, dest });
  assert.equal(again.written, 0, 'nothing rewritten');
  expectTimes(dest);
});

test('a pax archive from GNU tar: mtimes before 1970 are kept, with and without the index', async (t) => {
  if (!haveTool('tar')) {
    t.skip('needs GNU tar');
    return;
  }
  const work = workDir(t, '1969');
  const source = makeSource(work);
  const image = path.join(work, 'image.tar');
  sh('tar --format=posix -C "$1" -cf "$2" .', [source, image]);
  const dest = path.join(work, 'root');
  const indexFile = path.join(work, 'index');
  await extract({ image, dest, indexFile });
  expectTimes(dest);
  const again = await extract({ image, dest, indexFile });
  assert.equal(again.written, 0, 'nothing rewritten');
  expectTimes(dest);
});

test('nanosecond mtimes keep their first six decimals (a double is ~0.2 us coarse in 2026; libuv truncates)', async (t) => {
  const work = workDir(t, '1969');
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  // a fixed spread of times, before and after 1970, each with all nine decimals in use
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  const times = new Map<string, string>();
  for (let i = 0; i < 300; i++) {
    const seconds = (i % 3 === 0 ? -1 : 1) * (next() % 2000000000);
    const when = `${seconds}.${String(next() % 1000000000).padStart(9, '0')}`;
    const name = `f${i}`;
    fs.writeFileSync(path.join(source, name), `${i}\n`);
    times.set(name, when);
  }
  // and the edges: a nanosecond below a whole second rounds up to it as a double
  for (const [i, when] of ['1700000000.999999999', '1700000000.999999500', '1700000000.000000001', '1700000000.000001000', '1700000000.000000999', '-1000.999999999', '-1000.000000001', '-1.999999999'].entries()) {
    fs.writeFileSync(path.join(source, `edge${i}`), `${when}\n`);
    times.set(`edge${i}`, when);
  }
  const script = [...times].map(([name, when]) => `touch -d @${when} ${name}`).join('\n');
  sh('cd "$1" && sh -e', [source], { input: script });
  const six = (ns: bigint) => {
    const magnitude = ns < 0n ? -ns : ns;
    return `${ns < 0n ? '-' : ''}${magnitude / 1_000_000_000n}.${String(magnitude % 1_000_000_000n).padStart(9, '0').slice(0, 6)}`;
  };
  const dest = path.join(work, 'root');
  await extract({ image: source, dest });
  const wrong: string[] = [];
  for (const name of times.keys()) {
    const want = six(fs.statSync(path.join(source, name), { bigint: true }).mtimeNs);
    const got = six(fs.statSync(path.join(dest, name), { bigint: true }).mtimeNs);
    if (want !== got) wrong.push(`${name}: ${got}, expected ${want}`);
  }
  assert.deepEqual(wrong, []);
});
