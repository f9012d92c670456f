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
  // The limiter's own deadline decides (see limiter.ts), and it first reads a reply that has
  // arrived while the event loop was busy. ioredis's command timeout would fail that command in
  // the same timer phase and throw the reply away, so it is kept well above the deadline: it
  // only bounds how long an unanswered command stays queued in the client.
  const commandTimeoutMs = Math.max(1000, redisTimeoutMs * 10);
  const settings = redisSettingsFromEnv(env, commandTimeoutMs, secretsManagerSecret, log);
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
