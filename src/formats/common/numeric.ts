/**
 * Checked number parsing for header fields: garbage or overflow is an error, never a NaN or a
 * silently wrapped value (libarchive and Go reject the same way).
 */
import { badArchive } from '../../errors.js';

export interface FieldContext {
  layer: string;
  /** offset of the header start; field errors name header offset + field offset */
  offset: number;
}

/** Parse `bytes` as digits of `radix` (8 or 16); every byte must be a digit. */
export function parseDigits(bytes: Uint8Array, start: number, length: number, radix: 8 | 16, field: string, at: FieldContext): number {
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const c = bytes[i]!;
    let digit: number;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (radix === 16 && c >= 0x61 && c <= 0x66) digit = c - 0x57;
    else if (radix === 16 && c >= 0x41 && c <= 0x46) digit = c - 0x37;
    else digit = 99;
    if (digit >= radix) {
      throw badArchive(`bad ${field} field: "${Buffer.from(bytes.subarray(start, start + length)).toString('latin1')}" is not a ${radix === 8 ? 'octal' : 'hex'} number`, {
        layer: at.layer,
        offset: at.offset + start,
      });
    }
    value = value * radix + digit;
  }
  if (!Number.isSafeInteger(value)) {
    throw badArchive(`${field} field overflows`, { layer: at.layer, offset: at.offset + start });
  }
  return value;
}
