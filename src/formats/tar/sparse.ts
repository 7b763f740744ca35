/**
 * GNU sparse files: where each stored data region belongs in the logical file.
 *
 * Four encodings of the same map (GNU tar manual "Sparse Formats"; Go archive/tar sparse code):
 *   old GNU  typeflag 'S': 4 (offset, numbytes) pairs in the header at 386, isextended at 482,
 *            realsize at 483; while isextended, 512-byte extension blocks of 21 pairs follow
 *            the header, before the data
 *   pax 0.0  GNU.sparse.size (real size), GNU.sparse.numblocks, then repeated
 *            GNU.sparse.offset / GNU.sparse.numbytes records, in order
 *   pax 0.1  GNU.sparse.size, GNU.sparse.numblocks, GNU.sparse.map = "off,len,off,len,…"
 *   pax 1.0  GNU.sparse.major=1, minor=0, realsize, name; the map is decimal text at the start
 *            of the data ("count\n" then "off\nlen\n" per region), padded with NULs to 512
 * The stored data is the regions concatenated; everything between them is a hole (zeros).
 * GNU.sparse.name, when present, is the member's real name (the header carries a made-up
 * "GNUSparseFile.<pid>/…" one).
 */
import { badArchive, P2VError } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';
import { BLOCK, fieldNumber, GNU_EXT_ENTRIES, GNU_EXT_ISEXTENDED_AT, GNU_ISEXTENDED_AT, GNU_REALSIZE_AT, GNU_SPARSE_AT, GNU_SPARSE_ENTRIES, type HeaderPlace } from './header.js';
import type { PaxFields } from './pax.js';
import type { SparseMap, SparseRegion } from '../common/sparse-body.js';

export type { SparseMap, SparseRegion };

export type SparseKind = 'old-gnu' | '0.0' | '0.1' | '1.0';

/** Which sparse encoding a regular member uses, if any. */
export function sparseKind(typeflag: string, pax: PaxFields | undefined): SparseKind | undefined {
  if (typeflag === 'S') return 'old-gnu';
  if (!pax) return undefined;
  const major = pax.sparse.get('GNU.sparse.major');
  const minor = pax.sparse.get('GNU.sparse.minor');
  if (major !== undefined || minor !== undefined) {
    if (major === '1' && minor === '0') return '1.0';
    if (major === '0' && minor === '1') return '0.1';
    if (major === '0' && minor === '0') return '0.0';
    return undefined; // an unknown version: libarchive and Go leave the member as it is stored
  }
  if (pax.sparse.has('GNU.sparse.map')) return '0.1';
  if (pax.sparsePairs.length > 0 || pax.sparse.has('GNU.sparse.numblocks')) return '0.0';
  return undefined;
}

function number(text: string | undefined, what: string, at: HeaderPlace): number {
  if (text === undefined || !/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw badArchive(`GNU sparse member: ${what} ${text === undefined ? 'missing' : JSON.stringify(text.slice(0, 40))} is not a decimal number`, at);
  }
  return Number(text);
}

function pairsToRegions(values: number[]): SparseRegion[] {
  const regions: SparseRegion[] = [];
  for (let i = 0; i + 1 < values.length; i += 2) regions.push({ offset: values[i]!, length: values[i + 1]! });
  return regions;
}

/** The map of a pax 0.0 or 0.1 member (everything is in the header records). */
export function paxSparseMap(kind: '0.0' | '0.1', pax: PaxFields, maxEntries: number, at: HeaderPlace): SparseMap {
  const realSize = number(pax.sparse.get('GNU.sparse.size') ?? pax.sparse.get('GNU.sparse.realsize'), 'GNU.sparse.size', at);
  let values: number[];
  if (kind === '0.1') {
    const text = pax.sparse.get('GNU.sparse.map') ?? '';
    values = text === '' ? [] : text.split(',').map((v) => number(v, 'GNU.sparse.map entry', at));
  } else {
    values = pax.sparsePairs;
  }
  if (values.length % 2 !== 0) throw badArchive('GNU sparse member: the map has an odd number of values', at);
  if (values.length / 2 > maxEntries) throw new P2VError('P2V_LIMIT', `GNU sparse map of ${values.length / 2} regions exceeds the metadata limit`, at);
  const numblocks = pax.sparse.get('GNU.sparse.numblocks');
  if (numblocks !== undefined && number(numblocks, 'GNU.sparse.numblocks', at) !== values.length / 2) {
    throw badArchive(`GNU sparse member: GNU.sparse.numblocks=${numblocks} but the map has ${values.length / 2} regions`, at);
  }
  return { realSize, regions: pairsToRegions(values) };
}

function readPairs(block: Uint8Array, start: number, count: number, into: number[], at: HeaderPlace): void {
  for (let i = 0; i < count; i++) {
    const base = start + i * 24;
    if (block[base] === 0) return; // GNU and BSD tar stop at the first empty slot
    const offset = fieldNumber(block, base, 12);
    const length = fieldNumber(block, base + 12, 12);
    if (offset === undefined || length === undefined || offset < 0n || length < 0n || offset > BigInt(Number.MAX_SAFE_INTEGER) || length > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw badArchive('GNU sparse member: bad number in the sparse map', { layer: at.layer, offset: at.offset + base });
    }
    into.push(Number(offset), Number(length));
  }
}

/** Old GNU 'S': the map in the header, then extension blocks read from `reader`. */
export async function oldGnuSparseMap(block: Uint8Array, reader: ByteReader, maxEntries: number, at: HeaderPlace): Promise<{ map: SparseMap; extensionBytes: number }> {
  const values: number[] = [];
  readPairs(block, GNU_SPARSE_AT, GNU_SPARSE_ENTRIES, values, at);
  const realSize = fieldNumber(block, GNU_REALSIZE_AT, 12);
  if (realSize === undefined || realSize < 0n || realSize > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw badArchive('GNU sparse member: bad realsize field', { layer: at.layer, offset: at.offset + GNU_REALSIZE_AT });
  }
  let extended = block[GNU_ISEXTENDED_AT] !== 0;
  let extensionBytes = 0;
  while (extended) {
    const extAt = { layer: at.layer, offset: reader.offset };
    const ext = await reader.readExact(BLOCK, 'GNU sparse extension block');
    extensionBytes += BLOCK;
    readPairs(ext, 0, GNU_EXT_ENTRIES, values, extAt);
    if (values.length / 2 > maxEntries) throw new P2VError('P2V_LIMIT', `GNU sparse map of more than ${maxEntries} regions exceeds the metadata limit`, at);
    extended = ext[GNU_EXT_ISEXTENDED_AT] !== 0;
  }
  return { map: { realSize: Number(realSize), regions: pairsToRegions(values) }, extensionBytes };
}

/**
 * Pax 1.0: read the map from the start of the data. Returns the map and the bytes it took
 * (whole blocks), which are not part of the stored regions.
 */
export async function readSparse10Map(reader: ByteReader, pax: PaxFields, storedSize: number, maxBytes: number, at: HeaderPlace): Promise<{ map: SparseMap; mapBytes: number }> {
  const realSize = number(pax.sparse.get('GNU.sparse.realsize') ?? pax.sparse.get('GNU.sparse.size'), 'GNU.sparse.realsize', at);
  const values: number[] = [];
  let expected = -1; // numbers still wanted after the count; -1 = count not read yet
  let current = '';
  let mapBytes = 0;
  while (expected !== 0) {
    if (mapBytes + BLOCK > storedSize) throw badArchive('GNU sparse 1.0 member: the sparse map runs past the member data', at);
    if (mapBytes + BLOCK > maxBytes) throw new P2VError('P2V_LIMIT', `GNU sparse 1.0 map exceeds the metadata limit (${maxBytes} bytes)`, at);
    const block = await reader.readExact(BLOCK, 'GNU sparse 1.0 map');
    mapBytes += BLOCK;
    for (let i = 0; i < BLOCK && expected !== 0; i++) {
      const c = block[i]!;
      if (c === 0x0a) {
        const value = number(current, 'sparse map entry', at);
        current = '';
        if (expected < 0) {
          expected = value * 2;
          if (value > maxBytes / 4) throw new P2VError('P2V_LIMIT', `GNU sparse map of ${value} regions exceeds the metadata limit`, at);
        } else {
          values.push(value);
          expected--;
        }
      } else if (c >= 0x30 && c <= 0x39 && current.length < 17) {
        current += String.fromCharCode(c);
      } else {
        throw badArchive(`GNU sparse 1.0 member: unexpected byte 0x${c.toString(16)} in the sparse map`, { layer: at.layer, offset: reader.offset - BLOCK + i });
      }
    }
  }
  const numblocks = pax.sparse.get('GNU.sparse.numblocks');
  if (numblocks !== undefined && number(numblocks, 'GNU.sparse.numblocks', at) !== values.length / 2) {
    throw badArchive(`GNU sparse member: GNU.sparse.numblocks=${numblocks} but the map has ${values.length / 2} regions`, at);
  }
  return { map: { realSize, regions: pairsToRegions(values) }, mapBytes };
}
