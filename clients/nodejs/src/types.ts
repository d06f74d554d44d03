// SPDX-License-Identifier: Apache-2.0 OR MIT
import type { RateWatchError } from './errors.js';

/** A rate-limit algorithm the server knows; today only `sliding_window`. */
export type Algorithm = 'sliding_window' | (string & {});

/** Where fail-open warnings go; `console` by default. */
export interface Logger {
  warn(message: string): void;
}

/** How a client talks to the server. */
export interface RateWatchOptions {
  /**
   * The server's base URL, http or https. Default: the `RATEWATCH_URL` environment variable,
   * else `http://localhost:8081`. A path (`https://gw.example/ratewatch/`) is kept as a prefix.
   */
  baseUrl?: string | undefined;
  /** Time allowed for a whole request, answer included, in milliseconds. Default 5000. */
  timeoutMs?: number | undefined;
  /**
   * When true, `check` and `checkWithExceptions` answer `allowed: true, degraded: true` (with
   * `error` set) instead of throwing when the server times out, cannot be reached, answers
   * 5xx or answers something unreadable. A warning is logged once per outage. Default false.
   */
  failOpen?: boolean | undefined;
  /** Receives the fail-open warnings. Default: `console`. */
  logger?: Logger | undefined;
  /**
   * The fetch implementation to use; default the global `fetch` (which keeps connections
   * alive). Pass your own for a custom dispatcher, proxy or instrumentation.
   */
  fetch?: typeof globalThis.fetch | undefined;
}

/** Options every call accepts. */
export interface RequestOptions {
  /** Cancels the call; it then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Overrides the client's timeout for this call, in milliseconds. */
  timeoutMs?: number | undefined;
}

/** Options of `check` and `checkWithExceptions`. */
export interface CheckOptions extends RequestOptions {
  /** The algorithm; the server's default (`sliding_window`) when omitted. */
  algorithm?: Algorithm | undefined;
  /** The user the key belongs to, so that privacy requests can find the counter. */
  userId?: string | undefined;
}

/** The server's decision on a check. A denial is a result too: `allowed` is false. */
export interface CheckResult {
  /** Whether the request may go ahead. */
  allowed: boolean;
  /** The limit of the check. */
  limit: number;
  /** Units still available now. */
  remaining: number;
  /** Seconds until everything counted has expired (rounded up). */
  resetIn: number;
  /** Seconds until a denied request can succeed (at least 1); null when allowed, or never. */
  retryAfter: number | null;
  /** `resetIn` in milliseconds. */
  resetInMs: number;
  /** `retryAfter` in milliseconds; null when allowed, or never. */
  retryAfterMs: number | null;
  /**
   * True when the decision was not made on the real counters: the server's store failed
   * open, or the client failed open (then `error` says why).
   */
  degraded: boolean;
  /** Only on a client-side fail-open result: the error that would have been thrown. */
  error?: RateWatchError;
}

/** The answer of `GET /health` or `GET /health/detailed`. */
export interface HealthStatus {
  /** `ok` when healthy. */
  status: string;
  timestamp?: string;
  version?: string;
  [field: string]: unknown;
}

/** The answer of `deleteUserData`. */
export interface DeleteUserDataResult {
  /** True once the user's data is gone. */
  deleted: boolean;
  /** How many counters were deleted. */
  deletedCounters: number;
  /** The pseudonymous subject the deletion was recorded under. */
  subject: string | undefined;
  /** The server's id for the request, for the audit trail. */
  requestId: string | undefined;
  /** When the deletion completed (RFC 3339). */
  completedAt: string | undefined;
}

/** The server's JSON summary of what it holds about a user, as the server sent it. */
export interface UserDataSummary {
  [field: string]: unknown;
}
