import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arena } from '../../../src/extract/arena.js';

const overlaps = (a: { start: number; length: number }, b: { start: number; length: number }) =>
  a.start < b.start + b.length && b.start < a.start + a.length;

test('regions handed out never overlap a live region, and releases in any order free space', async () => {
  const arena = new Arena(1000);
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const live: { start: number; length: number }[] = [];
  for (let round = 0; round < 5000; round++) {
    if (live.length > 0 && (random() < 0.45 || live.length > 12)) {
      const [gone] = live.splice(Math.floor(random() * live.length), 1);
      arena.release(gone!);
      continue;
    }
    const length = 1 + Math.floor(random() * 300);
    const pending = arena.reserve(length);
    // a reservation that cannot fit now must wait; free the oldest until it resolves
    let region: { start: number; length: number } | undefined;
    pending.then((r) => (region = r));
    await Promise.resolve();
    await Promise.resolve();
    while (!region) {
      const oldest = live.shift();
      assert.ok(oldest, 'a reservation waits although nothing is live');
      arena.release(oldest);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(region.start >= 0 && region.start + region.length <= 1000, 'region inside the arena');
    assert.equal(region.start % 8, 0, 'regions start on 8-byte boundaries (word-wise copies into shared memory)');
    for (const other of live) assert.ok(!overlaps(region, other), `overlap ${JSON.stringify(region)} ${JSON.stringify(other)}`);
    live.push(region);
  }
});

test('a region larger than the arena is refused', async () => {
  await assert.rejects(new Arena(100).reserve(101), RangeError);
});

test('views alias the shared memory', async () => {
  const arena = new Arena(64);
  const region = await arena.reserve(8);
  arena.view(region).set([1, 2, 3]);
  assert.deepEqual([...arena.bytes.subarray(region.start, region.start + 3)], [1, 2, 3]);
});
