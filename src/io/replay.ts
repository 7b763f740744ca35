/**
 * Look-ahead for whoever chooses a path from the first bytes (the sniffing of layers, the decode
 * thread, the bzip2 and gzip parallel drivers: enough input to be worth the workers?): the chunks
 * read, and an iterable that gives them back, then the rest of the stream; `return()` reaches
 * the stream below.
 */
export interface LookAhead {
  /** bytes read ahead */
  have: number;
  /** the chunks read ahead (they are also the first ones `replay` gives) */
  chunks: readonly Uint8Array[];
  /** the input ended within the look-ahead */
  ended: boolean;
  /** those chunks again, then the rest of the input (iterate it once) */
  replay: AsyncIterable<Uint8Array>;
}

/** Read chunks until `wantMore(have, chunks)`, asked after each one, says no (at least one is read,
 *  unless the input is empty). If reading fails, the input is returned before the error goes on. */
export async function lookAhead(input: AsyncIterable<Uint8Array>, wantMore: (have: number, chunks: readonly Uint8Array[]) => boolean): Promise<LookAhead> {
  const iterator = input[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let have = 0;
  let ended = false;
  try {
    do {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      chunks.push(next.value);
      have += next.value.length;
    } while (wantMore(have, chunks));
  } catch (error) {
    await iterator.return?.();
    throw error;
  }
  const replayed = replayIterator(chunks, ended ? undefined : iterator);
  return { have, chunks, ended, replay: { [Symbol.asyncIterator]: () => replayed } };
}

/** An iterator over `head`, then `rest`; `return()` reaches `rest`. */
export function replayIterator(head: Uint8Array[], rest: AsyncIterator<Uint8Array> | undefined): AsyncIterator<Uint8Array> {
  let i = 0;
  return {
    async next() {
      if (i < head.length) return { done: false, value: head[i++]! };
      return rest ? rest.next() : { done: true, value: undefined };
    },
    async return() {
      await rest?.return?.();
      return { done: true, value: undefined };
    },
  };
}
