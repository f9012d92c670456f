/**
 * Budgets and the usage ledger in the limiter's one script (issue 20): one behaviour on the
 * three stores (the script on a single node and on a cluster, and its in-memory twin), plus what
 * only Redis keeps (the ledger hash, the older state formats).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PlanLimits } from '#shared/config';
import { InvalidChargeError, msToNextMonth, packArgs, readReply } from '#token-bucket/decision';
import { LEDGER_TTL_SECONDS, Op, TOKEN_BUCKET_LUA } from '#token-bucket/lua';
import { RedisStore } from '#token-bucket/redis-store';
import { freshId, openStore, STORE_KINDS, type StoreUnderTest } from './stores.ts';

/** A dollar a day, three a month; the request bucket never limits these tests. */
const budgeted: PlanLimits = {
  requestsPerMinute: 6000,
  burst: 1000,
  dailyBudgetUsd: 1,
  monthlyBudgetUsd: 3,
};
const DOLLAR = 1e9;

describe.each(STORE_KINDS)('budgets on %s', (kind) => {
  let t: StoreUnderTest;
  beforeAll(async () => {
    t = await openStore(kind);
  });
  afterAll(() => t.close());

  it('reserves the worst case, refuses what does not fit with dayBudget, and charges nothing then', async () => {
    const id = freshId();
    const cost = 0.3 * DOLLAR;
    const decisions = [];
    for (let i = 0; i < 4; i++)
      decisions.push(await t.store.decide({ id, limits: budgeted, costNanoUsd: cost }));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    const denied = decisions[3];
    expect(denied?.limitedBy).toBe('dayBudget');
    expect(denied?.dayBudget).toMatchObject({ limit: DOLLAR, remaining: 0.1 * DOLLAR });
    expect(denied?.retryAfterMs).toBe(denied?.dayBudget?.resetMs);
    expect(denied?.monthBudget).toMatchObject({ limit: 3 * DOLLAR, retryAfterMs: 0 });
    // The refusal took no request: 3 of the burst are gone, not 4.
    expect(denied?.requests.remaining).toBeGreaterThanOrEqual(997);
    expect(denied?.requests.remaining).toBeLessThan(998);
  });

  it('gives the reservation back at settlement and spends the actual cost', async () => {
    const id = freshId();
    const reserved = 0.6 * DOLLAR;
    await t.store.decide({ id, limits: budgeted, costNanoUsd: reserved });
    const settled = await t.store.settle({
      id,
      limits: budgeted,
      tokens: 0,
      costNanoUsd: 0.25 * DOLLAR,
      reservedNanoUsd: reserved,
    });
    expect(settled?.dayBudget?.remaining).toBe(0.75 * DOLLAR);
    expect(settled?.monthBudget?.remaining).toBe(2.75 * DOLLAR);
    // 0.75 left: a 0.7 reservation fits now, where it did not before the settlement.
    expect(
      (await t.store.decide({ id, limits: budgeted, costNanoUsd: 0.7 * DOLLAR })).allowed,
    ).toBe(true);
  });

  it('refuses by the monthly budget when that one is short, and resets it on the first of the month', async () => {
    const id = freshId();
    const limits = { ...budgeted, dailyBudgetUsd: 10 };
    expect((await t.store.decide({ id, limits, costNanoUsd: 2 * DOLLAR })).allowed).toBe(true);
    const denied = await t.store.decide({ id, limits, costNanoUsd: 2 * DOLLAR });
    expect(denied.limitedBy).toBe('monthBudget');
    const toNextMonth = msToNextMonth(Date.now());
    expect(denied.monthBudget?.resetMs).toBeGreaterThan(toNextMonth - 60_000);
    expect(denied.monthBudget?.resetMs).toBeLessThanOrEqual(toNextMonth + 60_000);
  });

  it('never refuses a request that costs nothing, even past the budget', async () => {
    const id = freshId();
    await t.store.decide({ id, limits: budgeted, costNanoUsd: DOLLAR });
    expect((await t.store.decide({ id, limits: budgeted, costNanoUsd: 1 })).allowed).toBe(false);
    expect((await t.store.decide({ id, limits: budgeted })).allowed).toBe(true);
  });

  it('keeps the spend through decisions that carry no budget', async () => {
    const id = freshId();
    await t.store.decide({ id, limits: budgeted, costNanoUsd: 0.9 * DOLLAR });
    const unbudgeted = { requestsPerMinute: 6000, burst: 1000 };
    for (let i = 0; i < 3; i++) await t.store.decide({ id, limits: unbudgeted });
    const again = await t.store.decide({ id, limits: budgeted, costNanoUsd: 0.2 * DOLLAR });
    expect(again.allowed).toBe(false);
    expect(again.dayBudget?.remaining).toBe(0.1 * DOLLAR);
  });

  it('admits exactly what the budget holds when 50 reservations arrive at once', async () => {
    const id = freshId();
    const limits = { ...budgeted, dailyBudgetUsd: 0.01 };
    const decisions = await Promise.all(
      Array.from({ length: 50 }, () => t.store.decide({ id, limits, costNanoUsd: 0.001 * DOLLAR })),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    for (const d of decisions.filter((x) => !x.allowed)) expect(d.limitedBy).toBe('dayBudget');
  });

  it('refuses a ledger entry whose model is not a model name', async () => {
    const usage = { model: 'a b', inputTokens: 1, outputTokens: 1, cachedTokens: 0 };
    await expect(
      t.store.settle({ id: freshId(), limits: budgeted, tokens: 2, usage }),
    ).rejects.toBeInstanceOf(InvalidChargeError);
  });
});

describe.each(['redis', 'cluster'] as const)('the usage ledger on %s', (kind) => {
  let t: StoreUnderTest;
  beforeAll(async () => {
    t = await openStore(kind);
  });
  afterAll(() => t.close());

  it("books each settlement in the key's hour hash, per model, exactly, and lets it expire in a week", async () => {
    const id = freshId();
    const limits = { requestsPerMinute: 6000, burst: 1000, tokensPerMinute: 100_000 };
    const big = 123_456_789_012_345; // past what Lua would print without an exponent
    await t.store.settle({
      id,
      limits,
      tokens: 30,
      reserved: 40,
      costNanoUsd: big,
      usage: { model: 'stub-echo-chatml', inputTokens: 23, outputTokens: 7, cachedTokens: 5 },
    });
    await t.store.settle({
      id,
      limits,
      tokens: 9,
      costNanoUsd: 90,
      usage: { model: 'stub-echo-chatml', inputTokens: 4, outputTokens: 5, cachedTokens: 0 },
    });
    await t.store.settle({
      id,
      limits,
      tokens: 0,
      usage: { model: 'other', inputTokens: 0, outputTokens: 0, cachedTokens: 0 },
    });
    const redis = t.redis as Redis;
    const key = `${new RedisStore(redis).key(id)}:u:${Math.floor(Date.now() / 3_600_000)}`;
    expect(await redis.hgetall(key)).toEqual({
      'req:stub-echo-chatml': '2',
      'in:stub-echo-chatml': '27',
      'out:stub-echo-chatml': '12',
      'cached:stub-echo-chatml': '5',
      'cost:stub-echo-chatml': String(big + 90),
      'req:other': '1',
    });
    expect(await redis.ttl(key)).toBeGreaterThan(LEDGER_TTL_SECONDS - 60);
  });
});

describe('the script with older state and with the calendar', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  it('reads a seven-double key as nothing spent and keeps its buckets, then writes ten', async () => {
    const store = new RedisStore(redis);
    const id = freshId();
    const key = store.key(id);
    const [seconds] = await redis.time();
    const now = Number(seconds) * 1000;
    // An older key: 5 requests left, no tokens, today, 2 counted, expiring in an hour.
    const old = Buffer.alloc(56);
    [5, now, 0, 0, Math.floor(now / 86_400_000), 2, now + 3_600_000].forEach((v, i) => {
      old.writeDoubleLE(v, i * 8);
    });
    await redis.set(key, old, 'PX', 3_600_000);
    const limits = { ...budgeted, burst: 10, requestsPerMinute: 1, requestsPerDay: 100 };
    const decision = await store.decide({ id, limits, costNanoUsd: 0.5 * DOLLAR });
    expect(decision.allowed).toBe(true);
    expect(decision.requests.remaining).toBe(4);
    expect(decision.day?.remaining).toBe(97);
    expect(decision.dayBudget?.remaining).toBe(0.5 * DOLLAR);
    expect((await redis.getBuffer(key))?.length).toBe(80);
  });

  it('numbers every UTC month and its first day as JavaScript does, 1970 to 2200', async () => {
    // The script's calendar lines, run over every day of the range in one call.
    const start = TOKEN_BUCKET_LUA.indexOf('  local era =');
    const end = TOKEN_BUCKET_LUA.indexOf('  if month ~= this_month');
    expect(start).toBeGreaterThan(0);
    const calendar = TOKEN_BUCKET_LUA.slice(start, end);
    const days = Math.floor(Date.UTC(2200, 0, 1) / 86_400_000);
    const probe = `local out = {}
for today = 0, ${days} do
  local month_start
${calendar}
  out[#out + 1] = this_month * 100000 + month_start
end
return out`;
    const answers = (await redis.eval(probe, 0)) as number[];
    expect(answers).toHaveLength(days + 1);
    for (let today = 0; today <= days; today++) {
      const date = new Date(today * 86_400_000);
      const month = date.getUTCFullYear() * 12 + date.getUTCMonth();
      const first = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) / 86_400_000;
      if (answers[today] !== month * 100000 + first) {
        expect({ today, answer: answers[today] }).toEqual({
          today,
          answer: month * 100000 + first,
        });
      }
    }
  });

  it('answers the long form with eight doubles, the spend after the call included', async () => {
    const key = `axon:rl:{${freshId()}}`;
    const args = [Op.decide, 1, 0, 60, 10, 0, 0, 0, 0, 0, 0, 5e9, 0, 2e9, 0, 0, 0, 0, 0] as const;
    const reply = await redis.callBuffer('eval', [TOKEN_BUCKET_LUA, 1, key, packArgs(args)]);
    expect((reply as Buffer).length).toBe(64);
    expect(readReply(reply)).toMatchObject({ allowed: true, spentDay: 2e9, spentMonth: 2e9 });
  });
});
