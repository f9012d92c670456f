/**
 * Abuse: one key opens many slow requests at once. A plan's `maxConcurrentRequests` caps them
 * with leases in Redis: held while an answer runs (renewed past their lifetime), released when it
 * ends, and expiring by themselves when the gateway that held them dies. Through the real
 * gateway and a real redis-server; the session manager's stand-in holds answers open.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { Limiter } from '#token-bucket/limiter';
import { RedisStore } from '#token-bucket/redis-store';
import { bearer, type Fixture, json, request, startFixture } from '../lambda/gateway/support.ts';

const LEASE_TTL_MS = 400;

const config = parseConfig({
  plans: { free: { requestsPerMinute: 600, burst: 50, maxConcurrentRequests: 2 } },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 50, leaseTtlMs: LEASE_TTL_MS },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('abuse: many slow requests from one key', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });

  /** A fixture whose upstream holds every answer until `release()`. */
  async function holdingFixture(upstreamTimeoutMs = 10_000) {
    const f: Fixture = await startFixture({
      redisUrl: inject('redisUrl'),
      config,
      upstreamTimeoutMs,
    });
    cleanups.push(() => f.close());
    const held: (() => void)[] = [];
    f.upstream.script = (_req, res) =>
      new Promise<void>((resolve) => {
        held.push(() => {
          res.setHeader('content-type', 'application/json');
          res.end('{}');
          resolve();
        });
      });
    return {
      f,
      held,
      release: () => {
        for (const answer of held.splice(0)) answer();
      },
    };
  }

  it('answers 429 concurrency_limit_exceeded past the cap, holds slots through long answers, and frees them when answers end', async () => {
    const { f, held, release } = await holdingFixture();
    const { key } = await f.newKey('free');
    const call = () => f.gateway.handle(request('GET', '/v1/models', bearer(key)));

    const running = [call(), call()];
    await until(() => held.length === 2, 'two requests at the upstream');
    const denied = await call();
    expect(denied.status).toBe(429);
    expect(json(denied.body)).toMatchObject({
      error: { type: 'rate_limit_error', code: 'concurrency_limit_exceeded' },
    });
    expect(denied.headers['retry-after']).toBe('1');

    // Past two lease lifetimes the answers still run: renewal keeps their slots.
    await sleep(LEASE_TTL_MS * 2.5);
    expect((await call()).status).toBe(429);

    release();
    expect((await Promise.all(running)).map((r) => r.status)).toEqual([200, 200]);
    const next = call();
    await until(() => held.length === 1, 'a new request admitted after the answers ended');
    release();
    expect((await next).status).toBe(200);
  });

  it('lets the leases of a gateway that died mid-request expire within one lease lifetime', async () => {
    const { f, held } = await holdingFixture();
    const { key, keyId } = await f.newKey('free');
    void f.gateway.handle(request('GET', '/v1/models', bearer(key)));
    void f.gateway.handle(request('GET', '/v1/models', bearer(key)));
    await until(() => held.length === 2, 'two requests at the upstream');

    // Simulated death: this gateway stops reaching Redis for good, so it neither renews nor
    // releases its two leases (its process would be gone; here only its connection is).
    await f.redis?.close();
    const died = performance.now();

    // Another gateway instance on the same Redis sees the key's slots taken, then freed.
    const other = new Redis(inject('redisUrl'));
    cleanups.push(() => void other.disconnect());
    const limiter = new Limiter({
      primary: new RedisStore(other),
      failureMode: 'closed',
      timeoutMs: 1000,
    });
    const limits = config.plans.free;
    if (!limits) throw new Error('no free plan');
    const lease = (id: string) => ({ id, ttlMs: LEASE_TTL_MS });
    const right = await limiter.decide({ id: keyId, limits, lease: lease('other-1') });
    expect(right.allowed).toBe(false);
    expect(right.limitedBy).toBe('concurrency');

    let freed: number | undefined;
    for (let i = 0; freed === undefined && i < 200; i++) {
      await sleep(20);
      const decision = await limiter.decide({ id: keyId, limits, lease: lease(`other-${i + 2}`) });
      if (decision.allowed) freed = performance.now() - died;
    }
    expect(freed, 'the dead gateway leases never expired').toBeDefined();
    // Generous: one lease lifetime plus slack for a loaded machine.
    expect(freed).toBeLessThanOrEqual(LEASE_TTL_MS * 10);
  });
});
