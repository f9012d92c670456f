import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { RedisStore } from '#token-bucket/redis-store';
import { poll } from '../../support/poll.ts';
import { RedisServer } from '../../support/redis.ts';
import { freshId } from './stores.ts';

/** The script's state layout: six little-endian doubles (see lua.ts). */
function pack(values: [number, number, number, number, number, number]): Buffer {
  const buffer = Buffer.alloc(48);
  for (const [i, v] of values.entries()) buffer.writeDoubleLE(v, i * 8);
  return buffer;
}

describe('RedisStore', () => {
  const redis = new Redis(inject('redisUrl'));
  const cluster = new Cluster(inject('redisClusterNodes'));
  afterAll(() => {
    redis.disconnect();
    cluster.disconnect();
  });

  it('keeps an identity under a hash tag, in the cluster slot of the identity itself', async () => {
    const store = new RedisStore(cluster);
    const id = freshId();
    await store.decide({
      id,
      limits: { requestsPerMinute: 60, burst: 5, tokensPerMinute: 100, requestsPerDay: 9 },
    });
    expect(store.key(id)).toBe(`axon:rl:{${id}}`);
    expect(await cluster.cluster('KEYSLOT', store.key(id))).toBe(
      await cluster.cluster('KEYSLOT', id),
    );
    expect(await cluster.exists(store.key(id))).toBe(1);
  });

  it('lets an idle key expire once its buckets would be full again', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    await store.decide({ id, limits: { requestsPerMinute: 600_000, burst: 5 } }); // full 0.1 ms later
    const ttl = await redis.pttl(store.key(id));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1001);
    const exists = await poll(
      () => redis.exists(store.key(id)),
      (n) => n === 0,
      10 * ttl,
    );
    expect(exists).toBe(0);
  });

  it('keeps a key with a daily quota until the UTC day is over', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    await store.decide({
      id,
      limits: { requestsPerMinute: 600_000, burst: 5, requestsPerDay: 100 },
    });
    const [s] = await redis.time();
    const untilMidnight = 86_400_000 - ((Number(s) * 1000) % 86_400_000);
    expect(await redis.pttl(store.key(id))).toBeGreaterThan(untilMidnight);
  });

  it('keeps the TTL it set while that still outlasts the buckets, rather than setting it again', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    // Requests refill at once; 5,000 LLM tokens refill at one per ms.
    const limits = { requestsPerMinute: 600_000, burst: 5, tokensPerMinute: 60_000 };
    await store.decide({ id, limits, tokenCost: 5000 }); // the token bucket is full in 5 s
    const charged = await redis.pttl(store.key(id));
    expect(charged).toBeGreaterThan(5000);
    // The reservation comes back whole: the buckets are full again at once, but the key keeps
    // the expiry it has (setting one costs Redis more than the key outliving its use).
    await store.settle({ id, limits, tokens: 0, reserved: 5000 });
    const settled = await redis.pttl(store.key(id));
    expect(settled).toBeGreaterThan(4000);
    expect(settled).toBeLessThanOrEqual(charged);
  });

  it('sets a longer TTL as soon as the buckets need longer than the one it set', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    const limits = { requestsPerMinute: 600_000, burst: 5, tokensPerMinute: 60_000 };
    await store.decide({ id, limits }); // nothing reserved: full again within a millisecond
    expect(await redis.pttl(store.key(id))).toBeLessThanOrEqual(1001);
    await store.decide({ id, limits, tokenCost: 5000 });
    expect(await redis.pttl(store.key(id))).toBeGreaterThan(5000);
  });

  it('clamps elapsed time at zero when a stored timestamp is ahead of the Redis clock', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    const [s] = await redis.time();
    const future = Number(s) * 1000 + 1_000_000; // as after a failover to a node 1000 s behind
    await redis.set(store.key(id), pack([0, future, 0, 0, -1, 0]), 'PX', 60_000);
    const decision = await store.decide({ id, limits: { requestsPerMinute: 60, burst: 5 } });
    expect(decision.allowed).toBe(false);
    expect(decision.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(decision.requests.remaining).toBe(0);
  });

  it('gives a key a full token bucket when its plan starts limiting tokens', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    await store.decide({ id, limits: { requestsPerMinute: 60, burst: 5 } });
    const upgraded = await store.decide({
      id,
      limits: { requestsPerMinute: 60, burst: 5, tokensPerMinute: 500 },
    });
    expect(upgraded.tokens?.remaining).toBe(500);
    expect(upgraded.requests.remaining).toBe(3);
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
