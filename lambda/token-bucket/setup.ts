/**
 * Builds the limiter a process uses from its config and environment: Redis when one is
 * configured (see `redisSettingsFromEnv`), otherwise the in-memory store alone.
 */

import { RedisConnection, redisSettingsFromEnv } from '@axon/runtime/redis';
import { secretsManagerSecret } from '@axon/runtime/secrets';
import type { AxonConfig } from '#shared/config';
import type { Log } from '#shared/logger';
import { Limiter } from './limiter.ts';
import { RedisStore } from './redis-store.ts';

export interface LimiterSetup {
  readonly limiter: Limiter;
  /** Absent when no Redis is configured. */
  readonly redis?: RedisConnection;
}

export async function limiterFromEnv(
  config: AxonConfig,
  log: Log,
  env: NodeJS.ProcessEnv = process.env,
  onRedisError?: (err: unknown) => void,
): Promise<LimiterSetup> {
  const { failureMode, redisTimeoutMs } = config.rateLimiter;
  const settings = redisSettingsFromEnv(env, redisTimeoutMs, secretsManagerSecret, log);
  if (!settings) {
    log.warn('no Redis configured: rate limits are kept in this process only');
    return { limiter: new Limiter({ failureMode, timeoutMs: redisTimeoutMs, log }) };
  }
  const redis = await RedisConnection.open(settings);
  const limiter = new Limiter({
    primary: new RedisStore(redis.client, { retryAfter: (err) => redis.recoverable(err) }),
    failureMode,
    timeoutMs: redisTimeoutMs,
    log,
    ...(onRedisError && { onRedisError }),
  });
  return { limiter, redis };
}
