/**
 * Solaris sparse files in cpio (Solaris 11 `cpio -H ascii_sparse` / `-H odc_sparse`, formats.md
 * 4.5): the mode carries 0200000 above the type bits, and the member's data is a holes map
 * followed by the data regions only, concatenated. The map, in ASCII:
 *   `%10u` its own length in bytes (these 32 bytes and the closing NUL included), a space,
 *   `%20llu` the file's real size, a space, then `<data offset> <hole offset>` pairs separated by
 *   spaces (numbers may carry leading blanks), then a NUL.
 * Each pair is a data region [data offset, hole offset); what lies between regions is a hole.
 */
import { badArchive, P2VError } from '../../errors.js';
import type { ByteReader } from '../../io/byte-reader.js';
import type { SparseMap, SparseRegion } from '../common/sparse-body.js';

const SPARSE_BIT = 0o200000;
/** The fixed-width start of the map: length, space, real size, space. */
const mapHeadBytes = 32;

/** Is this a Solaris sparse member? (Solaris tests (mode & 0x30000) == 0x10000.) */
export function isSolarisSparse(mode: number): boolean {
  return (mode & 0o600000) === SPARSE_BIT;
}

/** Read the holes map at the start of a sparse member's data (`storedSize` bytes in all).
 *  Returns the map and the bytes it took, which are not file data. */
export async function readSolarisHolesMap(reader: ByteReader, storedSize: number, maxMapBytes: number, entry: string): Promise<{ map: SparseMap; mapBytes: number }> {
  const start = reader.offset;
  const at = (offset: number) => ({ layer: reader.layer, offset, entry });
  const what = 'Solaris sparse member';
  if (storedSize < mapHeadBytes + 1) throw badArchive(`${what}: ${storedSize} bytes of data cannot hold a holes map`, at(start));
  const head = /^ *(\d{1,10}) +(\d{1,20}) $/.exec(Buffer.from(await reader.readExact(mapHeadBytes, 'Solaris holes map')).toString('latin1'));
  if (!head) throw badArchive(`${what}: the data does not start with a holes map (length, file size)`, at(start));
  const mapBytes = Number(head[1]);
  const realSize = Number(head[2]);
  if (mapBytes < mapHeadBytes + 1 || mapBytes > storedSize) throw badArchive(`${what}: holes map of ${mapBytes} bytes in ${storedSize} bytes of data`, at(start));
  if (mapBytes > maxMapBytes) throw new P2VError('P2V_LIMIT', `${what}: holes map of ${mapBytes} bytes exceeds the metadata limit (${maxMapBytes})`, at(start));
  if (!Number.isSafeInteger(realSize)) throw badArchive(`${what}: file size ${head[2]} is out of range`, at(start + 11));
  const rest = await reader.readExact(mapBytes - mapHeadBytes, 'Solaris holes map');
  if (rest[rest.length - 1] !== 0) throw badArchive(`${what}: the holes map does not end with a NUL where its length says`, at(start + mapBytes - 1));
  const text = Buffer.from(rest.subarray(0, rest.length - 1)).toString('latin1').trim();
  const numbers = text === '' ? [] : text.split(/ +/);
  if (numbers.length % 2 !== 0 || numbers.some((n) => !/^\d{1,20}$/.test(n))) throw badArchive(`${what}: the holes map is not pairs of decimal offsets`, at(start + mapHeadBytes));
  const regions: SparseRegion[] = [];
  for (let i = 0; i < numbers.length; i += 2) {
    const data = Number(numbers[i]);
    const hole = Number(numbers[i + 1]);
    if (hole < data) throw badArchive(`${what}: a data region ends (${hole}) before it starts (${data})`, at(start + mapHeadBytes));
    if (hole > data) regions.push({ offset: data, length: hole - data }); // a pair may be empty
  }
  return { map: { realSize, regions }, mapBytes };
}
