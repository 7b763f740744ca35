/**
 * The serial gzip decoder: every member in order, each one's header read here (member.ts) and
 * its deflate data through node:zlib's streaming raw inflater, its trailer checked here (CRC-32
 * with zlib's crc32, ISIZE). Fed large pieces with a large output chunkSize node:zlib measured
 * 2.6x fflate's streaming inflater on these machines (../shared/reference/measurements.md).
 *
 * Why not zlib's own gunzip over the whole input: after a member it starts on the next bytes in
 * the same write, and when those are garbage its error discards everything that write had
 * decoded - the last members of an archive followed by a few stray bytes never reached the
 * format layer. Here a member ends where the raw inflater says its deflate data ended (its
 * `bytesWritten` is the input it consumed, and it ignores what follows), so everything up to
 * the last good member is handed on before anything after it is looked at.
 *
 * Like zlib it stops at a zero byte after a member (tape padding) and reports anything else
 * there as a bad header, named at its offset.
 */
import { createInflateRaw, crc32 } from 'node:zlib';
import { badArchive } from '../../errors.js';
import { InputWindow } from '../../io/input-window.js';
import { memberHeaderLength, readTrailer, trailerBytes } from './member.js';

/**
 * zlib inflates on libuv's pool one output chunk per job, and the next job starts only when the
 * main thread takes the last one's result - which it does between its own runs of parsing and
 * placing files. So the size of a job is how much decoding overlaps the rest of the pipeline:
 * with 64 KiB input pieces and 256 KiB chunks the two mostly took turns. 1 MiB of each, measured
 * on the 256 MiB corpus (2 cores, tmpfs, 3 alternating runs): extraction of the gzip'd image
 * 2.96 -> 2.48 s median (bsdtar 2.37 s in the same runs); decode alone 1.27 -> 1.05 s (one run each).
 * The price is in error offsets: zlib does not say where in its input a fault lies, only how much
 * input it had consumed when it last completed a chunk, so a corrupt block is named up to one
 * chunk's input before where it is (at most 1 MiB; about a quarter of that for typical data).
 */
const outputChunkBytes = 1024 * 1024;
const inputPieceBytes = 1024 * 1024;
/** Output pieces waiting for the consumer before zlib is paused (one input piece can inflate to
 *  a thousand times its size). */
const maxQueuedPieces = 4;

const layer = 'gzip';

/** Decode `input`; `baseOffset` is the compressed offset of its first byte (named in errors). */
export async function* decodeGzipSerial(input: AsyncIterable<Uint8Array>, baseOffset = 0): AsyncGenerator<Uint8Array, void, undefined> {
  const iterator = input[Symbol.asyncIterator]();
  const window = new InputWindow(iterator);
  const cutShort = () => badArchive('corrupt or truncated gzip stream (unexpected end of file)', { layer, offset: baseOffset + window.offset + window.length });
  try {
    for (let members = 0; ; members++) {
      if (!(await window.ensure(1))) {
        if (members === 0) throw cutShort();
        return;
      }
      if (members > 0 && window.bytes()[0] === 0) return; // zero padding after a member: zlib stops here too
      let header = memberHeaderLength(window.bytes(), 0);
      while (header === 'short') {
        if (!(await window.pull())) throw cutShort();
        header = memberHeaderLength(window.bytes(), 0);
      }
      if (typeof header !== 'number') throw badArchive(`corrupt or truncated gzip stream (${header.error})`, { layer, offset: baseOffset + window.offset });
      window.discard(header);
      const member = { crc: 0, size: 0 };
      yield* inflateMember(window, baseOffset, member);
      if (!(await window.ensure(trailerBytes))) throw cutShort();
      const trailer = readTrailer(window.bytes(), 0);
      if (trailer.crc !== member.crc) throw badArchive('corrupt or truncated gzip stream (incorrect data check)', { layer, offset: baseOffset + window.offset });
      if (trailer.size !== member.size >>> 0) throw badArchive('corrupt or truncated gzip stream (incorrect length check)', { layer, offset: baseOffset + window.offset + 4 });
      window.discard(trailerBytes);
    }
  } finally {
    await iterator.return?.();
  }
}

/**
 * Inflate the deflate data at the window's start, yielding the output; on return the window
 * starts just after the deflate data (at the trailer). `member` gets the output's CRC-32 and size.
 */
async function* inflateMember(window: InputWindow, baseOffset: number, member: { crc: number; size: number }): AsyncGenerator<Uint8Array, void, undefined> {
  const inflater = createInflateRaw({ chunkSize: outputChunkBytes });
  const start = window.offset; // where the deflate data begins
  const queue: Buffer[] = [];
  let failure: Error | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  inflater.on('data', (piece: Buffer) => {
    queue.push(piece);
    if (queue.length >= maxQueuedPieces) inflater.pause();
    notify();
  });
  inflater.on('end', () => {
    ended = true;
    notify();
  });
  inflater.on('error', (error: Error) => {
    failure = error;
    notify();
  });
  let fed = 0; // bytes of the window (from `start`) written to zlib
  let written = true; // the last write's callback came
  let inputEnded = false;
  try {
    for (;;) {
      const piece = queue.shift();
      if (piece !== undefined) {
        if (queue.length === 0 && inflater.isPaused()) inflater.resume();
        member.crc = crc32(piece, member.crc);
        member.size += piece.length;
        yield piece;
        continue;
      }
      if (failure !== undefined) {
        const reason = failure.message;
        // a stream cut short ends where the input does
        if ((failure as { code?: string }).code === 'Z_BUF_ERROR') {
          throw badArchive(`corrupt or truncated gzip stream (${reason})`, { layer, offset: baseOffset + window.offset + window.length });
        }
        // the fault lies between what zlib had consumed and the end of what it was given
        const from = baseOffset + start + inflater.bytesWritten;
        const to = baseOffset + start + fed;
        throw badArchive(`corrupt or truncated gzip stream (${reason}; somewhere in compressed bytes ${from}-${to - 1})`, { layer, offset: from });
      }
      if (ended) break;
      // (zlib consumed less than it was given: the data ended in the last piece; 'end' follows)
      if (written && !inputEnded && inflater.bytesWritten === fed) {
        // the next piece: what the window holds past what was fed, else a new chunk
        if (window.offset + window.length <= start + fed && !(await window.pull())) {
          inputEnded = true;
          inflater.end(); // zlib answers "unexpected end of file" unless the data ended exactly here
          continue;
        }
        const from = start + fed - window.offset;
        const bytes = window.bytes().subarray(from, Math.min(window.length, from + inputPieceBytes));
        fed += bytes.length;
        written = false;
        inflater.write(bytes, () => {
          written = true;
          notify();
        });
        // zlib consumed what it was given unless the deflate data ended: keep only the bytes it
        // may not have consumed (this piece) in the window
        window.discard(Math.max(0, start + fed - bytes.length - window.offset));
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
    // the data ended: the window must start at its end (the trailer)
    window.discard(start + inflater.bytesWritten - window.offset);
  } finally {
    inflater.removeAllListeners('data');
    inflater.on('error', () => undefined);
    inflater.destroy();
  }
}
