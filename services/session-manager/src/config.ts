/**
 * The environment contract of server.ts (documented in docs/session-manager.md; the Kubernetes
 * Deployment is written from it). Parsed once at start; a bad value stops the process with a
 * message that names the variable and the fix. Secrets are returned as providers, never logged.
 */

import type { RedisNode } from '@axon/runtime/redis';
import { type SecretProvider, secretsManagerSecret, staticSecret } from '@axon/runtime/secrets';
import type { AppOptions } from './app.ts';
import { parseModelsConfig } from './core/models.ts';
import { parseSessionQuotas } from './core/session-quotas.ts';
import { DEFAULT_WAKE_RETRY_AFTER_SECONDS } from './core/waking.ts';

export interface ServerConfig {
  port: number;
  host: string;
  logLevel: string;
  /** How long in-flight requests get after SIGTERM before the process exits anyway. */
  shutdownGraceMs: number;
  app: Omit<AppOptions, 'logger' | 'fastify'>;
}

export class ConfigError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function set(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = set(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

function secret(
  env: Env,
  plain: string,
  arn: string,
  required: boolean,
): SecretProvider | undefined {
  const value = set(env, plain);
  const secretArn = set(env, arn);
  if (value !== undefined && secretArn !== undefined) {
    throw new ConfigError(`set ${plain} or ${arn}, not both`);
  }
  if (secretArn !== undefined) return secretsManagerSecret(secretArn);
  if (value !== undefined) return staticSecret(value);
  if (required) throw new ConfigError(`${plain} or ${arn} is required`);
  return undefined;
}

export function parseClusterNodes(raw: string): RedisNode[] {
  return raw.split(',').map((entry) => {
    const match = /^\s*([^\s:]+):(\d{1,5})\s*$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match?.[1] || port < 1 || port > 65535) {
      throw new ConfigError(
        `REDIS_CLUSTER_NODES must be host:port[,host:port...], got '${entry.trim()}'`,
      );
    }
    return { host: match[1], port };
  });
}

function httpUrl(env: Env, name: string): string {
  const raw = set(env, name);
  if (raw === undefined) throw new ConfigError(`${name} is required, e.g. http://triton:8000`);
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return raw;
  } catch {}
  throw new ConfigError(`${name} must be an http:// or https:// URL, got '${raw}'`);
}

export function loadServerConfig(env: Env): ServerConfig {
  const redisUrl = set(env, 'REDIS_URL');
  const clusterNodes = set(env, 'REDIS_CLUSTER_NODES');
  if ((redisUrl === undefined) === (clusterNodes === undefined)) {
    throw new ConfigError(
      'set exactly one of REDIS_URL (redis:// or rediss://) or REDIS_CLUSTER_NODES (host:port,...)',
    );
  }
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL must start with redis:// or rediss://');
  }
  const tls = set(env, 'REDIS_TLS');
  if (tls !== undefined && !['0', '1', 'true', 'false'].includes(tls)) {
    throw new ConfigError(`REDIS_TLS must be 1 or 0, got '${tls}'`);
  }
  const logLevel = set(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
  }
  const modelsJson = set(env, 'MODELS_CONFIG');
  let models: AppOptions['models'];
  try {
    models = modelsJson === undefined ? {} : parseModelsConfig(modelsJson);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const redisPassword = secret(env, 'REDIS_PASSWORD', 'REDIS_AUTH_SECRET_ARN', false);
  const gatewaySecretArn = set(env, 'GATEWAY_SECRET_ARN');
  // The Redis ACL user (ElastiCache RBAC); absent, the `default` user.
  const redisUsername = set(env, 'REDIS_USERNAME');
  const quotasJson = set(env, 'AXON_SESSION_QUOTAS');
  let sessionQuotas: AppOptions['sessionQuotas'];
  try {
    sessionQuotas = quotasJson === undefined ? {} : parseSessionQuotas(quotasJson);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }

  const wakeWaitMs = set(env, 'TRITON_WAKE_WAIT_MS');
  if (wakeWaitMs !== undefined && Object.keys(models?.models ?? {}).length === 0) {
    throw new ConfigError(
      'TRITON_WAKE_WAIT_MS needs MODELS_CONFIG to name the served models: they are listed and resolved from it while Triton is scaled to zero',
    );
  }
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: set(env, 'HOST') ?? '0.0.0.0',
    logLevel,
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 25_000, 0, 600_000),
    app: {
      ...(redisUrl !== undefined ? { redisUrl } : {}),
      ...(clusterNodes !== undefined ? { redisClusterNodes: parseClusterNodes(clusterNodes) } : {}),
      redisTls: tls === '1' || tls === 'true',
      ...(redisPassword ? { redisPassword } : {}),
      ...(redisUsername !== undefined ? { redisUsername } : {}),
      tritonUrl: httpUrl(env, 'TRITON_URL'),
      gatewaySecret: secret(env, 'GATEWAY_SECRET', 'GATEWAY_SECRET_ARN', true) as SecretProvider,
      // A rotated secret has an AWSPREVIOUS version, accepted until the next rotation; a plain
      // GATEWAY_SECRET (local runs) never rotates.
      ...(gatewaySecretArn !== undefined && {
        gatewaySecretPrevious: secretsManagerSecret(gatewaySecretArn, 'AWSPREVIOUS'),
      }),
      sessionTtlSeconds: integer(env, 'SESSION_TTL_SECONDS', 86_400, 1, 365 * 86_400),
      inferenceTimeoutMs: integer(env, 'INFERENCE_TIMEOUT_MS', 60_000, 1, 3_600_000),
      models,
      sessionQuotas,
      ...(wakeWaitMs !== undefined && {
        wake: {
          waitMs: integer(env, 'TRITON_WAKE_WAIT_MS', 0, 0, 600_000),
          retryAfterSeconds: integer(
            env,
            'TRITON_WAKE_RETRY_AFTER_SECONDS',
            DEFAULT_WAKE_RETRY_AFTER_SECONDS,
            1,
            3_600,
          ),
        },
      }),
    },
  };
}
