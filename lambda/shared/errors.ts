/**
 * The one error envelope of SPEC.md section 1 (OpenAI's shape). Domain code throws `AxonError`
 * subclasses; handlers turn them into responses with `toErrorBody`, so no other shape escapes.
 */

export type ErrorType =
  | 'authentication_error'
  | 'rate_limit_error'
  | 'invalid_request_error'
  | 'not_found_error'
  | 'api_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; code: string };
}

export class AxonError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    /** Extra response headers this error calls for (`Retry-After`, `WWW-Authenticate`). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): ErrorBody {
    return toErrorBody(this.type, this.code, this.message);
  }
}

export function toErrorBody(type: ErrorType, code: string, message: string): ErrorBody {
  return { error: { message, type, code } };
}

/** The limiter could not reach Redis and the failure mode is `closed`. */
export class RateLimiterUnavailableError extends AxonError {
  constructor(cause?: unknown) {
    super(
      503,
      'api_error',
      'rate_limiter_unavailable',
      'The rate limiter is temporarily unavailable; retry the request shortly.',
      { 'retry-after': '1' },
    );
    if (cause !== undefined) this.cause = cause;
  }
}

/** Anything unexpected: the body never carries the original message or a stack. */
export class InternalError extends AxonError {
  constructor(cause?: unknown) {
    super(
      500,
      'api_error',
      'internal_error',
      'The server hit an unexpected error; retry the request.',
    );
    if (cause !== undefined) this.cause = cause;
  }
}
