/**
 * ioError: an fs error becomes a P2V_IO error naming its errno, also when it was thrown in a
 * worker thread and crossed to this one by structured clone (piscina's task errors), which
 * keeps name, message and stack but drops `code`: disk full was reported as "EIO".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ioError } from '../../src/errors.js';

function fsError(): NodeJS.ErrnoException {
  try {
    fs.openSync('/nonexistent-zonep2v/x', 'r');
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('the open did not fail');
}

test('ioError names the errno of an fs error, here or from another thread', () => {
  const local = fsError();
  assert.equal(ioError(local, 'a/b', 'open').message, 'open failed: ENOENT');
  const cloned = structuredClone(local);
  assert.equal(cloned.code, undefined, 'the premise: structured clone drops code');
  assert.equal(ioError(cloned, 'a/b', 'write').message, 'write failed: ENOENT');
  assert.equal(ioError(new Error('something else'), 'a/b', 'write').message, 'write failed: EIO');
});
