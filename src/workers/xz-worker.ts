/**
 * xz block worker (piscina): decodes one whole block per task with the same block decoder the
 * in-place path uses (filters/xz.ts), checks its sizes and check, and answers with the output
 * (transferred) or the error as data (a P2VError does not survive the thread boundary).
 */
import { Piscina } from 'piscina';
import { P2VError } from '../errors.js';
import { decodeWholeBlock } from '../filters/xz.js';
import type { XzBlockResult, XzBlockTask } from '../filters/xz/block-pool.js';
import { LzmaDecoder } from '../filters/xz/lzma-decoder.js';

const lzma = new LzmaDecoder(); // one per thread: its window is reused across blocks

export default async function run(task: XzBlockTask): Promise<unknown> {
  const started = performance.now();
  try {
    const { output, unpadded, produced } = await decodeWholeBlock(task.bytes, task.offset, task.checkType, lzma, task.declaredSize);
    const owned = output; // decodeWholeBlock's own buffer: transferred, not copied
    const result: XzBlockResult = { kind: 'ok', output: owned, unpadded, produced, busyMs: performance.now() - started };
    const movable = { [Piscina.transferableSymbol]: [owned.buffer], [Piscina.valueSymbol]: result };
    return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]);
  } catch (error) {
    if (error instanceof P2VError && (error.code === 'P2V_BAD_ARCHIVE' || error.code === 'P2V_UNSUPPORTED' || error.code === 'P2V_LIMIT')) {
      return { kind: 'error', code: error.code, message: error.message, offset: error.details.offset ?? task.offset, busyMs: performance.now() - started } satisfies XzBlockResult;
    }
    throw error;
  }
}
