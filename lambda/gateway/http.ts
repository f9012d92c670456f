/**
 * The gateway's own view of an HTTP exchange, independent of the ALB event format: header names
 * lower-case, every header a list (a client may send one twice), bodies as bytes.
 */
import { randomUUID } from 'node:crypto';
import type { AxonError } from '@axon/runtime/errors';

export type Headers = Map<string, string[]>;

export interface GatewayRequest {
  readonly method: string;
  /** Path without the query string, as the client sent it. */
  readonly path: string;
  /** Raw query string without `?`, still percent-encoded; empty when there is none. */
  readonly query: string;
  readonly headers: Headers;
  readonly body: Buffer;
}

export interface GatewayResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
  /**
   * The model the session manager says it ran (`x-axon-model`, never passed to the client): a
   * session turn names none in its request, so this is what prices it.
   */
  readonly servedModel?: string;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `x-request-id` when it sent one sane token, else a new one. */
export function requestIdOf(headers: Headers): string {
  const sent = headers.get('x-request-id');
  const id = sent?.length === 1 ? sent[0] : undefined;
  return id !== undefined && SANE_REQUEST_ID.test(id) ? id : randomUUID();
}

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): GatewayResponse {
  return {
    status,
    headers: { ...headers, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  };
}

/** An error in the docs/api.md#errors envelope, plus the headers it calls for over `headers`. */
export function errorResponse(
  error: AxonError,
  headers: Record<string, string> = {},
): GatewayResponse {
  return jsonResponse(error.status, error.toBody(), { ...headers, ...error.headers });
}
