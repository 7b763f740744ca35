/**
 * Solaris flash archive (flar) reader: a text envelope around a cpio or pax payload.
 *
 * State machine (formats.md 3; the solaris10 brand's install_flar):
 *   COOKIE    line 1 = FlAsH-aRcHiVe-<major>.<minor>; major 1 or 2
 *   SECTION   a line `section_begin=<name>`; the first must be `identification`
 *     BODY    lines up to `section_end=<name>`; a `section_begin=` inside, another section's
 *             `section_end=`, or EOF means corruption. identification lines are kept and
 *             parsed (identification.ts); predeployment, postdeployment, reboot, summary,
 *             manifest and user `X…` sections are only counted
 *   ARCHIVE   `section_begin=archive` has no end: every byte after its line is the payload.
 *             It goes back through the filter and format layers (context.openNested), so the
 *             chain reads e.g. flar → compress → cpio(newc), and its entries are ours.
 * Afterwards the payload bytes are counted to EOF and compared with files_archived_size.
 *
 * The identification section is reported through context.describe (inspect prints it) before
 * the first entry; nothing about it is a warning unless it is inconsistent.
 */
import type { Entry } from '../../entry.js';
import { badArchive, P2VError } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';
import type { Format, FormatContext } from '../format.js';
import { flarBid } from '../sniff.js';
import { parseCookie, parseIdentification, type FlarIdentification } from './identification.js';
import { readLine, type Line } from './lines.js';

export const flarFormat: Format = {
  name: 'flar',
  bid: flarBid,
  label() {
    return 'flar';
  },
  entries(reader, context) {
    return readFlar(reader, context);
  },
};

/** Everything the envelope says, as parsed before the payload. */
export interface FlarHeader {
  version: string;
  identification: FlarIdentification;
  /** section names in archive order, "archive" last */
  sections: string[];
}

const SECTION_BEGIN = 'section_begin=';
const SECTION_END = 'section_end=';

/** Read the envelope up to and including the `section_begin=archive` line. */
export async function readFlarHeader(reader: ByteReader, context: FormatContext): Promise<FlarHeader> {
  const layer = reader.layer;
  const maxLine = context.limits.maxMetaRecordBytes;
  const cookie = parseCookie(await readLine(reader, maxLine), layer);
  const sections: string[] = [];
  let identification: FlarIdentification | undefined;

  for (;;) {
    const line = await readLine(reader, maxLine);
    if (!line) {
      throw badArchive('the flash archive ends before its archive section (section_begin=archive)', { layer, offset: reader.offset });
    }
    if (!line.text.startsWith(SECTION_BEGIN)) {
      throw badArchive(`expected "section_begin=<name>", found ${quote(line.text)}`, { layer, offset: line.offset });
    }
    const name = line.text.slice(SECTION_BEGIN.length);
    if (sections.length === 0 && name !== 'identification') {
      throw badArchive(`the first section is "${name}"; a flash archive starts with its identification section`, { layer, offset: line.offset });
    }
    sections.push(name);
    if (name === 'archive') break;

    const body = await readSection(reader, name, line, maxLine, name === 'identification');
    if (name === 'identification') {
      identification = parseIdentification(body, layer, {
        warn: (message) => context.warn({ code: 'P2V_FLAR_IDENTIFICATION', message }),
      });
    } else if (!KNOWN_SECTIONS.has(name) && !name.startsWith('X')) {
      context.warn({ code: 'P2V_FLAR_SECTION', message: `unknown flash archive section "${name}": skipped` });
    }
  }
  return { version: cookie.version, identification: identification!, sections };
}

const KNOWN_SECTIONS = new Set(['identification', 'predeployment', 'postdeployment', 'reboot', 'summary', 'manifest', 'cookie']);

/** Lines of one section up to its section_end (kept only when `keep`). */
async function readSection(reader: ByteReader, name: string, begin: Line, maxLine: number, keep: boolean): Promise<Line[]> {
  const layer = reader.layer;
  const kept: Line[] = [];
  let keptBytes = 0;
  for (;;) {
    const line = await readLine(reader, maxLine);
    if (!line || !line.terminated) {
      throw badArchive(`section "${name}" (begun at byte ${begin.offset}) has no section_end=${name}: truncated or corrupt flash archive`, {
        layer,
        offset: reader.offset,
      });
    }
    if (line.text.startsWith(SECTION_END)) {
      const ended = line.text.slice(SECTION_END.length);
      if (ended === name) return kept;
      throw badArchive(`section "${name}" is closed by section_end=${ended}: corrupt flash archive`, { layer, offset: line.offset });
    }
    if (line.text.startsWith(SECTION_BEGIN)) {
      throw badArchive(`${quote(line.text)} inside section "${name}" (no section_end=${name} before it): corrupt flash archive`, { layer, offset: line.offset });
    }
    if (keep) {
      // a real identification section is a few KiB; one of many long lines is held whole
      // otherwise (500 lines of 1 MB took 616 MB)
      keptBytes += line.text.length;
      if (keptBytes > maxLine) {
        throw new P2VError('P2V_LIMIT', `section "${name}" is longer than ${maxLine} bytes (the metadata limit): not a flash archive's identification`, { layer, offset: line.offset });
      }
      kept.push(line);
    }
  }
}

async function* readFlar(reader: ByteReader, context: FormatContext): AsyncGenerator<Entry> {
  const layer = reader.layer;
  const header = await readFlarHeader(reader, context);
  const ident = header.identification;
  context.describe?.({
    layer,
    title: 'flash archive',
    fields: [
      ['version', header.version],
      ['sections', header.sections.join(', ')],
    ],
  });
  context.describe?.({ layer, title: 'identification section', fields: ident.fields.map(([k, v]) => [k, v]) });

  const payloadStart = reader.offset;
  const head = await reader.peek(512);
  if (head.length === 0) throw badArchive('the archive section is empty', { layer, offset: payloadStart });
  checkPayloadHead(head, ident, { layer, offset: payloadStart }, context);
  if (!context.openNested) {
    throw new P2VError('P2V_UNSUPPORTED', 'flash archive payloads need a nested open (context.openNested)', { layer, offset: payloadStart });
  }

  const entries = await context.openNested(reader.rest());
  yield* entries;

  // the payload's own reader may stop at its trailer; count the stored bytes to the end
  for await (const _ of reader.rest()) {
    // counting only
  }
  const payloadBytes = reader.offset - payloadStart;
  if (ident.archivedSize !== undefined && ident.archivedSize !== payloadBytes) {
    context.warn({
      code: 'P2V_FLAR_SIZE',
      message: `files_archived_size says ${ident.archivedSize} bytes but the archive section holds ${payloadBytes}: the flash archive may be truncated or padded`,
    });
  }
}

/** Cheap consistency checks on the first payload bytes against the identification section. */
function checkPayloadHead(head: Uint8Array, ident: FlarIdentification, at: { layer: string; offset: number }, context: FormatContext): void {
  const compressMagic = head.length >= 2 && head[0] === 0x1f && head[1] === 0x9d;
  if (ident.compression === 'compress' && !compressMagic) {
    throw badArchive('files_compressed_method=compress but the archive section does not start with compress(1) data', at);
  }
  if (ident.compression === 'none' && compressMagic) {
    context.warn({ code: 'P2V_FLAR_IDENTIFICATION', message: 'the archive section is compress(1) data although files_compressed_method is not "compress": decompressed anyway' });
  }
  if (compressMagic) return;
  const found = sniffArchiver(head);
  if (found && found !== ident.archiver) {
    context.warn({ code: 'P2V_FLAR_IDENTIFICATION', message: `the archive section is a ${found} archive although files_archived_method is "${ident.archiver}": read as ${found}` });
  }
}

function sniffArchiver(head: Uint8Array): 'cpio' | 'pax' | undefined {
  const text = (from: number, length: number) => Buffer.from(head.subarray(from, from + length)).toString('latin1');
  if (text(0, 4) === '0707' || (head[0] === 0xc7 && head[1] === 0x71) || (head[0] === 0x71 && head[1] === 0xc7)) return 'cpio';
  if (head.length >= 262 && text(257, 5) === 'ustar') return 'pax';
  return undefined;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
