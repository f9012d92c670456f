/** The gateway's own failures, in the error envelope of docs/api.md#errors. */
import { AxonError } from '@axon/runtime/errors';

export class NotFoundError extends AxonError {
  constructor(method: string, path: string) {
    super(
      404,
      'not_found_error',
      'not_found',
      `No route for ${method} ${path.slice(0, 200)}: the API lives under /v1/ (and GET /healthz).`,
    );
  }
}

export class RequestTooLargeError extends AxonError {
  constructor(limitBytes: number) {
    super(
      413,
      'invalid_request_error',
      'request_too_large',
      `The request body is larger than ${limitBytes} bytes; send a smaller body.`,
    );
  }
}

export class UpstreamUnavailableError extends AxonError {
  constructor(cause?: unknown) {
    super(
      502,
      'api_error',
      'upstream_unavailable',
      'The service behind the gateway is unavailable; retry the request shortly.',
    );
    if (cause !== undefined) this.cause = cause;
  }
}

export class UpstreamTimeoutError extends AxonError {
  constructor(timeoutMs: number) {
    super(
      504,
      'api_error',
      'upstream_timeout',
      `The service behind the gateway did not answer within ${timeoutMs} ms; retry the request, perhaps with a smaller max_tokens.`,
    );
  }
}

/** An ALB Lambda target cannot return more than 1 MB, so a larger answer cannot be delivered. */
export class ResponseTooLargeError extends AxonError {
  constructor(limitBytes: number) {
    super(
      502,
      'api_error',
      'upstream_response_too_large',
      `The response is larger than the ${limitBytes} bytes the gateway can return; ask for less (a smaller max_tokens or limit).`,
    );
  }
}

/** The container edge is draining: its health check fails so the load balancer stops sending. */
export class ShuttingDownError extends AxonError {
  constructor() {
    super(
      503,
      'api_error',
      'shutting_down',
      'This gateway instance is shutting down; retry the request, another instance will take it.',
    );
  }
}
