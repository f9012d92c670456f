import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TOKEN_BUCKET_LUA, TOKEN_BUCKET_SHA } from '#token-bucket/lua';

describe('token bucket script', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  it('uses the SHA that Redis computes for the script', async () => {
    const sha = await redis.script('LOAD', TOKEN_BUCKET_LUA);
    expect(sha).toBe(TOKEN_BUCKET_SHA);
  });

  it('touches no key but the one it declares, so it is safe on Redis Cluster', () => {
    const keyReads = [...TOKEN_BUCKET_LUA.matchAll(/redis\.call\('(\w+)', ([^,)]+)/g)]
      .filter(([, command]) => command !== 'TIME')
      .map(([, , key]) => key?.trim());
    expect(keyReads.length).toBeGreaterThan(0);
    for (const key of keyReads) expect(key).toMatch(/^(KEYS\[\d\]|key)$/);
  });
});
