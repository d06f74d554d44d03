#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// End-to-end smoke test of the built client against a running RateWatch server:
//
//   cd clients/nodejs && npm run build && \
//     RATEWATCH_URL=http://127.0.0.1:8081 RATEWATCH_API_KEY=rw_... node test_client.js
//
// Prints one line per step and exits non-zero if any step fails.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';

import {
  AuthenticationError,
  ConnectionError,
  RateLimitExceededError,
  RateWatch,
  ValidationError,
} from '@ratewatch/client';

const STEP_TIMEOUT_MS = 15_000;
const TOTAL_TIMEOUT_MS = 120_000;

const baseUrl = process.env.RATEWATCH_URL || 'http://localhost:8081';
const apiKey = process.env.RATEWATCH_API_KEY;
if (!apiKey) {
  console.error('test_client.js: set RATEWATCH_API_KEY (issue one with `ratewatch keys issue --tenant NAME`)');
  process.exit(2);
}

const watchdog = setTimeout(() => {
  console.error(`test_client.js: gave up after ${TOTAL_TIMEOUT_MS} ms`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

const client = new RateWatch(apiKey, { baseUrl, timeoutMs: 5000 });
const run = randomUUID();
const key = (name) => `smoke:${run}:${name}`;
let passed = 0;
let failed = 0;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function expectRejection(promise, cls) {
  try {
    const value = await promise;
    throw new Error(`expected ${cls.name}, but it resolved with ${JSON.stringify(value)}`);
  } catch (error) {
    if (!(error instanceof cls)) throw error;
    return error;
  }
}

async function step(name, fn) {
  let timer;
  try {
    await Promise.race([
      fn(),
      new Promise((_, fail) => {
        timer = setTimeout(() => fail(new Error(`step timed out after ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
      }),
    ]);
    passed++;
    console.log(`ok     ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAILED ${name}: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
  } finally {
    clearTimeout(timer);
  }
}

console.log(`RateWatch smoke test against ${baseUrl}`);

await step('health answers ok', async () => {
  const health = await client.health();
  check(health.status === 'ok', `status is ${JSON.stringify(health.status)}`);
  check(typeof health.version === 'string', 'no version');
});

await step('detailed health answers with a status', async () => {
  const health = await client.detailedHealth();
  check(typeof health.status === 'string', `no status in ${JSON.stringify(health)}`);
});

await step('a first check is allowed and counted', async () => {
  const result = await client.check(key('first'), 100, 3600);
  check(result.allowed === true, 'not allowed');
  check(result.remaining === 99, `remaining ${result.remaining}`);
  check(result.retryAfter === null, `retryAfter ${result.retryAfter}`);
  check(result.degraded === false, 'degraded');
});

await step('checks past the limit are denied with a retry time', async () => {
  const k = key('limit');
  for (let i = 0; i < 3; i++) check((await client.check(k, 3, 60)).allowed, `check ${i + 1} denied`);
  const denied = await client.check(k, 3, 60);
  check(denied.allowed === false, 'the 4th check of 3 was allowed');
  check(denied.remaining === 0, `remaining ${denied.remaining}`);
  check(denied.retryAfter >= 1, `retryAfter ${denied.retryAfter}`);
});

await step('checkWithExceptions throws RateLimitExceededError', async () => {
  const k = key('exceptions');
  await client.checkWithExceptions(k, 1, 60);
  const error = await expectRejection(client.checkWithExceptions(k, 1, 60), RateLimitExceededError);
  check(error.retryAfter >= 1, `retryAfter ${error.retryAfter}`);
});

await step('a cost is spent, a cost of 0 only looks', async () => {
  const k = key('cost');
  check((await client.check(k, 10, 60, 4)).remaining === 6, 'cost 4 did not leave 6');
  check((await client.check(k, 10, 60, 0)).remaining === 6, 'cost 0 spent something');
});

await step('arguments are validated before sending', async () => {
  const error = await expectRejection(client.check(key('bad'), 0, 60), ValidationError);
  check(error.code === 'invalid_argument', `code ${error.code}`);
});

await step('the server refuses an unknown algorithm', async () => {
  const error = await expectRejection(client.check(key('algo'), 10, 60, 1, { algorithm: 'no_such' }), ValidationError);
  check(error.code === 'invalid_field', `code ${error.code}`);
});

await step('a wrong API key is refused', async () => {
  const wrong = new RateWatch(`rw_${'0'.repeat(40)}`, { baseUrl, timeoutMs: 5000 });
  const error = await expectRejection(wrong.check(key('auth'), 10, 60), AuthenticationError);
  check(error.status === 401, `status ${error.status}`);
});

await step('a user’s data can be summarised and deleted', async () => {
  const userId = `user:${run}`;
  await client.check(key('privacy'), 10, 60, 1, { userId });
  const summary = await client.getUserDataSummary(userId);
  check(typeof summary === 'object' && summary !== null, 'no summary');
  const deleted = await client.deleteUserData(userId, 'user_request');
  check(deleted.deleted === true, 'not deleted');
  check(deleted.deletedCounters >= 1, `deletedCounters ${deleted.deletedCounters}`);
});

await step('the CommonJS build works too', async () => {
  const cjs = createRequire(import.meta.url)('@ratewatch/client');
  const result = await new cjs.RateWatch(apiKey, { baseUrl }).check(key('cjs'), 5, 60);
  check(result.allowed === true && result.remaining === 4, JSON.stringify(result));
});

await step('an unreachable server fails, or fails open when asked', async () => {
  const port = await new Promise((ok, fail) => {
    const s = createServer().once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => ok(p));
    });
  });
  const down = `http://127.0.0.1:${port}`;
  await expectRejection(new RateWatch(apiKey, { baseUrl: down, timeoutMs: 2000 }).check('k', 1, 1), ConnectionError);
  const warnings = [];
  const lenient = new RateWatch(apiKey, { baseUrl: down, timeoutMs: 2000, failOpen: true, logger: { warn: (m) => warnings.push(m) } });
  const result = await lenient.check('k', 1, 1);
  check(result.allowed === true && result.degraded === true, JSON.stringify(result));
  check(warnings.length === 1, `${warnings.length} warnings`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
