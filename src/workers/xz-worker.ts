/**
 * xz block worker (piscina): decodes one whole block per task with the same block decoder the
 * in-place path uses (filters/xz.ts), from the task's shared input slot straight into its shared
 * output slot, checks its sizes and check, and answers with the counts or the error as data (a
 * P2VError does not survive the thread boundary).
 */
import { P2VError } from '../errors.js';
import { decodeWholeBlock } from '../filters/xz.js';
import type { XzBlockResult, XzBlockTask } from '../filters/xz/block-pool.js';
import { LzmaDecoder } from '../filters/xz/lzma-decoder.js';

const lzma = new LzmaDecoder(); // one per thread: its window is reused across blocks

export default async function run(task: XzBlockTask): Promise<XzBlockResult> {
  const started = performance.now();
  try {
    const bytes = new Uint8Array(task.input, 0, task.inputLength);
    const output = new Uint8Array(task.output, 0, task.declaredSize);
    const { unpadded, produced } = await decodeWholeBlock(bytes, task.offset, task.checkType, lzma, output);
    return { kind: 'ok', unpadded, produced, busyMs: performance.now() - started };
  } catch (error) {
    if (error instanceof P2VError && (error.code === 'P2V_BAD_ARCHIVE' || error.code === 'P2V_UNSUPPORTED' || error.code === 'P2V_LIMIT')) {
      return { kind: 'error', code: error.code, message: error.message, offset: error.details.offset ?? task.offset, busyMs: performance.now() - started };
    }
    throw error;
  }
}
