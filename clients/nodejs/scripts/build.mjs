// SPDX-License-Identifier: Apache-2.0 OR MIT
// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with its type declarations and a
// package.json that tells Node.js which module format the folder holds.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const [config, dir, type] of [
  ['tsconfig.json', 'esm', 'module'],
  ['tsconfig.cjs.json', 'cjs', 'commonjs'],
]) {
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, config)], {
    cwd: root,
    stdio: 'inherit',
    timeout: 120_000,
  });
  if (run.status !== 0) {
    console.error(`build: tsc -p ${config} failed (${run.error?.message ?? `exit ${run.status}`})`);
    process.exit(1);
  }
  mkdirSync(join(root, 'dist', dir), { recursive: true });
  writeFileSync(join(root, 'dist', dir, 'package.json'), `${JSON.stringify({ type }, null, 2)}\n`);
}
