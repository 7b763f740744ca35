/** Text forms of entries for `list`: names only, or a long listing in the style of `cpio -itv`. */
import type { Entry } from '../entry.js';
import { toBytePath } from '../entry.js';

const typeChar: Record<Entry['type'], string> = { file: '-', hardlink: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's', attrs: '@', unchanged: '=' };
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function modeString(entry: Entry): string {
  const m = entry.mode;
  const triple = (r: number, w: number, x: number, special: number, on: string, off: string) =>
    (m & r ? 'r' : '-') + (m & w ? 'w' : '-') + (m & special ? (m & x ? on : off) : m & x ? 'x' : '-');
  return typeChar[entry.type] + triple(0o400, 0o200, 0o100, 0o4000, 's', 'S') + triple(0o40, 0o20, 0o10, 0o2000, 's', 'S') + triple(0o4, 0o2, 0o1, 0o1000, 't', 'T');
}

function dateString(mtimeNs: bigint): string {
  const date = new Date(Number(mtimeNs / 1_000_000n));
  const sixMonths = 182 * 24 * 3600 * 1000;
  const recent = Math.abs(Date.now() - date.getTime()) < sixMonths;
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const tail = recent ? `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}` : ` ${date.getUTCFullYear()}`;
  return `${months[date.getUTCMonth()]} ${day} ${tail}`;
}

/** A `cpio -itv` line, as a byte string (latin1): names are printed as the bytes they are, like
 *  cpio does, not decoded (a Latin-1 name from an old Solaris box is not UTF-8). */
export function longLine(entry: Entry): string {
  const owner = (entry.uname || String(entry.uid)).padEnd(8);
  const group = (entry.gname || String(entry.gid)).padEnd(8);
  const size =
    entry.type === 'char' || entry.type === 'block'
      ? `${String(entry.devMajor).padStart(3)}, ${String(entry.devMinor).padStart(3)}` // GNU cpio's "%3lu, %3lu"
      : String(entry.type === 'symlink' ? (entry.linkTarget ?? '').length : entry.size);
  let name = entry.path;
  if (entry.type === 'symlink') name += ` -> ${entry.linkTarget ?? ''}`;
  if (entry.type === 'hardlink') name += ` link to ${entry.linkTarget ?? ''}`;
  if (entry.type === 'unchanged') name += ` (inode ${entry.inode ?? '?'}, unchanged since the previous level)`;
  // (user and group names are text: their UTF-8 bytes)
  return `${toBytePath(`${modeString(entry)}   1 ${owner} ${group} ${size.padStart(8)} ${dateString(entry.mtimeNs)} `)}${name}`;
}
