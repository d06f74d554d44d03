// SPDX-License-Identifier: Apache-2.0 OR MIT
/*
 * The RateWatch client: one object per API key and server, safe to share across the whole
 * application. Requests go through the runtime's fetch, whose connection pool keeps
 * connections alive between calls.
 */
import {
  AuthenticationError,
  ConnectionError,
  RateLimitExceededError,
  RateWatchError,
  ServiceUnavailableError,
  TimeoutError,
  ValidationError,
} from './errors.js';
import type {
  CheckOptions,
  CheckResult,
  DeleteUserDataResult,
  HealthStatus,
  Logger,
  RateWatchOptions,
  RequestOptions,
  UserDataSummary,
} from './types.js';
import * as valid from './validate.js';
import { VERSION } from './version.js';

/** Where the client looks when neither `baseUrl` nor `RATEWATCH_URL` says otherwise. */
export const DEFAULT_BASE_URL = 'http://localhost:8081';
/** The default time allowed for one request, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Answers larger than this are refused as invalid. */
const MAX_RESPONSE_BYTES = 1 << 20;

type Json = unknown;

interface Answer {
  status: number;
  headers: Headers;
  json: Json;
  requestId: string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function envBaseUrl(): string | undefined {
  const env = typeof process === 'object' && process !== null ? process.env : undefined;
  const url = env?.['RATEWATCH_URL'];
  return url === undefined || url === '' ? undefined : url;
}

function invalidResponse(message: string, answer?: Answer, cause?: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError(`RateWatch sent an answer the client cannot use: ${message}`, {
    code: 'invalid_response',
    status: answer?.status,
    requestId: answer?.requestId,
    cause,
  });
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text);
  const when = Date.parse(text);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

/** The error for a non-2xx answer, typed by its status. */
function errorFor(answer: Answer): RateWatchError {
  const { status, json, requestId } = answer;
  const body = isObject(json) ? json : {};
  const code = typeof body['code'] === 'string' && body['code'] !== '' ? body['code'] : `http_${status}`;
  const detail = typeof body['error'] === 'string' && body['error'] !== '' ? body['error'] : undefined;
  const message = `RateWatch answered ${status}${detail === undefined ? '' : `: ${detail}`} (${code})`;
  const options = { code, status, requestId };

  if (status === 401 || status === 403) return new AuthenticationError(message, options);
  if (status === 400 || status === 413 || status === 415 || status === 422) {
    return new ValidationError(message, options);
  }
  if (status >= 500) {
    return new ServiceUnavailableError(message, {
      ...options,
      retryAfter: parseRetryAfter(answer.headers.get('retry-after')),
    });
  }
  return new RateWatchError(message, options);
}

/** Errors after which a fail-open client lets the request through. */
function failsOpen(error: unknown): error is RateWatchError {
  return (
    error instanceof TimeoutError ||
    error instanceof ConnectionError ||
    error instanceof ServiceUnavailableError
  );
}

function count(answer: Answer, body: Record<string, unknown>, field: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidResponse(`"${field}" is not a non-negative integer`, answer);
  }
  return value;
}

function optionalCount(
  answer: Answer,
  body: Record<string, unknown>,
  field: string,
): number | null | undefined {
  const value = body[field];
  if (value === undefined || value === null) return value;
  return count(answer, body, field);
}

function optionalString(answer: Answer, body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidResponse(`"${field}" is not a string`, answer);
  return value;
}

function parseCheckResult(answer: Answer): CheckResult {
  const body = answer.json;
  if (!isObject(body)) throw invalidResponse('the check answer is not a JSON object', answer);
  if (typeof body['allowed'] !== 'boolean') {
    throw invalidResponse('"allowed" is missing or not a boolean', answer);
  }
  const limit = count(answer, body, 'limit');
  const remaining = count(answer, body, 'remaining');
  const resetIn = count(answer, body, 'reset_in');
  const retryAfter = optionalCount(answer, body, 'retry_after') ?? null;
  const resetInMs = optionalCount(answer, body, 'reset_in_ms');
  const retryAfterMs = optionalCount(answer, body, 'retry_after_ms');
  const degraded = body['degraded'];
  if (degraded !== undefined && degraded !== null && typeof degraded !== 'boolean') {
    throw invalidResponse('"degraded" is not a boolean', answer);
  }
  return {
    allowed: body['allowed'],
    limit,
    remaining,
    resetIn,
    retryAfter,
    resetInMs: resetInMs ?? resetIn * 1000,
    retryAfterMs: retryAfterMs === undefined ? (retryAfter === null ? null : retryAfter * 1000) : retryAfterMs,
    degraded: degraded === true,
  };
}

function parseHealth(answer: Answer): HealthStatus | undefined {
  const body = answer.json;
  if (isObject(body) && typeof body['status'] === 'string') return body as HealthStatus;
  return undefined;
}

/** Reads a response body of at most `limit` bytes as text. */
async function readBody(response: Response, limit: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw invalidResponse(`the answer is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

function networkDetail(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${e.message} (${code})` : e.message);
    e = e.cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(error);
}

/**
 * A client for one RateWatch server and API key.
 *
 * ```ts
 * const client = new RateWatch('rw_...');
 * const result = await client.check('user:123', 100, 3600);
 * ```
 */
export class RateWatch {
  /** The server's base URL, always ending in a slash. */
  readonly baseUrl: string;
  /** The time allowed for one request, in milliseconds. */
  readonly timeoutMs: number;
  /** Whether checks let requests through when the server cannot answer. */
  readonly failOpen: boolean;

  readonly #apiKey: string;
  readonly #fetch: typeof globalThis.fetch;
  readonly #logger: Logger;
  #inOutage = false;

  /**
   * @param apiKey The API key (`rw_...`), sent as a Bearer token.
   * @param baseUrlOrOptions The server's base URL, or the options.
   */
  constructor(apiKey: string, baseUrlOrOptions?: string | RateWatchOptions) {
    const options: RateWatchOptions =
      typeof baseUrlOrOptions === 'string' ? { baseUrl: baseUrlOrOptions } : (baseUrlOrOptions ?? {});
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError('the second argument must be a base URL or an options object', {
        code: 'invalid_argument',
        field: 'options',
      });
    }
    this.#apiKey = valid.apiKey(apiKey);
    this.baseUrl = valid.baseUrl(options.baseUrl ?? envBaseUrl() ?? DEFAULT_BASE_URL);
    this.timeoutMs =
      options.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : valid.timeout('timeoutMs', options.timeoutMs);
    this.failOpen = options.failOpen === true;
    this.#logger = options.logger ?? console;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new ValidationError('no fetch implementation: use Node.js 18 or later, or pass options.fetch', {
        code: 'invalid_argument',
        field: 'fetch',
      });
    }
    this.#fetch = fetchImpl;
  }

  /**
   * Counts `cost` units against `key` and says whether they fit in `limit` per `window`
   * seconds. A denial resolves with `allowed: false`; errors reject with a RateWatchError.
   *
   * @param key What is limited, such as `user:123`: 1 to 512 bytes of UTF-8.
   * @param limit Units allowed per window: 1 to 1,000,000,000.
   * @param window The window in seconds: 1 to 31,536,000 (a year).
   * @param cost Units this request spends: 0 (just look) to 1,000,000,000; default 1.
   */
  check(key: string, limit: number, window: number, cost?: number, options?: CheckOptions): Promise<CheckResult>;
  check(key: string, limit: number, window: number, options?: CheckOptions): Promise<CheckResult>;
  async check(
    key: string,
    limit: number,
    window: number,
    costOrOptions?: number | CheckOptions,
    maybeOptions?: CheckOptions,
  ): Promise<CheckResult> {
    let cost: unknown = costOrOptions;
    let options: CheckOptions | undefined = maybeOptions;
    if (typeof costOrOptions === 'object' && costOrOptions !== null && maybeOptions === undefined) {
      cost = undefined;
      options = costOrOptions;
    }
    options ??= {};

    const body: Record<string, unknown> = {
      key: valid.identifier('key', key),
      limit: valid.integerIn('limit', limit, 1, valid.LIMITS.maxLimit),
      window: valid.integerIn('window', window, 1, valid.LIMITS.maxWindowSeconds),
      cost: cost === undefined ? 1 : valid.integerIn('cost', cost, 0, valid.LIMITS.maxCost),
    };
    if (options.algorithm !== undefined) {
      if (typeof options.algorithm !== 'string' || options.algorithm === '') {
        throw new ValidationError(`algorithm must be a non-empty string; got ${valid.describe(options.algorithm)}`, {
          code: 'invalid_argument',
          field: 'algorithm',
        });
      }
      body['algorithm'] = options.algorithm;
    }
    if (options.userId !== undefined) body['user_id'] = valid.identifier('userId', options.userId);

    let answer: Answer;
    try {
      answer = await this.#request('POST', 'v1/check', body, options);
      if (answer.status !== 200) throw errorFor(answer);
      const result = parseCheckResult(answer);
      this.#inOutage = false;
      return result;
    } catch (error) {
      if (!failsOpen(error)) {
        if (error instanceof RateWatchError && error.status !== undefined) this.#inOutage = false;
        throw error;
      }
      if (!this.failOpen) throw error;
      this.#warnOutage(error);
      return {
        allowed: true,
        limit: body['limit'] as number,
        remaining: body['limit'] as number,
        resetIn: 0,
        retryAfter: null,
        resetInMs: 0,
        retryAfterMs: null,
        degraded: true,
        error,
      };
    }
  }

  /**
   * Like `check`, but a denial rejects with a RateLimitExceededError (with `retryAfter`)
   * instead of resolving. Resolves with the result when allowed.
   */
  checkWithExceptions(
    key: string,
    limit: number,
    window: number,
    cost?: number,
    options?: CheckOptions,
  ): Promise<CheckResult>;
  checkWithExceptions(key: string, limit: number, window: number, options?: CheckOptions): Promise<CheckResult>;
  async checkWithExceptions(
    key: string,
    limit: number,
    window: number,
    costOrOptions?: number | CheckOptions,
    maybeOptions?: CheckOptions,
  ): Promise<CheckResult> {
    const result = await this.check(key, limit, window, costOrOptions as number | undefined, maybeOptions);
    if (!result.allowed) throw new RateLimitExceededError(result);
    return result;
  }

  /**
   * Deletes every counter recorded for `userId` (checks made with that `userId`), for a data
   * subject's erasure request.
   *
   * @param reason Why, for the audit log; default `user_request`.
   */
  async deleteUserData(
    userId: string,
    reason = 'user_request',
    options: RequestOptions = {},
  ): Promise<DeleteUserDataResult> {
    const body = {
      user_id: valid.identifier('userId', userId),
      reason: valid.identifier('reason', reason),
    };
    const answer = await this.#request('POST', 'v1/privacy/delete', body, options);
    if (answer.status !== 200) throw errorFor(answer);
    const json = answer.json;
    if (!isObject(json) || typeof json['deleted'] !== 'boolean') {
      throw invalidResponse('"deleted" is missing or not a boolean', answer);
    }
    return {
      deleted: json['deleted'],
      deletedCounters: count(answer, json, 'deleted_counters'),
      subject: optionalString(answer, json, 'subject'),
      requestId: optionalString(answer, json, 'request_id'),
      completedAt: optionalString(answer, json, 'completed_at'),
    };
  }

  /** What the server holds about `userId`, as the server's JSON summary. */
  async getUserDataSummary(userId: string, options: RequestOptions = {}): Promise<UserDataSummary> {
    const query = new URLSearchParams({ user_id: valid.identifier('userId', userId) });
    const answer = await this.#request('GET', `v1/privacy/summary?${query}`, undefined, options);
    if (answer.status !== 200) throw errorFor(answer);
    if (!isObject(answer.json)) throw invalidResponse('the summary is not a JSON object', answer);
    return answer.json;
  }

  /**
   * `GET /health`. Resolves with the server's status when it answers 200, or 503 with a
   * status (then `status` is not `ok`); rejects otherwise.
   */
  health(options: RequestOptions = {}): Promise<HealthStatus> {
    return this.#health('health', options);
  }

  /** `GET /health/detailed`: the status of each part of the server. */
  detailedHealth(options: RequestOptions = {}): Promise<HealthStatus> {
    return this.#health('health/detailed', options);
  }

  async #health(path: string, options: RequestOptions): Promise<HealthStatus> {
    const answer = await this.#request('GET', path, undefined, options);
    if (answer.status === 200 || answer.status === 503) {
      const health = parseHealth(answer);
      if (health !== undefined) return health;
      if (answer.status === 200) throw invalidResponse('the health answer has no "status"', answer);
    }
    throw errorFor(answer);
  }

  #warnOutage(error: RateWatchError): void {
    if (this.#inOutage) return;
    this.#inOutage = true;
    try {
      this.#logger.warn(
        `RateWatch: ${error.message} [${error.code}]; failing open: checks are allowed and ` +
          'marked degraded until the server answers again',
      );
    } catch {
      // A broken logger must not turn a fail-open answer into an error.
    }
  }

  /** One request: sends, reads the whole answer within the timeout, parses the JSON. */
  async #request(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    options: RequestOptions,
  ): Promise<Answer> {
    const { timeoutMs: callTimeoutMs, signal } = options ?? {};
    const timeoutMs = callTimeoutMs === undefined ? this.timeoutMs : valid.timeout('timeoutMs', callTimeoutMs);
    if (signal !== undefined && signal !== null) {
      if (typeof signal.addEventListener !== 'function' || typeof signal.aborted !== 'boolean') {
        throw new ValidationError('signal must be an AbortSignal', { code: 'invalid_argument', field: 'signal' });
      }
      if (signal.aborted) throw signal.reason;
    }

    const url = new URL(path, this.baseUrl);
    const controller = new AbortController();
    let stoppedBy: 'timeout' | 'caller' | undefined;
    const timer = setTimeout(() => {
      stoppedBy ??= 'timeout';
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => {
      stoppedBy ??= 'caller';
      controller.abort(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.#apiKey}`,
      'user-agent': `ratewatch-node/${VERSION}`,
    };
    const init: RequestInit = { method, headers, redirect: 'manual', signal: controller.signal };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }

    try {
      let response: Response;
      let text: string;
      try {
        response = await this.#fetch(url, init);
        text = await readBody(response, MAX_RESPONSE_BYTES);
      } catch (error) {
        throw this.#transportError(error, stoppedBy, timeoutMs, method, url, signal);
      }
      const requestId = response.headers.get('x-request-id') ?? undefined;
      let json: Json;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch (error) {
        json = undefined;
        if (response.status >= 200 && response.status < 300) {
          throw invalidResponse('the body is not JSON', { status: response.status, headers: response.headers, json, requestId }, error);
        }
      }
      return { status: response.status, headers: response.headers, json, requestId };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #transportError(
    error: unknown,
    stoppedBy: 'timeout' | 'caller' | undefined,
    timeoutMs: number,
    method: string,
    url: URL,
    signal: AbortSignal | undefined,
  ): unknown {
    if (stoppedBy === 'caller') return signal?.reason ?? error;
    if (stoppedBy === 'timeout') {
      return new TimeoutError(`RateWatch did not answer ${method} ${url.pathname} within ${timeoutMs} ms`, {
        code: 'timeout',
        timeoutMs,
        cause: error,
      });
    }
    if (error instanceof RateWatchError) return error;
    return new ConnectionError(`could not reach RateWatch at ${url.origin}: ${networkDetail(error)}`, {
      code: 'connection_error',
      cause: error,
    });
  }
}
