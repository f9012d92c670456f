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

/**
 * 403: a valid key of the wrong kind for the route. An admin key on a model route, or a model key
 * on an admin route (docs/auth.md#admin-keys). OpenAI's own words and type for a key without the
 * scope; OpenAI answers that 401, Axon 403 (the key is valid, only not for this: the SDKs raise
 * `PermissionDeniedError`, and a 401 would send a client to look for a typo in its key).
 */
export class InsufficientPermissionsError extends AxonError {
  constructor(needs: 'admin' | 'model') {
    super(
      403,
      'invalid_request_error',
      'insufficient_permissions',
      needs === 'admin'
        ? 'You have insufficient permissions for this operation. Missing scopes: api.management.read, api.management.write. The /v1/organization routes need an admin key (axon_admin_...).'
        : 'You have insufficient permissions for this operation. Missing scopes: model.request. An admin key manages keys and reads usage; call models with an API key (axon_...).',
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
