// SPDX-License-Identifier: Apache-2.0 OR MIT
// Test support: the real server on a free loopback port, and stub servers built on node:http.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(PACKAGE_DIR, '..', '..');

/** The server binary: $RATEWATCH_BIN, else the sanitized build, else the release build. */
export function serverBinary() {
  if (process.env.RATEWATCH_BIN) return resolve(process.env.RATEWATCH_BIN);
  const san = join(REPO, 'build-san', 'ratewatch');
  return existsSync(san) ? san : join(REPO, 'build', 'ratewatch');
}

/** A loopback port that was free a moment ago. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createNetServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Issues an API key with `ratewatch keys issue`; throws with the tool's output if it fails. */
export function issueKey(bin, secret, tenant = 'nodetest') {
  const run = spawnSync(bin, ['keys', 'issue', '--tenant', tenant], {
    env: { ...process.env, API_KEY_SECRET: secret },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const key = (run.stdout ?? '').split('\n')[0].trim();
  if (run.status !== 0 || !key.startsWith('rw_')) {
    throw new Error(
      `'ratewatch keys issue --tenant ${tenant}' failed (exit ${run.status}${run.error ? `, ${run.error.message}` : ''}):\n` +
        `stdout: ${run.stdout}\nstderr: ${run.stderr}`,
    );
  }
  return key;
}

/**
 * Starts the real server with a fresh API_KEY_SECRET on a free port and waits (at most 20 s)
 * until GET /health answers 200.
 */
export async function startServer({ env = {} } = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}; build it or set RATEWATCH_BIN`);
  const secret = randomBytes(32).toString('hex');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const proc = spawn(bin, [], {
    env: {
      ...process.env,
      PORT: String(port),
      RATEWATCH_WORKERS: '1',
      API_KEY_SECRET: secret,
      RATEWATCH_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.setEncoding('utf8').on('data', (d) => (output += d));
  proc.stderr.setEncoding('utf8').on('data', (d) => (output += d));
  let exit = null;
  const exited = new Promise((ok) =>
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      ok(exit);
    }),
  );

  const server = {
    bin,
    secret,
    port,
    url,
    proc,
    logs: () => output,
    get exit() {
      return exit;
    },
    /** SIGTERM, then waits at most 20 s; resolves with { code, signal }. */
    async stop() {
      if (exit === null) proc.kill('SIGTERM');
      let timer;
      const result = await Promise.race([
        exited,
        new Promise((ok) => {
          timer = setTimeout(() => ok(null), 20_000);
        }),
      ]);
      clearTimeout(timer);
      if (result === null) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`ratewatch did not stop within 20 s of SIGTERM:\n${output}`);
      }
      return result;
    },
  };

  const deadline = Date.now() + 20_000;
  for (let i = 0; i < 400 && Date.now() < deadline; i++) {
    if (exit !== null) throw new Error(`ratewatch exited early (${JSON.stringify(exit)}):\n${output}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await server.stop().catch(() => undefined);
  throw new Error(`ratewatch did not become healthy within 20 s:\n${output}`);
}

/**
 * A stub server on a free loopback port. `handler(req, res, body)` answers each request;
 * `requests` records { method, url, headers, body } and `connections` counts TCP connections.
 */
export async function startStub(handler) {
  const requests = [];
  const sockets = new Set();
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

/** Answers `status` with a JSON body. */
export function json(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A well-formed allow. */
export const ALLOW = {
  allowed: true,
  limit: 10,
  remaining: 9,
  reset_in: 60,
  retry_after: null,
  reset_in_ms: 59_500,
  retry_after_ms: null,
};

/** A logger that records warnings. */
export function recordingLogger() {
  const warnings = [];
  return { warnings, warn: (m) => warnings.push(m) };
}

/** A promise's rejection reason; fails if it resolves, or settles in neither way within `ms`. */
export async function rejection(promise, ms = 10_000) {
  let timer;
  const outcome = await Promise.race([
    promise.then(
      (value) => ({ value }),
      (error) => ({ error }),
    ),
    new Promise((ok) => {
      timer = setTimeout(() => ok({ late: true }), ms);
    }),
  ]);
  clearTimeout(timer);
  if (outcome.late) throw new Error(`the promise did not settle within ${ms} ms`);
  if ('error' in outcome) return outcome.error;
  throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
}

/** Fails the current test file if any promise rejection went unhandled. */
export function trackUnhandledRejections() {
  const seen = [];
  process.on('unhandledRejection', (reason) => seen.push(reason));
  return seen;
}
