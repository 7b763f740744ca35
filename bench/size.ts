/** Byte sizes on the benchmark command lines: "256M", "1G", "32MiB", "4096". Binary units. */
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`bad size "${text}" (examples: 256M, 1G, 4096)`);
  const bytes = Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`bad size "${text}"`);
  return bytes;
}

/** "256M" style label for cache keys and tables. */
export function sizeLabel(bytes: number): string {
  for (const [unit, f] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return String(bytes);
}

export function mb(bytes: number): number {
  return bytes / 1e6;
}
