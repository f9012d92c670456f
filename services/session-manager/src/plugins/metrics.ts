/**
 * Prometheus metrics on `GET /metrics`, one registry per app instance (so several apps in one
 * process, as in tests, do not collide): request latency by route, inference latency by model
 * and outcome, errors by code, plus Node's process metrics.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  requests: Histogram<'method' | 'route' | 'status_code'>;
  inference: Histogram<'model' | 'stream' | 'outcome'>;
  errors: Counter<'code' | 'status'>;
  /**
   * Requests for a known model, counted before Triton is called: KEDA's activation signal that
   * wakes a Triton scaled to zero (lib/k8s/triton.ts). Counted even when Triton is down.
   */
  demand: Counter<'model'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Histogram({
      name: 'axon_sm_http_request_duration_seconds',
      help: 'HTTP request latency, from arrival to the last byte sent',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    inference: new Histogram({
      name: 'axon_sm_inference_duration_seconds',
      help: 'Triton generate latency (streams: until the last event)',
      labelNames: ['model', 'stream', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'axon_sm_errors_total',
      help: 'Error responses and stream error events, by error code',
      labelNames: ['code', 'status'],
      registers: [registry],
    }),
    demand: new Counter({
      name: 'axon_sm_model_demand_total',
      help: 'Requests for a known model, counted before Triton is called (wakes a scaled-to-zero Triton)',
      labelNames: ['model'],
      registers: [registry],
    }),
  };
}

export default fp(
  async function metricsPlugin(fastify: FastifyInstance) {
    const metrics = createMetrics();
    fastify.decorate('metrics', metrics);
    fastify.addHook('onResponse', async (request, reply) => {
      metrics.requests.observe(
        {
          method: request.method,
          // The route pattern, never the raw URL: session ids would explode the label set.
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
    fastify.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  },
  { name: 'axon-metrics' },
);
