// SPDX-License-Identifier: Apache-2.0 OR MIT
// The two builds: both load, through the package name as through their files, and export the
// same names; errors of one build are recognised by the classes of the other.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

import * as esm from '@ratewatch/client';

import { PACKAGE_DIR } from './helpers.mjs';

const require = createRequire(import.meta.url);
const cjs = require('@ratewatch/client');
const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));

const EXPECTED = [
  'AuthenticationError',
  'ConnectionError',
  'DEFAULT_BASE_URL',
  'DEFAULT_TIMEOUT_MS',
  'RateLimitExceededError',
  'RateWatch',
  'RateWatchError',
  'ServiceUnavailableError',
  'TimeoutError',
  'VERSION',
  'ValidationError',
];
const ERRORS = EXPECTED.filter((n) => n.endsWith('Error'));

describe('the ESM and CommonJS builds', () => {
  it('resolve to the two different builds', () => {
    assert.equal(require.resolve('@ratewatch/client'), join(PACKAGE_DIR, 'dist', 'cjs', 'index.js'));
    assert.notEqual(esm.RateWatch, cjs.RateWatch);
  });

  it('load from their files as from the package name', async () => {
    const esmFile = await import(pathToFileURL(join(PACKAGE_DIR, 'dist', 'esm', 'index.js')).href);
    assert.equal(esmFile.RateWatch, esm.RateWatch);
    assert.equal(require(join(PACKAGE_DIR, 'dist', 'cjs', 'index.js')).RateWatch, cjs.RateWatch);
  });

  it('export the same names', () => {
    assert.deepEqual(Object.keys(esm).sort(), EXPECTED);
    assert.deepEqual(Object.keys(cjs).sort(), EXPECTED);
  });

  it('export the same kinds of things and values', () => {
    for (const name of EXPECTED) {
      assert.equal(typeof esm[name], typeof cjs[name], name);
    }
    assert.equal(esm.VERSION, cjs.VERSION);
    assert.equal(esm.DEFAULT_BASE_URL, 'http://localhost:8081');
    assert.equal(cjs.DEFAULT_TIMEOUT_MS, esm.DEFAULT_TIMEOUT_MS);
  });

  it('carry the version of package.json', () => {
    assert.equal(esm.VERSION, pkg.version);
  });

  it('have the same error hierarchy, and each build recognises the other’s errors', () => {
    for (const name of ERRORS) {
      for (const [made, checked] of [
        [esm, cjs],
        [cjs, esm],
      ]) {
        const error =
          name === 'RateLimitExceededError'
            ? new made[name]({ allowed: false, limit: 1, remaining: 0, resetIn: 1, retryAfter: 1, resetInMs: 1, retryAfterMs: 1, degraded: false })
            : new made[name]('x', { code: 'c', timeoutMs: 1 });
        assert.ok(error instanceof Error, name);
        assert.ok(error instanceof made.RateWatchError, name);
        assert.ok(error instanceof checked.RateWatchError, `${name} across builds`);
        assert.ok(error instanceof checked[name], `${name} across builds`);
        assert.equal(error.name, name);
        for (const other of ERRORS) {
          if (other !== name && other !== 'RateWatchError' && name !== 'RateWatchError') {
            assert.ok(!(error instanceof checked[other]), `${name} is not a ${other}`);
          }
        }
      }
    }
    assert.ok(!({} instanceof esm.RateWatchError));
    assert.ok(!(new Error('x') instanceof cjs.RateWatchError));
    assert.ok(!(null instanceof esm.ValidationError));
  });

  it('keep instanceof working for subclasses an application defines', () => {
    class AppError extends esm.ValidationError {}
    const error = new AppError('x', { code: 'c' });
    assert.ok(error instanceof AppError);
    assert.ok(error instanceof cjs.ValidationError);
    assert.ok(!(new esm.ValidationError('x', { code: 'c' }) instanceof AppError));
  });

  it('ship type declarations for both', () => {
    for (const format of ['esm', 'cjs']) {
      const dts = readFileSync(join(PACKAGE_DIR, 'dist', format, 'index.d.ts'), 'utf8');
      for (const name of EXPECTED) assert.ok(dts.includes(name), `${format} declarations name ${name}`);
      const client = readFileSync(join(PACKAGE_DIR, 'dist', format, 'client.d.ts'), 'utf8');
      assert.match(client, /checkWithExceptions\(/);
    }
  });

  it('mark the module format of each folder', () => {
    assert.equal(JSON.parse(readFileSync(join(PACKAGE_DIR, 'dist', 'esm', 'package.json'), 'utf8')).type, 'module');
    assert.equal(JSON.parse(readFileSync(join(PACKAGE_DIR, 'dist', 'cjs', 'package.json'), 'utf8')).type, 'commonjs');
  });

  it('has no runtime dependencies and is licensed Apache-2.0 OR MIT', () => {
    assert.equal(pkg.dependencies, undefined);
    assert.equal(pkg.license, 'Apache-2.0 OR MIT');
    for (const [name, version] of Object.entries(pkg.devDependencies)) {
      assert.match(version, /^\d+\.\d+\.\d+$/, `${name} is pinned exactly`);
    }
  });
});
