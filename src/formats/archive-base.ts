/**
 * The Solaris installer's "archive base" rule (get_archive_base in the brands' shared
 * common.ksh; solaris-p2v.md 1.5, formats.md 0): where inside the zone an archive's members
 * belong, judged from the first path component of the member names.
 *
 *   any name starting with "/"                   → absolute: the installer refuses the image
 *   one top-level name, "root"                   → made inside the zonepath: members are
 *                                                  root/…, extract in <zonepath>
 *   one top-level name equal to the zonepath's   → made of the zonepath itself:
 *     last component                               <name>/root/…, extract in dirname(zonepath)
 *   one other top-level name                     → mismatch: the installer refuses the image
 *   several names, "root" among them and none    → made inside the zonepath
 *     of bin, etc, var
 *   several names otherwise                      → a zone root or a physical system's root
 *
 * A leading "./" counts as no prefix. Deliberate difference: a member that is "." or "./"
 * alone names the archive's top directory and is not counted; the ksh counts it as an empty
 * name, which makes a `find .` archive of the zonepath's parent look like a root archive.
 *
 * Pure: names in, verdict out. The installer lists the whole archive first; a streaming
 * extractor sees only the first N names, so the verdict says whether more names could still
 * change it (`certain`).
 */
import { toBytePath } from '../entry.js';

export type ArchiveBase =
  /** members are relative to the zone root (a physical root or a zone root archive) */
  | { kind: 'zoneroot'; certain: boolean; topNames: string[] }
  /** members start with root/ (archive made inside the zonepath) */
  | { kind: 'zonepath'; certain: boolean; topNames: string[] }
  /** members start with <top>/root/ (archive of the zonepath directory itself) */
  | { kind: 'zonepath-parent'; certain: boolean; top: string; topNames: string[] }
  /** refused: a member name is absolute (the first one seen is given) */
  | { kind: 'absolute'; certain: true; name: string }
  /** refused: a single top-level directory that is not the zonepath's last component */
  | { kind: 'mismatch'; certain: boolean; top: string; expected: string; topNames: string[] };

export interface ArchiveBaseOptions {
  /** the zonepath (e.g. /zones/z1); its last component is compared with a single top dir */
  zonepath: string;
  /** true when `names` are all the archive's members (the verdict is then final) */
  complete?: boolean;
}

/** First component of a member name, "" for the archive's own top (".", "./"). Byte strings. */
export function topComponent(name: string): string {
  let rest = name;
  while (rest.startsWith('./')) rest = rest.slice(2);
  if (rest === '.') return '';
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}

export function lastComponent(path: string): string {
  const parts = path.split('/').filter((p) => p.length > 0);
  return parts.length > 0 ? parts[parts.length - 1]! : '';
}

/** Decide the archive base from member names (byte strings, as entries carry them). */
export function archiveBase(names: Iterable<string>, options: ArchiveBaseOptions): ArchiveBase {
  const complete = options.complete ?? false;
  const tops = new Set<string>();
  for (const name of names) {
    if (name.startsWith('/')) return { kind: 'absolute', certain: true, name };
    const top = topComponent(name);
    if (top !== '') tops.add(top);
  }
  const topNames = [...tops].sort();
  const sawRoot = tops.has('root');
  const sawSystemDir = tops.has('bin') || tops.has('etc') || tops.has('var');

  if (tops.size <= 1) {
    if (tops.size === 0) return { kind: 'zoneroot', certain: complete, topNames };
    const top = topNames[0]!;
    if (top === 'root') return { kind: 'zonepath', certain: complete, topNames };
    const expected = toBytePath(lastComponent(options.zonepath));
    if (top === expected) return { kind: 'zonepath-parent', certain: complete, top, topNames };
    return { kind: 'mismatch', certain: complete, top, expected, topNames };
  }
  // several names: once bin/etc/var is seen no further name can change the verdict
  if (sawRoot && !sawSystemDir) return { kind: 'zonepath', certain: complete, topNames };
  return { kind: 'zoneroot', certain: complete || sawSystemDir, topNames };
}

/**
 * A member name relative to the zone root under a verdict: the prefix the archive base adds is
 * removed; undefined when the member lies outside the zone root (e.g. the zonepath's own
 * SUNWdetached.xml in a zonepath archive). "" is the zone root itself.
 */
export function rebaseName(name: string, base: ArchiveBase): string | undefined {
  let rest = name;
  while (rest.startsWith('./')) rest = rest.slice(2);
  if (rest === '.') rest = '';
  let prefix: string;
  switch (base.kind) {
    case 'zoneroot':
      return rest;
    case 'zonepath':
      prefix = 'root';
      break;
    case 'zonepath-parent':
      prefix = `${base.top}/root`;
      break;
    default:
      return undefined;
  }
  if (rest === prefix || rest === `${prefix}/`) return '';
  if (rest.startsWith(`${prefix}/`)) return rest.slice(prefix.length + 1);
  return undefined;
}
