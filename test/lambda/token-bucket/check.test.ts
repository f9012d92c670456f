import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { checkLimit } from '#token-bucket/check';
import { Limiter } from '#token-bucket/limiter';
import { RedisStore } from '#token-bucket/redis-store';
import { freshId } from './stores.ts';

const config = parseConfig({
  plans: {
    free: { requestsPerMinute: 60, burst: 2, tokensPerMinute: 1000 },
    pro: { requestsPerMinute: 600, burst: 100 },
  },
});

describe('limit check for internal services', () => {
  const redis = new Redis(inject('redisUrl'));
  const limiter = new Limiter({
    primary: new RedisStore(redis),
    failureMode: 'closed',
    timeoutMs: 200,
  });
  afterAll(() => redis.disconnect());

  it('returns the decision and its headers, then a denial with Retry-After', async () => {
    const keyId = freshId();
    const first = await checkLimit(limiter, config, { keyId, plan: 'free' });
    expect(first).toMatchObject({
      allowed: true,
      degraded: false,
      headers: { 'x-ratelimit-remaining-requests': '1' },
    });
    await checkLimit(limiter, config, { keyId, plan: 'free' });
    const third = await checkLimit(limiter, config, { keyId, plan: 'free' });
    expect(third).toMatchObject({ allowed: false, limitedBy: 'requests', retryAfterSeconds: 1 });
    expect(third).toHaveProperty(['headers', 'retry-after'], '1');
  });

  it('charges the given cost', async () => {
    const keyId = freshId();
    const result = await checkLimit(limiter, config, { keyId, plan: 'pro', cost: 40 });
    expect(result).toHaveProperty(['decision', 'requests', 'remaining'], 60);
  });

  it.each([
    [null, /must be an object/],
    ['key_1', /must be an object/],
    [{ plan: 'free' }, /keyId must be a non-empty string/],
    [{ keyId: '', plan: 'free' }, /keyId must be a non-empty string/],
    [{ keyId: 'k', plan: 3 }, /plan must be a string/],
    [{ keyId: 'k', plan: 'gold' }, /unknown plan "gold"; valid plans: free, pro/],
    [{ keyId: 'k', plan: 'free', cost: -1 }, /cost must be a whole number/],
    [{ keyId: 'k', plan: 'free', cost: '1' }, /cost must be a whole number/],
    [{ keyId: 'k', plan: 'free', cost: 3 }, /exceeds the request bucket's capacity/],
    [{ keyId: 'k', plan: 'free', tokenCost: 1.5 }, /tokenCost must be a whole number/],
    [{ keyId: 'k{x}', plan: 'free' }, /bucket id must be/],
  ])('answers %j with an invalid_request_error naming the problem', async (event, message) => {
    const result = await checkLimit(limiter, config, event);
    expect(result).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'invalid_request',
        message: expect.stringMatching(message),
      },
    });
  });
});
