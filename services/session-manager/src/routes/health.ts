/**
 * Probes, without a principal: `/healthz` says the process serves HTTP (liveness); `/readyz`
 * says the session store (Redis) answers (readiness).
 *
 * Readiness deliberately does not ask Triton. Every session manager pod shares the same Triton
 * Service, so a Triton outage (a model still loading, a GPU node being replaced) would take all of
 * them out of the ALB target group at once, and session history, listing and deletion would fail
 * with the ALB's bare 502/503 instead of working. A pod that can reach Redis can serve; chat
 * requests during a Triton outage get the API's own 503 `inference_unavailable`.
 */

import { AxonError } from '@axon/runtime/errors';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

const PROBE_TIMEOUT_MS = 800;

const Healthy = Type.Object({ status: Type.Literal('ok') });
const Ready = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Object({ redis: Type.Literal('ok') }),
});

export default async function healthRoutes(fastify: FastifyInstance) {
  fastify.get('/healthz', { schema: { response: { 200: Healthy } } }, async () => ({
    status: 'ok',
  }));

  fastify.get('/readyz', { schema: { response: { 200: Ready } } }, async () => {
    // Answers within 800 ms, inside the probe's 2 s timeout.
    if (!(await fastify.services.storeReady(PROBE_TIMEOUT_MS))) {
      throw new AxonError(
        503,
        'api_error',
        'not_ready',
        'Not ready: session store (Redis) unreachable.',
      );
    }
    return { status: 'ready', checks: { redis: 'ok' } };
  });
}
