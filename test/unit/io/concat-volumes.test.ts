/**
 * concatVolumes (src/io/concat-volumes.ts): several sources read as one stream, in order, each
 * closed once read and all closed however the reading ends; a single source passes through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatVolumes } from '../../../src/io/concat-volumes.js';
import { bufferSource, type ByteSource } from '../../../src/io/source.js';

function tracked(name: string, bytes: string, closed: string[]): ByteSource {
  const inner = bufferSource(name, Buffer.from(bytes), 2);
  return { ...inner, close: async () => void closed.push(name) };
}

async function collect(source: ByteSource): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of source.chunks()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString('latin1');
}

test('volumes are joined in order; name and size describe the set; each is closed once read', async () => {
  const closed: string[] = [];
  const joined = concatVolumes([tracked('v1', 'abc', closed), tracked('v2', '', closed), tracked('v3', 'defg', closed)]);
  assert.equal(joined.name, 'v1 + v2 + v3');
  assert.equal(joined.size, 7);
  assert.equal(await collect(joined), 'abcdefg');
  assert.deepEqual([...new Set(closed)], ['v1', 'v2', 'v3']);
});

test('abandoning the stream early still closes every volume', async () => {
  const closed: string[] = [];
  const joined = concatVolumes([tracked('v1', 'abcdef', closed), tracked('v2', 'ghi', closed)]);
  for await (const _ of joined.chunks()) break;
  assert.deepEqual([...new Set(closed)].sort(), ['v1', 'v2']);
  await joined.close?.();
});

test('an unknown size makes the set size unknown; one volume is passed through as it is', () => {
  const stream: ByteSource = { name: '-', chunks: async function* () {} };
  assert.equal(concatVolumes([bufferSource('a', Buffer.from('x')), stream]).size, undefined);
  const only = bufferSource('only', Buffer.from('x'));
  assert.equal(concatVolumes([only]), only);
});
