/**
 * The one place errors become responses: ours (AxonError), Fastify's own (bad JSON, schema
 * validation, 404, 413, 415) and anything unexpected, all rendered in docs/api.md's envelope.
 * 5xx bodies carry a fixed message; the cause goes to the log only.
 */

import { AxonError, InternalError, InvalidRequestError, NotFoundError } from '@axon/runtime/errors';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { scrubHosts, unexpectedStack } from '../core/log-fields.ts';
import { ClientGoneError, upstreamDetail } from '../core/triton-client.ts';
import { type SchemaError, validationError } from './validation.ts';

/** Fastify's and Node's errors in the API's terms. */
export function toAxonError(error: unknown): AxonError {
  if (error instanceof AxonError) return error;
  const e = error as Partial<FastifyError> & {
    validation?: SchemaError[];
    validationContext?: string;
  };
  if (Array.isArray(e?.validation))
    return validationError(e.validation, e.validationContext ?? 'body');
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AxonError(
        413,
        'invalid_request_error',
        'request_too_large',
        'The request body exceeds 1 MB; send a smaller body.',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AxonError(
        415,
        'invalid_request_error',
        'unsupported_media_type',
        'Send the body as JSON with content-type: application/json.',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequestError('invalid_json', 'body: empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new InvalidRequestError('invalid_json', 'body: not valid JSON; send a JSON object.');
  }
  const status = e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 404) return new NotFoundError('not_found', 'Not found.');
    return new AxonError(
      status,
      'invalid_request_error',
      'invalid_request',
      'The request is malformed.',
    );
  }
  return new InternalError(error);
}

/** Log fields of a failure: code and status, the upstream's words and the cause, scrubbed. */
export function failureFields(axon: AxonError, error: unknown) {
  const upstream = upstreamDetail(axon);
  return {
    code: axon.code,
    status: axon.status,
    ...(upstream !== undefined ? { upstream: scrubHosts(upstream) } : {}),
    // The logger's `err` serializer (app.ts) keeps name, code and message, never the stack.
    err: axon.cause ?? error,
  };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  const axon = toAxonError(error);
  if (axon instanceof InternalError) {
    const cause = axon.cause ?? error;
    request.log.error(
      { ...failureFields(axon, error), stack: unexpectedStack(cause) },
      axon.message,
    );
  } else if (axon.status >= 500) {
    request.log.error(failureFields(axon, error), axon.message);
  } else {
    request.log.info({ code: axon.code, status: axon.status }, 'request refused');
  }
  request.server.metrics?.errors.inc({ code: axon.code, status: String(axon.status) });
  return reply
    .code(axon.status)
    .headers(axon.headers)
    .type('application/json; charset=utf-8')
    .send(axon.toBody());
}

export default fp(
  async function errorHandler(fastify: FastifyInstance) {
    fastify.setErrorHandler((error, request, reply) => {
      if (error instanceof ClientGoneError) {
        request.log.info('client closed the connection before the answer');
        return reply.code(499).send();
      }
      return sendError(request, reply, error);
    });
    fastify.setNotFoundHandler((request, reply) =>
      sendError(
        request,
        reply,
        new NotFoundError(
          'not_found',
          `No route for ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}.`,
        ),
      ),
    );
  },
  { name: 'axon-error-handler' },
);
