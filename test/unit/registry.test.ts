/**
 * The lazy registries (src/filters/registry.ts, src/formats/registry.ts): each entry bids with
 * exactly the function its loaded codec or reader uses, under the same name, so picking before
 * loading never disagrees with the loaded code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { filters, pickFilter } from '../../src/filters/registry.js';
import { formats, pickFormat } from '../../src/formats/registry.js';

test('every filter entry loads the filter it names, with the same bid', async () => {
  assert.deepEqual(filters.map((f) => f.name), ['gzip', 'bzip2', 'xz', 'compress']);
  for (const entry of filters) {
    const filter = await entry.load();
    assert.equal(filter.name, entry.name);
    assert.equal(filter.bid, entry.bid, `${entry.name}: one bid function`);
  }
});

test('every format entry loads the reader it names, with the same bid', async () => {
  assert.deepEqual(formats.map((f) => f.name), ['cpio', 'tar', 'flar', 'dump']);
  for (const entry of formats) {
    const format = await entry.load();
    assert.equal(format.name, entry.name);
    assert.equal(format.bid, entry.bid, `${entry.name}: one bid function`);
  }
});

test('picking needs no decoder: a gzip head picks gzip, a newc head picks cpio, text picks nothing', () => {
  assert.equal(pickFilter(gzipSync(Buffer.from('x')))?.name, 'gzip');
  assert.equal(pickFilter(Buffer.from('plain text, not compressed')), undefined);
  assert.equal(pickFormat(Buffer.from('070701' + '0'.repeat(104)))?.name, 'cpio');
  assert.equal(pickFormat(Buffer.from('FlAsH-aRcHiVe-2.0\n'))?.name, 'flar');
  assert.equal(pickFormat(Buffer.from('plain text')), undefined);
});
