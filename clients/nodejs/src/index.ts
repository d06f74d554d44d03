// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @ratewatch/client: the Node.js client of the RateWatch rate-limiting service.
 *
 * @packageDocumentation
 */
export { RateWatch, DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS } from './client.js';
export {
  RateWatchError,
  AuthenticationError,
  ValidationError,
  ServiceUnavailableError,
  TimeoutError,
  ConnectionError,
  RateLimitExceededError,
} from './errors.js';
export type {
  RateWatchErrorOptions,
  ValidationErrorOptions,
  ServiceUnavailableErrorOptions,
  TimeoutErrorOptions,
} from './errors.js';
export type {
  Algorithm,
  CheckOptions,
  CheckResult,
  DeleteUserDataResult,
  HealthStatus,
  Logger,
  RateWatchOptions,
  RequestOptions,
  UserDataSummary,
} from './types.js';
export { VERSION } from './version.js';
