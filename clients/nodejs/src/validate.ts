// SPDX-License-Identifier: Apache-2.0 OR MIT
/*
 * Arguments are checked before anything is sent, against the server's own ranges, so that a
 * mistake surfaces as a ValidationError naming the argument, and no number is ever sent that
 * JavaScript could not represent exactly.
 */
import { ValidationError } from './errors.js';

/** The server's bounds (docs/API.md). */
export const LIMITS = {
  maxIdentifierBytes: 512,
  maxLimit: 1_000_000_000,
  maxWindowSeconds: 31_536_000,
  maxCost: 1_000_000_000,
} as const;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined) return 'undefined';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(message, { code: 'invalid_argument', field });
}

/** An integer in [min, max]; safe integers only, so the value sent is the value meant. */
export function integerIn(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(field, `${field} must be an integer from ${min} to ${max}; got ${describe(value)}`);
  }
  return value === 0 ? 0 : value; // no -0
}

/** A string of 1 to 512 bytes of UTF-8, without NUL: what the server takes as a key or id. */
export function identifier(field: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw invalid(field, `${field} must be a string; got ${describe(value)}`);
  }
  if (value.length === 0) throw invalid(field, `${field} must not be empty`);
  if (value.includes('\0')) throw invalid(field, `${field} must not contain NUL characters`);
  if (LONE_SURROGATE.test(value)) {
    throw invalid(field, `${field} must be valid Unicode (it has an unpaired surrogate)`);
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > LIMITS.maxIdentifierBytes) {
    throw invalid(
      field,
      `${field} must be at most ${LIMITS.maxIdentifierBytes} bytes of UTF-8; it has ${bytes}`,
    );
  }
  return value;
}

/** A timeout in milliseconds that setTimeout honours (it caps at 2^31 - 1). */
export function timeout(field: string, value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    value > 2_147_483_647
  ) {
    throw invalid(
      field,
      `${field} must be a number of milliseconds above 0 and at most 2147483647; got ${describe(value)}`,
    );
  }
  return value;
}

/** The API key goes in a header: printable ASCII only. */
export function apiKey(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid('apiKey', 'an API key is required (it starts with rw_)');
  }
  if (value.length > 4096 || !/^[\x21-\x7e]+$/.test(value)) {
    throw invalid('apiKey', 'the API key must be printable ASCII without spaces');
  }
  return value;
}

/** An http or https URL without credentials; returned with a trailing slash. */
export function baseUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid('baseUrl', `baseUrl must be an http or https URL; got ${describe(value)}`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('baseUrl', `baseUrl is not a URL: ${describe(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid('baseUrl', `baseUrl must use http or https, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid('baseUrl', 'baseUrl must not contain credentials; pass the API key instead');
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}
