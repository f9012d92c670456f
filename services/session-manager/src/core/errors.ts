/**
 * SPEC.md section 1's error envelope (OpenAI's shape). This package cannot import the repo's
 * lambda/shared/errors.ts because its Docker build context is this folder alone, so it keeps a
 * copy of the same contract. Domain code throws these; the one error handler renders them.
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
    /** Extra response headers this error calls for (`Retry-After`). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code } };
  }
}

/** 400: the caller can fix the request; the message names the field. */
export class InvalidRequestError extends AxonError {
  constructor(code: string, message: string) {
    super(400, 'invalid_request_error', code, message);
  }
}

export class NotFoundError extends AxonError {
  constructor(code: string, message: string) {
    super(404, 'not_found_error', code, message);
  }
}

export class AuthenticationError extends AxonError {
  constructor(code: string, message: string) {
    super(401, 'authentication_error', code, message);
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
  constructor(readonly upstreamMessage: string) {
    super(
      502,
      'api_error',
      'inference_error',
      'The model failed while generating; retry the request.',
    );
  }
}

/** Redis unreachable or slower than the command timeout. */
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
