/**
 * node-batch.ts: many device nodes and FIFOs made by one tar process, then renamed into place.
 * The archive it hands tar is read back by GNU tar itself (the oracle for the header layout);
 * the nodes are checked on disk, including the fallback (no tar) and a request that cannot be
 * made. FIFOs need no privilege; device nodes are checked when running as root.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSpecialNodes, ustarOfNodes, type NodeRequest } from '../../../src/extract/node-batch.js';
import { haveTool, isRoot, run } from '../../helpers/tools.js';
import { devMajor, devMinor } from '../../helpers/tree-compare.js';

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'zonep2v-node-batch-'));
}

/** Make the requests, collecting the callback's calls in order. */
function makeAll(root: string, requests: NodeRequest[], tar?: string): { index: number; error?: string }[] {
  const calls: { index: number; error?: string }[] = [];
  makeSpecialNodes(root, requests, (index, error) => calls.push(error ? { index, error: (error as NodeJS.ErrnoException).code ?? error.message } : { index }), tar);
  return calls;
}

const fifos = (root: string, names: string[]): NodeRequest[] => names.map((name, i) => ({ path: `${root}/${name}`, type: 'fifo', mode: i % 2 ? 0o640 : 0o604, major: 0, minor: 0 }));

describe('node batches', () => {
  test('the archive handed to tar reads back, with GNU tar, as the requested nodes', { skip: haveTool('tar') ? false : 'needs GNU tar' }, () => {
    const requests: NodeRequest[] = [
      { path: '/x/a', type: 'char', mode: 0o4620, major: 13, minor: 2 },
      { path: '/x/b', type: 'block', mode: 0o640, major: 2097151, minor: 262143 },
      { path: '/x/c', type: 'fifo', mode: 0o600, major: 0, minor: 0 },
      { path: '/x/d', type: 'char', mode: 0o600, major: 2097152, minor: 0 }, // too wide for ustar: left out
    ];
    const dir = scratch();
    try {
      const file = path.join(dir, 'nodes.tar');
      fs.writeFileSync(file, ustarOfNodes(requests, [true, true, true, false]));
      const listing = run('tar', ['-tvf', file, '--numeric-owner']);
      assert.equal(listing.status, 0, listing.stderr);
      const lines = listing.stdout.toString().trim().split('\n').map((line: string) => line.split(/\s+/));
      // mode, owner, "major,minor" (or size), date, time, name
      assert.deepEqual(
        lines.map((f: string[]) => [f[0], f[1], f[2], f[f.length - 1]]),
        [
          ['crw--w----', '0/0', '13,2', '0'],
          ['brw-r-----', '0/0', '2097151,262143', '1'],
          ['prw-------', '0/0', '0', '2'],
        ],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('FIFOs in several directories, one name not UTF-8: all made, reported in order, no stage left', () => {
    const root = scratch();
    try {
      fs.mkdirSync(`${root}/a`);
      fs.mkdirSync(`${root}/b`);
      const names = [...Array.from({ length: 40 }, (_, i) => `a/p${i}`), ...Array.from({ length: 30 }, (_, i) => `b/q${i}`), 'b/\xff\xfe'];
      const requests = fifos(root, names);
      const calls = makeAll(root, requests);
      assert.deepEqual(calls, requests.map((_, index) => ({ index })));
      for (const [i, name] of names.entries()) {
        const stat = fs.lstatSync(Buffer.from(`${root}/${name}`, 'latin1'));
        assert.ok(stat.isFIFO(), `${name} is a FIFO`);
        assert.equal(stat.mode & 0o777, i % 2 ? 0o640 : 0o604, `${name}: permission bits`);
      }
      assert.deepEqual(fs.readdirSync(root).sort(), ['a', 'b'], 'the stage directory is gone');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('without tar every node is still made, one process each', () => {
    const root = scratch();
    try {
      const requests = fifos(root, ['f1', 'f2', 'f3']);
      assert.deepEqual(makeAll(root, requests, '/nonexistent/tar'), [{ index: 0 }, { index: 1 }, { index: 2 }]);
      for (const name of ['f1', 'f2', 'f3']) assert.ok(fs.lstatSync(`${root}/${name}`).isFIFO());
      assert.deepEqual(fs.readdirSync(root).sort(), ['f1', 'f2', 'f3']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a node whose directory is missing fails alone, with its own error', () => {
    const root = scratch();
    try {
      const requests = fifos(root, ['ok1', 'missing/p', 'ok2']);
      const calls = makeAll(root, requests);
      assert.deepEqual(calls.map((c) => c.index), [0, 1, 2]);
      assert.equal(calls[0]!.error, undefined);
      assert.equal(calls[2]!.error, undefined);
      assert.ok(calls[1]!.error, 'the missing directory is reported');
      assert.deepEqual(fs.readdirSync(root).sort(), ['ok1', 'ok2']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('device nodes keep their type and numbers', { skip: isRoot() ? false : 'needs root' }, () => {
    const root = scratch();
    try {
      const requests: NodeRequest[] = [];
      for (let i = 0; i < 300; i++) requests.push({ path: `${root}/n${i}`, type: i % 3 === 0 ? 'block' : 'char', mode: 0o600, major: 1 + (i % 250), minor: i * 997 });
      const calls = makeAll(root, requests);
      assert.equal(calls.filter((c) => c.error).length, 0, JSON.stringify(calls.filter((c) => c.error).slice(0, 3)));
      for (const [i, r] of requests.entries()) {
        const stat = fs.lstatSync(r.path, { bigint: true });
        assert.equal(r.type === 'block' ? stat.isBlockDevice() : stat.isCharacterDevice(), true, `n${i}: type`);
        assert.deepEqual([devMajor(stat.rdev), devMinor(stat.rdev)], [r.major, r.minor], `n${i}: numbers`);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
