/**
 * Extended attributes onto the zone root, where the file system takes them: `user.*` only.
 * Every attribute is recorded in the content index whatever happens here (zone-writer.ts);
 * this module only decides which ones can also be set on disk, and sets them at the end of the
 * run, after all writes are drained and before directory metadata (until then our directories
 * are 0700 and ours: user.* on a directory needs write permission on it, and a 0555 one would
 * refuse a run that is not root).
 *
 * Names. Readers hand over two kinds of names in one map (Entry.xattrs):
 *   - Linux names with their namespace (pax SCHILY.xattr.* / LIBARCHIVE.xattr.*, Linux dump EA
 *     records): `user.comment`, `security.selinux`, `system.posix_acl_access`, `trusted.x`;
 *   - bare Solaris attribute names (tar `E` members, cpio `/dev/null/<attr>`, ufsdump attribute
 *     directories): `ANewAttribute`, and the system attributes `SUNWattr_ro` / `SUNWattr_rw`
 *     (XDR nvlists that mean nothing on Linux).
 * A name that starts with a Linux namespace is taken as Linux; any other is Solaris and maps to
 * `user.<name>`. Only `user.*` is set: security.*, system.*, trusted.* (SELinux labels of
 * another system, ACLs that have their own path, root-only namespaces) and the Solaris system
 * attributes are kept in the index only, with one summary warning per run. (A Solaris attribute
 * that happens to be called "user.x" thus becomes user.x, not user.user.x: names carry no tag of
 * their origin, and the namespace test is the only one that needs none.)
 *
 * How. Node has no setxattr(2), so Debian's `setfattr` (package attr) does it, many files per
 * process through `setfattr -h --restore=-`. Its dump format, as attr 2.5.1 reads it:
 *   # file: <path>          path unquoted: "\ooo" (three octal digits) is one byte
 *   <name>=0s<base64>       name unquoted the same way, split at the first raw "="
 *   <blank line>
 * We octal-escape every byte that is not printable ASCII, and "\", "=" and space, so any byte
 * string survives (checked with strace: a path holding "\", newline, CR, "=", space and bytes
 * 0x80/0xff arrives intact). An empty value is written as "" (`0s` followed by nothing is
 * silently skipped by setfattr). Errors come back on stderr as `setfattr: <path>: <strerror>`,
 * the path escaped only for "\", newline and CR; they are matched back to the member's path.
 *
 * Never through a symlink. `--restore` honours `-h`: every set is lsetxattr(2) (strace shows
 * it; without -h it is setxattr and follows a symlink), so the final component is never
 * followed, whatever is there by the time setfattr runs: lsetxattr on a symlink fails with
 * EPERM for user.*, on a FIFO or device likewise. The directories on the way ARE followed by
 * the kernel, so each path is re-checked just before: every ancestor must be a real directory
 * (lstat) and the member itself a regular file or directory. Paths come only from the writer's
 * in-root resolution (root-resolver.ts) and are forgotten whenever the writer removes what they
 * name (ZoneWriter.clearPath), so an archive cannot swap a directory on the way for a symlink
 * between the placement and this step: a directory is only ever removed when empty. What is
 * left is the window between the lstat checks and setfattr's call, open only to another
 * process writing into the root while we run — the case node-tar's README calls unsafe by
 * nature and the writer does not defend against anywhere else either (security.md B.1).
 *
 * When setfattr is missing, or the file system refuses user attributes (ENOTSUP: tmpfs before
 * Linux 6.6, some network file systems), one warning says so and the run goes on.
 */
import { spawn } from 'node:child_process';
import { displayPath } from '../entry.js';
import { lstatOrUndefined } from './fs-bytes.js';
import { defaultLimits } from '../limits.js';
import type { Warning } from './types.js';

/** Linux namespaces (xattr(7)); a name starting with one of these is a Linux name. */
const LINUX_NAMESPACES = ['user.', 'trusted.', 'security.', 'system.'];
/** Solaris system attributes (fsattr(5)): XDR nvlists of Solaris file flags. */
const SOLARIS_SYSTEM = new Set(['SUNWattr_ro', 'SUNWattr_rw']);
/** XATTR_NAME_MAX */
const MAX_NAME_BYTES = 255;
/** XATTR_SIZE_MAX: Linux refuses a larger value (E2BIG) on every file system */
const MAX_VALUE_BYTES = 65536;
/** One setfattr process takes this many bytes of dump at most (many thousand files). */
const BATCH_BYTES = 4 * 1024 * 1024;

/**
 * The Linux name an attribute is set under, or undefined when it is only recorded. `name` is a
 * byte string (entry.ts).
 */
export function linuxXattrName(name: string): string | undefined {
  if (name.length === 0 || name.includes('\0')) return undefined;
  const linux = LINUX_NAMESPACES.some((ns) => name.startsWith(ns)) ? name : SOLARIS_SYSTEM.has(name) ? undefined : `user.${name}`;
  if (linux === undefined || !linux.startsWith('user.') || linux.length === 'user.'.length || linux.length > MAX_NAME_BYTES) return undefined;
  return linux;
}

/** setfattr's unquote() form of a byte string: "\ooo" for anything but plain printable ASCII. */
export function restoreQuote(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x3d) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += bytes[i];
  }
  return out;
}

/** How setfattr prints a path in its error messages (attr's xquote(path, "\n\r")). */
function errorQuote(bytes: string): string {
  return bytes.replace(/[\\\n\r]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export interface XattrApplyOptions {
  /** the command (default "setfattr", looked up on PATH) */
  command?: string;
}

/** The plan keeps paths as a tree of components, so that forgetting a removed directory costs
 *  what was planned below it, not a scan of the whole plan (a scan per removal made an image of
 *  many attributes and many replaced directories quadratic: 63 s). */
interface PlanNode {
  children?: Map<string, PlanNode>;
  /** Linux name → value, for the node at this path */
  names?: Map<string, Uint8Array>;
  /** bytes counted for the node itself, and for its names */
  own: number;
  namesBytes: number;
}

/** Bytes counted per tree node and per attribute beyond their characters (objects, map slots). */
const nodeCost = 96;
const attributeCost = 64;

export class XattrPlan {
  private readonly root: PlanNode = { own: nodeCost, namesBytes: 0 };
  /** nodes with names planned */
  private planned = 0;
  /** bytes counted over the tree (maxBytes bounds it) */
  private bytes = nodeCost;
  /** attributes left out because the plan was full */
  private overBudget = 0;
  /** attributes that are only recorded: how many, and the first few names for the summary */
  private recordOnly = 0;
  private readonly recordOnlyNames = new Set<string>();

  /** @param maxBytes what the plan may hold until the end of the run (limits.ts) */
  constructor(private readonly maxBytes = defaultLimits.maxXattrPlanBytes) {}

  get size(): number {
    return this.planned;
  }

  /** A new node now stands at `physical`: its attributes replace anything planned there. */
  replace(physical: string, xattrs: Map<string, Uint8Array> | undefined): void {
    const node = this.find(physical);
    if (node) this.dropNames(node);
    if (xattrs !== undefined) this.add(physical, xattrs);
  }

  /** More attributes for the node at `physical` (a directory listed again, an 'attrs' entry). */
  add(physical: string, xattrs: Map<string, Uint8Array>): void {
    let node: PlanNode | undefined;
    for (const [name, value] of xattrs) {
      const linux = value.length > MAX_VALUE_BYTES ? undefined : linuxXattrName(name);
      if (linux === undefined) {
        this.recordOnly++;
        if (this.recordOnlyNames.size < 6) this.recordOnlyNames.add(name);
        continue;
      }
      node ??= this.make(physical);
      const old = node?.names?.get(linux);
      const cost = attributeCost + linux.length + value.length - (old === undefined ? 0 : attributeCost + linux.length + old.length);
      if (node === undefined || this.bytes + cost > this.maxBytes) {
        this.overBudget++;
        continue;
      }
      if (!node.names) {
        node.names = new Map();
        this.planned++;
      }
      // a value of its own: a view would keep the reader's whole chunk alive until the end
      node.names.set(linux, value.byteLength === value.buffer.byteLength ? value : value.slice());
      node.namesBytes += cost;
      this.bytes += cost;
    }
  }

  /** The node at `physical` was removed (with everything below it, when it was a directory). */
  forget(physical: string, tree: boolean): void {
    if (this.planned === 0) return;
    if (!tree) {
      const node = this.find(physical);
      if (node) this.dropNames(node);
      return;
    }
    if (physical === '') {
      this.dropTree(this.root);
      this.root.children = undefined;
      return;
    }
    const cut = physical.lastIndexOf('/');
    const parent = cut < 0 ? this.root : this.find(physical.slice(0, cut));
    const name = physical.slice(cut + 1);
    const node = parent?.children?.get(name);
    if (!node) return;
    parent!.children!.delete(name);
    this.dropTree(node);
    this.bytes -= node.own;
  }

  /** The node for `physical`, made (with the ones above it) when missing; undefined when the
   *  plan has no room for it. */
  private make(physical: string): PlanNode | undefined {
    let node = this.root;
    if (physical === '') return node;
    for (const part of physical.split('/')) {
      let child = node.children?.get(part);
      if (!child) {
        const cost = nodeCost + part.length;
        if (this.bytes + cost > this.maxBytes) return undefined;
        child = { own: cost, namesBytes: 0 };
        this.bytes += cost;
        (node.children ??= new Map()).set(part, child);
      }
      node = child;
    }
    return node;
  }

  private find(physical: string): PlanNode | undefined {
    let node: PlanNode | undefined = this.root;
    if (physical === '') return node;
    for (const part of physical.split('/')) {
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  private dropNames(node: PlanNode): void {
    if (!node.names) return;
    node.names = undefined;
    this.planned--;
    this.bytes -= node.namesBytes;
    node.namesBytes = 0;
  }

  /** Everything below `node`, and its names, leave the plan (its own cost stays with it). */
  private dropTree(node: PlanNode): void {
    this.dropNames(node);
    if (!node.children) return;
    for (const child of node.children.values()) {
      this.dropTree(child);
      this.bytes -= child.own;
    }
    node.children = undefined;
  }

  /** Set what was planned; everything that goes wrong becomes a warning. */
  async apply(abs: (physical: string) => string, warn: (warning: Warning) => void, options: XattrApplyOptions = {}): Promise<void> {
    this.summariseRecordOnly(warn);
    if (this.overBudget > 0) {
      warn({
        code: 'P2V_LIMIT',
        message: `${this.overBudget} extended attribute(s) beyond the ${this.maxBytes} bytes the run holds to set at its end are kept in the content index only`,
      });
      this.overBudget = 0;
    }
    if (this.planned === 0) return;
    const command = options.command ?? 'setfattr';

    // re-check every path: real directories on the way, a regular file or directory at the end
    const dirs = new Map<string, boolean>([['', true]]);
    const isRealDir = (physical: string): boolean => {
      let known = dirs.get(physical);
      if (known === undefined) {
        known = lstatOrUndefined(abs(physical))?.isDirectory() ?? false;
        dirs.set(physical, known);
      }
      return known;
    };
    const batches: { dump: string[]; bytes: number; byErrorPath: Map<string, string> }[] = [];
    let batch: (typeof batches)[number] | undefined;
    let notSettable = 0;
    let attributes = 0;
    for (const [physical, names] of this.entries()) {
      const parts = physical === '' ? [] : physical.split('/');
      let ancestor = '';
      let safe = true;
      for (let i = 0; i < parts.length - 1 && safe; i++) {
        ancestor = i === 0 ? parts[0]! : `${ancestor}/${parts[i]}`;
        safe = isRealDir(ancestor);
      }
      if (!safe) {
        warn({ code: 'P2V_ENTRY_UNSAFE', message: `extended attributes not applied: "${displayPath(ancestor)}" is no longer a directory`, entry: displayPath(physical) });
        continue;
      }
      const stat = physical === '' ? undefined : lstatOrUndefined(abs(physical));
      if (physical !== '' && !(stat?.isFile() || stat?.isDirectory())) {
        // a symlink or a special file (Linux keeps user.* off those), or nothing any more
        notSettable += names.size;
        continue;
      }
      const path = abs(physical);
      const lines = [`# file: ${restoreQuote(path)}`];
      for (const [name, value] of names) lines.push(`${restoreQuote(name)}=${value.length === 0 ? '""' : `0s${Buffer.from(value).toString('base64')}`}`);
      lines.push('', '');
      const text = lines.join('\n');
      if (!batch || batch.bytes + text.length > BATCH_BYTES) batches.push((batch = { dump: [], bytes: 0, byErrorPath: new Map() }));
      batch.dump.push(text);
      batch.bytes += text.length;
      batch.byErrorPath.set(errorQuote(path), physical);
      attributes += names.size;
    }
    this.forget('', true);
    if (notSettable > 0) {
      warn({ code: 'P2V_XATTRS', message: `${notSettable} extended attribute(s) belong to symlinks or special files (Linux gives those no user attributes) or to members no longer there: kept in the content index only` });
    }

    /** strerror text → the files it was said of */
    const failures = new Map<string, Set<string>>();
    const otherErrors: string[] = [];
    for (const { dump, byErrorPath } of batches) {
      const result = await runSetfattr(command, Buffer.from(dump.join(''), 'latin1'));
      if (result.spawnError) {
        // execvp says EACCES when the command is on no PATH directory and one of them is closed
        const missing = result.spawnError.code === 'ENOENT' || result.spawnError.code === 'EACCES';
        warn({
          code: 'P2V_XATTRS',
          message: missing
            ? `${command} not found (Debian package "attr"): ${attributes} extended attribute(s) are kept in the content index only`
            : `${command} could not be started (${result.spawnError.code ?? result.spawnError.message}): extended attributes are kept in the content index only`,
        });
        return;
      }
      for (const line of result.stderr.split('\n')) {
        if (line.length === 0) continue;
        const prefix = `${command.slice(command.lastIndexOf('/') + 1)}: `;
        const split = line.lastIndexOf(': ');
        const physical = line.startsWith(prefix) && split > prefix.length ? byErrorPath.get(line.slice(prefix.length, split)) : undefined;
        if (physical === undefined) {
          otherErrors.push(line);
          continue;
        }
        const why = line.slice(split + 2);
        const files = failures.get(why) ?? new Set<string>();
        failures.set(why, files.add(physical));
      }
      if (result.signal !== null || (result.status !== 0 && result.status !== 1)) {
        otherErrors.push(`${command} ended with ${result.signal ?? `status ${result.status}`}`);
      }
    }
    for (const [why, files] of failures) {
      const count = files.size;
      const first = files.values().next().value!;
      if (why === 'Operation not supported') {
        warn({ code: 'P2V_XATTRS', message: `the file system under the root does not support user extended attributes: those of ${count} file(s) are kept in the content index only`, entry: displayPath(first) });
      } else {
        warn({ code: 'P2V_IO', message: `extended attributes not applied to ${count} file(s): ${why}${count > 1 ? ' (this one is the first)' : ''}`, entry: displayPath(first) });
      }
    }
    if (otherErrors.length > 0) {
      warn({ code: 'P2V_IO', message: `setting extended attributes: ${displayPath(otherErrors.slice(0, 3).join('; '))}${otherErrors.length > 3 ? ` (and ${otherErrors.length - 3} more)` : ''}` });
    }
  }

  /** What is planned, path by path (depth first, in the order the paths came). */
  private *entries(node = this.root, physical = ''): Generator<[string, Map<string, Uint8Array>]> {
    if (node.names) yield [physical, node.names];
    if (!node.children) return;
    for (const [part, child] of node.children) yield* this.entries(child, physical === '' ? part : `${physical}/${part}`);
  }

  /** One warning for all attributes that are only recorded. */
  private summariseRecordOnly(warn: (warning: Warning) => void): void {
    if (this.recordOnly === 0) return;
    const names = [...this.recordOnlyNames].slice(0, 5).map((n) => displayPath(n));
    warn({
      code: 'P2V_XATTRS',
      message: `${this.recordOnly} extended attribute(s) are kept in the content index only (only user.* attributes of at most 64 KiB are set on Linux; Solaris system attributes mean nothing here): ${names.join(', ')}${this.recordOnlyNames.size > names.length ? ', …' : ''}`,
    });
    this.recordOnly = 0;
    this.recordOnlyNames.clear();
  }
}

interface SetfattrResult {
  spawnError?: NodeJS.ErrnoException;
  status: number | null;
  signal: NodeJS.Signals | null;
  /** latin1, so path bytes survive */
  stderr: string;
}

function runSetfattr(command: string, dump: Buffer): Promise<SetfattrResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: SetfattrResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    // C locale: the strerror texts on stderr are matched ("Operation not supported")
    // its own process group: a Ctrl-C at the terminal stops us cleanly (cli/main.ts), and must
    // not kill setfattr half-way through the attributes of the members already written
    const child = spawn(command, ['-h', '--restore=-'], { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, detached: true });
    const stderr: Buffer[] = [];
    child.on('error', (error: NodeJS.ErrnoException) => done({ spawnError: error, status: null, signal: null, stderr: '' }));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin?.on('error', () => undefined); // EPIPE when setfattr stops reading early: its status says why
    child.on('close', (status, signal) => done({ status, signal, stderr: Buffer.concat(stderr).toString('latin1') }));
    child.stdin?.end(dump);
  });
}
