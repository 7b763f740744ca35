/**
 * Helper thread of the settled check (extract/settled-check.ts): takes chunks of the index's
 * lines from the shared counter and checks them against the tree, then answers true or false.
 * It takes none if the main thread closed the gate first (it had already taken every chunk).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CheckSlot, GATE_IN, checkChunks, hasAttrs, type TreeCheckData } from '../extract/settled-check.js';
import { IndexLineChecker } from '../extract/index-check.js';

const data = workerData as TreeCheckData;
const state = new Int32Array(data.state);
let ok = false;
if (Atomics.compareExchange(state, CheckSlot.gate, 0, GATE_IN) === 0) {
  try {
    const text = Buffer.from(data.text, 0, data.length);
    ok = checkChunks(new IndexLineChecker(data.root, data.owners, hasAttrs(text)), text, new Float64Array(data.bounds), state);
  } catch {
    ok = false;
  }
  if (!ok) Atomics.store(state, CheckSlot.failed, 1);
}
parentPort!.postMessage(ok);
