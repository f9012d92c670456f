/**
 * The local stack's Redis layout (issue 11): the limiter and the sessions on separate
 * redis-servers, the limiter's unable to evict anything, so no tenant's session data can push a
 * bucket out. Runs the real startLocalStack in this process, as `npm start` does.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCli } from '#local/redis-server';
import { type LocalStack, startLocalStack } from '#local/stack';

const portOf = (url: string) => Number(new URL(url).port);

describe('npm start without REDIS_URL', () => {
  let stack: LocalStack;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'axon-redis-layout-'));
    const configPath = join(stateDir, 'axon.json');
    writeFileSync(
      configPath,
      JSON.stringify({ plans: { free: { requestsPerMinute: 60, burst: 10 } } }),
    );
    stack = await startLocalStack({ port: 0, configPath, stateDir, say: () => {} });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('spawns one Redis for the limiter, with noeviction, and another for the sessions', async () => {
    expect([stack.redis, stack.sessionRedis]).toEqual(['spawned', 'spawned']);
    const { limiter, sessions } = stack.redisUrls;
    expect(limiter).toBeDefined();
    expect(sessions).toBeDefined();
    expect(portOf(limiter as string)).not.toBe(portOf(sessions as string));
    const policy = await redisCli(portOf(limiter as string), 'CONFIG', 'GET', 'maxmemory-policy');
    expect(policy.split('\n')[1]).toBe('noeviction');
  });

  it('stores sessions on the sessions Redis and nothing of them on the limiter Redis', async () => {
    const auth = { authorization: `Bearer ${stack.demoKey}`, 'content-type': 'application/json' };
    const created = await fetch(`${stack.url}/v1/sessions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ system: 'kept apart' }),
    });
    expect(created.status).toBe(201);
    const scan = (url: string) => redisCli(portOf(url), '--scan', '--pattern', 'axon:sess:*');
    expect(await scan(stack.redisUrls.sessions as string)).not.toBe('');
    expect(await scan(stack.redisUrls.limiter as string)).toBe('');
  });
});
