/**
 * Abuse: a flood of concurrent requests while the gateway's event loop is busy must not turn a
 * healthy Redis into per-instance fallback limits (issue 11, finding 5): a reply that arrived
 * while the loop was blocked is still used, and a fallback bucket starts from what Redis last
 * said rather than from full. Through the real gateway and a real redis-server.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { bearer, type Fixture, request, startFixture } from '../lambda/gateway/support.ts';
import { RedisServer } from '../support/redis.ts';

const REDIS_TIMEOUT_MS = 50;
/** Three times the limiter's deadline: every timer of the flood expires while the loop is blocked. */
const BLOCK_MS = REDIS_TIMEOUT_MS * 3;

const config = parseConfig({
  plans: { free: { requestsPerMinute: 60, burst: 20 } },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: REDIS_TIMEOUT_MS },
});

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

/**
 * Blocks this process's event loop for `BLOCK_MS` right after EVALSHA commands are written to
 * the socket, and until Redis has executed them: the block runs from `process.nextTick`, after
 * every request that could reach Redis in the same turn has written its command, and before the
 * loop can read any reply. Needs a Redis of its own, whose EVALSHA count is this test's.
 * Patches ioredis's prototype, so it reaches the gateway's own client without any hook in the
 * gateway; `restore` puts it back.
 */
function blockAfterEvalsha(port: number) {
  const proto = Redis.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  // The limiter sends each EVALSHA as one prebuilt command through `sendCommand`.
  const original = proto.sendCommand as (...args: unknown[]) => unknown;
  const stats = { written: 0, blocks: 0, writtenBeforeABlock: 0 };
  let pending = 0;
  proto.sendCommand = function (this: Redis, ...args: unknown[]) {
    const result = original.apply(this, args);
    if ((args[0] as { name?: string }).name !== 'evalsha') return result;
    stats.written++;
    if (pending++ === 0) {
      process.nextTick(() => {
        busyWait(BLOCK_MS);
        // A loaded machine may not have run Redis yet: stay blocked until it has answered every
        // command written, so the replies are waiting in the socket when the timers fire.
        while (evalshaCalls(port) < stats.written) busyWait(1);
        stats.blocks++;
        stats.writtenBeforeABlock += pending;
        pending = 0;
      });
    }
    return result;
  };
  const restore = () => {
    proto.sendCommand = original;
  };
  return { stats, restore };
}

describe('abuse: failing open under load', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });
  afterAll(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });

  it('admits at most the burst and answers none degraded when 200 requests arrive while the loop is blocked past the Redis timeout', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const f: Fixture = await startFixture({ redisUrl: server.url, config });
    cleanups.push(() => f.close());
    const { key } = await f.newKey('free');
    // One request first: it puts the key in the principal cache, so the 200 below reach the
    // limiter in the same turn of the event loop, as a burst on a warm instance does.
    const first = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
    expect(first.status).toBe(200);

    await server.cli('CONFIG', 'RESETSTAT');
    const hook = blockAfterEvalsha(server.port);
    cleanups.push(hook.restore);
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        f.gateway.handle(request('GET', '/v1/models', bearer(key))),
      ),
    );
    hook.restore();

    // The hook did its job: decisions were in flight when the loop was blocked.
    expect(hook.stats.blocks).toBeGreaterThanOrEqual(1);
    expect(hook.stats.writtenBeforeABlock).toBeGreaterThanOrEqual(100);
    const admitted = 1 + responses.filter((r) => r.status === 200).length;
    const degraded = responses.filter((r) => r.headers['x-axon-ratelimit-degraded'] === '1');
    const summary = `${admitted} admitted, ${degraded.length} degraded`;
    expect(degraded, summary).toHaveLength(0);
    expect(f.metrics.counts.get('Degraded') ?? 0).toBe(0);
    expect(admitted, summary).toBeLessThanOrEqual(21);
    expect(admitted, summary).toBeGreaterThanOrEqual(20);
    expect(responses.filter((r) => r.status === 429).length).toBe(200 - (admitted - 1));
  });

  it('keeps a drained key drained when Redis goes away: the fallback starts from what Redis last said', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const f = await startFixture({ redisUrl: server.url, config });
    cleanups.push(() => f.close());
    const { key } = await f.newKey('free');
    let admitted = 0;
    for (let i = 0; i < 25; i++) {
      const response = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      if (response.status === 200) admitted++;
    }
    expect(admitted).toBeLessThanOrEqual(21);

    await server.kill();
    const after = [];
    for (let i = 0; i < 10; i++)
      after.push(await f.gateway.handle(request('GET', '/v1/models', bearer(key))));
    expect(after.every((r) => r.headers['x-axon-ratelimit-degraded'] === '1')).toBe(true);
    // A fresh fallback bucket would admit 20 more here, a second burst for the same key.
    expect(after.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
  });
});
