/** Which source an image argument names: a file, "-" (stdin), a directory tree, or volumes. */
import * as fs from 'node:fs';
import { P2VError } from '../errors.js';
import { concatVolumes } from './concat-volumes.js';
import { directorySource, openFileSource, stdinSource, type ByteSource } from './source.js';

/** Open an image: a file, "-" (stdin), a directory, or with `volumes` the volumes of a
 *  multi-volume dump read in order. */
export async function openSource(image: string, volumes: readonly string[] = []): Promise<ByteSource> {
  if (volumes.length > 0) {
    if (image === '-' || volumes.includes('-')) throw new P2VError('P2V_USAGE', 'standard input cannot be one volume of several');
    const opened: ByteSource[] = [];
    try {
      for (const volume of [image, ...volumes]) opened.push(await openFileSource(volume));
    } catch (error) {
      await Promise.allSettled(opened.map((source) => source.close?.()));
      throw error;
    }
    return concatVolumes(opened);
  }
  if (image === '-') return stdinSource();
  const stat = fs.statSync(image, { throwIfNoEntry: false });
  if (stat?.isDirectory()) return directorySource(image, fs.realpathSync(image));
  return openFileSource(image);
}
