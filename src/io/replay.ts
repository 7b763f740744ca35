/**
 * An iterator that first gives back chunks already read (a decoder's look-ahead before it chose
 * its path), then the rest of the stream; `return()` reaches the stream below.
 */
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
