/**
 * Newline-terminated text lines from a ByteReader, for the text part of a flash archive.
 *
 * The Solaris installer grows its line buffer without bound; we read lines of any length up to
 * a cap (limits.maxMetaRecordBytes), because a "line" of gigabytes is a broken or hostile file,
 * not a section. Lines are looked for in a window that doubles, so a long line costs O(length).
 */
import { P2VError } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';

export interface Line {
  /** the line without its newline, one char per byte */
  text: string;
  /** offset of the line's first byte in the layer's stream */
  offset: number;
  /** false for a last line that the stream ends inside (no newline) */
  terminated: boolean;
}

const NEWLINE = 0x0a;

/** The next line, or undefined at the end of the stream. */
export async function readLine(reader: ByteReader, maxBytes: number): Promise<Line | undefined> {
  const offset = reader.offset;
  let window = 256;
  let scanned = 0;
  for (;;) {
    const want = Math.min(window, maxBytes + 1);
    const view = await reader.peek(want);
    const newline = view.indexOf(NEWLINE, scanned);
    if (newline >= 0) {
      const bytes = await reader.readExact(newline + 1, 'flash archive line');
      return { text: Buffer.from(bytes.buffer, bytes.byteOffset, newline).toString('latin1'), offset, terminated: true };
    }
    if (view.length > maxBytes) {
      throw new P2VError('P2V_LIMIT', `a text line of the flash archive is longer than ${maxBytes} bytes (the metadata limit): not a flash archive section`, {
        layer: reader.layer,
        offset,
      });
    }
    if (view.length < want) {
      // the stream ended inside this line
      if (view.length === 0) return undefined;
      const bytes = await reader.readExact(view.length, 'flash archive line');
      return { text: Buffer.from(bytes).toString('latin1'), offset, terminated: false };
    }
    scanned = view.length;
    window *= 2;
  }
}
