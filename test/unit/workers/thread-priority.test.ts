/**
 * The write workers run niced (workers/thread-priority.ts): the main thread, which parses, gets
 * the CPU first on a machine with fewer cores than busy threads. Only the calling thread is
 * lowered, never the process, and only on Linux.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { WritePool } from '../../../src/extract/write-pool.js';
import type { FileOp } from '../../../src/workers/write-protocol.js';

const linux = process.platform === 'linux' && fs.existsSync('/proc/thread-self');
const mainNice = os.getPriority(process.pid);
const skip = !linux ? 'not Linux' : mainNice > 9 ? `already niced to ${mainNice}` : false;

/** The nice value of every thread of this process (field 19 of /proc/self/task/TID/stat). */
function threadNices(): number[] {
  return fs.readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      // fields after the command name, which is in parentheses and may hold spaces
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return [Number(fields[16])];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

test('a worker thread lowers its own priority; the main thread and the process keep theirs', { skip }, async () => {
  const moduleUrl = new URL('../../../src/workers/thread-priority.js', import.meta.url).href;
  const code = `import(${JSON.stringify(moduleUrl)}).then((m) => require('node:worker_threads').parentPort.postMessage(m.lowerThisThreadPriority(3) ?? null))`;
  const worker = new Worker(code, { eval: true });
  const after = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(after, mainNice + 3, 'the worker thread is 3 lower than the process');
  assert.equal(os.getPriority(process.pid), mainNice, 'the main thread (the process id) is untouched');
  const { lowerThisThreadPriority } = await import('../../../src/workers/thread-priority.js');
  assert.equal(lowerThisThreadPriority(5), undefined, 'on the main thread it does nothing');
  assert.equal(os.getPriority(process.pid), mainNice);
});

test('the write pool runs its workers niced by ZONEP2V_WRITER_NICE (10 by default, 0 = not at all)', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-nice-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const saved = process.env.ZONEP2V_WRITER_NICE;
  t.after(() => (saved === undefined ? delete process.env.ZONEP2V_WRITER_NICE : (process.env.ZONEP2V_WRITER_NICE = saved)));
  for (const [setting, increment] of [[undefined, 10], ['4', 4], ['0', 0]] as const) {
    if (setting === undefined) delete process.env.ZONEP2V_WRITER_NICE;
    else process.env.ZONEP2V_WRITER_NICE = setting;
    const initially = threadNices();
    const before = initially.filter((nice) => nice === mainNice + increment).length;
    const pool = new WritePool<string>(2, 4 * 1024 * 1024, false, () => undefined);
    try {
      // one file through the pool, written by whichever worker was up first
      const body = new TextEncoder().encode(`written with nice ${setting}\n`);
      const op: FileOp = { dir: Buffer.from(dir).toString('latin1'), name: `f${increment}`, start: 0, length: body.length, mode: 0o644, uid: 0, gid: 0, chown: false, mtimeSeconds: 1_000_000_000, mayExist: false };
      await pool.makeRoom(body.length);
      pool.addSmall(op, body, 'tag');
      await pool.drain();
      assert.equal(fs.readFileSync(path.join(dir, `f${increment}`), 'utf8'), `written with nice ${setting}\n`);
      // the workers start on their own schedule (the one that wrote the file may be the only
      // one up yet): wait, for at most 10 s, until both threads exist and have run their start
      const niced = () => threadNices().filter((nice) => nice === mainNice + increment).length - before;
      const deadline = Date.now() + 10_000;
      const threads = initially.length + 2;
      while ((threadNices().length < threads || (increment > 0 && niced() < 2)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      if (increment === 0) {
        await new Promise((resolve) => setTimeout(resolve, 200)); // (time to have lowered itself, if it were to)
        assert.ok(threadNices().every((nice) => nice === mainNice), `no thread niced: ${threadNices()}`);
      } else assert.equal(niced(), 2, `two writer threads at nice ${mainNice + increment}: ${threadNices()}`);
    } finally {
      await pool.close();
    }
  }
});
