/**
 * Budgets and the usage ledger through the gateway core (issue 20): the authorizer on dynalite,
 * the limiter on the suite's redis-server, a scripted stand-in for the session manager.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { bearer, type Fixture, json, request, startFixture } from './support.ts';

const config = parseConfig({
  plans: {
    // No budget: the ledger books every model route anyway.
    open: { requestsPerMinute: 6000, burst: 1000 },
    metered: {
      requestsPerMinute: 6000,
      burst: 1000,
      tokensPerMinute: 1_000_000,
      dailyBudgetUsd: 0.01,
    },
  },
  prices: {
    cheap: { inputPerMillion: 1, outputPerMillion: 2 },
    dear: { inputPerMillion: 10, outputPerMillion: 30 },
  },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 500 },
});

const chat = (model: string | undefined, maxTokens: number) =>
  JSON.stringify({
    ...(model && { model }),
    max_tokens: maxTokens,
    messages: [{ role: 'user', content: 'hi' }],
  });
const usage = (prompt: number, completion: number) =>
  JSON.stringify({
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: 2 },
    },
  });

/** The session manager's usual answer: 10 in, 20 out; naming the model it ran when given one. */
const answeringUsage =
  (model?: string): Fixture['upstream']['script'] =>
  (_req, res) => {
    res.setHeader('content-type', 'application/json');
    if (model !== undefined) res.setHeader('x-axon-model', model);
    res.end(usage(10, 20));
  };

describe('budgets and the usage ledger through the gateway', () => {
  let f: Fixture;
  const redis = new Redis(inject('redisUrl'));
  beforeAll(async () => {
    f = await startFixture({ redisUrl: inject('redisUrl'), config });
    f.upstream.script = answeringUsage();
  });
  afterAll(async () => {
    redis.disconnect();
    await f?.close();
  });

  const post = (key: string, path: string, body: string) =>
    f.gateway.handle(
      request('POST', path, { ...bearer(key), 'content-type': 'application/json' }, body),
    );
  const ledger = async (keyId: string) =>
    redis.hgetall(`axon:rl:{${keyId}}:u:${Math.floor(Date.now() / 3_600_000)}`);

  it('books every model route under its priced model, or other, with its tokens and cost', async () => {
    const { key, keyId } = await f.newKey('open');
    expect((await post(key, '/v1/chat/completions', chat('cheap', 50))).status).toBe(200);
    expect((await post(key, '/v1/chat/completions', chat('cheap', 50))).status).toBe(200);
    expect((await post(key, '/v1/chat/completions', chat('gpt-9', 50))).status).toBe(200);
    expect((await post(key, '/v1/sessions/s1/messages', '{"content":"hi"}')).status).toBe(200);
    // Not a model route: nothing in the ledger.
    expect((await f.gateway.handle(request('GET', '/v1/models', bearer(key)))).status).toBe(200);
    expect(await ledger(keyId)).toEqual({
      'req:cheap': '2',
      'in:cheap': '20',
      'out:cheap': '40',
      'cached:cheap': '4',
      // 10 input at 1 000 nano-dollars, 20 output at 2 000, twice.
      'cost:cheap': String(2 * (10 * 1000 + 20 * 2000)),
      // Unpriced, or no model named (a session turn): "other", at the dearest prices.
      'req:other': '2',
      'in:other': '20',
      'out:other': '40',
      'cached:other': '4',
      'cost:other': String(2 * (10 * 10_000 + 20 * 30_000)),
    });
  });

  it("refuses with 429 insufficient_quota what the day's budget does not cover, apart from rate limits", async () => {
    const { key } = await f.newKey('metered');
    // The worst case of a dear request with max_tokens 300: 300 output tokens alone cost
    // 0.009 USD, most of the 0.01 budget; the first is admitted and spends 0.0007.
    expect((await post(key, '/v1/chat/completions', chat('dear', 300))).status).toBe(200);
    const refused = await post(key, '/v1/chat/completions', chat('dear', 320));
    expect(refused.status).toBe(429);
    expect(json(refused.body)).toEqual({
      error: {
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        message: expect.stringMatching(/daily budget of 0.01 USD does not cover/),
      },
    });
    expect(refused.headers['x-should-retry']).toBe('false');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // The settlement gave back what the first did not use: a smaller request still fits.
    expect((await post(key, '/v1/chat/completions', chat('dear', 200))).status).toBe(200);
    // A route that costs nothing is never refused for money.
    expect((await f.gateway.handle(request('GET', '/v1/models', bearer(key)))).status).toBe(200);
  });

  it('keeps the worst case spent and booked when the use is unknown (a 5xx)', async () => {
    const { key, keyId } = await f.newKey('metered');
    f.upstream.script = (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"down","type":"api_error","code":"inference_unavailable"}}');
    };
    try {
      const body = chat('cheap', 100);
      expect((await post(key, '/v1/chat/completions', body)).status).toBe(503);
      const estimate = Math.ceil(Buffer.byteLength(body) / 4);
      expect(await ledger(keyId)).toEqual({
        'req:cheap': '1',
        'in:cheap': String(estimate),
        'out:cheap': '100',
        'cost:cheap': String(estimate * 1000 + 100 * 2000),
      });
    } finally {
      f.upstream.script = answeringUsage();
    }
  });

  it('books nothing and gives the whole reservation back when the model refused (a 4xx)', async () => {
    const { key, keyId } = await f.newKey('metered');
    f.upstream.script = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"no","type":"invalid_request_error","code":"model_not_found"}}');
    };
    try {
      // Each worst case is 0.009 USD of a 0.01 budget: had a refusal spent anything, the
      // second would not fit.
      for (let i = 0; i < 3; i++) {
        expect((await post(key, '/v1/chat/completions', chat('dear', 300))).status).toBe(404);
      }
      expect(await ledger(keyId)).toEqual({});
    } finally {
      f.upstream.script = answeringUsage();
    }
  });

  it('books a session turn at the model the session manager says it ran, never passing the header on', async () => {
    const { key, keyId } = await f.newKey('open');
    f.upstream.script = answeringUsage('cheap');
    try {
      const turn = await post(key, '/v1/sessions/s1/messages', '{"content":"hi"}');
      expect(turn.status).toBe(200);
      expect(turn.headers['x-axon-model']).toBeUndefined();
      // An unpriced model it ran: other, at the dearest prices, as before.
      f.upstream.script = answeringUsage('gpt-9');
      expect((await post(key, '/v1/sessions/s1/messages', '{"content":"hi"}')).status).toBe(200);
      expect(await ledger(keyId)).toEqual({
        'req:cheap': '1',
        'in:cheap': '10',
        'out:cheap': '20',
        'cached:cheap': '2',
        'cost:cheap': String(10 * 1000 + 20 * 2000),
        'req:other': '1',
        'in:other': '10',
        'out:other': '20',
        'cached:other': '2',
        'cost:other': String(10 * 10_000 + 20 * 30_000),
      });
    } finally {
      f.upstream.script = answeringUsage();
    }
  });
});
