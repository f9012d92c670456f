/**
 * The authorizer's answers other than a principal (docs/api.md#authentication). None says which
 * check failed, so a caller learns nothing by probing; the logs say it instead.
 */
import { AxonError } from '@axon/runtime/errors';

const REALM = 'Bearer realm="axon"';

/** 401. `tokenSent` adds `error="invalid_token"` to `WWW-Authenticate` (RFC 6750 section 3). */
export class AuthenticationError extends AxonError {
  constructor(tokenSent: boolean) {
    super(
      401,
      'authentication_error',
      tokenSent ? 'invalid_api_key' : 'missing_api_key',
      tokenSent
        ? 'Invalid API key provided. Check the key, or create a new one with `npm run keys -- create`.'
        : 'No API key provided. Send it in the Authorization header as `Bearer <key>`.',
      { 'www-authenticate': tokenSent ? `${REALM}, error="invalid_token"` : REALM },
    );
  }
}

/** 429 before any key-store lookup: this client address failed authentication too often. */
export class TooManyAuthFailuresError extends AxonError {
  constructor(retryAfterMs: number) {
    super(
      429,
      'rate_limit_error',
      'too_many_auth_failures',
      'Too many failed authentications from this address; wait before retrying with a valid key.',
      { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
    );
  }
}

/** 503: the key is not cached and the key store cannot be asked. Never a 200 by default. */
export class AuthUnavailableError extends AxonError {
  constructor(cause?: unknown) {
    super(
      503,
      'api_error',
      'auth_unavailable',
      'API key verification is temporarily unavailable; retry the request shortly.',
      { 'retry-after': '1' },
    );
    if (cause !== undefined) this.cause = cause;
  }
}
