/**
 * Redis dies, stalls and comes back while decisions flow. The limiter must keep answering
 * within its timeout (open: degraded local decisions; closed: a typed 503 error) and return to
 * Redis by itself, with the same client, once Redis is back.
 */

import { RateLimiterUnavailableError } from '@axon/runtime/errors';
import { RedisConnection } from '@axon/runtime/redis';
import { afterEach, describe, expect, it } from 'vitest';
import { Limiter } from '#token-bucket/limiter';
import { RedisStore } from '#token-bucket/redis-store';
import { RedisServer } from '../../support/redis.ts';
import { sleep } from './stores.ts';

const TIMEOUT_MS = 50;
// A hang shows up as seconds; the bound leaves room for a loaded machine's scheduling delays.
const STALL_BOUND_MS = TIMEOUT_MS + 1000;
const limits = { requestsPerMinute: 600_000, burst: 1000 };

interface Outcome {
  degraded?: boolean;
  error?: unknown;
  ms: number;
}

async function setup(failureMode: 'open' | 'closed') {
  const server = await RedisServer.start();
  const redis = await RedisConnection.open({ url: server.url, commandTimeoutMs: TIMEOUT_MS });
  const store = new RedisStore(redis.client, { retryAfter: (err) => redis.recoverable(err) });
  const redisErrors: unknown[] = [];
  const limiter = new Limiter({
    primary: store,
    failureMode,
    timeoutMs: TIMEOUT_MS,
    onRedisError: (err) => redisErrors.push(err),
  });
  return { server, redis, store, limiter, redisErrors };
}

async function decideTimed(limiter: Limiter, id: string): Promise<Outcome> {
  const started = performance.now();
  try {
    const decision = await limiter.decide({ id, limits });
    return { degraded: decision.degraded, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

/** Four workers deciding in a loop until `until` resolves. */
async function load(limiter: Limiter, until: Promise<void>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let done = false;
  void until.then(() => {
    done = true;
  });
  await Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      while (!done) {
        outcomes.push(await decideTimed(limiter, `worker${w}`));
        await sleep(2);
      }
    }),
  );
  return outcomes;
}

async function untilRedisBacked(limiter: Limiter, id: string): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const outcome = await decideTimed(limiter, id);
    if (outcome.degraded === false) return true;
    await sleep(25);
  }
  return false;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('limiter when Redis fails', () => {
  it('keeps deciding, degraded, while Redis is killed mid-load in open mode, then returns to Redis', async () => {
    const { server, redis, store, limiter, redisErrors } = await setup('open');
    cleanups.push(async () => {
      await redis.close();
      await server.stop();
    });

    const outage = (async () => {
      await sleep(200);
      await server.kill();
      await sleep(400);
    })();
    const outcomes = await load(limiter, outage);

    expect(outcomes.filter((o) => o.error)).toEqual([]);
    expect(outcomes.filter((o) => o.degraded).length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o.degraded === false).length).toBeGreaterThan(10);
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(STALL_BOUND_MS);
    expect(redisErrors.length).toBeGreaterThan(0);

    await server.restart();
    expect(await untilRedisBacked(limiter, 'after-restart')).toBe(true);
    expect(await server.cli('EXISTS', store.key('after-restart'))).toBe('1');
  });

  it('answers with a typed 503 error in closed mode, then returns to Redis', async () => {
    const { server, redis, limiter } = await setup('closed');
    cleanups.push(async () => {
      await redis.close();
      await server.stop();
    });
    expect((await decideTimed(limiter, 'k')).degraded).toBe(false);

    await server.kill();
    const outcome = await decideTimed(limiter, 'k');
    expect(outcome.error).toBeInstanceOf(RateLimiterUnavailableError);
    expect(outcome.error).toMatchObject({ status: 503, code: 'rate_limiter_unavailable' });
    expect(outcome.ms).toBeLessThan(STALL_BOUND_MS);

    await server.restart();
    expect(await untilRedisBacked(limiter, 'k')).toBe(true);
  });

  it('gives up on a stalled Redis after the command timeout and recovers when it resumes', async () => {
    const { server, redis, limiter } = await setup('open');
    cleanups.push(async () => {
      server.resume();
      await redis.close();
      await server.stop();
    });
    expect((await decideTimed(limiter, 'k')).degraded).toBe(false);

    server.pause();
    const stalled = await Promise.all(Array.from({ length: 8 }, () => decideTimed(limiter, 'k')));
    for (const outcome of stalled) {
      expect(outcome.degraded).toBe(true);
      expect(outcome.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(outcome.ms).toBeLessThan(STALL_BOUND_MS);
    }

    server.resume();
    expect(await untilRedisBacked(limiter, 'k')).toBe(true);
  });

  it('settles in memory instead of throwing when Redis is gone', async () => {
    const { server, redis, limiter } = await setup('closed');
    cleanups.push(async () => {
      await redis.close();
      await server.stop();
    });
    await server.kill();
    const tokenLimits = { requestsPerMinute: 60, burst: 5, tokensPerMinute: 100 };
    await expect(
      limiter.settle({ id: 'k', limits: tokenLimits, tokens: 500 }),
    ).resolves.toMatchObject({ degraded: true, tokens: { remaining: -400 } });
    const local = await limiter.fallback.decide({ id: 'k', limits: tokenLimits, peek: true });
    expect(local.tokens?.remaining).toBeLessThan(0);
  });
});
