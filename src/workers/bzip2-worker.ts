/**
 * bzip2 block worker (piscina): decodes one block per task with the same pure block decoder
 * the serial driver uses, and answers with the bytes, or the RLE1 form of a block of long runs (transferred, not copied) and both CRCs.
 * The driver (filters/bzip2/parallel.ts) checks CRCs and the block's end, in order.
 */
import { Piscina } from 'piscina';
import { P2VError } from '../errors.js';
import { BlockWorkspace, decodeBlock } from '../filters/bzip2/block-decoder.js';
import type { BlockResult, BlockTask } from './bzip2-protocol.js';

const workspace = new BlockWorkspace(); // one per thread, reused across tasks

export default function run(task: BlockTask): unknown {
  const started = performance.now();
  const busyMs = () => performance.now() - started;
  let result: BlockResult & { kind: 'ok' };
  try {
    const block = decodeBlock(new Uint8Array(task.input, 0, task.length), task.startBit, task.level, { offset: task.offset, workspace });
    if (!block) return { kind: 'short', busyMs: busyMs() } satisfies BlockResult;
    result = { kind: 'ok', ...block, busyMs: busyMs() };
  } catch (error) {
    if (!(error instanceof P2VError) || (error.code !== 'P2V_BAD_ARCHIVE' && error.code !== 'P2V_UNSUPPORTED')) throw error;
    return { kind: 'error', code: error.code, message: error.message, offset: error.details.offset ?? task.offset, busyMs: busyMs() } satisfies BlockResult;
  }
  // Transfer the output's buffer (decodeBlock allocates it exactly for this block).
  // piscina's Transferable protocol (its symbols are typed as plain `symbol`, hence the cast).
  const movable = { [Piscina.transferableSymbol]: [result.data.buffer], [Piscina.valueSymbol]: result };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]);
}
