/**
 * The whole stack on loopback: the gateway behind either edge (the Lambda bundle behind an ALB
 * emulator, or the container edge's HTTP server in this process), DynamoDB as dynalite, two Redis servers (given, spawned, or absent), the real session manager and the
 * Triton stand-in. Every component is the real code; only AWS is emulated.
 *
 * The limiter and the sessions get a Redis each, as in AWS: sessions are tenant data of
 * arbitrary size, and on a shared Redis with `volatile-lru` they evicted other keys' drained
 * buckets (issue 11). The limiter's Redis runs `maxmemory-policy noeviction`, so nothing can
 * evict or reset its state.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKey } from '#authorizer/admin';
import {
  createDocumentClient,
  createDynamoClient,
  createKeyTable,
  LOCAL_KEYS_TABLE,
} from '#authorizer/key-store';
import { type AxonConfig, loadConfigFile, sessionQuotasEnv } from '#shared/config';
import { createUsageTable } from '../lambda/usage-export/usage-table.ts';
import { REPO_ROOT } from '../lib/paths.ts';
import { edgeConfigFromEnv } from '../services/gateway-edge/src/config.ts';
import { createEdge } from '../services/gateway-edge/src/edge.ts';
import { DEFAULT_STUB_MODELS, startInferenceStub } from '../services/inference-stub/src/index.ts';
import { buildApp } from '../services/session-manager/src/app.ts';
import { parseSessionQuotas } from '../services/session-manager/src/core/session-quotas.ts';
import { DEFAULT_WAKE_RETRY_AFTER_SECONDS } from '../services/session-manager/src/core/waking.ts';
import { type AlbHandler, startAlbEmulator } from './alb-emulator.ts';
import { bundleLambda } from './bundle.ts';
import { startDynalite } from './dynalite.ts';
import { IdleScaler } from './idle-scaler.ts';
import { freePort, RedisServer } from './redis-server.ts';
import { removeLocalState, writeLocalState } from './state.ts';
import { startLocalUsageExporter } from './usage-exporter.ts';

/** The local Usage table: the usage exporter's, read by the admin API and `keys usage --local`. */
export const LOCAL_USAGE_TABLE = 'axon-local-usage';

/** dynalite ignores regions; this one matches what the key store's clients default to. */
export const LOCAL_REGION = 'us-east-1';

/** The two ways the gateway meets its clients (docs/gateway.md). */
export const EDGES = ['lambda', 'container'] as const;
export type Edge = (typeof EDGES)[number];

/** Drain time of the local container edge on Ctrl-C when `AXON_SHUTDOWN_GRACE_MS` is unset. */
const LOCAL_SHUTDOWN_GRACE_MS = 10_000;

export interface LocalStackOptions {
  /** Which edge serves the gateway port. @default 'lambda' */
  readonly edge?: Edge;
  /** The Triton stand-in's delay between streamed tokens, in ms. @default 0 */
  readonly stubTokenDelayMs?: number;
  /** Gateway port. @default 8080 */
  readonly port?: number;
  /** Runtime config file (docs/api.md#runtime-config). */
  readonly configPath: string;
  /**
   * The limiter's Redis, instead of spawning one. Without sessionRedisUrl it holds the sessions
   * too (one Redis for both, as before the split).
   */
  readonly redisUrl?: string;
  /** The sessions' Redis, instead of spawning one. */
  readonly sessionRedisUrl?: string;
  /** Where the bundle, the DynamoDB data and local.json live. */
  readonly stateDir: string;
  /** Ports of the inner components. @default - free ports */
  readonly sessionManagerPort?: number;
  readonly inferencePort?: number;
  readonly dynamodbPort?: number;
  /** The session manager's per-call inference timeout. @default 60000 */
  readonly inferenceTimeoutMs?: number;
  /**
   * Dev at idle: the Triton stand-in runs only while models are asked for (local/idle-scaler.ts).
   * @default - the stand-in runs all the time
   */
  readonly idle?: {
    readonly idleMs: number;
    readonly coldStartMs: number;
    readonly wakeWaitMs: number;
  };
  /** Where progress and warnings go. @default console.error */
  readonly say?: (line: string) => void;
}

export interface LocalStack {
  readonly url: string;
  readonly edge: Edge;
  readonly demoKey: string;
  readonly demoPlan: string;
  /** The limiter's Redis: `spawned`, `given` or `memory`. */
  readonly redis: 'spawned' | 'given' | 'memory';
  /** The sessions' Redis: `spawned`, `given`, `shared` (the limiter's) or `memory`. */
  readonly sessionRedis: 'spawned' | 'given' | 'shared' | 'memory';
  /** Where each Redis is, when there is one. */
  readonly redisUrls: { readonly limiter?: string; readonly sessions?: string };
  readonly config: AxonConfig;
  stop(): Promise<void>;
}

function hasRedisServer(): boolean {
  return spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const say = options.say ?? ((line: string) => console.error(line));
  const config = loadConfigFile(options.configPath);
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step().catch(() => undefined);
  };

  try {
    const canSpawn = hasRedisServer();
    let redisUrl = options.redisUrl;
    let redis: LocalStack['redis'] = redisUrl ? 'given' : 'memory';
    if (!redisUrl && canSpawn) {
      const server = await RedisServer.start({ args: ['--maxmemory-policy', 'noeviction'] });
      stops.push(() => server.stop());
      redisUrl = server.url;
      redis = 'spawned';
    }
    let sessionRedisUrl = options.sessionRedisUrl;
    let sessionRedis: LocalStack['sessionRedis'] = sessionRedisUrl ? 'given' : 'memory';
    if (!sessionRedisUrl && options.redisUrl) {
      sessionRedisUrl = options.redisUrl;
      sessionRedis = 'shared';
    } else if (!sessionRedisUrl && canSpawn) {
      const server = await RedisServer.start();
      stops.push(() => server.stop());
      sessionRedisUrl = server.url;
      sessionRedis = 'spawned';
    }
    if (!redisUrl) {
      say(
        "warning: no redis-server on PATH and no REDIS_URL: rate limits are kept in the gateway process and sessions in the session manager's memory",
      );
    }

    const dynalite = await startDynalite({
      path: join(options.stateDir, 'dynamodb'),
      ...(options.dynamodbPort !== undefined && { port: options.dynamodbPort }),
    });
    stops.push(() => dynalite.stop());
    const dynamo = createDynamoClient({
      endpoint: dynalite.endpoint,
      region: LOCAL_REGION,
      maxAttempts: 1,
    });
    await createKeyTable(dynamo, LOCAL_KEYS_TABLE).catch((err: Error) => {
      if (err.name !== 'ResourceInUseException') throw err; // kept from an earlier run
    });
    await createUsageTable(dynamo, LOCAL_USAGE_TABLE);
    if (redisUrl) {
      const exporter = startLocalUsageExporter({
        redisUrl,
        dynamo,
        usageTable: LOCAL_USAGE_TABLE,
        keysTable: LOCAL_KEYS_TABLE,
        say,
      });
      stops.push(() => exporter.close());
    }

    const startStub = (port = options.inferencePort) =>
      startInferenceStub({
        ...(port !== undefined && { port }),
        ...(options.stubTokenDelayMs !== undefined && { tokenDelayMs: options.stubTokenDelayMs }),
        log: say,
      });
    let tritonUrl: string;
    let inferencePort = options.inferencePort;
    if (options.idle) {
      // Asleep: nothing listens on the Triton port until the idle scaler starts the stand-in.
      inferencePort ??= await freePort();
      tritonUrl = `http://127.0.0.1:${inferencePort}`;
    } else {
      const stub = await startStub();
      stops.push(() => stub.close());
      tritonUrl = stub.url;
    }

    const gatewaySecret = randomBytes(24).toString('base64url');
    const sessionManager = await buildApp({
      ...(sessionRedisUrl && { redisUrl: sessionRedisUrl }),
      // Through the same JSON as the deployed service's AXON_SESSION_QUOTAS.
      sessionQuotas: parseSessionQuotas(sessionQuotasEnv(config)),
      tritonUrl,
      ...(options.idle && {
        // What the dev stage's Deployment sets: the served models, and the wait for a wake.
        models: {
          models: Object.fromEntries(
            DEFAULT_STUB_MODELS.map((m) => [
              m,
              { template: m.endsWith('llama3') ? 'llama3' : 'chatml' },
            ]),
          ),
        },
        wake: {
          waitMs: options.idle.wakeWaitMs,
          retryAfterSeconds: DEFAULT_WAKE_RETRY_AFTER_SECONDS,
        },
      }),
      gatewaySecret,
      ...(options.inferenceTimeoutMs !== undefined && {
        inferenceTimeoutMs: options.inferenceTimeoutMs,
      }),
      logger: false,
    });
    stops.push(() => sessionManager.close());
    const sessionManagerUrl = await sessionManager.listen({
      host: '127.0.0.1',
      port: options.sessionManagerPort ?? 0,
    });
    if (options.idle) {
      const scaler = new IdleScaler({
        metricsUrl: `${sessionManagerUrl}/metrics`,
        start: () => startStub(inferencePort),
        coldStartMs: options.idle.coldStartMs,
        idleMs: options.idle.idleMs,
        say,
      });
      stops.push(() => scaler.close());
      say(
        `idle scaler (stand-in for KEDA and Karpenter): the Triton stand-in starts ${options.idle.coldStartMs} ms after the first request and stops after ${options.idle.idleMs} ms without one`,
      );
    }

    // The gateway reads its environment once, when its bundle is imported: exactly as in AWS.
    Object.assign(process.env, {
      AXON_CONFIG: JSON.stringify(config),
      AXON_KEYS_TABLE: LOCAL_KEYS_TABLE,
      AXON_USAGE_TABLE: LOCAL_USAGE_TABLE,
      AXON_DYNAMODB_ENDPOINT: dynalite.endpoint,
      AXON_UPSTREAM_URL: sessionManagerUrl,
      AXON_UPSTREAM_SECRET: gatewaySecret,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      ...(redisUrl && { AXON_REDIS_URL: redisUrl }),
    });
    const edge = options.edge ?? 'lambda';
    const url =
      edge === 'container'
        ? await startContainerEdge(options.port ?? 8080, stops, say)
        : await startLambdaEdge(options.port ?? 8080, stops, say);

    const demoPlan = Object.keys(config.plans)[0] as string;
    const keys = createDocumentClient({
      endpoint: dynalite.endpoint,
      region: LOCAL_REGION,
      maxAttempts: 1,
    });
    const demo = await createKey(keys, LOCAL_KEYS_TABLE, {
      plan: demoPlan,
      owner: 'local-demo',
      config,
    });

    writeLocalState(options.stateDir, {
      gatewayUrl: url,
      dynamodbEndpoint: dynalite.endpoint,
      keysTable: LOCAL_KEYS_TABLE,
      usageTable: LOCAL_USAGE_TABLE,
      ...(redisUrl && { limiterRedisUrl: redisUrl }),
      region: LOCAL_REGION,
      pid: process.pid,
    });
    stops.unshift(async () => removeLocalState(options.stateDir));

    return {
      url,
      edge,
      demoKey: demo.key,
      demoPlan,
      redis,
      sessionRedis,
      redisUrls: {
        ...(redisUrl && { limiter: redisUrl }),
        ...(sessionRedisUrl && { sessions: sessionRedisUrl }),
      },
      config,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

type Stops = (() => Promise<unknown>)[];

/** The gateway Lambda bundle, imported here, behind the ALB emulator: what `cdk deploy` ships. */
async function startLambdaEdge(
  port: number,
  stops: Stops,
  say: (line: string) => void,
): Promise<string> {
  // One folder per process under the repository's git-ignored .axon/build. The bundle is
  // self-contained, AWS SDK included (lib/bundling.ts): the artifact cdk deploy ships.
  const buildDir = join(REPO_ROOT, '.axon', 'build', `gateway-${process.pid}`);
  stops.push(async () => rmSync(buildDir, { recursive: true, force: true }));
  const bundle = await bundleLambda('lambda/gateway/handler.ts', join(buildDir, 'index.mjs'));
  const { handler } = (await import(pathToFileURL(bundle).href)) as { handler: AlbHandler };
  const alb = await startAlbEmulator(handler, {
    port,
    onError: (err) =>
      say(`gateway function failed: ${err instanceof Error ? err.message : String(err)}`),
  });
  stops.push(() => alb.close());
  return alb.url;
}

/**
 * The container edge in this process, built from the same environment as its image reads. Its
 * stop drains: open streams may finish within `AXON_SHUTDOWN_GRACE_MS` (10 s locally).
 */
async function startContainerEdge(
  port: number,
  stops: Stops,
  say: (line: string) => void,
): Promise<string> {
  const { gatewayFromEnv } = await import('#gateway/setup');
  const settings = edgeConfigFromEnv({
    AXON_SHUTDOWN_GRACE_MS: String(LOCAL_SHUTDOWN_GRACE_MS),
    ...process.env,
    PORT: String(port),
  });
  const { gateway } = await gatewayFromEnv(process.env, {
    maxBodyBytes: settings.maxBodyBytes,
    aggregateMetrics: true,
  });
  const edge = createEdge({
    gateway,
    shutdownGraceMs: settings.shutdownGraceMs,
    onError: (err) =>
      say(`gateway edge failed: ${err instanceof Error ? err.message : String(err)}`),
  });
  const url = await edge.listen(port, '127.0.0.1');
  stops.push(() => edge.shutdown());
  return url;
}
