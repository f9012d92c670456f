/**
 * Probes, without a principal: `/healthz` says the process serves HTTP (liveness); `/readyz`
 * says Redis and Triton both answer (readiness), so Kubernetes routes traffic only to pods that
 * can complete a request.
 */

import { AxonError } from '@axon/runtime/errors';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

const PROBE_TIMEOUT_MS = 800;

const Healthy = Type.Object({ status: Type.Literal('ok') });
const Ready = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Object({ redis: Type.Literal('ok'), triton: Type.Literal('ok') }),
});

export default async function healthRoutes(fastify: FastifyInstance) {
  fastify.get('/healthz', { schema: { response: { 200: Healthy } } }, async () => ({
    status: 'ok',
  }));

  fastify.get('/readyz', { schema: { response: { 200: Ready } } }, async () => {
    const { storeReady, triton } = fastify.services;
    // Both checks answer within 800 ms, inside a 1 s probe timeout.
    const [redisOk, tritonOk] = await Promise.all([
      storeReady(PROBE_TIMEOUT_MS),
      triton.ready(PROBE_TIMEOUT_MS),
    ]);
    if (!redisOk || !tritonOk) {
      const down = [redisOk ? '' : 'session store (Redis)', tritonOk ? '' : 'inference (Triton)'];
      throw new AxonError(
        503,
        'api_error',
        'not_ready',
        `Not ready: ${down.filter(Boolean).join(' and ')} unreachable.`,
      );
    }
    return { status: 'ready', checks: { redis: 'ok', triton: 'ok' } };
  });
}
