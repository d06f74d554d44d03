// SPDX-License-Identifier: Apache-2.0 OR MIT
// The type declarations, as an application sees them: consumers compiled with tsc as ES module
// and as CommonJS code type-check, and misuse is caught.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { PACKAGE_DIR } from './helpers.mjs';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const FIXTURES = join(PACKAGE_DIR, 'test', 'fixtures');
let dir;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ratewatch-types-'));
  mkdirSync(join(dir, 'node_modules', '@ratewatch'), { recursive: true });
  symlinkSync(PACKAGE_DIR, join(dir, 'node_modules', '@ratewatch', 'client'), 'dir');
  for (const f of ['consumer.mts', 'consumer.cts', 'wrong.mts']) copyFileSync(join(FIXTURES, f), join(dir, f));
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs tsc on `file` as a Node.js application would; returns { status, output }. */
function typecheck(file) {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        lib: ['ES2022'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        typeRoots: [join(PACKAGE_DIR, 'node_modules', '@types')],
        skipLibCheck: false,
      },
      files: [file],
    }),
  );
  const run = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}${run.error ? run.error.message : ''}` };
}

describe('type declarations', { timeout: 240_000 }, () => {
  it('type-check an ES module consumer', () => {
    const { status, output } = typecheck('consumer.mts');
    assert.equal(status, 0, output);
  });

  it('type-check a CommonJS consumer', () => {
    const { status, output } = typecheck('consumer.cts');
    assert.equal(status, 0, output);
  });

  it('catch misuse, line by line', () => {
    const { status, output } = typecheck('wrong.mts');
    assert.notEqual(status, 0, 'wrong.mts must not compile');
    const expected = readFileSync(join(FIXTURES, 'wrong.mts'), 'utf8')
      .split('\n')
      .flatMap((line, i) => (line.includes('// error') ? [i + 1] : []));
    const got = [...new Set([...output.matchAll(/wrong\.mts\((\d+),\d+\): error/g)].map((m) => Number(m[1])))];
    assert.deepEqual(got.sort((a, b) => a - b), expected, output);
  });
});
