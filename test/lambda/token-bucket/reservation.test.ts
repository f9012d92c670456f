/**
 * Reserve, then settle, and concurrency leases: one behaviour on the three stores (the script
 * on a single node and on a cluster, and its in-memory twin).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanLimits } from '#shared/config';
import { InvalidChargeError } from '#token-bucket/decision';
import type { LeaseStore } from '#token-bucket/types';
import { freshId, openStore, STORE_KINDS, type StoreUnderTest, sleep } from './stores.ts';

// Requests refill at one a second, so counts stay exact however slow the machine is.
const tokens: PlanLimits = {
  requestsPerMinute: 60,
  burst: 100,
  tokensPerMinute: 20_000,
  tokenBurst: 20_000,
  requestsPerDay: 1000,
};

const capped = (max: number): PlanLimits => ({
  requestsPerMinute: 60,
  burst: 100,
  tokensPerMinute: 60_000,
  tokenBurst: 10_000,
  maxConcurrentRequests: max,
});

let leaseCount = 0;
const lease = (ttlMs = 60_000) => ({ id: `lease-${leaseCount++}`, ttlMs });

describe.each(STORE_KINDS)('reservations and leases on %s', (kind) => {
  let t: StoreUnderTest;
  let store: LeaseStore;
  beforeAll(async () => {
    t = await openStore(kind);
    store = t.store as LeaseStore;
  });
  afterAll(() => t.close());

  it('admits a reservation only when the bucket holds all of it, and charges nothing else when it does not', async () => {
    const id = freshId();
    const admitted = [];
    for (let i = 0; i < 4; i++)
      admitted.push(await store.decide({ id, limits: tokens, tokenCost: 7000 }));
    expect(admitted.map((d) => d.allowed)).toEqual([true, true, false, false]);
    const denied = admitted[2];
    expect(denied?.limitedBy).toBe('tokens');
    // 6000 left, 7000 needed at 20 000 per minute: 3 s, less what refilled meanwhile.
    expect(denied?.retryAfterMs).toBeGreaterThan(2000);
    expect(denied?.retryAfterMs).toBeLessThanOrEqual(3001);
    const after = await store.decide({ id, limits: tokens, peek: true });
    expect(after.requests.remaining).toBe(98);
    expect(after.day?.remaining).toBe(998);
  });

  it('gives back the unused part of a reservation on settlement', async () => {
    const id = freshId();
    await store.decide({ id, limits: tokens, tokenCost: 7000 });
    const settled = await store.settle({ id, limits: tokens, tokens: 1200, reserved: 7000 });
    expect(settled?.tokens?.remaining).toBeGreaterThanOrEqual(18_800);
    expect(settled?.tokens?.remaining).toBeLessThanOrEqual(18_810);
  });

  it('debits usage beyond the reservation, below zero if need be', async () => {
    const id = freshId();
    await store.decide({ id, limits: tokens, tokenCost: 19_000 });
    const settled = await store.settle({ id, limits: tokens, tokens: 25_000, reserved: 19_000 });
    expect(settled?.tokens?.remaining).toBeLessThan(-4900);
    const denied = await store.decide({ id, limits: tokens, tokenCost: 1 });
    expect(denied.allowed).toBe(false);
    expect(denied.limitedBy).toBe('tokens');
  });

  it('never refills past capacity when a reservation comes back', async () => {
    const id = freshId();
    await store.decide({ id, limits: tokens, tokenCost: 100 });
    await sleep(400); // refill (about 133 tokens) brings the bucket back to full first
    const settled = await store.settle({ id, limits: tokens, tokens: 0, reserved: 100 });
    expect(settled?.tokens?.remaining).toBe(20_000);
  });

  it('caps in-flight requests and answers the denial with a one-second wait', async () => {
    const id = freshId();
    const limits = capped(2);
    const [a, b, c] = [lease(), lease(), lease()];
    expect((await store.decide({ id, limits, lease: a })).concurrency?.remaining).toBe(1);
    expect((await store.decide({ id, limits, lease: b })).concurrency?.remaining).toBe(0);
    const denied = await store.decide({ id, limits, lease: c, tokenCost: 100 });
    expect(denied.allowed).toBe(false);
    expect(denied.limitedBy).toBe('concurrency');
    expect(denied.retryAfterMs).toBe(1000);
    // All or nothing: the denial took no tokens and no request.
    const peek = await store.decide({ id, limits, peek: true });
    expect(peek.requests.remaining).toBe(98);
    expect(peek.tokens?.remaining).toBe(10_000);
  });

  it('frees a slot when its request settles', async () => {
    const id = freshId();
    const limits = capped(1);
    const first = lease();
    expect((await store.decide({ id, limits, lease: first })).allowed).toBe(true);
    expect((await store.decide({ id, limits, lease: lease() })).allowed).toBe(false);
    await store.settle({ id, limits, tokens: 0, lease: first });
    expect((await store.decide({ id, limits, lease: lease() })).allowed).toBe(true);
  });

  it('lets a lease nobody renews expire by itself, and keeps a renewed one', async () => {
    const id = freshId();
    const limits = capped(2);
    const dead = lease(600);
    const alive = lease(600);
    expect((await store.decide({ id, limits, lease: dead })).allowed).toBe(true);
    expect((await store.decide({ id, limits, lease: alive })).allowed).toBe(true);
    expect((await store.decide({ id, limits, lease: lease() })).allowed).toBe(false);
    for (let i = 0; i < 4; i++) {
      await sleep(200);
      expect(await store.renew({ id, limits, lease: alive })).toBe(true);
    }
    // 800 ms later: the unrenewed lease has expired, the renewed one still holds its slot.
    const next = await store.decide({ id, limits, lease: lease() });
    expect(next.allowed).toBe(true);
    expect((await store.decide({ id, limits, lease: lease() })).allowed).toBe(false);
    expect(await store.renew({ id, limits, lease: dead })).toBe(false);
  });

  it('does not count requests of a plan without a cap, nor callers without a lease', async () => {
    const id = freshId();
    const limits = capped(1);
    for (let i = 0; i < 3; i++) expect((await store.decide({ id, limits })).allowed).toBe(true);
    const uncapped = { requestsPerMinute: 6000, burst: 100 };
    for (let i = 0; i < 3; i++) {
      expect(
        (await store.decide({ id: freshId(), limits: uncapped, lease: lease() })).allowed,
      ).toBe(true);
    }
  });

  it('refuses a malformed lease or settlement as a programming error', async () => {
    const limits = capped(1);
    await expect(
      store.decide({ id: freshId(), limits, lease: { id: 'has space', ttlMs: 100 } }),
    ).rejects.toThrow(InvalidChargeError);
    await expect(
      store.decide({ id: freshId(), limits, lease: { id: 'x', ttlMs: 0 } }),
    ).rejects.toThrow(InvalidChargeError);
    await expect(
      store.settle({ id: freshId(), limits: tokens, tokens: 1, reserved: -1 }),
    ).rejects.toThrow(InvalidChargeError);
  });

  if (kind !== 'memory') {
    it('keeps the leases beside the buckets, in the same slot, expiring with the newest lease', async () => {
      const id = freshId();
      const limits = capped(3);
      await store.decide({ id, limits, lease: lease(5000) });
      const redis = t.redis;
      if (!redis) throw new Error('no redis');
      const key = `axon:rl:{${id}}:leases`;
      expect(await redis.zcard(key)).toBe(1);
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(4000);
      expect(ttl).toBeLessThanOrEqual(5000);
    });
  }
});
