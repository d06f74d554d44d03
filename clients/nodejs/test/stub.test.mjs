// SPDX-License-Identifier: Apache-2.0 OR MIT
// The client against stub servers written with node:http: the request it sends, how it reads
// answers, and every failure a network and a server can produce.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { inspect } from 'node:util';

import {
  AuthenticationError,
  ConnectionError,
  RateLimitExceededError,
  RateWatch,
  RateWatchError,
  ServiceUnavailableError,
  TimeoutError,
  ValidationError,
} from '@ratewatch/client';

import { ALLOW, freePort, json, recordingLogger, rejection, startStub, trackUnhandledRejections } from './helpers.mjs';

const unhandled = trackUnhandledRejections();
const KEY = 'rw_stubkey_0123456789';

/** A stub whose answer can be changed between calls: set `stub.reply = (req, res, body) => ...`. */
async function switchableStub() {
  let reply = (req, res) => json(res, 200, ALLOW);
  const stub = await startStub((req, res, body) => reply(req, res, body));
  Object.defineProperty(stub, 'reply', {
    set(fn) {
      reply = fn;
    },
  });
  return stub;
}

let stub;
before(async () => {
  stub = await switchableStub();
});
afterEach(() => {
  stub.requests.length = 0;
  stub.reply = (req, res) => json(res, 200, ALLOW);
});
after(() => stub.close());

function client(options = {}) {
  return new RateWatch(KEY, { baseUrl: stub.url, timeoutMs: 2000, ...options });
}

describe('the request', () => {
  it('POSTs the check as JSON with the key as a Bearer token', async () => {
    const result = await client().check('user:123', 100, 3600);
    assert.equal(stub.requests.length, 1);
    const [req] = stub.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/v1/check');
    assert.equal(req.headers.authorization, `Bearer ${KEY}`);
    assert.match(req.headers['content-type'], /^application\/json/);
    assert.match(req.headers['user-agent'], /^ratewatch-node\/\d+\.\d+\.\d+/);
    assert.deepEqual(JSON.parse(req.body), { key: 'user:123', limit: 100, window: 3600, cost: 1 });
    assert.deepEqual(result, {
      allowed: true,
      limit: 10,
      remaining: 9,
      resetIn: 60,
      retryAfter: null,
      resetInMs: 59_500,
      retryAfterMs: null,
      degraded: false,
    });
  });

  it('sends cost, algorithm and user_id when given', async () => {
    await client().check('k', 5, 60, 3, { algorithm: 'sliding_window', userId: 'user:9' });
    assert.deepEqual(JSON.parse(stub.requests[0].body), {
      key: 'k',
      limit: 5,
      window: 60,
      cost: 3,
      algorithm: 'sliding_window',
      user_id: 'user:9',
    });
  });

  it('takes the options in place of the cost', async () => {
    await client().check('k', 5, 60, { userId: 'u' });
    assert.deepEqual(JSON.parse(stub.requests[0].body), { key: 'k', limit: 5, window: 60, cost: 1, user_id: 'u' });
  });

  it('sends a cost of 0 (a peek) as 0', async () => {
    await client().check('k', 5, 60, 0);
    assert.equal(JSON.parse(stub.requests[0].body).cost, 0);
  });

  it('keeps a path prefix of the base URL, with or without a trailing slash', async () => {
    stub.reply = (req, res) => json(res, 200, req.url.endsWith('/health') ? { status: 'ok' } : ALLOW);
    await new RateWatch(KEY, `${stub.url}/gw/ratewatch`).check('k', 1, 1);
    await new RateWatch(KEY, `${stub.url}/gw/ratewatch/`).health();
    assert.deepEqual(
      stub.requests.map((r) => r.url),
      ['/gw/ratewatch/v1/check', '/gw/ratewatch/health'],
    );
  });

  it('uses RATEWATCH_URL when no base URL is given, and an explicit one over it', async () => {
    const saved = process.env.RATEWATCH_URL;
    try {
      process.env.RATEWATCH_URL = stub.url;
      const fromEnv = new RateWatch(KEY);
      assert.equal(fromEnv.baseUrl, `${stub.url}/`);
      await fromEnv.check('k', 1, 1);
      assert.equal(stub.requests.length, 1);
      assert.equal(new RateWatch(KEY, 'http://127.0.0.1:9/').baseUrl, 'http://127.0.0.1:9/');
      delete process.env.RATEWATCH_URL;
      assert.equal(new RateWatch(KEY).baseUrl, 'http://localhost:8081/');
    } finally {
      if (saved === undefined) delete process.env.RATEWATCH_URL;
      else process.env.RATEWATCH_URL = saved;
    }
  });

  it('reuses one kept-alive connection for consecutive calls', async () => {
    const before = stub.connections;
    const c = client();
    for (let i = 0; i < 5; i++) await c.check('k', 10, 60);
    assert.equal(stub.requests.length, 5);
    assert.ok(stub.connections - before <= 1, `${stub.connections - before} connections for 5 calls`);
  });

  it('keeps the API key out of the client as shown by inspect and JSON', () => {
    const c = client();
    assert.ok(!inspect(c, { showHidden: true, depth: 5 }).includes(KEY));
    assert.ok(!JSON.stringify(c).includes(KEY));
  });
});

describe('results', () => {
  it('resolves a denial as a result, not an error', async () => {
    stub.reply = (req, res) =>
      json(res, 200, { ...ALLOW, allowed: false, remaining: 0, retry_after: 12, retry_after_ms: 11_200 });
    const result = await client().check('k', 10, 60);
    assert.equal(result.allowed, false);
    assert.equal(result.remaining, 0);
    assert.equal(result.retryAfter, 12);
    assert.equal(result.retryAfterMs, 11_200);
    assert.equal(result.degraded, false);
  });

  it('reports the server failing open as degraded, without an error', async () => {
    stub.reply = (req, res) => json(res, 200, { ...ALLOW, degraded: true });
    const result = await client().check('k', 10, 60);
    assert.equal(result.allowed, true);
    assert.equal(result.degraded, true);
    assert.equal(result.error, undefined);
  });

  it('derives the millisecond fields when an older server leaves them out', async () => {
    stub.reply = (req, res) =>
      json(res, 200, { allowed: false, limit: 3, remaining: 0, reset_in: 7, retry_after: 2 });
    const result = await client().check('k', 3, 60);
    assert.equal(result.resetInMs, 7000);
    assert.equal(result.retryAfterMs, 2000);
  });

  it('checkWithExceptions resolves an allow and rejects a denial with RateLimitExceededError', async () => {
    const ok = await client().checkWithExceptions('k', 10, 60);
    assert.equal(ok.allowed, true);

    stub.reply = (req, res) =>
      json(res, 200, { ...ALLOW, allowed: false, remaining: 0, retry_after: 30, retry_after_ms: 29_001 });
    const error = await rejection(client().checkWithExceptions('k', 10, 60, 2));
    assert.ok(error instanceof RateLimitExceededError);
    assert.ok(error instanceof RateWatchError);
    assert.ok(!(error instanceof ValidationError));
    assert.equal(error.name, 'RateLimitExceededError');
    assert.equal(error.code, 'rate_limited');
    assert.equal(error.retryAfter, 30);
    assert.equal(error.retryAfterMs, 29_001);
    assert.equal(error.limit, 10);
    assert.equal(error.remaining, 0);
    assert.equal(error.result.allowed, false);
    assert.match(error.message, /retry in 30s/);
  });

  it('says a check whose cost exceeds the limit can never pass', async () => {
    stub.reply = (req, res) => json(res, 200, { ...ALLOW, allowed: false, remaining: 10 });
    const error = await rejection(client().checkWithExceptions('k', 10, 60, 11));
    assert.ok(error instanceof RateLimitExceededError);
    assert.equal(error.retryAfter, null);
    assert.match(error.message, /never/);
  });

  it('maps the privacy deletion request and answer', async () => {
    stub.reply = (req, res) =>
      json(res, 200, {
        deleted: true,
        deleted_counters: 3,
        subject: 'ab12',
        request_id: 'req-1',
        completed_at: '2026-01-01T00:00:00Z',
      });
    const result = await client().deleteUserData('user:123');
    const [req] = stub.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/v1/privacy/delete');
    assert.deepEqual(JSON.parse(req.body), { user_id: 'user:123', reason: 'user_request' });
    assert.deepEqual(result, {
      deleted: true,
      deletedCounters: 3,
      subject: 'ab12',
      requestId: 'req-1',
      completedAt: '2026-01-01T00:00:00Z',
    });
    await client().deleteUserData('user:123', 'account_closed');
    assert.equal(JSON.parse(stub.requests[1].body).reason, 'account_closed');
  });

  it('asks for the privacy summary with the user id in the query, and returns the JSON', async () => {
    stub.reply = (req, res) => json(res, 200, { user_id: 'x', counters: [{ key: 'k' }] });
    const summary = await client().getUserDataSummary('user:1 &a=b');
    const url = new URL(stub.requests[0].url, 'http://x');
    assert.equal(stub.requests[0].method, 'GET');
    assert.equal(url.pathname, '/v1/privacy/summary');
    assert.equal(url.searchParams.get('user_id'), 'user:1 &a=b');
    assert.equal([...url.searchParams.keys()].length, 1);
    assert.deepEqual(summary, { user_id: 'x', counters: [{ key: 'k' }] });
  });

  it('returns the health status, also an unhealthy 503 one', async () => {
    stub.reply = (req, res) => json(res, 200, { status: 'ok', timestamp: 't', version: '0.1.0' });
    assert.deepEqual(await client().health(), { status: 'ok', timestamp: 't', version: '0.1.0' });
    stub.reply = (req, res) => json(res, 503, { status: 'degraded', checks: { store: 'down' } });
    assert.deepEqual(await client().detailedHealth(), { status: 'degraded', checks: { store: 'down' } });
    assert.deepEqual(
      stub.requests.map((r) => `${r.method} ${r.url}`),
      ['GET /health', 'GET /health/detailed'],
    );
    stub.reply = (req, res) => json(res, 503, { error: 'store down', code: 'store_unavailable' });
    const error = await rejection(client().health());
    assert.ok(error instanceof ServiceUnavailableError);
    assert.equal(error.code, 'store_unavailable');
  });
});

describe('error answers', () => {
  const cases = [
    [401, { error: 'no such key', code: 'unauthorized' }, AuthenticationError, 'unauthorized'],
    [401, { error: 'revoked', code: 'key_revoked' }, AuthenticationError, 'key_revoked'],
    [403, { error: 'forbidden', code: 'forbidden' }, AuthenticationError, 'forbidden'],
    [400, { error: 'limit must be an integer', code: 'invalid_field' }, ValidationError, 'invalid_field'],
    [400, { error: 'bad json', code: 'invalid_json' }, ValidationError, 'invalid_json'],
    [413, { error: 'too big', code: 'body_too_large' }, ValidationError, 'body_too_large'],
    [415, { error: 'json please', code: 'unsupported_media_type' }, ValidationError, 'unsupported_media_type'],
    [404, { error: 'no such endpoint', code: 'not_found' }, RateWatchError, 'not_found'],
    [405, { error: 'use POST', code: 'method_not_allowed' }, RateWatchError, 'method_not_allowed'],
    [429, 'slow down', RateWatchError, 'http_429'],
    [500, { error: 'oops', code: 'internal' }, ServiceUnavailableError, 'internal'],
    [502, '<html>bad gateway</html>', ServiceUnavailableError, 'http_502'],
    [503, { error: 'full', code: 'store_full' }, ServiceUnavailableError, 'store_full'],
  ];
  for (const [status, body, cls, code] of cases) {
    it(`turns ${status} ${typeof body === 'string' ? 'with a non-JSON body' : body.code} into ${cls.name} (${code})`, async () => {
      stub.reply = (req, res) =>
        typeof body === 'string'
          ? (res.writeHead(status, { 'content-type': 'text/html', 'x-request-id': 'rid-7' }), res.end(body))
          : json(res, status, body, { 'x-request-id': 'rid-7' });
      const error = await rejection(client().check('k', 10, 60));
      assert.ok(error instanceof cls, `${error} is not a ${cls.name}`);
      assert.ok(error instanceof RateWatchError);
      if (cls === RateWatchError) {
        for (const sub of [AuthenticationError, ValidationError, ServiceUnavailableError]) {
          assert.ok(!(error instanceof sub), `${error.name} should not be a ${sub.name}`);
        }
      }
      assert.equal(error.name, cls.name);
      assert.equal(error.code, code);
      assert.equal(error.status, status);
      assert.equal(error.requestId, 'rid-7');
      if (typeof body !== 'string') assert.ok(error.message.includes(body.error), error.message);
      assert.ok(!error.message.includes(KEY));
    });
  }

  it('carries the Retry-After of a 503', async () => {
    stub.reply = (req, res) =>
      json(res, 503, { error: 'store down', code: 'store_unavailable' }, { 'retry-after': '7' });
    const error = await rejection(client().check('k', 10, 60));
    assert.ok(error instanceof ServiceUnavailableError);
    assert.equal(error.retryAfter, 7);
  });

  it('does not follow redirects', async () => {
    stub.reply = (req, res) => {
      res.writeHead(302, { location: '/elsewhere', 'content-length': 0 });
      res.end();
    };
    const error = await rejection(client().check('k', 10, 60));
    assert.ok(error instanceof RateWatchError);
    assert.equal(error.status, 302);
    assert.equal(stub.requests.length, 1);
  });
});

describe('malformed answers', () => {
  const bodies = {
    'a body that is not JSON': 'allowed=true',
    'an empty body': '',
    'a JSON array': '[]',
    'a JSON string': '"ok"',
    'an empty object': '{}',
    'allowed as a string': JSON.stringify({ ...ALLOW, allowed: 'true' }),
    'a negative remaining': JSON.stringify({ ...ALLOW, remaining: -1 }),
    'a fractional remaining': JSON.stringify({ ...ALLOW, remaining: 1.5 }),
    'an unsafe integer': JSON.stringify({ ...ALLOW, limit: 2 ** 53 }),
    'a missing reset_in': JSON.stringify({ ...ALLOW, reset_in: undefined }),
    'retry_after as a string': JSON.stringify({ ...ALLOW, retry_after: '5' }),
    'degraded as a string': JSON.stringify({ ...ALLOW, degraded: 'yes' }),
    'truncated JSON': JSON.stringify(ALLOW).slice(0, 20),
  };
  for (const [what, body] of Object.entries(bodies)) {
    it(`rejects ${what} as invalid_response`, async () => {
      stub.reply = (req, res) => json(res, 200, body);
      const error = await rejection(client().check('k', 10, 60));
      assert.ok(error instanceof ServiceUnavailableError, String(error));
      assert.equal(error.code, 'invalid_response');
      assert.equal(error.status, 200);
    });
  }

  it('refuses an answer over 1 MiB without reading it all', async () => {
    stub.reply = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64) res.once('drain', () => (sent++, pump()));
        else res.end('{}');
      };
      res.on('error', () => undefined);
      pump();
    };
    const error = await rejection(client().check('k', 10, 60));
    assert.ok(error instanceof ServiceUnavailableError, String(error));
    assert.equal(error.code, 'invalid_response');
    assert.match(error.message, /larger than/);
  });

  it('rejects a deletion answer without "deleted"', async () => {
    stub.reply = (req, res) => json(res, 200, { deleted_counters: 1 });
    const error = await rejection(client().deleteUserData('u'));
    assert.equal(error.code, 'invalid_response');
  });

  it('rejects a health answer without "status"', async () => {
    stub.reply = (req, res) => json(res, 200, { ok: true });
    const error = await rejection(client().health());
    assert.equal(error.code, 'invalid_response');
  });
});

describe('network failures', () => {
  it('times out when the server never answers', async () => {
    stub.reply = () => {}; // never answers
    const started = Date.now();
    const error = await rejection(client({ timeoutMs: 200 }).check('k', 10, 60));
    const took = Date.now() - started;
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.code, 'timeout');
    assert.equal(error.timeoutMs, 200);
    assert.ok(took >= 150 && took < 3000, `took ${took} ms`);
  });

  it('times out when the body stalls after the headers', async () => {
    stub.reply = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 500 });
      res.write('{"allowed":');
    };
    const error = await rejection(client({ timeoutMs: 250 }).check('k', 10, 60));
    assert.ok(error instanceof TimeoutError, String(error));
  });

  it('honours a per-call timeout', async () => {
    stub.reply = () => {};
    const error = await rejection(client({ timeoutMs: 60_000 }).check('k', 10, 60, 1, { timeoutMs: 150 }));
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.timeoutMs, 150);
  });

  it('reports a refused connection as ConnectionError', async () => {
    const port = await freePort();
    const c = new RateWatch(KEY, { baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    const error = await rejection(c.check('k', 10, 60));
    assert.ok(error instanceof ConnectionError, String(error));
    assert.equal(error.code, 'connection_error');
    assert.equal(error.status, undefined);
    assert.ok(error.cause !== undefined);
    assert.match(error.message, /ECONNREFUSED/);
    assert.ok(!error.message.includes(KEY));
  });

  it('reports a connection dropped before the answer as ConnectionError', async () => {
    stub.reply = (req) => req.socket.destroy();
    const error = await rejection(client().check('k', 10, 60));
    assert.ok(error instanceof ConnectionError, String(error));
  });

  it('reports a connection dropped in the middle of the body as ConnectionError', async () => {
    stub.reply = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 500 });
      res.write('{"allowed":true,', () => setTimeout(() => req.socket.destroy(), 20));
    };
    const error = await rejection(client().check('k', 10, 60));
    assert.ok(error instanceof ConnectionError, String(error));
  });
});

describe('failOpen', () => {
  it('allows, marks degraded and explains when the server times out', async () => {
    stub.reply = () => {};
    const logger = recordingLogger();
    const result = await client({ failOpen: true, timeoutMs: 150, logger }).check('k', 25, 60);
    assert.equal(result.allowed, true);
    assert.equal(result.degraded, true);
    assert.equal(result.limit, 25);
    assert.ok(result.error instanceof TimeoutError);
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0], /failing open/);
    assert.ok(!logger.warnings[0].includes(KEY));
  });

  it('fails open on a refused connection, a 5xx and a malformed answer', async () => {
    const port = await freePort();
    const refused = new RateWatch(KEY, { baseUrl: `http://127.0.0.1:${port}`, failOpen: true, logger: recordingLogger() });
    const r1 = await refused.check('k', 5, 60);
    assert.equal(r1.degraded, true);
    assert.ok(r1.error instanceof ConnectionError);

    stub.reply = (req, res) => json(res, 503, { error: 'down', code: 'store_unavailable' });
    const r2 = await client({ failOpen: true, logger: recordingLogger() }).check('k', 5, 60);
    assert.equal(r2.allowed, true);
    assert.ok(r2.error instanceof ServiceUnavailableError);
    assert.equal(r2.error.code, 'store_unavailable');

    stub.reply = (req, res) => json(res, 200, '<html>');
    const r3 = await client({ failOpen: true, logger: recordingLogger() }).check('k', 5, 60);
    assert.equal(r3.degraded, true);
    assert.equal(r3.error.code, 'invalid_response');
  });

  it('warns once per outage', async () => {
    const logger = recordingLogger();
    const c = client({ failOpen: true, logger });
    stub.reply = (req, res) => json(res, 500, { error: 'x', code: 'internal' });
    for (let i = 0; i < 3; i++) assert.equal((await c.check('k', 5, 60)).degraded, true);
    assert.equal(logger.warnings.length, 1);
    stub.reply = (req, res) => json(res, 200, ALLOW);
    assert.equal((await c.check('k', 5, 60)).degraded, false);
    assert.equal(logger.warnings.length, 1);
    stub.reply = (req, res) => json(res, 502, 'bad gateway');
    await c.check('k', 5, 60);
    await c.check('k', 5, 60);
    assert.equal(logger.warnings.length, 2);
  });

  it('lets checkWithExceptions resolve with the degraded result', async () => {
    stub.reply = (req, res) => json(res, 503, { error: 'down', code: 'store_unavailable' });
    const result = await client({ failOpen: true, logger: recordingLogger() }).checkWithExceptions('k', 5, 60);
    assert.equal(result.allowed, true);
    assert.equal(result.degraded, true);
  });

  it('still throws on authentication and validation errors', async () => {
    const logger = recordingLogger();
    stub.reply = (req, res) => json(res, 401, { error: 'bad key', code: 'unauthorized' });
    assert.ok((await rejection(client({ failOpen: true, logger }).check('k', 5, 60))) instanceof AuthenticationError);
    stub.reply = (req, res) => json(res, 400, { error: 'bad', code: 'invalid_field' });
    assert.ok((await rejection(client({ failOpen: true, logger }).check('k', 5, 60))) instanceof ValidationError);
    assert.ok((await rejection(client({ failOpen: true, logger }).check('k', 0, 60))) instanceof ValidationError);
    assert.equal(logger.warnings.length, 0);
  });

  it('throws by default, without warning', async () => {
    stub.reply = (req, res) => json(res, 503, { error: 'down', code: 'store_unavailable' });
    const logger = recordingLogger();
    const error = await rejection(client({ logger }).check('k', 5, 60));
    assert.ok(error instanceof ServiceUnavailableError);
    assert.equal(logger.warnings.length, 0);
  });

  it('survives a logger that throws', async () => {
    stub.reply = (req, res) => json(res, 503, { error: 'down', code: 'store_unavailable' });
    const logger = {
      warn() {
        throw new Error('logger broke');
      },
    };
    const result = await client({ failOpen: true, logger }).check('k', 5, 60);
    assert.equal(result.degraded, true);
  });
});

describe('cancellation', () => {
  it('rejects with the reason of an already aborted signal, sending nothing', async () => {
    const reason = new Error('caller gave up');
    const error = await rejection(client().check('k', 5, 60, 1, { signal: AbortSignal.abort(reason) }));
    assert.equal(error, reason);
    assert.equal(stub.requests.length, 0);
  });

  it('rejects with the reason when aborted in flight, also when failing open', async () => {
    stub.reply = () => {};
    for (const failOpen of [false, true]) {
      const controller = new AbortController();
      const reason = new Error(`stop ${failOpen}`);
      const started = Date.now();
      const pending = client({ failOpen, timeoutMs: 5000, logger: recordingLogger() }).check('k', 5, 60, {
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(reason), 50);
      const error = await rejection(pending);
      assert.equal(error, reason);
      assert.ok(Date.now() - started < 2000);
    }
  });
});

describe('validation before sending', () => {
  const bad = [
    ['an empty key', ['', 10, 60]],
    ['a key that is not a string', [42, 10, 60]],
    ['a key with NUL', ['a\0b', 10, 60]],
    ['a key of 513 bytes', ['é'.repeat(256) + 'x', 10, 60]],
    ['a key with a lone surrogate', ['a\uD800b', 10, 60]],
    ['a limit of 0', ['k', 0, 60]],
    ['a limit above 1e9', ['k', 1_000_000_001, 60]],
    ['a fractional limit', ['k', 1.5, 60]],
    ['a limit of NaN', ['k', NaN, 60]],
    ['an infinite limit', ['k', Infinity, 60]],
    ['an unsafe limit', ['k', 2 ** 53, 60]],
    ['a limit as a string', ['k', '10', 60]],
    ['a limit as a bigint', ['k', 10n, 60]],
    ['a window of 0', ['k', 10, 0]],
    ['a window above a year', ['k', 10, 31_536_001]],
    ['a negative window', ['k', 10, -5]],
    ['a fractional window', ['k', 10, 0.5]],
    ['a negative cost', ['k', 10, 60, -1]],
    ['a cost above 1e9', ['k', 10, 60, 1_000_000_001]],
    ['a fractional cost', ['k', 10, 60, 0.25]],
    ['a cost of null', ['k', 10, 60, null]],
    ['an empty algorithm', ['k', 10, 60, 1, { algorithm: '' }]],
    ['an empty userId', ['k', 10, 60, 1, { userId: '' }]],
    ['a userId that is not a string', ['k', 10, 60, 1, { userId: 7 }]],
    ['a per-call timeout of 0', ['k', 10, 60, 1, { timeoutMs: 0 }]],
    ['a signal that is not an AbortSignal', ['k', 10, 60, 1, { signal: {} }]],
  ];
  for (const [what, args] of bad) {
    it(`refuses ${what}`, async () => {
      const pending = client().check(...args); // must not throw synchronously
      const error = await rejection(pending);
      assert.ok(error instanceof ValidationError, String(error));
      assert.equal(error.code, 'invalid_argument');
      assert.equal(typeof error.field, 'string');
      assert.equal(stub.requests.length, 0);
    });
  }

  it('accepts every bound the server accepts', async () => {
    const c = client();
    await c.check('é'.repeat(256), 1_000_000_000, 31_536_000, 1_000_000_000);
    await c.check('k', 1, 1, 0);
    assert.equal(stub.requests.length, 2);
    assert.deepEqual(JSON.parse(stub.requests[0].body), {
      key: 'é'.repeat(256),
      limit: 1_000_000_000,
      window: 31_536_000,
      cost: 1_000_000_000,
    });
  });

  it('refuses bad privacy arguments', async () => {
    for (const pending of [
      client().deleteUserData(''),
      client().deleteUserData('u', ''),
      client().deleteUserData(undefined),
      client().getUserDataSummary('a'.repeat(513)),
    ]) {
      const error = await rejection(pending);
      assert.ok(error instanceof ValidationError, String(error));
    }
    assert.equal(stub.requests.length, 0);
  });

  it('refuses bad constructor arguments', () => {
    const bad = [
      () => new RateWatch(''),
      () => new RateWatch(undefined),
      () => new RateWatch('rw_has space'),
      () => new RateWatch('rw_x\r\nX-Injected: 1'),
      () => new RateWatch(KEY, 'ftp://127.0.0.1/'),
      () => new RateWatch(KEY, 'not a url'),
      () => new RateWatch(KEY, 'http://user:pass@127.0.0.1/'),
      () => new RateWatch(KEY, { timeoutMs: 0 }),
      () => new RateWatch(KEY, { timeoutMs: -1 }),
      () => new RateWatch(KEY, { timeoutMs: NaN }),
      () => new RateWatch(KEY, { timeoutMs: 2 ** 31 }),
      () => new RateWatch(KEY, 5),
    ];
    for (const make of bad) {
      assert.throws(make, (e) => e instanceof ValidationError && e.code === 'invalid_argument', String(make));
    }
  });

  it('takes a base URL or options as the second argument', () => {
    const a = new RateWatch(KEY, 'http://127.0.0.1:1234');
    assert.equal(a.baseUrl, 'http://127.0.0.1:1234/');
    assert.equal(a.failOpen, false);
    assert.equal(a.timeoutMs, 5000);
    const b = new RateWatch(KEY, { baseUrl: 'https://rw.example/', timeoutMs: 750, failOpen: true });
    assert.equal(b.baseUrl, 'https://rw.example/');
    assert.equal(b.timeoutMs, 750);
    assert.equal(b.failOpen, true);
  });
});

describe('afterwards', () => {
  it('left no promise rejection unhandled', async () => {
    await new Promise((ok) => setTimeout(ok, 50));
    assert.deepEqual(unhandled, []);
  });
});
