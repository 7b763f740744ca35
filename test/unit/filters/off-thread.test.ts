/**
 * Decode threads (src/filters/off-thread.ts): a filter run on its own thread gives exactly what it
 * gives in place - the same bytes, the same error (code, message, offset, layer) on damaged input
 * - and stopping early ends the thread (no hang, no leak). Real .Z and .xz streams from the tools.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2VError } from '../../../src/errors.js';
import { compressFilter } from '../../../src/filters/compress.js';
import { xzFilter } from '../../../src/filters/xz.js';
import type { Filter } from '../../../src/filters/filter.js';
import { decodeOffThread, offThreadMinBytes } from '../../../src/filters/off-thread.js';
import { unwrapFilters } from '../../../src/filters/registry.js';
import { chunked, hasTool, mixedBytes, rng } from '../../helpers/bzip2-data.js';

const timeout = { timeout: 120_000 };

function tool(command: string, args: string[], input: Uint8Array): Buffer {
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 30 });
  if (result.error) throw result.error;
  if (result.status !== 0 && !(command === 'compress' && result.status === 2)) throw new Error(`${command} failed: ${result.stderr}`);
  return result.stdout;
}

type Outcome = { data: Buffer } | { error: { code: string; message: string; offset: unknown; layer: unknown } };

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Outcome> {
  const parts: Uint8Array[] = [];
  try {
    for await (const piece of stream) parts.push(piece);
  } catch (error) {
    if (!(error instanceof P2VError)) throw error;
    return { error: { code: error.code, message: error.message, offset: error.details.offset, layer: error.details.layer } };
  }
  return { data: Buffer.concat(parts) };
}

async function bothWays(filter: Filter, stream: Uint8Array, what: string): Promise<Outcome> {
  const inPlace = await collect(filter.decode(chunked(stream, 256 * 1024)));
  const offThread = await collect(decodeOffThread(filter, chunked(stream, 256 * 1024)));
  if ('data' in inPlace && 'data' in offThread) assert.ok(inPlace.data.equals(offThread.data), `${what}: same bytes`);
  else assert.deepEqual(offThread, inPlace, `${what}: same verdict`);
  return offThread;
}

const cases: [Filter, string, (data: Uint8Array) => Buffer][] = [
  [compressFilter, 'compress', (data) => tool('compress', ['-b', '16', '-c'], data)],
  [xzFilter, 'xz', (data) => tool('xz', ['-6', '-T2', '--block-size=1MiB', '-c'], data)],
];

for (const [filter, name, make] of cases) {
  test(`decode thread (${name}): same bytes as in place, from a real ${name} stream`, timeout, async (t) => {
    if (!hasTool(name)) return t.skip(`${name} is not installed`);
    const data = mixedBytes(6_000_000, 1);
    const stream = make(data);
    assert.ok(stream.length > offThreadMinBytes, 'big enough to go off-thread');
    const outcome = await bothWays(filter, stream, name);
    assert.ok('data' in outcome && outcome.data.equals(Buffer.from(data)), 'the original bytes');
  });

  test(`decode thread (${name}): damaged and truncated streams give the in-place error`, timeout, async (t) => {
    if (!hasTool(name)) return t.skip(`${name} is not installed`);
    const stream = make(mixedBytes(3_000_000, 2));
    const next = rng(3);
    let errors = 0;
    for (let round = 0; round < 8; round++) {
      const damaged = Uint8Array.from(stream);
      const at = offThreadMinBytes + Math.floor(next() * (damaged.length - offThreadMinBytes));
      if (round % 2 === 0) damaged[at] ^= 0x5a;
      const input = round % 2 === 0 ? damaged : damaged.subarray(0, at);
      if ('error' in (await bothWays(filter, input, `${name} round ${round}`))) errors++;
    }
    // (compress has no checksum: much damage decodes to other bytes, the same in both places)
    assert.ok(errors >= 1, `${errors} of 8 damaged streams rejected`);
    t.diagnostic(`${errors} of 8 damaged streams rejected, the same way in both places`);
  });
}

test('decode thread: stopping early ends the thread and returns the input', timeout, async (t) => {
  if (!hasTool('compress')) return t.skip('compress is not installed');
  const stream = tool('compress', ['-b', '16', '-c'], mixedBytes(8_000_000, 4));
  let returned = false;
  const input = {
    [Symbol.asyncIterator]() {
      const inner = chunked(stream, 128 * 1024)[Symbol.asyncIterator]();
      return {
        next: () => inner.next(),
        return: async () => {
          returned = true;
          return { done: true as const, value: undefined };
        },
      };
    },
  };
  let seen = 0;
  for await (const piece of decodeOffThread(compressFilter, input)) {
    seen += piece.length;
    if (seen > 2_000_000) break;
  }
  assert.ok(returned, 'the input was returned');
});

test('decode thread: an error in an outer layer reaches the consumer unchanged', timeout, async (t) => {
  if (!hasTool('compress') || !hasTool('gzip')) return t.skip('compress and gzip are needed');
  const inner = tool('compress', ['-b', '16', '-c'], mixedBytes(3_000_000, 5));
  const outer = tool('gzip', ['-c'], inner);
  const cut = outer.subarray(0, outer.length - 2000); // gzip fails first, then compress would
  const { stream, chain } = await unwrapFilters(chunked(cut, 64 * 1024));
  assert.deepEqual(chain, ['gzip', 'compress']);
  const outcome = await collect(stream);
  assert.ok('error' in outcome, 'the cut is reported');
  assert.equal(outcome.error.layer, 'gzip', outcome.error.message);
});
