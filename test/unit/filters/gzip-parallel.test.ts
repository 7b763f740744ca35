/**
 * gzip members decoded in parallel (src/filters/gzip/parallel.ts): files of many members written
 * by the real gzip decode on the segment workers to what `gzip -dc` writes, and every damaged,
 * cut, padded or hostile file gets the verdict the serial decoder (ZONEP2V_GZIP_THREADS=1, node's
 * streaming gunzip) gives: the same bytes, or the same error code and reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, deflateRawSync } from 'node:zlib';
import { P2VError } from '../../../src/errors.js';
import { decodeGzip, type GzipParallelOptions } from '../../../src/filters/gzip/index.js';
import { PipelineStats, setActiveStats } from '../../../src/stats.js';
import { chunked, hasTool, mixedBytes, rng, run } from '../../helpers/bzip2-data.js';

const timeout = { timeout: 180_000 };
const noGzip = !hasTool('gzip') && 'gzip is not installed';
/** small segments and no size threshold, so that small inputs exercise many tasks */
const eager: GzipParallelOptions = { threads: 2, minBytes: 0, segmentBytes: 64 * 1024 };

type Outcome = { data: Buffer } | { error: { code: string; reason: string; offset: unknown } };

async function decode(stream: Uint8Array, options: GzipParallelOptions, chunk = 100_000): Promise<Outcome> {
  const parts: Uint8Array[] = [];
  try {
    for await (const piece of decodeGzip(chunked(stream, chunk), options)) parts.push(piece);
  } catch (error) {
    if (!(error instanceof P2VError)) throw error;
    // the reason in zlib's words; the serial decoder names the offset only to the chunk it read
    const reason = /\(([^)]*)\)/.exec(error.message)?.[1] ?? error.message;
    return { error: { code: error.code, reason, offset: error.details.offset } };
  }
  return { data: Buffer.concat(parts) };
}

/** Parallel and serial agree (bytes, or error code and reason); returns the parallel outcome. */
async function sameBothWays(stream: Uint8Array, what: string, options: GzipParallelOptions = eager): Promise<Outcome> {
  const serial = await decode(stream, { threads: 1 });
  const parallel = await decode(stream, options);
  if ('data' in serial && 'data' in parallel) assert.ok(serial.data.equals(parallel.data), `${what}: same bytes`);
  else if ('error' in serial && 'error' in parallel) {
    assert.equal(parallel.error.code, serial.error.code, `${what}: same code`);
    assert.equal(parallel.error.reason, serial.error.reason, `${what}: same reason`);
  } else assert.fail(`${what}: serial ${'data' in serial ? 'decoded' : serial.error.reason}, parallel ${'data' in parallel ? 'decoded' : parallel.error.reason}`);
  return parallel;
}

/** `data` cut into pieces of the given sizes, each compressed by the real gzip, concatenated. */
function gzipMembers(data: Uint8Array, sizes: (i: number) => number, level = 6): { stream: Buffer; starts: number[] } {
  const members: Buffer[] = [];
  const starts: number[] = [];
  let length = 0;
  for (let at = 0, i = 0; at < data.length; i++) {
    const piece = data.subarray(at, Math.min(data.length, at + sizes(i)));
    at += piece.length;
    const member = run('gzip', [`-${level}`, '-n', '-c'], piece);
    starts.push(length);
    length += member.length;
    members.push(member);
  }
  return { stream: Buffer.concat(members), starts };
}

/** A member built by hand, with the optional header fields gzip(1) does not write together. */
function handMember(data: Uint8Array, fields: { extra?: Uint8Array; name?: string; comment?: string; headerCrc?: boolean | 'wrong'; level?: number }): Buffer {
  const flags = (fields.headerCrc ? 2 : 0) | (fields.extra ? 4 : 0) | (fields.name !== undefined ? 8 : 0) | (fields.comment !== undefined ? 16 : 0);
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3])];
  if (fields.extra) parts.push(Buffer.from([fields.extra.length & 0xff, fields.extra.length >> 8]), Buffer.from(fields.extra));
  if (fields.name !== undefined) parts.push(Buffer.from(`${fields.name}\0`, 'latin1'));
  if (fields.comment !== undefined) parts.push(Buffer.from(`${fields.comment}\0`, 'latin1'));
  if (fields.headerCrc) {
    const check = crc32(Buffer.concat(parts)) ^ (fields.headerCrc === 'wrong' ? 1 : 0);
    parts.push(Buffer.from([check & 0xff, (check >> 8) & 0xff]));
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  return Buffer.concat([...parts, deflateRawSync(data, { level: fields.level ?? 6 }), trailer]);
}

test('members written by gzip decode on the workers to what gzip -dc writes', { skip: noGzip, ...timeout }, async () => {
  const data = mixedBytes(6_000_000, 7);
  const random = rng(11);
  const { stream } = gzipMembers(data, () => 20_000 + Math.floor(random() * 400_000));
  const stats = new PipelineStats();
  setActiveStats(stats);
  let outcome: Outcome;
  try {
    outcome = await decode(stream, eager, 65_537);
  } finally {
    setActiveStats(undefined);
  }
  assert.ok('data' in outcome, 'decoded');
  assert.ok(outcome.data.equals(run('gzip', ['-dc'], stream)), 'the bytes gzip -dc writes');
  assert.ok(outcome.data.equals(Buffer.from(data)), 'the original bytes');
  const workers = stats.report().find((s) => s.stage === 'decode gzip members (workers)');
  assert.ok(workers && workers.items! >= 5, `segments decoded on workers: ${workers?.items}`);
  // the default settings (1 MiB segments, 4 MiB threshold) and 1..13-byte chunks at the start
  await sameBothWays(stream, 'defaults', { threads: 2, minBytes: 0 });
  const tiny = await decode(stream.subarray(0, 200_000), eager, 13);
  const tinySerial = await decode(stream.subarray(0, 200_000), { threads: 1 }, 7);
  assert.deepEqual(tiny, tinySerial, 'a cut stream fed in tiny chunks: same verdict');
});

test('every optional header field, and a stored member full of fake member starts', timeout, async () => {
  const text = Buffer.from('zone root '.repeat(30_000));
  const fake = Buffer.alloc(400_000);
  for (let i = 0; i < fake.length; i += 4) fake.set([0x1f, 0x8b, 0x08, 0x00], i); // a candidate every 4 bytes
  const members = [
    handMember(text, { name: 'root.cpio', comment: 'made by hand', extra: new Uint8Array([65, 66, 2, 0, 1, 2]), headerCrc: true }),
    handMember(fake, { level: 0 }), // stored: its magics appear in the compressed bytes as they are
    handMember(mixedBytes(300_000, 3), { name: '' }),
    handMember(new Uint8Array(0), {}),
    handMember(fake.subarray(0, 70_001), { level: 0, comment: 'again' }),
  ];
  const stream = Buffer.concat(members);
  const outcome = await sameBothWays(stream, 'hand-made members');
  assert.ok('data' in outcome && outcome.data.length === text.length + fake.length + 300_000 + 70_001, 'all members decoded');
  const wrong = Buffer.concat([members[2]!, handMember(text, { name: 'x', headerCrc: 'wrong' })]);
  const wrongOutcome = await sameBothWays(wrong, 'a wrong header CRC');
  assert.ok('error' in wrongOutcome && wrongOutcome.error.reason === 'header crc mismatch');
  const started = performance.now();
  await sameBothWays(Buffer.concat([handMember(fake, { level: 0 }), handMember(text, {})]), 'fake starts before the only boundary', { threads: 2, minBytes: 0, segmentBytes: 1024 });
  assert.ok(performance.now() - started < 60_000, 'a stream full of fake starts does not take quadratic time');
});

test('padding, garbage, damage and truncation: the serial decoder\'s verdicts', { skip: noGzip, ...timeout }, async () => {
  const data = mixedBytes(1_500_000, 5);
  const { stream, starts } = gzipMembers(data, () => 150_000);
  assert.ok(starts.length >= 8);
  const withTail = (tail: Uint8Array) => Buffer.concat([stream, tail]);
  const padded = await sameBothWays(withTail(new Uint8Array(5000)), 'zero padding after the last member');
  assert.ok('data' in padded && padded.data.equals(Buffer.from(data)));
  await sameBothWays(withTail(Buffer.concat([new Uint8Array(10), Buffer.from('not gzip')])), 'zeros, then anything: zlib stops at the zero');
  const garbage = await sameBothWays(withTail(Buffer.from('garbage after the members')), 'trailing garbage');
  assert.ok('error' in garbage && garbage.error.offset === stream.length, `offset of the garbage: ${JSON.stringify(garbage)}`);

  const middle = starts[4]!;
  const damaged = Buffer.from(stream);
  damaged[middle + 5000] ^= 0xff; // inside member 4's deflate data
  await sameBothWays(damaged, 'damaged deflate data');
  const badCrc = Buffer.from(stream);
  badCrc[starts[5]! - 8] ^= 1; // member 4's CRC-32
  const crcOutcome = await sameBothWays(badCrc, 'wrong CRC-32');
  assert.ok('error' in crcOutcome && crcOutcome.error.reason === 'incorrect data check');
  const badSize = Buffer.from(stream);
  badSize[starts[5]! - 3] ^= 1; // member 4's ISIZE
  await sameBothWays(badSize, 'wrong ISIZE');
  for (const cut of [starts[3]! + 3, starts[6]! - 4, stream.length - 1, starts[2]! + 20_000]) {
    const truncated = await sameBothWays(stream.subarray(0, cut), `cut at ${cut}`);
    assert.ok('error' in truncated, `cut at ${cut}: an error`);
  }
});

test('members too large to split go to the serial decoder, from where they start', { skip: noGzip, ...timeout }, async () => {
  const data = mixedBytes(3_000_000, 9);
  const { stream } = gzipMembers(data, (i) => (i === 3 ? 1_500_000 : 100_000));
  const small = { threads: 2, minBytes: 0, segmentBytes: 32 * 1024 };
  const longMember = await sameBothWays(stream, 'a member longer than maxSegmentBytes', { ...small, maxSegmentBytes: 200_000 });
  assert.ok('data' in longMember && longMember.data.equals(Buffer.from(data)));
  const bigOutput = await sameBothWays(stream, 'a member with more output than maxOutputBytes', { ...small, maxOutputBytes: 600_000 });
  assert.ok('data' in bigOutput && bigOutput.data.equals(Buffer.from(data)));
  // and the error offsets of the serial decoder are the file's, not the remainder's
  const cut = await decode(stream.subarray(0, stream.length - 10), { ...small, maxSegmentBytes: 200_000 });
  assert.ok('error' in cut && Number(cut.error.offset) > stream.length / 2, `offset in the file: ${JSON.stringify(cut)}`);
});

test('a consumer that stops early stops the workers and the input', { skip: noGzip, ...timeout }, async () => {
  const { stream } = gzipMembers(mixedBytes(2_000_000, 2), () => 100_000);
  let returned = false;
  async function* input() {
    try {
      yield* chunked(stream, 50_000);
    } finally {
      returned = true;
    }
  }
  for await (const piece of decodeGzip(input(), eager)) {
    assert.ok(piece.length > 0);
    break;
  }
  assert.ok(returned, 'the input was returned');
});

test('a corrupt deflate block is named near where it is, not where reading had got to', async () => {
  const { decodeGzipSerial } = await import('../../../src/filters/gzip/index.js');
  const { gzipSync } = await import('node:zlib');
  const next = rng(7);
  const data = new Uint8Array(3_000_000).map(() => Math.floor(next() * 256));
  // level 0: stored blocks, each with a LEN/NLEN pair that must be complements
  const gz = new Uint8Array(gzipSync(data, { level: 0 }));
  let at = 1_000_000;
  while (!(gz[at]! ^ gz[at + 2]! ? (gz[at]! ^ gz[at + 2]!) === 0xff && (gz[at + 1]! ^ gz[at + 3]!) === 0xff && (gz[at]! | (gz[at + 1]! << 8)) > 1000 : false)) at++;
  gz[at + 2]! ^= 1;
  const corrupted = at + 2;
  let error: unknown;
  try {
    for await (const piece of decodeGzipSerial(chunked(gz, 1 << 20))) void piece;
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof P2VError, String(error));
  const offset = error.details.offset!;
  assert.match(error.message, /invalid stored block lengths/);
  // zlib names no position: the offset is where the input it was given since its last complete
  // output chunk starts (at most one 1 MiB piece before the fault), and the message gives the span
  assert.ok(offset <= corrupted && corrupted - offset < 1024 * 1024, `named at ${offset}, corrupt byte ${corrupted}`);
  const span = /compressed bytes (\d+)-(\d+)/.exec(error.message);
  assert.ok(span && Number(span[1]) === offset && Number(span[2]) >= corrupted && Number(span[2]) - offset < 1024 * 1024, error.message);
});

test('garbage after the last member: every byte before it is handed on, then the error at its offset', { skip: noGzip, ...timeout }, async () => {
  // one member (the serial decoder) and many (the parallel one); zlib's gunzip lost the output of
  // the write in which it met the garbage, i.e. the end of the archive
  const data = mixedBytes(3_000_000, 9);
  for (const [what, stream] of [
    ['one member', run('gzip', ['-1', '-n', '-c'], data)],
    ['members', gzipMembers(data, () => 300_000).stream],
  ] as const) {
    for (const options of [{ threads: 1 }, eager]) {
      const parts: Uint8Array[] = [];
      let error: unknown;
      const tail = options.threads === 1 ? 'stray bytes\n' : '\n'; // (one byte: garbage too, not a cut header)
      try {
        for await (const piece of decodeGzip(chunked(Buffer.concat([stream, Buffer.from(tail)]), 100_000), options)) parts.push(Buffer.from(piece));
      } catch (caught) {
        error = caught;
      }
      const label = `${what}, ${options.threads === 1 ? 'serial' : 'parallel'}, ${JSON.stringify(tail)} after it`;
      assert.ok(Buffer.concat(parts).equals(Buffer.from(data)), `${label}: all ${data.length} bytes before the error (got ${Buffer.concat(parts).length})`);
      assert.ok(error instanceof P2VError, `${label}: ${String(error)}`);
      assert.equal(error.details.offset, stream.length, label);
      assert.match(error.message, /incorrect header check/);
    }
  }
});
