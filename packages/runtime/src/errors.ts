/**
 * The one error envelope every Axon answer uses (OpenAI's shape, listed in docs/api.md), and the
 * error types the Lambdas and the session manager share. Domain code throws `AxonError`
 * subclasses; handlers render them with `toBody`, so no other shape escapes.
 */

export type ErrorType =
  | 'authentication_error'
  | 'rate_limit_error'
  // OpenAI's type (and code) for "out of credit", apart from rate limits.
  | 'insufficient_quota'
  | 'invalid_request_error'
  | 'not_found_error'
  | 'api_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; code: string };
}

/** An error with its HTTP status and envelope fields, so a handler can answer it as is. */
export class AxonError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  /** Extra response headers this error calls for (`Retry-After`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    type: ErrorType,
    code: string,
    message: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.type = type;
    this.code = code;
    this.headers = headers;
  }

  toBody(): ErrorBody {
    return toErrorBody(this.type, this.code, this.message);
  }
}

/** The envelope for answers that are not thrown (a 429 decision, a fallback body). */
export function toErrorBody(type: ErrorType, code: string, message: string): ErrorBody {
  return { error: { message, type, code } };
}

/** 400: the caller can fix the request; the message names the field. */
export class InvalidRequestError extends AxonError {
  constructor(code: string, message: string) {
    super(400, 'invalid_request_error', code, message);
  }
}

/** 404 with a code the caller can branch on (`session_not_found`, `model_not_found`). */
export class NotFoundError extends AxonError {
  constructor(code: string, message: string) {
    super(404, 'not_found_error', code, message);
  }
}

/** 401 with a code the caller can branch on; see the authorizer for the API-key variant. */
export class AuthenticationError extends AxonError {
  constructor(code: string, message: string) {
    super(401, 'authentication_error', code, message);
  }
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

/** Redis unreachable or slower than the command timeout, for the session store. */
export class SessionStoreUnavailableError extends AxonError {
  constructor(cause?: unknown) {
    super(
      503,
      'api_error',
      'session_store_unavailable',
      'The session store is temporarily unavailable; retry the request shortly.',
      { 'retry-after': '1' },
    );
    if (cause !== undefined) this.cause = cause;
  }
}

/** Triton refused, reset, answered 5xx, or is not ready: retrying later may work. */
export class InferenceUnavailableError extends AxonError {
  constructor(cause?: unknown) {
    super(
      503,
      'api_error',
      'inference_unavailable',
      'The inference service is unavailable; retry the request shortly.',
      { 'retry-after': '1' },
    );
    if (cause !== undefined) this.cause = cause;
  }
}

/** Triton took longer than the inference timeout (to answer, or between two stream events). */
export class InferenceTimeoutError extends AxonError {
  constructor(cause?: unknown) {
    super(504, 'api_error', 'inference_timeout', 'The inference service did not answer in time.');
    if (cause !== undefined) this.cause = cause;
  }
}

/** Triton sent `{"error": ...}` inside a stream that had already started (a 200 carrying a failure). */
export class InferenceStreamError extends AxonError {
  readonly upstreamMessage: string;

  constructor(upstreamMessage: string) {
    super(
      502,
      'api_error',
      'inference_error',
      'The model failed while generating; retry the request.',
    );
    this.upstreamMessage = upstreamMessage;
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
