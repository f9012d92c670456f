/**
 * The limiter's deadline against a busy event loop and a slow Redis: a reply that has arrived
 * is used even when the timer fired first, and whatever Redis answers, in time or late, is
 * where the fallback continues from. Real redis-server, the production connection settings
 * (`limiterFromEnv`).
 */
import { execFileSync } from 'node:child_process';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { Deadlines, RedisTimeoutError } from '#token-bucket/limiter';
import { limiterFromEnv } from '#token-bucket/setup';
import { poll } from '../../support/poll.ts';
import { RedisServer } from '../../support/redis.ts';
import { sleep } from './stores.ts';

const TIMEOUT_MS = 20;
const limits = { requestsPerMinute: 60, burst: 10 };
const config = parseConfig({
  plans: { free: limits },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: TIMEOUT_MS },
});
const log = new Logger({ serviceName: 'deadline-test', logLevel: 'ERROR' });

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // deliberately blocking the event loop
  }
}

/** EVALSHA calls Redis has executed, read with a blocking redis-cli: the loop stays blocked. */
function evalshaCalls(port: number): number {
  const stats = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], {
    encoding: 'utf8',
  });
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('limiter deadline', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });

  async function open() {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const { limiter, redis } = await limiterFromEnv(config, log, { AXON_REDIS_URL: server.url });
    cleanups.push(() => redis?.close());
    if (!redis) throw new Error('no redis connection');
    return { server, limiter, client: redis.client as Redis };
  }

  it('uses a reply that arrived while the event loop was blocked past the deadline', async () => {
    const { server, limiter, client } = await open();
    // Loads the script (NOSCRIPT, then EVAL): a second round trip the deadline rightly ends.
    expect((await limiter.decide({ id: 'k', limits })).degraded).toBe(false);
    // The store sends each EVALSHA as one prebuilt command through `sendCommand`.
    const original = client.sendCommand.bind(client) as (...args: unknown[]) => unknown;
    let blocked = 0;
    client.sendCommand = ((...args: unknown[]) => {
      if ((args[0] as { name?: string }).name !== 'evalsha') return original(...args);
      const sent = evalshaCalls(server.port) + 1;
      const reply = original(...args);
      // The command is on the wire. Spin once the caller has armed its deadline (nextTick runs
      // after the current synchronous code and its promise jobs), while Redis answers; on a
      // loaded machine Redis may not have run yet, so block until it has.
      process.nextTick(() => {
        busyWait(TIMEOUT_MS * 5);
        while (evalshaCalls(server.port) < sent) busyWait(1);
        blocked++;
      });
      return reply;
    }) as Redis['sendCommand'];
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await limiter.decide({ id: 'k', limits }));
    expect(blocked).toBe(3);
    expect(decisions.map((d) => d.degraded)).toEqual([false, false, false]);
    expect(decisions.map((d) => d.requests.remaining)).toEqual([8, 7, 6]);
  });

  it('continues from the state Redis last reported when it falls back', async () => {
    const { server, limiter } = await open();
    for (let i = 0; i < 8; i++) await limiter.decide({ id: 'k', limits });

    server.pause(); // SIGSTOP: the command is sent, the answer comes only after SIGCONT
    const fallback = await limiter.decide({ id: 'k', limits });
    expect(fallback.degraded).toBe(true);
    // From the 2 Redis last reported, not from a full bucket of 10.
    expect(fallback.requests.remaining).toBe(1);

    server.resume();
    // Redis runs the stalled decision too: failing open costs the key that one request twice,
    // never a second burst.
    let peek = await limiter.decide({ id: 'k', limits, peek: true });
    for (let i = 0; i < 200 && peek.degraded; i++) {
      await sleep(10);
      peek = await limiter.decide({ id: 'k', limits, peek: true });
    }
    expect(peek.degraded).toBe(false);
    expect(peek.requests.remaining).toBe(1);
  });
});

describe('deadlines shared by every call of a limiter', () => {
  const never = () => new Promise<number>(() => {});
  const failure = (call: Promise<number>) =>
    call.then(
      () => undefined,
      (err: unknown) => err,
    );

  it('gives up each call at its own deadline, not at the deadline of a call before it', async () => {
    const deadlines = new Deadlines(40, () => {});
    const first = failure(deadlines.run(never(), undefined));
    await sleep(20); // the second call starts half a deadline after the first
    let secondSettled = false;
    const second = failure(deadlines.run(never(), undefined)).finally(() => {
      secondSettled = true;
    });

    expect(await first).toBeInstanceOf(RedisTimeoutError);
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondSettled).toBe(false);
    expect(await second).toBeInstanceOf(RedisTimeoutError);
  });

  it('hands a reply that comes after the deadline to `late`, not to the caller', async () => {
    const late: number[] = [];
    const deadlines = new Deadlines(10, (context: number[], value) =>
      context.push(value as number),
    );
    let answer: (value: number) => void = () => {};
    const call = failure(deadlines.run(new Promise<number>((resolve) => (answer = resolve)), late));
    expect(await call).toBeInstanceOf(RedisTimeoutError);
    answer(7);
    expect(
      await poll(
        async () => late,
        (l) => l.length > 0,
        1000,
        5,
      ),
    ).toEqual([7]);
  });

  it('drops settled calls at once, and those behind a slower call when that one is given up', async () => {
    const deadlines = new Deadlines(10, () => {});
    await deadlines.run(Promise.resolve(0), undefined);
    expect(deadlines.size).toBe(0);

    const slow = failure(deadlines.run(never(), undefined));
    for (let i = 0; i < 100; i++) await deadlines.run(Promise.resolve(i), undefined);
    expect(deadlines.size).toBe(101); // settled, but queued behind the open one
    expect(await slow).toBeInstanceOf(RedisTimeoutError);
    expect(deadlines.size).toBe(0);
  });
});
