/**
 * Abuse: requests the gateway can refuse without the model (a body over the edge's cap,
 * malformed JSON) must cost the key nothing, so neither a mistake nor a flood of them drains
 * its budget. Through the real gateway and a real redis-server.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { bearer, type Fixture, json, request, startFixture } from '../lambda/gateway/support.ts';

const config = parseConfig({
  plans: { free: { requestsPerMinute: 1, burst: 3, tokensPerMinute: 20_000, requestsPerDay: 100 } },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 200 },
});

describe('abuse: requests refused before admission', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ redisUrl: inject('redisUrl'), config });
  });
  afterAll(() => f.close());

  const chat = (key: string, body: string | Buffer) =>
    f.gateway.handle(
      request(
        'POST',
        '/v1/chat/completions',
        { ...bearer(key), 'content-type': 'application/json' },
        body,
      ),
    );

  it('charges nothing for bodies over the cap or malformed JSON, and forwards none of them', async () => {
    const { key } = await f.newKey('free');
    const before = f.upstream.seen.length;
    const bad: [string | Buffer, number, string][] = [
      [Buffer.alloc(1024 * 1024 + 1, 'a'), 413, 'request_too_large'],
      ['{"model": "m", "messages": [', 400, 'invalid_json'],
      ['not json at all', 400, 'invalid_json'],
      ['', 400, 'invalid_json'],
      ['[1, 2, 3]', 400, 'invalid_json'],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [body, status, code] of bad) {
        const response = await chat(key, body);
        expect(response.status).toBe(status);
        expect(json(response.body)).toMatchObject({
          error: { type: 'invalid_request_error', code, message: expect.any(String) },
        });
        // The buckets are reported untouched on every refusal.
        expect(response.headers['x-ratelimit-remaining-requests']).toBe('3');
        expect(response.headers['x-ratelimit-remaining-tokens']).toBe('20000');
      }
    }
    expect(f.upstream.seen.length).toBe(before);

    // The whole burst is still there: 3 requests at one a minute.
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await chat(key, '{"model":"m","messages":[]}')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('also refuses malformed JSON on routes that do not reach the model, without charging', async () => {
    const { key } = await f.newKey('free');
    const response = await f.gateway.handle(
      request('POST', '/v1/sessions', { ...bearer(key), 'content-type': 'application/json' }, '{'),
    );
    expect(response.status).toBe(400);
    expect(json(response.body)).toMatchObject({ error: { code: 'invalid_json' } });
    expect(response.headers['x-ratelimit-remaining-requests']).toBe('3');
  });
});
