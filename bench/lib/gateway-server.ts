/**
 * Child process [G] of `bench:gateway`: the gateway as `npm start` runs it (local/stack.ts): the
 * esbuild bundle CDK deploys, imported once with its environment set, behind the ALB emulator,
 * with dynalite as the key store and the benchmark's redis-server for the token bucket.
 * The plan's limits are far above any offered load, so every request is admitted and all three
 * benchmarked paths do the same work.
 * With BENCH_EDGE=container it serves the same core through the container edge's HTTP server
 * (services/gateway-edge) instead, as `AXON_EDGE=container npm start` does.
 * Env: BENCH_REDIS_URL, BENCH_UPSTREAM_URL, BENCH_GATEWAY_SECRET, BENCH_BUILD_DIR, BENCH_EDGE.
 * Prints `{"url", "key", "keyId", "plan"}` once listening (the key goes to the parent only),
 * and answers the parent's `gc-stats` requests (gc-monitor.ts).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKey } from '#authorizer/admin';
import {
  createDocumentClient,
  createDynamoClient,
  createKeyTable,
  LOCAL_KEYS_TABLE,
} from '#authorizer/key-store';
import { gatewayFromEnv } from '#gateway/setup';
import { parseConfig } from '#shared/config';
import { type AlbHandler, startAlbEmulator } from '../../local/alb-emulator.ts';
import { bundleLambda } from '../../local/bundle.ts';
import { startDynalite } from '../../local/dynalite.ts';
import { edgeConfigFromEnv } from '../../services/gateway-edge/src/config.ts';
import { createEdge } from '../../services/gateway-edge/src/edge.ts';
import { exitWithParent } from './children.ts';
import { serveGcStats } from './gc-monitor.ts';

export const BENCH_PLAN = 'bench';
/** Far above any offered load: nothing is denied, so no path does less work than another. */
const UNLIMITED = 1_000_000_000;

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const redisUrl = env('BENCH_REDIS_URL');
const upstreamUrl = env('BENCH_UPSTREAM_URL');
const secret = env('BENCH_GATEWAY_SECRET');
const buildDir = env('BENCH_BUILD_DIR');
/** Which edge adapter serves the gateway core: the Lambda bundle behind the ALB emulator, or the
 * container edge's HTTP server. */
const edge = process.env.BENCH_EDGE === 'container' ? 'container' : 'lambda';

// The production defaults for the rate limiter and the auth cache, with a plan nobody exceeds
// that has all three buckets (requests, tokens, day), so every request is admitted and settled.
const config = parseConfig({
  plans: {
    [BENCH_PLAN]: {
      requestsPerMinute: UNLIMITED,
      burst: UNLIMITED,
      tokensPerMinute: UNLIMITED,
      requestsPerDay: UNLIMITED,
    },
  },
});

const dynalite = await startDynalite();
const local = { endpoint: dynalite.endpoint, region: 'us-east-1', maxAttempts: 1 };
await createKeyTable(createDynamoClient(local), LOCAL_KEYS_TABLE);
const created = await createKey(createDocumentClient(local), LOCAL_KEYS_TABLE, {
  config,
  plan: BENCH_PLAN,
  owner: 'bench',
});

// The handler reads its environment when the bundle is imported, as it does in Lambda.
Object.assign(process.env, {
  AXON_CONFIG: JSON.stringify(config),
  AXON_KEYS_TABLE: LOCAL_KEYS_TABLE,
  AXON_DYNAMODB_ENDPOINT: dynalite.endpoint,
  AXON_REDIS_URL: redisUrl,
  AXON_UPSTREAM_URL: upstreamUrl,
  AXON_UPSTREAM_SECRET: secret,
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
});
const server = edge === 'container' ? await startContainer() : await startLambda();

async function startLambda(): Promise<{ url: string; close(): Promise<unknown> }> {
  const bundle = await bundleLambda('lambda/gateway/handler.ts', join(buildDir, 'index.mjs'));
  const { handler } = (await import(pathToFileURL(bundle).href)) as { handler: AlbHandler };
  return startAlbEmulator(handler, {
    port: 0,
    onError: (err) => process.stderr.write(`gateway function failed: ${String(err)}\n`),
  });
}

/** The container edge's server as services/gateway-edge/src/server.ts builds it, from source. */
async function startContainer(): Promise<{ url: string; close(): Promise<unknown> }> {
  const settings = edgeConfigFromEnv({ ...process.env, PORT: '0' });
  const { gateway } = await gatewayFromEnv(process.env, {
    maxBodyBytes: settings.maxBodyBytes,
    aggregateMetrics: true,
  });
  const server = createEdge({
    gateway,
    shutdownGraceMs: 1_000,
    onError: (err) => process.stderr.write(`gateway edge failed: ${String(err)}\n`),
  });
  const url = await server.listen(0, '127.0.0.1');
  return { url, close: () => server.shutdown() };
}

serveGcStats();
exitWithParent(async () => {
  await server.close();
  await dynalite.stop();
});
process.stdout.write(
  `${JSON.stringify({ url: server.url, key: created.key, keyId: created.keyId, plan: BENCH_PLAN })}\n`,
);
