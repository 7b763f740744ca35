/**
 * The identification section of a flash archive (flash_archive(4); formats.md 3): `key=value`
 * lines, keys matched case-insensitively, the value being the rest of the line after the first
 * '='. `content_description` may continue over following lines that have no '='. Unknown keys
 * and `X-…` user keys are kept for display and otherwise ignored.
 *
 * What decides whether we can install from the archive:
 *   files_archived_method    cpio (default) | pax          else P2V_UNSUPPORTED
 *   files_compressed_method  none (default) | compress     else P2V_UNSUPPORTED
 *   rootpool=…               a ZFS send stream, not cpio/pax: P2V_UNSUPPORTED (recreate with
 *                            `flarcreate -L cpio|pax`), as the illumos brand does
 *   type                     FULL (default; version 1 has no type) | DIFFERENTIAL refused
 */
import { badArchive, P2VError } from '../../errors.js';
import type { Line } from './lines.js';

export interface FlarIdentification {
  /** every key=value line in archive order, keys as spelled (continuations joined with '\n') */
  fields: Array<[string, string]>;
  archiver: 'cpio' | 'pax';
  compression: 'none' | 'compress';
  /** files_archived_size: bytes of the archive section as stored, when given */
  archivedSize?: number;
  type: 'FULL' | 'DIFFERENTIAL';
}

export interface IdentificationNotes {
  warn(message: string): void;
}

/** Parse and check the identification lines (section_begin/section_end excluded). */
export function parseIdentification(lines: Line[], layer: string, notes: IdentificationNotes): FlarIdentification {
  const fields: Array<[string, string]> = [];
  /** lower-case key → [value, line offset]; the last line wins, as in the installer's parser */
  const byKey = new Map<string, { value: string; offset: number }>();
  let last: [string, string] | undefined;
  for (const line of lines) {
    const equals = line.text.indexOf('=');
    if (equals <= 0) {
      if (last && last[0].toLowerCase() === 'content_description') {
        last[1] += `\n${line.text}`;
        byKey.set('content_description', { value: last[1], offset: byKey.get('content_description')!.offset });
      }
      continue; // anything else without a key is not ours to judge
    }
    const key = line.text.slice(0, equals);
    const value = line.text.slice(equals + 1);
    const lower = key.toLowerCase();
    const earlier = byKey.get(lower);
    if (earlier && earlier.value !== value && DECISIVE.has(lower)) {
      notes.warn(`identification section repeats ${lower} with another value ("${earlier.value}", then "${value}"): the last one is used`);
    }
    last = [key, value];
    fields.push(last);
    byKey.set(lower, { value, offset: line.offset });
  }
  const get = (key: string) => byKey.get(key);

  const rootpool = get('rootpool');
  if (rootpool) {
    throw new P2VError(
      'P2V_UNSUPPORTED',
      `this flash archive holds a ZFS send stream of root pool "${rootpool.value}", not a cpio or pax archive; recreate it with "flarcreate -L cpio" or "flarcreate -L pax"`,
      { layer, offset: rootpool.offset },
    );
  }

  const type = get('type');
  const typeValue = (type?.value ?? 'FULL').toUpperCase();
  if (typeValue === 'DIFFERENTIAL') {
    throw new P2VError('P2V_UNSUPPORTED', 'a differential flash archive only holds changes against its master system; install the zone from a full archive', {
      layer,
      offset: type!.offset,
    });
  }
  if (typeValue !== 'FULL') {
    throw new P2VError('P2V_UNSUPPORTED', `unknown flash archive type "${type!.value}" (FULL or DIFFERENTIAL expected)`, { layer, offset: type!.offset });
  }

  const method = get('files_archived_method');
  const archiver = (method?.value ?? '').toLowerCase() || 'cpio';
  if (archiver !== 'cpio' && archiver !== 'pax') {
    throw new P2VError('P2V_UNSUPPORTED', `files_archived_method "${method!.value}" is not supported (cpio or pax)`, { layer, offset: method!.offset });
  }

  const compressed = get('files_compressed_method');
  const compression = (compressed?.value ?? '').toLowerCase() || 'none';
  if (compression !== 'none' && compression !== 'compress') {
    throw new P2VError('P2V_UNSUPPORTED', `files_compressed_method "${compressed!.value}" is not supported (none or compress)`, { layer, offset: compressed!.offset });
  }

  let archivedSize: number | undefined;
  const size = get('files_archived_size');
  if (size) {
    if (/^[0-9]{1,16}$/.test(size.value) && Number(size.value) >= 1) archivedSize = Number(size.value);
    else notes.warn(`files_archived_size "${size.value}" is not a positive number: ignored`);
  }

  return { fields, archiver, compression, archivedSize, type: 'FULL' };
}

const DECISIVE = new Set(['files_archived_method', 'files_compressed_method', 'files_archived_size', 'type', 'rootpool']);

/** The cookie line: `FlAsH-aRcHiVe-<major>.<minor>`, optionally followed by `.<more>`. */
export function parseCookie(line: Line | undefined, layer: string): { major: number; minor: number; version: string } {
  const match = line && line.terminated ? /^FlAsH-aRcHiVe-([0-9]+)\.([0-9]+)(?:\..*)?$/.exec(line.text) : null;
  if (!match) {
    throw badArchive('not a flash archive: the first line is not a FlAsH-aRcHiVe-<major>.<minor> cookie', { layer, offset: 0 });
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major !== 1 && major !== 2) {
    throw new P2VError('P2V_UNSUPPORTED', `flash archive version ${major}.${minor} is not supported (major version 1 or 2)`, { layer, offset: 0 });
  }
  return { major, minor, version: `${match[1]}.${match[2]}` };
}
