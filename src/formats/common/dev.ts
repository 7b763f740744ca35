/** Linux dev_t split as glibc does it (GNU cpio, afio and stat() use this encoding); for
 *  small numbers it equals the old 8-bit major / 8-bit minor split. */
export function splitLinuxDev(dev: number): [major: number, minor: number] {
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
  return [major, minor];
}
