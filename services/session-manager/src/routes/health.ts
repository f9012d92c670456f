/**
 * Probes, without a principal: `/healthz` says the process serves HTTP (liveness); `/readyz`
 * says Redis and Triton both answer (readiness), so Kubernetes routes traffic only to pods that
 * can complete a request.
 */
import type { FastifyInstance } from 'fastify';
import { AxonError } from '../core/errors.ts';

export default async function healthRoutes(fastify: FastifyInstance) {
  fastify.get('/healthz', async () => ({ status: 'ok' }));

  fastify.get('/readyz', async () => {
    const { redis, triton } = fastify.services;
    const [redisOk, tritonOk] = await Promise.all([redis.ping(), triton.ready()]);
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
