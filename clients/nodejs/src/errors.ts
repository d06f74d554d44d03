// SPDX-License-Identifier: Apache-2.0 OR MIT
/*
 * Every error the client throws on its own account extends RateWatchError and has a stable
 * `code`: the server's code when the server answered with one, otherwise a client code.
 *
 * The package ships an ESM and a CommonJS build. An application that loads both (one part
 * imports, another requires) gets two copies of every class, and a plain `instanceof` would
 * then fail across the copies. Each error therefore carries the names of the classes it was
 * built from under a registry-wide symbol, and the classes' `instanceof` accepts those too.
 */
import type { CheckResult } from './types.js';

const KIND = Symbol.for('@ratewatch/client.errorKind');
const KINDS = Symbol.for('@ratewatch/client.errorKinds');

/** Marks a class as one of the package's own, under `kind`. */
function brand(cls: object, kind: string): void {
  Object.defineProperty(cls, KIND, { value: kind });
}

function kindOf(cls: unknown): string | undefined {
  if (typeof cls !== 'function' || !Object.prototype.hasOwnProperty.call(cls, KIND)) {
    return undefined;
  }
  return (cls as unknown as Record<symbol, string>)[KIND];
}

/** Fields every error accepts. */
export interface RateWatchErrorOptions {
  /** A stable, machine-readable code, such as `unauthorized` or `timeout`. */
  code: string;
  /** The HTTP status, when the server answered. */
  status?: number | undefined;
  /** The server's `X-Request-Id` for the request, when it answered. */
  requestId?: string | undefined;
  /** The underlying error, when there is one. */
  cause?: unknown;
}

/** The base of every error the client throws. */
export class RateWatchError extends Error {
  /** A stable, machine-readable code: the server's when it sent one. */
  readonly code: string;
  /** The HTTP status of the server's answer, when there was one. */
  readonly status: number | undefined;
  /** The server's request id (`X-Request-Id`), when it answered; quote it in bug reports. */
  readonly requestId: string | undefined;

  constructor(message: string, options: RateWatchErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.status = options.status;
    this.requestId = options.requestId;
    const kinds: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
      const kind = kindOf(c);
      if (kind !== undefined) kinds.push(kind);
    }
    Object.defineProperty(this, KINDS, { value: Object.freeze(kinds) });
    Object.defineProperty(this, 'name', {
      value: kindOf(new.target) ?? new.target.name,
      configurable: true,
      writable: true,
      enumerable: false,
    });
  }

  /**
   * `instanceof` that also recognises errors built by the other build (ESM or CommonJS) of
   * this same package.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const kind = kindOf(this);
    if (kind === undefined || typeof value !== 'object' || value === null) return false;
    const kinds = (value as Record<symbol, unknown>)[KINDS];
    return Array.isArray(kinds) && kinds.includes(kind);
  }
}

/** The API key is missing, unknown or revoked (HTTP 401 or 403). */
export class AuthenticationError extends RateWatchError {}

/** Which argument a client-side validation refused. */
export interface ValidationErrorOptions extends RateWatchErrorOptions {
  field?: string | undefined;
}

/**
 * The request was refused as invalid: by the client before sending (code `invalid_argument`,
 * with `field` naming the argument) or by the server (HTTP 400, 413 or 415; codes such as
 * `invalid_field` or `invalid_json`).
 */
export class ValidationError extends RateWatchError {
  /** The argument that was refused, for client-side validation. */
  readonly field: string | undefined;

  constructor(message: string, options: ValidationErrorOptions) {
    super(message, options);
    this.field = options.field;
  }
}

/** Fields of a ServiceUnavailableError. */
export interface ServiceUnavailableErrorOptions extends RateWatchErrorOptions {
  retryAfter?: number | null | undefined;
}

/**
 * The server answered but could not serve the request: any 5xx (codes such as
 * `store_unavailable`, `store_full`, `internal`, or `http_502` when the body had none), or an
 * answer the client could not understand (code `invalid_response`).
 */
export class ServiceUnavailableError extends RateWatchError {
  /** Seconds to wait, from the Retry-After header, or null when it had none. */
  readonly retryAfter: number | null;

  constructor(message: string, options: ServiceUnavailableErrorOptions) {
    super(message, options);
    this.retryAfter = options.retryAfter ?? null;
  }
}

/** Fields of a TimeoutError. */
export interface TimeoutErrorOptions extends RateWatchErrorOptions {
  timeoutMs: number;
}

/** No complete answer within the timeout (code `timeout`). */
export class TimeoutError extends RateWatchError {
  /** The timeout that ran out, in milliseconds. */
  readonly timeoutMs: number;

  constructor(message: string, options: TimeoutErrorOptions) {
    super(message, options);
    this.timeoutMs = options.timeoutMs;
  }
}

/**
 * The server could not be reached, or the connection broke before a whole answer came
 * (code `connection_error`); `cause` holds the network error.
 */
export class ConnectionError extends RateWatchError {}

/**
 * Thrown by `checkWithExceptions` when the check is denied (code `rate_limited`). Plain
 * `check` returns a denial as a result instead.
 */
export class RateLimitExceededError extends RateWatchError {
  /** Seconds until a retry can succeed, or null when the cost exceeds the limit. */
  readonly retryAfter: number | null;
  /** Milliseconds until a retry can succeed, or null when it never can. */
  readonly retryAfterMs: number | null;
  /** The limit of the check. */
  readonly limit: number;
  /** Units still available (0 when denied for lack of them). */
  readonly remaining: number;
  /** Seconds until everything counted has expired. */
  readonly resetIn: number;
  /** The whole result of the check. */
  readonly result: CheckResult;

  constructor(result: CheckResult, message?: string) {
    super(
      message ??
        (result.retryAfter === null
          ? 'rate limit exceeded: the cost is larger than the limit, so this check can never pass'
          : `rate limit exceeded; retry in ${result.retryAfter}s`),
      { code: 'rate_limited' },
    );
    this.retryAfter = result.retryAfter;
    this.retryAfterMs = result.retryAfterMs;
    this.limit = result.limit;
    this.remaining = result.remaining;
    this.resetIn = result.resetIn;
    this.result = result;
  }
}

brand(RateWatchError, 'RateWatchError');
brand(AuthenticationError, 'AuthenticationError');
brand(ValidationError, 'ValidationError');
brand(ServiceUnavailableError, 'ServiceUnavailableError');
brand(TimeoutError, 'TimeoutError');
brand(ConnectionError, 'ConnectionError');
brand(RateLimitExceededError, 'RateLimitExceededError');
