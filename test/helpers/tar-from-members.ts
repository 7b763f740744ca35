/**
 * The members of a cpio test case (test/helpers/cpio-writer.ts CpioMember: name, type, mode,
 * owner, data, link target, device numbers), written as a tar archive instead, so an attack
 * described once runs through both readers (test/helpers/attack-cases.ts).
 *
 *   tarFromMembers(members, 'pax')   ustar headers; a name or link target over 100 bytes goes
 *                                    into a pax `x` record (path / linkpath)
 *   tarFromMembers(members, 'gnu')   GNU headers; long names and targets as `L` / `K` members
 *
 * tar has no inode groups: a `hardlink` member is a typeflag '1' header naming its target
 * (cpio's `ino`, `nlink` and `linkData` have no meaning here, and a link's data is dropped, as
 * ustar links carry none). cpio-only knobs (rawMode, size/name overrides) are a test bug here.
 */
import type { CpioMember } from './cpio-writer.js';
import { concat, paxMember, tarArchive, type TarMember } from './tar-writer.js';

export type TarFlavour = 'pax' | 'gnu';

export const TAR_FLAVOURS: readonly TarFlavour[] = ['pax', 'gnu'];

const typeflags: Record<CpioMember['type'], string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

const defaultPerm: Record<CpioMember['type'], number> = { file: 0o644, hardlink: 0o644, dir: 0o755, symlink: 0o777, fifo: 0o644, char: 0o644, block: 0o644 };

const toBytes = (value: Uint8Array | string | undefined): Uint8Array => (value === undefined ? new Uint8Array(0) : typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'utf8')) : value);

/** GNU tar's long name/link member: a `././@LongLink` header whose data is the name + NUL. */
function gnuLong(type: 'L' | 'K', value: Uint8Array): TarMember {
  return { name: '././@LongLink', typeflag: type, flavour: 'gnu', data: concat([value, new Uint8Array(1)]) };
}

export function tarMembersFrom(members: readonly CpioMember[], flavour: TarFlavour): TarMember[] {
  const out: TarMember[] = [];
  for (const m of members) {
    if (m.rawMode !== undefined || m.fileSizeOverride !== undefined || m.nameSizeOverride !== undefined || m.checkOverride !== undefined) {
      throw new Error(`tar-from-members: ${String(m.name)} uses a cpio-only knob`);
    }
    const name = toBytes(m.name);
    const link = m.type === 'symlink' || m.type === 'hardlink' ? toBytes(m.target ?? '') : new Uint8Array(0);
    const longName = name.length > 100;
    const longLink = link.length > 100;
    if (longName || longLink) {
      if (flavour === 'gnu') {
        if (longLink) out.push(gnuLong('K', link));
        if (longName) out.push(gnuLong('L', name));
      } else {
        const records: Array<[string, Uint8Array]> = [];
        if (longName) records.push(['path', name]);
        if (longLink) records.push(['linkpath', link]);
        out.push(paxMember('x', records));
      }
    }
    const data = m.type === 'file' ? toBytes(m.data) : undefined;
    out.push({
      name: longName ? name.subarray(0, 100) : name,
      typeflag: typeflags[m.type],
      mode: (m.mode ?? defaultPerm[m.type]) & 0o7777,
      uid: m.uid ?? 0,
      gid: m.gid ?? 0,
      mtime: m.mtime ?? 1_700_000_000,
      data,
      size: data?.length ?? 0,
      // the target's exact bytes (linkname strings would be written as UTF-8)
      patch: (block) => block.set(link.subarray(0, 100), 157),
      devmajor: m.rdevMajor ?? 0,
      devminor: m.rdevMinor ?? 0,
      flavour: flavour === 'gnu' ? 'gnu' : 'ustar',
    });
  }
  return out;
}

export function tarFromMembers(members: readonly CpioMember[], flavour: TarFlavour): Uint8Array {
  return tarArchive(tarMembersFrom(members, flavour));
}
