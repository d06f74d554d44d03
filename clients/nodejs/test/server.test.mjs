// SPDX-License-Identifier: Apache-2.0 OR MIT
// The client against the real server: started here on a free loopback port (binary from
// $RATEWATCH_BIN), with a key issued by `ratewatch keys issue`, and stopped with SIGTERM.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import {
  AuthenticationError,
  ConnectionError,
  RateLimitExceededError,
  RateWatch,
  RateWatchError,
  ValidationError,
} from '@ratewatch/client';

import { issueKey, recordingLogger, rejection, startServer, trackUnhandledRejections } from './helpers.mjs';

const unhandled = trackUnhandledRejections();

let server;
let keyOutcome; // { key } or { error }

/** The issued key; a test that needs it fails with the reason when issuing failed. */
function apiKey() {
  if (keyOutcome.error) throw keyOutcome.error;
  return keyOutcome.key;
}

function client(options = {}) {
  return new RateWatch(apiKey(), { baseUrl: server.url, timeoutMs: 5000, ...options });
}

/** A counter name no other test (or earlier run) uses. */
const fresh = (label) => `node-test:${label}:${randomUUID()}`;

before(async () => {
  server = await startServer();
  try {
    keyOutcome = { key: issueKey(server.bin, server.secret) };
  } catch (error) {
    keyOutcome = { error };
  }
});

after(async () => {
  if (server && server.exit === null) await server.stop();
});

describe('ratewatch server', { timeout: 120_000 }, () => {
  it('answers health without a key', async () => {
    const health = await new RateWatch('rw_not_needed', server.url).health();
    assert.equal(health.status, 'ok');
    assert.match(health.version, /^\d+\.\d+\.\d+/);
    assert.ok(!Number.isNaN(Date.parse(health.timestamp)), `timestamp ${health.timestamp}`);
  });

  it('issued a key that starts with rw_', () => {
    assert.match(apiKey(), /^rw_/);
  });

  it('allows a first check and counts it', async () => {
    const result = await client().check(fresh('first'), 100, 3600);
    assert.equal(result.allowed, true);
    assert.equal(result.limit, 100);
    assert.equal(result.remaining, 99);
    assert.equal(result.retryAfter, null);
    assert.equal(result.retryAfterMs, null);
    assert.equal(result.degraded, false);
    assert.ok(result.resetIn >= 1 && result.resetIn <= 2 * 3600, `resetIn ${result.resetIn}`);
    assert.ok(Math.abs(result.resetInMs / 1000 - result.resetIn) < 1, `${result.resetInMs} vs ${result.resetIn}`);
  });

  it('denies past the limit as a result, with a retry time', async () => {
    const c = client();
    const key = fresh('deny');
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await c.check(key, 3, 60));
    assert.deepEqual(
      results.map((r) => r.allowed),
      [true, true, true, false],
    );
    assert.deepEqual(
      results.map((r) => r.remaining),
      [2, 1, 0, 0],
    );
    const denied = results[3];
    assert.ok(denied.retryAfter >= 1 && denied.retryAfter <= 120, `retryAfter ${denied.retryAfter}`);
    assert.ok(denied.retryAfterMs >= 1 && denied.retryAfterMs <= 120_000, `retryAfterMs ${denied.retryAfterMs}`);
  });

  it('throws RateLimitExceededError from checkWithExceptions once denied', async () => {
    const c = client();
    const key = fresh('exceptions');
    assert.equal((await c.checkWithExceptions(key, 1, 60)).allowed, true);
    const error = await rejection(c.checkWithExceptions(key, 1, 60));
    assert.ok(error instanceof RateLimitExceededError, String(error));
    assert.ok(error.retryAfter >= 1, `retryAfter ${error.retryAfter}`);
    assert.equal(error.remaining, 0);
  });

  it('spends the cost, and a cost of 0 only looks', async () => {
    const c = client();
    const key = fresh('cost');
    assert.equal((await c.check(key, 10, 60, 4)).remaining, 6);
    assert.equal((await c.check(key, 10, 60, 0)).remaining, 6);
    assert.equal((await c.check(key, 10, 60, 0)).remaining, 6);
    const tooMuch = await c.check(key, 10, 60, 7);
    assert.equal(tooMuch.allowed, false);
    assert.equal((await c.check(key, 10, 60, 6)).allowed, true);
    const never = await c.check(fresh('never'), 10, 60, 11);
    assert.equal(never.allowed, false);
    assert.equal(never.retryAfter, null);
  });

  it('keeps separate counters for separate keys', async () => {
    const c = client();
    const a = fresh('a');
    const b = fresh('b');
    await c.check(a, 1, 60);
    assert.equal((await c.check(a, 1, 60)).allowed, false);
    assert.equal((await c.check(b, 1, 60)).allowed, true);
  });

  it('decides concurrent checks exactly, over kept-alive connections', async () => {
    const c = client();
    const key = fresh('concurrent');
    const results = await Promise.all(Array.from({ length: 30 }, () => c.check(key, 12, 86400)));
    assert.equal(results.filter((r) => r.allowed).length, 12);
    assert.equal(results.filter((r) => !r.allowed).length, 18);
  });

  it('passes the server boundaries through', async () => {
    const result = await client().check(fresh('bounds').padEnd(512, 'x'), 1_000_000_000, 31_536_000, 1_000_000_000);
    assert.equal(result.allowed, true);
    assert.equal(result.remaining, 0);
  });

  it('surfaces the server refusing a field as ValidationError', async () => {
    const error = await rejection(client().check(fresh('algo'), 10, 60, 1, { algorithm: 'no_such_algorithm' }));
    assert.ok(error instanceof ValidationError, String(error));
    assert.equal(error.code, 'invalid_field');
    assert.equal(error.status, 400);
    assert.ok(error.requestId, 'the server sends X-Request-Id');
  });

  it('accepts a user_id on a check', async () => {
    const result = await client().check(fresh('user'), 10, 60, 1, { userId: `user:${randomUUID()}` });
    assert.equal(result.allowed, true);
  });

  it('refuses an unknown API key with AuthenticationError', async () => {
    const wrong = new RateWatch(`rw_${'0'.repeat(40)}`, { baseUrl: server.url });
    const error = await rejection(wrong.check(fresh('auth'), 10, 60));
    assert.ok(error instanceof AuthenticationError, String(error));
    assert.equal(error.code, 'unauthorized');
    assert.equal(error.status, 401);
  });

  it('refuses a key issued under another secret', async () => {
    const other = issueKey(server.bin, 'f'.repeat(64));
    const error = await rejection(new RateWatch(other, server.url).check(fresh('secret'), 10, 60));
    assert.ok(error instanceof AuthenticationError, String(error));
  });

  it('deletes a user’s data and summarises what is held', async () => {
    const c = client();
    const userId = `user:${randomUUID()}`;
    await c.check(fresh('p1'), 10, 60, 1, { userId });
    await c.check(fresh('p2'), 10, 60, 1, { userId });
    const summary = await c.getUserDataSummary(userId);
    assert.equal(typeof summary, 'object');
    const deleted = await c.deleteUserData(userId, 'user_request');
    assert.equal(deleted.deleted, true);
    assert.equal(deleted.deletedCounters, 2);
    assert.ok(deleted.subject && !deleted.subject.includes(userId), 'the subject is a hash, not the id');
    assert.ok(!Number.isNaN(Date.parse(deleted.completedAt)), `completedAt ${deleted.completedAt}`);
    const again = await c.deleteUserData(userId, 'user_request');
    assert.equal(again.deletedCounters, 0);
  });

  it('answers detailed health', async () => {
    const health = await client().detailedHealth();
    assert.equal(typeof health.status, 'string');
    assert.equal(health.status, 'ok');
  });

  it('stops cleanly on SIGTERM', async () => {
    const result = await server.stop();
    assert.deepEqual(result, { code: 0, signal: null }, `exit ${JSON.stringify(result)}:\n${server.logs()}`);
  });

  it('then fails checks with ConnectionError, or fails open when asked to', async () => {
    if (server.exit === null) await server.stop();
    const key = keyOutcome.key ?? 'rw_unissued';
    const strict = new RateWatch(key, { baseUrl: server.url, timeoutMs: 2000 });
    const error = await rejection(strict.check(fresh('down'), 10, 60));
    assert.ok(error instanceof ConnectionError, String(error));
    assert.ok(error instanceof RateWatchError);

    const logger = recordingLogger();
    const lenient = new RateWatch(key, { baseUrl: server.url, timeoutMs: 2000, failOpen: true, logger });
    const open = await lenient.check(fresh('down'), 10, 60);
    assert.equal(open.allowed, true);
    assert.equal(open.degraded, true);
    assert.ok(open.error instanceof ConnectionError);
    assert.equal((await lenient.check(fresh('down'), 10, 60)).degraded, true);
    assert.equal(logger.warnings.length, 1);
  });

  it('left no promise rejection unhandled', async () => {
    await new Promise((ok) => setTimeout(ok, 50));
    assert.deepEqual(unhandled, []);
  });
});
