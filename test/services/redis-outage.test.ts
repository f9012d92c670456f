/**
 * Redis going away and coming back (a real redis-server, SIGKILLed and restarted): session
 * routes answer 503 session_store_unavailable within the command timeout, readiness fails and
 * names Redis, stateless chat completions keep working, and everything recovers by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../support/redis.ts';
import { call, envelope, freshKeyId, principal, type Stack, startStack } from './support.ts';

describe('Redis outage', () => {
  let redis: RedisServer;
  let stack: Stack;

  beforeAll(async () => {
    redis = await RedisServer.start();
    stack = await startStack({ redisUrl: redis.url, redisCommandTimeoutMs: 500 });
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('answers 503 while Redis is down and recovers when it is back', async () => {
    const headers = principal(freshKeyId());
    expect((await call(`${stack.url}/v1/sessions`, { headers, body: {} })).status).toBe(201);

    await redis.kill();
    const refused = await call(`${stack.url}/v1/sessions`, { headers, body: {} });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(envelope(refused.body)).toMatchObject({
      type: 'api_error',
      code: 'session_store_unavailable',
    });
    const ready = await call(`${stack.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(envelope(ready.body).message).toContain('Redis');
    const stateless = await call(`${stack.url}/v1/chat/completions`, {
      headers,
      body: { model: 'stub-echo-chatml', messages: [{ role: 'user', content: 'no redis needed' }] },
    });
    expect(stateless.status).toBe(200);

    await redis.restart();
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await call(`${stack.url}/readyz`)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
    expect((await call(`${stack.url}/v1/sessions`, { headers, body: {} })).status).toBe(201);
  });
});
