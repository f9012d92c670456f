/**
 * Child process [G] of `bench:gateway`: the gateway as `npm start` runs it (local/stack.ts): the
 * esbuild bundle CDK deploys, imported once with its environment set, behind the ALB emulator,
 * with dynalite as the key store and the benchmark's redis-server for the token bucket.
 * The plan's limits are far above any offered load, so every request is admitted and all three
 * benchmarked paths do the same work.
 * Env: BENCH_REDIS_URL, BENCH_UPSTREAM_URL, BENCH_GATEWAY_SECRET, BENCH_BUILD_DIR.
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
import { parseConfig } from '#shared/config';
import { type AlbHandler, startAlbEmulator } from '../../local/alb-emulator.ts';
import { bundleLambda } from '../../local/bundle.ts';
import { startDynalite } from '../../local/dynalite.ts';
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

// The production defaults for the rate limiter and the auth cache, with a plan nobody exceeds.
const config = parseConfig({
  plans: { [BENCH_PLAN]: { requestsPerMinute: UNLIMITED, burst: UNLIMITED } },
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
const bundle = await bundleLambda('lambda/gateway/handler.ts', join(buildDir, 'index.mjs'));
const { handler } = (await import(pathToFileURL(bundle).href)) as { handler: AlbHandler };
const alb = await startAlbEmulator(handler, {
  port: 0,
  onError: (err) => process.stderr.write(`gateway function failed: ${String(err)}\n`),
});

serveGcStats();
exitWithParent(async () => {
  await alb.close();
  await dynalite.stop();
});
process.stdout.write(
  `${JSON.stringify({ url: alb.url, key: created.key, keyId: created.keyId, plan: BENCH_PLAN })}\n`,
);
