/** A one-line progress display on a terminal: bytes, files, rate, and ETA when the size is known. */
import type { Progress } from '../extract/types.js';

export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export class ProgressLine {
  private readonly started = performance.now();
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(progress: Progress): void {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? progress.imageBytes / seconds : 0;
    let line = `${humanBytes(progress.imageBytes)} read, ${progress.entries} entries, ${humanBytes(progress.dataBytes)} of files, ${humanBytes(rate)}/s`;
    if (progress.imageSize && rate > 0) {
      const percent = Math.min(100, (100 * progress.imageBytes) / progress.imageSize);
      const eta = Math.max(0, (progress.imageSize - progress.imageBytes) / rate);
      line = `${percent.toFixed(0)}% ${line}, ETA ${eta.toFixed(0)} s`;
    }
    this.stream.write(`\r${line.slice(0, (this.stream.columns || 100) - 1)}\x1b[K`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
  }
}
