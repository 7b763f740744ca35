/**
 * Solaris tar side members (formats.md 5.3), folded into metadata, never paths:
 *   - typeflag 'A': an ACL for the member of the same name that follows; the body is the same
 *     blob as a Solaris cpio ACL entry (src/formats/cpio/solaris.ts parses both);
 *   - typeflag 'E': extended attributes, as pairs of members under /dev/null/: the header
 *     `/dev/null/<attr>.hdr` (xattr_hdr + xattr_buf naming the file and the attribute), then the
 *     value `/dev/null/<attr>` (typeflag 'E' again, or '5' for the attribute directory ".").
 *     In Solaris tar a directory's attributes come after its whole subtree; the header names
 *     the file, so order does not matter: each value becomes an 'attrs' entry for that file.
 * (`X`, Sun's pre-POSIX extended header, is plain pax and handled in pax.ts.)
 */
import type { AclRecord, Entry } from '../../entry.js';
import { parseSolarisAcl, parseSolarisXattrHeader, XATTR_PREFIX, type SolarisXattrHeader } from '../cpio/solaris.js';

export { XATTR_PREFIX };

/** Same member, whatever "./" or trailing "/" the writer added. */
function sameName(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return norm(a) === norm(b);
}

export class SolarisSideMembers {
  private pendingAcl: { name: string; acls: AclRecord[] } | undefined;
  /** the header whose value member comes next; 'invalid' = an unknown header: skip its value */
  private pendingXattr: SolarisXattrHeader | 'invalid' | undefined;

  /** An 'A' member: remember its ACLs for the next member. */
  acl(name: string, blob: Uint8Array): void {
    this.pendingAcl = { name, acls: parseSolarisAcl(blob) };
  }

  /** ACLs for the real member `name` (consumed); `mismatch` when they named another member. */
  aclsFor(name: string): { acls?: AclRecord[]; mismatch?: string } {
    const pending = this.pendingAcl;
    this.pendingAcl = undefined;
    if (!pending) return {};
    if (!sameName(pending.name, name)) return { mismatch: pending.name };
    return { acls: pending.acls };
  }

  /** Is the member named `name` (typeflag `typeflag`) part of an attribute pair? */
  isXattrMember(name: string, typeflag: string): boolean {
    return typeflag === 'E' || name.startsWith(XATTR_PREFIX);
  }

  /** True when an xattr header was read and its value member comes next. */
  get expectingValue(): boolean {
    return this.pendingXattr !== undefined;
  }

  /** A `<attr>.hdr` member's body; false when its version is unknown (the pair is ignored). */
  xattrHeader(body: Uint8Array): boolean {
    const header = parseSolarisXattrHeader(body);
    this.pendingXattr = header ?? 'invalid';
    return header !== undefined;
  }

  /** The header announcing the value member now being read (consumed); undefined if unknown. */
  takeXattrHeader(): SolarisXattrHeader | undefined {
    const header = this.pendingXattr;
    this.pendingXattr = undefined;
    return header === 'invalid' ? undefined : header;
  }

  /** The 'attrs' entry carrying one attribute value for its file. */
  static attrsEntry(header: SolarisXattrHeader, value: Uint8Array, offset: number): Entry {
    return {
      path: header.parent,
      type: 'attrs',
      mode: 0,
      uid: 0,
      gid: 0,
      mtimeNs: 0n,
      size: 0,
      offset,
      xattrs: new Map([[header.name, Uint8Array.from(value)]]),
    };
  }
}
