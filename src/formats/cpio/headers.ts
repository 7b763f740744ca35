/**
 * cpio header layouts, one decoder per family, all producing the same RawCpioHeader.
 * Field offsets live here and nowhere else (../shared/reference/formats.md section 4).
 *
 *   family   magic            header  name/data padding   numbers
 *   bin      0o070707 (u16)   26      2 / 2               16-bit words, either byte order
 *   odc      "070707"         76      none                octal ASCII
 *   newc     "070701"         110     4 / 4               hex ASCII
 *   crc      "070702"         110     4 / 4               hex ASCII + data checksum
 *   afio     "070727"         116     none                hex ASCII, mode octal
 */
import { badArchive } from '../../errors.js';
import { parseDigits, type FieldContext } from '../common/numeric.js';
import { splitLinuxDev } from '../common/dev.js';

export type CpioVariant = 'bin-le' | 'bin-be' | 'odc' | 'newc' | 'crc' | 'afio';

export interface RawCpioHeader {
  variant: CpioVariant;
  /** device of the file's filesystem; with ino identifies hard-link groups */
  devKey: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  mtime: number;
  nameSize: number;
  fileSize: number;
  /** crc variant: the stored data checksum */
  check: number;
  /** bytes of header proper (before the name) */
  headerSize: number;
  /** extra bytes after the name that belong to the header (afio xsize) */
  extraSize: number;
}

export const headerSizes: Record<CpioVariant, number> = {
  'bin-le': 26,
  'bin-be': 26,
  odc: 76,
  newc: 110,
  crc: 110,
  afio: 116,
};

/** Alignment of header+name and of data, per family. */
export function alignment(variant: CpioVariant): number {
  if (variant === 'newc' || variant === 'crc') return 4;
  if (variant === 'bin-le' || variant === 'bin-be') return 2;
  return 1;
}

const ascii = (s: string) => Buffer.from(s, 'latin1');
const MAGIC_ODC = ascii('070707');
const MAGIC_NEWC = ascii('070701');
const MAGIC_CRC = ascii('070702');
const MAGIC_AFIO = ascii('070727');

function startsWith(head: Uint8Array, magic: Uint8Array): boolean {
  if (head.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (head[i] !== magic[i]) return false;
  return true;
}

/** Which family starts at `head` (at least 6 bytes), or undefined. */
export function sniffVariant(head: Uint8Array): CpioVariant | undefined {
  if (startsWith(head, MAGIC_NEWC)) return 'newc';
  if (startsWith(head, MAGIC_CRC)) return 'crc';
  if (startsWith(head, MAGIC_ODC)) return 'odc';
  if (startsWith(head, MAGIC_AFIO)) return 'afio';
  if (head.length >= 2 && head[0] === 0xc7 && head[1] === 0x71) return 'bin-le';
  if (head.length >= 2 && head[0] === 0x71 && head[1] === 0xc7) return 'bin-be';
  return undefined;
}

export function decodeHeader(variant: CpioVariant, h: Uint8Array, offset: number): RawCpioHeader {
  const at: FieldContext = { layer: `cpio(${variant})`, offset };
  switch (variant) {
    case 'newc':
    case 'crc': {
      const hex = (o: number, field: string) => parseDigits(h, o, 8, 16, field, at);
      const devMajor = hex(62, 'devmajor');
      const devMinor = hex(70, 'devminor');
      return {
        variant,
        devKey: `${devMajor}:${devMinor}`,
        ino: hex(6, 'ino'),
        mode: hex(14, 'mode'),
        uid: hex(22, 'uid'),
        gid: hex(30, 'gid'),
        nlink: hex(38, 'nlink'),
        mtime: hex(46, 'mtime'),
        fileSize: hex(54, 'filesize'),
        rdevMajor: hex(78, 'rdevmajor'),
        rdevMinor: hex(86, 'rdevminor'),
        nameSize: hex(94, 'namesize'),
        check: hex(102, 'check'),
        headerSize: 110,
        extraSize: 0,
      };
    }
    case 'odc': {
      const oct = (o: number, n: number, field: string) => parseDigits(h, o, n, 8, field, at);
      const [rdevMajor, rdevMinor] = splitLinuxDev(oct(42, 6, 'rdev'));
      return {
        variant,
        devKey: String(oct(6, 6, 'dev')),
        ino: oct(12, 6, 'ino'),
        mode: oct(18, 6, 'mode'),
        uid: oct(24, 6, 'uid'),
        gid: oct(30, 6, 'gid'),
        nlink: oct(36, 6, 'nlink'),
        rdevMajor,
        rdevMinor,
        mtime: oct(48, 11, 'mtime'),
        nameSize: oct(59, 6, 'namesize'),
        fileSize: oct(65, 11, 'filesize'),
        check: 0,
        headerSize: 76,
        extraSize: 0,
      };
    }
    case 'afio': {
      for (const [o, c] of [[30, 'm'], [85, 'n'], [98, 's'], [115, ':']] as const) {
        if (h[o] !== c.charCodeAt(0)) {
          throw badArchive(`afio header: expected "${c}" at header byte ${o}`, { layer: at.layer, offset: offset + o });
        }
      }
      const hex = (o: number, n: number, field: string) => parseDigits(h, o, n, 16, field, at);
      const [rdevMajor, rdevMinor] = splitLinuxDev(hex(61, 8, 'rdev'));
      return {
        variant,
        devKey: String(hex(6, 8, 'dev')),
        ino: hex(14, 16, 'ino'),
        mode: parseDigits(h, 31, 6, 8, 'mode', at),
        uid: hex(37, 8, 'uid'),
        gid: hex(45, 8, 'gid'),
        nlink: hex(53, 8, 'nlink'),
        rdevMajor,
        rdevMinor,
        mtime: hex(69, 16, 'mtime'),
        nameSize: hex(86, 4, 'namesize'),
        fileSize: hex(99, 16, 'filesize'),
        check: 0,
        headerSize: 116,
        extraSize: hex(94, 4, 'xsize'),
      };
    }
    case 'bin-le':
    case 'bin-be': {
      const view = new DataView(h.buffer, h.byteOffset, 26);
      const le = variant === 'bin-le';
      const w = (i: number) => view.getUint16(i * 2, le);
      // 32-bit values are two 16-bit words, high word first, each in the archive's byte order
      const rdev = w(7);
      return {
        variant,
        devKey: String(w(1)),
        ino: w(2),
        mode: w(3),
        uid: w(4),
        gid: w(5),
        nlink: w(6),
        rdevMajor: (rdev >> 8) & 0xff,
        rdevMinor: rdev & 0xff,
        mtime: w(8) * 65536 + w(9),
        nameSize: w(10),
        fileSize: w(11) * 65536 + w(12),
        check: 0,
        headerSize: 26,
        extraSize: 0,
      };
    }
  }
}
