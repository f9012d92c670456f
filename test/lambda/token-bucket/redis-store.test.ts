import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { RedisStore } from '#token-bucket/redis-store';
import { RedisServer } from '../../support/redis.ts';
import { freshId, sleep } from './stores.ts';

describe('RedisStore', () => {
  const redis = new Redis(inject('redisUrl'));
  const cluster = new Cluster(inject('redisClusterNodes'));
  afterAll(() => {
    redis.disconnect();
    cluster.disconnect();
  });

  it('keeps every key of one identity in one cluster slot', async () => {
    const store = new RedisStore(cluster);
    const keys = store.keys('key_abc123');
    const slots = await Promise.all(keys.map((k) => cluster.cluster('KEYSLOT', k)));
    expect(new Set(slots).size).toBe(1);
    const id = freshId();
    await store.decide({
      id,
      limits: { requestsPerMinute: 60, burst: 5, tokensPerMinute: 100, requestsPerDay: 9 },
      tokenCost: 1,
    });
    for (const key of store.keys(id)) expect(await cluster.exists(key)).toBe(1);
  });

  it('lets idle keys expire once their bucket would be full again', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    const limits = { requestsPerMinute: 600_000, burst: 5 }; // full again 0.1 ms after a charge
    await store.decide({ id, limits });
    const [requestKey] = store.keys(id);
    const ttl = await redis.pttl(requestKey as string);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1001);
    await sleep(ttl + 50);
    expect(await redis.exists(requestKey as string)).toBe(0);
  });

  it('clamps elapsed time at zero when a stored timestamp is ahead of the Redis clock', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    const [requestKey] = store.keys(id);
    const [s] = await redis.time();
    // As after a failover to a node whose clock is 1000 s behind the old primary's.
    await redis.hset(requestKey as string, 't', '0', 'ts', String(Number(s) * 1000 + 1_000_000));
    const decision = await store.decide({ id, limits: { requestsPerMinute: 60, burst: 5 } });
    expect(decision.allowed).toBe(false);
    expect(decision.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(decision.requests.remaining).toBe(0);
  });

  it('loads the script with EVAL on a fresh Redis, then uses EVALSHA alone', async () => {
    const server = await RedisServer.start(); // its own, so its command stats are ours alone
    const client = new Redis(server.url);
    try {
      const store = new RedisStore(client);
      const limits = { requestsPerMinute: 60, burst: 5 };
      for (let i = 0; i < 3; i++) await store.decide({ id: freshId(), limits });
      const stats = await server.cli('INFO', 'commandstats');
      const calls = (cmd: string) =>
        Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      expect(calls('evalsha')).toBe(3);
      expect(calls('eval')).toBe(1);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});
