/** Reply helpers the /v1 routes share: client-gone detection and SSE responses. */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InferenceObserver } from '../../core/completion.ts';
import { failureFields, toAxonError } from '../../plugins/error-handler.ts';

/** Aborts when the caller hangs up before the response is complete, to stop upstream work. */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/**
 * Sends an SSE body. The stream is produced lazily from `events`; when the caller disconnects,
 * Fastify destroys the stream, which ends the generator and with it the upstream request.
 */
export function sendSse(reply: FastifyReply, events: AsyncGenerator<string>) {
  return reply
    .code(200)
    .headers({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // Proxies such as nginx would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    })
    .send(Readable.from(events, { objectMode: false }));
}

/** Logs and counts a failure that happens after SSE started; returns the error event's body. */
export function streamErrorBody(request: FastifyRequest) {
  return (error: unknown) => {
    const axon = toAxonError(error);
    request.log.warn(failureFields(axon, error), 'stream ended with an error event');
    request.server.metrics.errors.inc({ code: axon.code, status: 'stream' });
    return axon.toBody();
  };
}

export function inferenceObserver(request: FastifyRequest): InferenceObserver {
  return (labels, seconds) => request.server.metrics.inference.observe(labels, seconds);
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
