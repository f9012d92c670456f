/**
 * Builds the gateway a process runs from its environment, once per Lambda instance (or once per
 * local stack). Variables, as the CDK app sets them (lib/constructs/gateway-function.ts):
 * `AXON_CONFIG`, `AXON_KEYS_TABLE`, Redis (see `redisSettingsFromEnv`), `AXON_UPSTREAM_URL`,
 * `AXON_UPSTREAM_SECRET_ARN` (or `AXON_UPSTREAM_SECRET` locally), `AXON_UPSTREAM_TIMEOUT_MS`.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { type SecretProvider, secretsManagerSecret, staticSecret } from '@axon/runtime/secrets';
import { createDynamoClient } from '#authorizer/key-store';
import { authorizerEnv, authorizerFromEnv, keyTableFromEnv } from '#authorizer/setup';
import { configFromEnv } from '#shared/config';
import { createLogger, type Log } from '#shared/logger';
import { ENV, GATEWAY_METRICS } from '#shared/names';
import { limiterFromEnv } from '#token-bucket/setup';
import { Gateway, leaseTtlMs } from './gateway.ts';
import { type LedgerReader, usageSourceOf } from './live-usage.ts';
import { AggregatedMetrics, powertoolsMetrics } from './metrics.ts';
import { OrganizationApi } from './organization-api.ts';
import { Pricing } from './pricing.ts';
import { Upstream } from './upstream.ts';
import type { UsageSource } from './usage-api.ts';

/** What an ALB Lambda target may return, less room for the status line and headers. */
export const MAX_RESPONSE_BYTES = 1024 * 1024 - 64 * 1024;

export interface GatewaySetup {
  readonly gateway: Gateway;
  /** Flushed by the handler after each invocation. */
  readonly metrics: Metrics;
  /**
   * Publishes what the gateway counted: the Lambda handler's per-invocation flush, or the
   * container edge's timer over its aggregated counts (`aggregateMetrics`).
   */
  readonly flushMetrics: () => void;
  readonly log: Log;
}

export interface GatewaySetupOptions {
  /**
   * The request body cap: the container edge's `AXON_MAX_BODY_BYTES`.
   * @default MAX_BODY_BYTES - what an ALB Lambda target accepts
   */
  readonly maxBodyBytes?: number;
  /**
   * Count in memory and publish on `flushMetrics` (a long-running process), rather than one
   * Powertools call per count (a Lambda invocation, flushed at its end).
   * @default false
   */
  readonly aggregateMetrics?: boolean;
}

function required(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = env[name]?.trim();
  if (!value) throw new Error(`${name} is not set: give it ${what}`);
  return value;
}

/** Where the gateway-to-session-manager secret comes from; read at start and after a 401. */
function upstreamSecret(env: NodeJS.ProcessEnv): SecretProvider {
  if (env.AXON_UPSTREAM_SECRET) return staticSecret(env.AXON_UPSTREAM_SECRET);
  const arn = required(
    env,
    ENV.upstreamSecretArn,
    'the ARN of the gateway-to-session-manager secret',
  );
  return secretsManagerSecret(arn);
}

/**
 * The admin API's usage source: the Usage table `AXON_USAGE_TABLE` names (the usage exporter's),
 * its keys from the key table, and, with the limiter's Redis, the ledger hours not exported yet
 * (live-usage.ts). Without the variable the usage routes answer 503 `usage_unavailable`.
 */
export function usageFromEnv(
  env: NodeJS.ProcessEnv,
  ledger?: LedgerReader,
  log?: Log,
): UsageSource | undefined {
  const usageTable = env[ENV.usageTable]?.trim();
  if (!usageTable) return undefined;
  const { tableName: keysTable, endpoint } = authorizerEnv(env);
  const client = createDynamoClient({ ...(endpoint && { endpoint }), maxAttempts: 2 });
  return usageSourceOf({
    client,
    usageTable,
    keysTable,
    ...(ledger && { ledger }),
    ...(log && { log }),
  });
}

export async function gatewayFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: GatewaySetupOptions = {},
): Promise<GatewaySetup> {
  const log = createLogger(env[ENV.serviceName] ?? GATEWAY_METRICS.service);
  const config = configFromEnv(env);
  const upstreamUrl = required(env, ENV.upstreamUrl, 'the base URL of the session manager');
  const timeoutMs = Number(env[ENV.upstreamTimeoutMs] ?? 60_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new Error(
      `${ENV.upstreamTimeoutMs} must be a whole number of milliseconds, got ${env[ENV.upstreamTimeoutMs]}`,
    );
  }

  const metrics = new Metrics({
    namespace: env[ENV.metricsNamespace] ?? GATEWAY_METRICS.namespace,
    serviceName: env[ENV.serviceName] ?? GATEWAY_METRICS.service,
  });
  const aggregated = options.aggregateMetrics ? new AggregatedMetrics(metrics) : undefined;
  const gatewayMetrics = aggregated ?? powertoolsMetrics(metrics);
  const flushMetrics = aggregated
    ? () => aggregated.flush()
    : () => {
        if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      };
  const { limiter, redis } = await limiterFromEnv(config, log, env, () =>
    gatewayMetrics.count(GATEWAY_METRICS.names.redisErrors),
  );
  const authorizer = authorizerFromEnv({ config, failures: limiter, log, env });
  const readSecret = upstreamSecret(env);
  const upstream = new Upstream({
    url: upstreamUrl,
    timeoutMs,
    secret: await readSecret(),
    readSecret,
    maxResponseBytes: MAX_RESPONSE_BYTES,
  });
  const usage = usageFromEnv(env, redis?.client, log);
  const gateway = new Gateway({
    authorizer,
    limiter,
    upstream,
    metrics: gatewayMetrics,
    log,
    leaseTtlMs: leaseTtlMs(config),
    pricing: new Pricing(config.prices),
    admin: new OrganizationApi({
      keys: keyTableFromEnv(env),
      config,
      ...(usage && { usage }),
    }),
    ...(options.maxBodyBytes !== undefined && { maxBodyBytes: options.maxBodyBytes }),
  });
  return { gateway, metrics, flushMetrics, log };
}
