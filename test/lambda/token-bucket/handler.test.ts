import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisStore } from '#token-bucket/redis-store';
import { freshId } from './stores.ts';

describe('token bucket Lambda handler', () => {
  let handler: (event: unknown) => Promise<unknown>;
  const redis = new Redis(inject('redisUrl'));

  beforeAll(async () => {
    process.env.AXON_CONFIG = JSON.stringify({
      plans: { free: { requestsPerMinute: 60, burst: 1 } },
    });
    process.env.AXON_REDIS_URL = inject('redisUrl');
    ({ handler } = await import('#token-bucket/handler'));
  });
  afterAll(() => redis.disconnect());

  it('decides through the Redis named in the environment', async () => {
    const keyId = freshId();
    expect(await handler({ keyId, plan: 'free' })).toMatchObject({
      allowed: true,
      degraded: false,
    });
    expect(await handler({ keyId, plan: 'free' })).toMatchObject({
      allowed: false,
      retryAfterSeconds: 1,
    });
    expect(await redis.exists(new RedisStore(redis).key(keyId))).toBe(1);
  });

  it('answers a malformed event with the error envelope instead of throwing', async () => {
    expect(await handler({ plan: 'free' })).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'invalid_request',
        message: 'keyId must be a non-empty string',
      },
    });
  });
});
