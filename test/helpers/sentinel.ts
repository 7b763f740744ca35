/**
 * Sentinels for the security tests (security.md B.2: "put a sentinel file `outside/secret`
 * (content ORIGINAL) next to the root in every test and assert it is byte-identical, has the
 * same mode/owner, and has the same link count afterwards").
 *
 * A sandbox is a fresh directory in os.tmpdir():
 *
 *   <base>/root                  the zone root handed to extract()
 *   <base>/outside/secret        "ORIGINAL", mode 0640 (owner 4242:4343 when run as root)
 *   <base>/outside/secret-link   symlink → secret
 *   <base>/outside/dir/          the sentinel directory, mode 0750
 *   <base>/outside/dir/keep      "KEEP", mode 0600
 *
 * `snapshot()` records everything under <base> except the root: for each node its type, mode,
 * owner, link count, size, inode, mtime and ctime (ns; ctime catches even a chmod to the same
 * mode, a link()+unlink() pair or a rename), content and symlink target, and the directory
 * listings (so a new name anywhere beside the root is a difference). `assertUnchanged()`
 * compares a fresh snapshot with the first one, and checks that the root is still a real
 * directory. Paths are read as bytes.
 *
 * Tests that point links at host paths such as /etc use unique names and `guardHost()`, which
 * fails the test (and removes the stray file) if such a path appeared.
 *
 * Set ZONEP2V_KEEP_TEST_FILES=1 to keep sandboxes for a look.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nodeType } from './tree-compare.js';

export const ORIGINAL = 'ORIGINAL';
export const SENTINEL_UID = 4242;
export const SENTINEL_GID = 4343;

export interface NodeState {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  ino: number;
  rdev: number;
  mtimeNs: string;
  ctimeNs: string;
  /** sha256 of a regular file's content */
  sha256?: string;
  /** symlink target, latin1 byte string */
  target?: string;
  /** sorted child names of a directory, latin1 byte strings */
  children?: string[];
}

export type Snapshot = Map<string, NodeState>;

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Everything under `dir` (byte-exact), `dir` itself as ".". `exclude(rel)` leaves a path and
 * its subtree out (it is still listed among its parent's children).
 */
export function snapshot(dir: string, exclude: (rel: string) => boolean = () => false): Snapshot {
  const out: Snapshot = new Map();
  const visit = (abs: Buffer, rel: string) => {
    if (rel !== '.' && exclude(rel)) return;
    const stat = fs.lstatSync(abs, { bigint: true });
    const state: NodeState = {
      type: nodeType(stat),
      mode: Number(stat.mode),
      uid: Number(stat.uid),
      gid: Number(stat.gid),
      nlink: Number(stat.nlink),
      size: Number(stat.size),
      ino: Number(stat.ino),
      rdev: Number(stat.rdev),
      mtimeNs: stat.mtimeNs.toString(),
      ctimeNs: stat.ctimeNs.toString(),
    };
    if (stat.isFile()) state.sha256 = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    if (stat.isSymbolicLink()) state.target = (fs.readlinkSync(abs, { encoding: 'buffer' }) as Buffer).toString('latin1');
    if (stat.isDirectory()) {
      const names = (fs.readdirSync(abs, { encoding: 'buffer' }) as Buffer[]).map((n) => n.toString('latin1')).sort();
      state.children = names;
      for (const name of names) visit(Buffer.concat([abs, Buffer.from('/'), Buffer.from(name, 'latin1')]), rel === '.' ? name : `${rel}/${name}`);
    }
    out.set(rel, state);
  };
  visit(Buffer.from(dir), '.');
  return out;
}

/** Human-readable differences between two snapshots; empty when equal. */
export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  const diffs: string[] = [];
  const show = (rel: string) => JSON.stringify(Buffer.from(rel, 'latin1').toString('utf8'));
  for (const [rel, was] of before) {
    const now = after.get(rel);
    if (!now) {
      diffs.push(`${show(rel)}: removed`);
      continue;
    }
    for (const key of Object.keys(was) as (keyof NodeState)[]) {
      const a = JSON.stringify(was[key]);
      const b = JSON.stringify(now[key]);
      if (a !== b) diffs.push(`${show(rel)}: ${key} ${key === 'mode' ? `0o${(was.mode).toString(8)} → 0o${now.mode.toString(8)}` : `${a} → ${b}`}`);
    }
  }
  for (const rel of after.keys()) if (!before.has(rel)) diffs.push(`${show(rel)}: new ${after.get(rel)!.type}`);
  return diffs;
}

export interface Sandbox {
  base: string;
  /** the zone root (a real directory, created empty) */
  root: string;
  outside: string;
  /** <base>/outside/secret, content ORIGINAL */
  secret: string;
  /** <base>/outside/dir, the sentinel directory */
  sentinelDir: string;
  /** re-take the reference snapshot (after a test adds more things beside the root) */
  resnapshot(): void;
  /** assert nothing beside the root changed, and the root is still a real directory */
  assertUnchanged(context?: string): void;
  /** host paths (e.g. /etc/zonep2v-sec-…) that must not exist after the test */
  guardHost(...paths: string[]): void;
  /** a name unique to this sandbox, for host-path guards */
  readonly unique: string;
  cleanup(): void;
}

export function makeSandbox(label: string): Sandbox {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `zonep2v-sec-${label.replace(/[^\w.-]+/g, '_')}-`)));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  const secret = path.join(outside, 'secret');
  const sentinelDir = path.join(outside, 'dir');
  fs.mkdirSync(root, { mode: 0o755 });
  fs.mkdirSync(outside, { mode: 0o755 });
  fs.writeFileSync(secret, ORIGINAL, { mode: 0o640 });
  fs.chmodSync(secret, 0o640);
  fs.symlinkSync('secret', path.join(outside, 'secret-link'));
  fs.mkdirSync(sentinelDir, { mode: 0o750 });
  fs.chmodSync(sentinelDir, 0o750);
  fs.writeFileSync(path.join(sentinelDir, 'keep'), 'KEEP', { mode: 0o600 });
  if (isRoot()) {
    fs.chownSync(secret, SENTINEL_UID, SENTINEL_GID);
    fs.chownSync(sentinelDir, SENTINEL_UID, SENTINEL_GID);
  }
  const unique = `zonep2v-sec-${randomBytes(6).toString('hex')}`;
  const guarded: string[] = [];
  const besideRoot = () => snapshot(base, (rel) => rel === 'root');
  let reference = besideRoot();

  return {
    base,
    root,
    outside,
    secret,
    sentinelDir,
    unique,
    resnapshot() {
      reference = besideRoot();
    },
    assertUnchanged(context) {
      const rootStat = fs.lstatSync(root);
      assert.ok(rootStat.isDirectory(), `${context ? `${context}: ` : ''}the root is no longer a real directory`);
      // the sentinel by name, first: the clearest message for the commonest failure
      assert.equal(fs.readFileSync(secret, 'utf8'), ORIGINAL, `${context ? `${context}: ` : ''}outside/secret was rewritten`);
      const diffs = diffSnapshots(reference, besideRoot());
      assert.deepEqual(diffs, [], `${context ? `${context}: ` : ''}something beside the root changed:\n  ${diffs.join('\n  ')}`);
      const strays = guarded.filter((p) => fs.existsSync(p) || isSymlink(p));
      for (const p of strays) fs.rmSync(p, { recursive: true, force: true });
      assert.deepEqual(strays, [], `${context ? `${context}: ` : ''}written on the host outside the root`);
    },
    guardHost(...paths) {
      for (const p of paths) {
        assert.ok(!fs.existsSync(p), `host path ${p} exists before the test`);
        guarded.push(p);
      }
    },
    cleanup() {
      for (const p of guarded) if (fs.existsSync(p) || isSymlink(p)) fs.rmSync(p, { recursive: true, force: true });
      if (process.env.ZONEP2V_KEEP_TEST_FILES === '1') return;
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Run `body` in a fresh sandbox; afterwards (also when the body failed) assert that nothing
 * beside the root changed, then clean up. An escape is reported even if the body's own
 * assertions failed first.
 */
export async function withSandbox(label: string, body: (box: Sandbox) => Promise<void> | void): Promise<void> {
  const box = makeSandbox(label);
  let bodyError: unknown;
  try {
    await body(box);
  } catch (error) {
    bodyError = error;
  }
  try {
    box.assertUnchanged(label);
  } catch (sentinelError) {
    box.cleanup();
    if (bodyError !== undefined) {
      const why = (e: unknown) => (e instanceof Error ? e.message : String(e));
      throw new Error(`${why(sentinelError)}\n--- the test had also failed: ${why(bodyError)}`, { cause: bodyError });
    }
    throw sentinelError;
  }
  box.cleanup();
  if (bodyError !== undefined) throw bodyError;
}
