/**
 * The one Entry model every format reader produces and the writer consumes.
 *
 * Paths are "byte strings": each char holds one byte (latin1), because Solaris names are bytes,
 * not necessarily UTF-8. Convert with `pathBytes()` for file-system calls and `displayPath()` for
 * people. '/' is 0x2f in every encoding we meet, so splitting on it is safe.
 */
export type EntryType =
  | 'file'
  | 'dir'
  | 'symlink'
  | 'hardlink'
  | 'char'
  | 'block'
  | 'fifo'
  | 'socket'
  /** metadata only (xattrs, ACLs) for a member emitted earlier under `path`: formats such as
   *  Solaris cpio put attributes after their file, and a reader cannot hold a file back */
  | 'attrs'
  /** dump incrementals (level >= 1): `path` names an inode this dump does not carry because its
   *  content did not change since the previous level (`inode` says which). The tree extracted
   *  from that level holds it; the writer finds it through the content index (inode → path)
   *  and keeps it, moves it or links it here. mode/uid/gid/mtimeNs mean something only with
   *  `newMetadata`. */
  | 'unchanged';

export interface AclRecord {
  /** 'posix' (Solaris aclent / POSIX draft) or 'nfs4' (Solaris ACE) */
  kind: 'posix' | 'nfs4';
  /** the ACL in its archive's text form, e.g. "user::rw-,group::r--,mask:r--,other:r--" */
  text: string;
}

export interface Entry {
  /** member name as stored, byte string, not yet checked */
  path: string;
  type: EntryType;
  /** permission bits incl. setuid/setgid/sticky (mode & 0o7777) */
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  /** modification time, nanoseconds since the epoch (may be negative) */
  mtimeNs: bigint;
  /** bytes of body to be written (files only; 0 for everything else) */
  size: number;
  /** symlink target (verbatim) or, for hardlinks, the member name it links to; byte strings */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** extended attributes, name → value (from Solaris /dev/null entries, pax keys, dump EAs) */
  xattrs?: Map<string, Uint8Array>;
  acls?: AclRecord[];
  /** byte offset of this entry's header in the stream its reader parses (for messages) */
  offset: number;
  /** the body; the consumer must drain it (or call skip) before asking for the next entry */
  body?: EntryBody;
  /** directory images: the file the body comes from (byte string), so a writer may copy it
   *  file to file in a worker instead of reading `body` here */
  sourcePath?: string;
  /** directory images: the source file's identity and change time ("dev:ino:ctimeNs:size:mtimeNs");
   *  a stamp equal to the one recorded in the content index means the source has not changed
   *  since the last copy (ctime cannot be set back by users: a stricter quick check than rsync's) */
  sourceStamp?: string;
  /** directory images: the source file's "dev:ino" as listed; the copy reads only that file
   *  (one swapped in since - through a directory replaced by a symlink, a device, a FIFO - is
   *  refused) */
  sourceIdentity?: string;
  /** dump images: the inode number in the dumped file system (several names of one file share
   *  it); the content index records it so a later incremental dump can be applied */
  inode?: number;
  /** 'unchanged' entries: mode/uid/gid/mtimeNs are the inode's new metadata (a metadata-only
   *  record: only its owner, mode or times changed), to be applied to the kept content */
  newMetadata?: boolean;
  /** 'unchanged' entries: the dump names `path` but its inode's data never came (removed while
   *  the dump ran): whatever the previous level left at `path` stays, as restore -r keeps it */
  keepPrevious?: boolean;
  /** hard links of odc/bin/afio cpio, which carry their own copy of the group's data: its size
   *  (`body` is that copy; a consumer that makes the link need not read it). A writer that could
   *  not place the link's target writes the link as a file from it instead. */
  linkDataSize?: number;
}

export interface EntryBody {
  /** yields the body in pieces; pieces may alias the reader's buffers and are valid only until
   *  the next piece is requested — copy what you keep */
  chunks(): AsyncIterable<Uint8Array>;
  /** The whole body, consumed, when it is already in memory (no await needed); otherwise
   *  undefined and nothing is consumed. A fast path for the many small files of an image. */
  whole?(): Uint8Array | undefined;
  /** Sparse bodies (optional): the same logical bytes as `chunks()`, but a hole comes as a
   *  number — that many zero bytes the archive does not store — so a writer can seek over it
   *  and leave a hole instead of writing zeros. Data pieces follow the `chunks()` rules. A
   *  consumer reads the body through exactly one of `chunks()`, `pieces()` or `whole()`. */
  pieces?(): AsyncIterable<Uint8Array | number>;
}

const asciiOnly = /^[\x00-\x7f]*$/;

/** A byte-string path as the fs calls take it: the string itself when it is ASCII (the same
 *  bytes either way, and Node converts a string on its native side faster than a Buffer is
 *  made here: ~0.4 us per call, once per file-system call), else a Buffer of its bytes. */
export function pathBytes(path: string): string | Buffer {
  return asciiOnly.test(path) ? path : Buffer.from(path, 'latin1');
}

export function displayPath(path: string): string {
  return Buffer.from(path, 'latin1').toString('utf8');
}

/** Convert a UTF-8 JavaScript string (e.g. a pax value) to the byte-string form. */
export function toBytePath(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

export const S_IFMT = 0o170000;

/** Map the Unix type bits of a mode to our entry type (undefined for unknown ones). */
export function typeFromMode(mode: number): EntryType | undefined {
  switch (mode & S_IFMT) {
    case 0o100000: return 'file';
    case 0o040000: return 'dir';
    case 0o120000: return 'symlink';
    case 0o020000: return 'char';
    case 0o060000: return 'block';
    case 0o010000: return 'fifo';
    case 0o140000: return 'socket';
    default: return undefined;
  }
}
