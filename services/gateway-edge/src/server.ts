/**
 * The container edge process. Contract with its image and the CDK app:
 * - listens on `PORT` (default 8080); `GET /healthz` answers 200 without a key, 503 once draining;
 * - reads the gateway Lambda's environment (lambda/shared/names.ts `ENV`, lambda/gateway/setup.ts:
 *   `AXON_CONFIG`, `AXON_KEYS_TABLE`, the Redis variables, `AXON_UPSTREAM_URL`,
 *   `AXON_UPSTREAM_SECRET_ARN`, `AXON_UPSTREAM_TIMEOUT_MS`, the Powertools ones), plus
 *   `AXON_MAX_BODY_BYTES` (request body cap, default 1 MiB) and `AXON_SHUTDOWN_GRACE_MS`
 *   (default 120000);
 * - on SIGTERM or SIGINT stops accepting, fails `/healthz`, lets open streams finish within the
 *   grace period, flushes metrics and exits 0.
 * Metrics are counted in memory and go out as CloudWatch EMF on stdout every few seconds, not per
 * request.
 */
import { gatewayFromEnv } from '../../../lambda/gateway/setup.ts';
import { edgeConfigFromEnv } from './config.ts';
import { createEdge } from './edge.ts';

/** EMF lines per flush stay few at hundreds of requests a second. */
const METRICS_FLUSH_MS = 5_000;

let config: ReturnType<typeof edgeConfigFromEnv>;
let setup: Awaited<ReturnType<typeof gatewayFromEnv>>;
try {
  config = edgeConfigFromEnv(process.env);
  setup = await gatewayFromEnv(process.env, {
    maxBodyBytes: config.maxBodyBytes,
    aggregateMetrics: true,
  });
} catch (err) {
  console.error(`gateway-edge: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const { gateway, flushMetrics: flush, log } = setup;
const flushing = setInterval(flush, METRICS_FLUSH_MS);
flushing.unref();

const edge = createEdge({
  gateway,
  shutdownGraceMs: config.shutdownGraceMs,
  onError: (err) =>
    log.error('request failed after its answer started', {
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    }),
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info('draining', { signal, inFlight: edge.inFlight(), graceMs: config.shutdownGraceMs });
    void edge.shutdown().then(() => {
      flush();
      process.exit(0);
    });
  });
}

const url = await edge.listen(config.port, config.host);
log.info('listening', { url, maxBodyBytes: config.maxBodyBytes });
