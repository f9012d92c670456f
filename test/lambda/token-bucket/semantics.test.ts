/**
 * One behaviour, three stores: the Lua script on a single node and on a cluster, and its
 * in-memory twin, must make the same decisions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanLimits } from '#shared/config';
import { InvalidChargeError } from '#token-bucket/decision';
import { freshId, openStore, STORE_KINDS, type StoreUnderTest, sleep } from './stores.ts';

describe.each(STORE_KINDS)('token bucket on %s', (kind) => {
  let t: StoreUnderTest;
  beforeAll(async () => {
    t = await openStore(kind);
  });
  afterAll(() => t.close());

  /** The store's clock in ms: Redis TIME for Redis stores, Date.now for memory. */
  async function clock(): Promise<number> {
    if (!t.redis) return Date.now();
    const [s, us] = await t.redis.time();
    return Number(s) * 1000 + Number(us) / 1000;
  }

  async function drain(id: string, limits: PlanLimits): Promise<number> {
    let admitted = 0;
    while ((await t.store.decide({ id, limits })).allowed) admitted++;
    return admitted;
  }

  it('admits the burst, then denies with the wait for the next token', async () => {
    const id = freshId();
    const limits = { requestsPerMinute: 60, burst: 5 };
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await t.store.decide({ id, limits }));
    expect(results.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
    expect(results.map((d) => d.requests.remaining)).toEqual([4, 3, 2, 1, 0, 0]);
    const denied = results[5];
    expect(denied?.limitedBy).toBe('requests');
    expect(denied?.retryAfterMs).toBeGreaterThan(0);
    expect(denied?.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(denied?.requests.resetMs).toBeGreaterThan(4000);
  });

  it('refills continuously at the configured rate, within one token', async () => {
    const id = freshId();
    const limits = { requestsPerMinute: 3000, burst: 100 }; // 0.05 tokens per ms
    const rate = 3000 / 60_000;
    const beforeLast = await clock();
    await drain(id, limits);
    const drained = await clock();
    await sleep(400);
    const start = await clock();
    const admitted = await drain(id, limits);
    const end = await clock();
    // The bucket held < 1 token at the last drain call (made between beforeLast and drained).
    expect(admitted).toBeGreaterThanOrEqual(Math.floor(rate * (start - drained)) - 1);
    expect(admitted).toBeLessThanOrEqual(Math.ceil(rate * (end - beforeLast)) + 1);
    expect(admitted).toBeGreaterThan(10);
  });

  it('charges nothing when one bucket of several denies', async () => {
    const id = freshId();
    const limits = {
      requestsPerMinute: 60,
      burst: 5,
      tokensPerMinute: 600,
      tokenBurst: 600,
      requestsPerDay: 100,
    };
    await t.store.settle({ id, limits, tokens: 700 });
    const before = await t.store.decide({ id, limits, peek: true });
    for (let i = 0; i < 3; i++) {
      const denied = await t.store.decide({ id, limits, tokenCost: 0 });
      expect(denied.allowed).toBe(false);
      expect(denied.limitedBy).toBe('tokens');
    }
    const after = await t.store.decide({ id, limits, peek: true });
    expect(after.requests.remaining).toBe(before.requests.remaining);
    expect(after.requests.remaining).toBe(5);
    expect(after.day?.remaining).toBe(100);

    const other = freshId();
    await drain(other, limits);
    const tokensBefore = (await t.store.decide({ id: other, limits, peek: true })).tokens
      ?.remaining;
    const denied = await t.store.decide({ id: other, limits, tokenCost: 50 });
    expect(denied.limitedBy).toBe('requests');
    const afterDenial = await t.store.decide({ id: other, limits, peek: true });
    expect(afterDenial.tokens?.remaining).toBe(tokensBefore);
    expect(afterDenial.day?.remaining).toBe(95);
  });

  it('never reports a retry time after which the request would still be denied', async () => {
    const cases: { limits: PlanLimits; settle?: number }[] = [
      { limits: { requestsPerMinute: 600, burst: 2 } },
      { limits: { requestsPerMinute: 7, burst: 1 } },
      {
        limits: { requestsPerMinute: 6000, burst: 10, tokensPerMinute: 60_000, tokenBurst: 1000 },
        settle: 1150,
      },
    ];
    for (const { limits, settle } of cases) {
      const id = freshId();
      if (settle) await t.store.settle({ id, limits, tokens: settle });
      else await drain(id, limits);
      for (let round = 0; round < 2; round++) {
        const denied = await t.store.decide({ id, limits });
        const deniedBy = await clock();
        expect(denied.allowed).toBe(false);
        if (denied.retryAfterMs > 2000) continue; // a 7/min bucket: checked once above, no long sleep
        while ((await clock()) < deniedBy + denied.retryAfterMs) await sleep(1);
        const retried = await t.store.decide({ id, limits });
        expect(
          retried.allowed,
          `retry after ${denied.retryAfterMs} ms on ${JSON.stringify(limits)}`,
        ).toBe(true);
        if (settle) break;
      }
    }
  });

  it('lets settled usage drive the token bucket below zero and denies until it is above zero', async () => {
    const id = freshId();
    const limits = { requestsPerMinute: 600, burst: 10, tokensPerMinute: 60_000, tokenBurst: 100 };
    expect((await t.store.decide({ id, limits })).allowed).toBe(true);
    await t.store.settle({ id, limits, tokens: 250 });
    const denied = await t.store.decide({ id, limits });
    expect(denied.allowed).toBe(false);
    expect(denied.limitedBy).toBe('tokens');
    expect(denied.tokens?.remaining).toBeLessThan(-100);
    expect(denied.retryAfterMs).toBeGreaterThan(100);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(151);
  });

  it('answers a peek without charging any bucket', async () => {
    const id = freshId();
    const limits = { requestsPerMinute: 60, burst: 2, requestsPerDay: 10 };
    for (let i = 0; i < 5; i++)
      expect((await t.store.decide({ id, limits, peek: true })).allowed).toBe(true);
    expect((await t.store.decide({ id, limits })).requests.remaining).toBe(1);
    expect((await t.store.decide({ id, limits })).day?.remaining).toBe(8);
    const peek = await t.store.decide({ id, limits, peek: true });
    expect(peek.allowed).toBe(false);
    expect(peek.requests.remaining).toBe(0);
  });

  it('denies past the daily quota until the next UTC midnight', async () => {
    const id = freshId();
    const limits = { requestsPerMinute: 600, burst: 10, requestsPerDay: 3 };
    expect(await drain(id, limits)).toBe(3);
    const denied = await t.store.decide({ id, limits });
    const now = await clock();
    expect(denied.limitedBy).toBe('day');
    const untilMidnight = 86_400_000 - (now % 86_400_000);
    expect(Math.abs(denied.retryAfterMs - untilMidnight)).toBeLessThan(1000);
    expect(denied.day?.remaining).toBe(0);
  });

  it('keeps identities apart', async () => {
    const limits = { requestsPerMinute: 60, burst: 1 };
    const [a, b] = [freshId(), freshId()];
    expect((await t.store.decide({ id: a, limits })).allowed).toBe(true);
    expect((await t.store.decide({ id: a, limits })).allowed).toBe(false);
    expect((await t.store.decide({ id: b, limits })).allowed).toBe(true);
  });

  it('rejects a cost no bucket of the plan could ever hold', async () => {
    const limits = { requestsPerMinute: 60, burst: 5, tokensPerMinute: 100 };
    await expect(t.store.decide({ id: freshId(), limits, cost: 6 })).rejects.toThrow(
      InvalidChargeError,
    );
    await expect(t.store.decide({ id: freshId(), limits, tokenCost: 101 })).rejects.toThrow(
      InvalidChargeError,
    );
    await expect(t.store.decide({ id: 'has{brace}', limits })).rejects.toThrow(InvalidChargeError);
    await expect(t.store.settle({ id: freshId(), limits, tokens: -1 })).rejects.toThrow(
      InvalidChargeError,
    );
  });
});
