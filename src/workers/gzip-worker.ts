/**
 * gzip segment worker (piscina): inflates the members of one segment, one after the other, with
 * node:zlib's one-shot inflater, checks each trailer, and answers with the bytes (transferred).
 * zlib reports how much input a member's deflate data used (`bytesWritten` of the engine): that
 * is where its trailer is, and after it the next member. Where the segment was cut matters only
 * at its end: a false member start inside it is never looked at.
 */
import { Piscina } from 'piscina';
import { crc32, inflateRawSync } from 'node:zlib';
import { memberHeaderLength, readTrailer, trailerBytes } from '../filters/gzip/member.js';
import type { SegmentResult, SegmentTask } from './gzip-protocol.js';

export default function run(task: SegmentTask): unknown {
  const started = performance.now();
  const result = decodeSegment(task);
  result.busyMs = performance.now() - started;
  if (result.kind !== 'ok') return result;
  const movable = { [Piscina.transferableSymbol]: result.outputs.map((output) => output.buffer), [Piscina.valueSymbol]: result };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]);
}

function decodeSegment(task: SegmentTask): SegmentResult {
  const { data, offset, final } = task;
  const outputs: Uint8Array[] = [];
  let total = 0;
  let at = 0;
  while (at < data.length) {
    if (at > 0 && data[at] === 0) return { kind: 'ok', outputs, segmentBytes: at, padded: true }; // zlib stops at padding too
    const member = decodeMember(data, at, task.maxOutputBytes - total);
    if (member === 'short') return final ? { kind: 'error', message: 'unexpected end of file', offset: offset + data.length } : { kind: 'short' };
    if (member === 'big') return { kind: 'big' };
    // the members before a bad one are handed on first (as the serial decoder does): the driver
    // comes back to the bad one as a segment of its own, and then it is the error
    if ('error' in member) return outputs.length > 0 ? { kind: 'ok', outputs, segmentBytes: at, padded: false } : { kind: 'error', message: member.error, offset: offset + member.at };
    outputs.push(member.output);
    total += member.output.length;
    at = member.end;
  }
  return { kind: 'ok', outputs, segmentBytes: at, padded: false };
}

type Member = { output: Uint8Array; end: number } | { error: string; at: number } | 'short' | 'big';

function decodeMember(data: Uint8Array, start: number, maxOutputBytes: number): Member {
  const header = memberHeaderLength(data, start);
  if (header === 'short') return 'short';
  if (typeof header !== 'number') return { error: header.error, at: start };
  if (maxOutputBytes <= 0) return 'big';
  const deflate = start + header;
  let output: Buffer;
  let deflateBytes: number;
  try {
    const inflated = inflateRawSync(data.subarray(deflate), { info: true, maxOutputLength: maxOutputBytes, chunkSize: outputChunkBytes(data, maxOutputBytes) }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    output = inflated.buffer;
    deflateBytes = inflated.engine.bytesWritten;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return 'big';
    if (code === 'Z_BUF_ERROR') return 'short';
    return { error: (error as Error).message, at: deflate };
  }
  const trailer = deflate + deflateBytes;
  if (trailer + trailerBytes > data.length) return 'short';
  const { crc, size } = readTrailer(data, trailer);
  if (crc !== crc32(output)) return { error: 'incorrect data check', at: trailer };
  if (size !== output.length >>> 0) return { error: 'incorrect length check', at: trailer + 4 };
  // the output is a view of zlib's last chunk: transfer that chunk when it is the output's own
  // (one byte more, see outputChunkBytes), copy it out of anything larger
  const own = output.byteLength + 1 >= output.buffer.byteLength ? output : new Uint8Array(output);
  return { output: own, end: trailer + trailerBytes };
}

/**
 * zlib's output chunk size. The one-shot inflater allocates chunks of this size until the data
 * ends and concatenates them, so the default 16 KiB costs a copy of every byte and half again
 * the time (4 MiB member: 15 ms vs 7 ms). A segment usually holds one member that ends where
 * the segment does, and then its last four bytes are the output size (ISIZE): one chunk of that
 * size plus one byte (a chunk filled exactly makes zlib ask for another) holds it all.
 */
function outputChunkBytes(data: Uint8Array, maxOutputBytes: number): number {
  const size = data.length >= trailerBytes ? readTrailer(data, data.length - trailerBytes).size : 0;
  const guess = size > 0 && size < maxOutputBytes ? size + 1 : 1024 * 1024;
  return Math.max(guess, 64 * 1024);
}
