import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bearer, type Fixture, json, request, startFixture, UPSTREAM_SECRET } from './support.ts';

describe('gateway', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ redisUrl: inject('redisUrl'), upstreamTimeoutMs: 300 });
  });
  afterAll(() => f.close());

  it('answers GET /healthz without a key', async () => {
    const response = await f.gateway.handle(request('GET', '/healthz'));
    expect(response.status).toBe(200);
    expect(json(response.body)).toEqual({ status: 'ok' });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers any other path with 404 in the error envelope', async () => {
    const response = await f.gateway.handle(request('GET', '/admin'));
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json');
    expect(json(response.body)).toEqual({
      error: {
        type: 'not_found_error',
        code: 'not_found',
        message: expect.stringContaining('/v1/'),
      },
    });
  });

  it('answers a request without a key with 401 missing_api_key and WWW-Authenticate', async () => {
    const response = await f.gateway.handle(
      request('GET', '/v1/models', { 'x-request-id': 'client-req-1' }),
    );
    expect(response.status).toBe(401);
    expect(json(response.body)).toMatchObject({
      error: { type: 'authentication_error', code: 'missing_api_key' },
    });
    expect(response.headers['www-authenticate']).toBe('Bearer realm="axon"');
    expect(response.headers['x-request-id']).toBe('client-req-1');
    expect(response.headers).not.toHaveProperty('ratelimit');
    expect(f.upstream.seen).toHaveLength(0);
  });

  it('answers an invalid key with 401 invalid_api_key', async () => {
    const response = await f.gateway.handle(
      request('GET', '/v1/models', bearer('axon_not-a-real-key')),
    );
    expect(response.status).toBe(401);
    expect(json(response.body)).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect(response.headers['www-authenticate']).toBe('Bearer realm="axon", error="invalid_token"');
  });

  it('forwards an admitted request with the principal added and the credential removed', async () => {
    const { key, keyId } = await f.newKey('pro');
    const before = f.upstream.seen.length;
    const response = await f.gateway.handle(
      request(
        'POST',
        '/v1/chat/completions?x=1&y=%20',
        {
          ...bearer(key),
          'content-type': 'application/json',
          'x-axon-key-id': 'key_spoofed',
          'x-axon-plan': 'enterprise',
          'x-axon-gateway-secret': 'guess',
          connection: 'keep-alive, x-hop',
          'x-hop': 'drop me',
          'x-custom': 'kept',
          'x-request-id': 'abc.123',
        },
        '{"model":"m"}',
      ),
    );
    expect(response.status).toBe(200);
    const seen = f.upstream.seen[before];
    expect(seen?.url).toBe('/v1/chat/completions?x=1&y=%20');
    expect(seen?.body).toBe('{"model":"m"}');
    expect(seen?.headers).toMatchObject({
      'x-axon-key-id': keyId,
      'x-axon-plan': 'pro',
      'x-axon-gateway-secret': UPSTREAM_SECRET,
      'x-request-id': 'abc.123',
      'x-custom': 'kept',
      'content-type': 'application/json',
    });
    expect(seen?.headers).not.toHaveProperty('authorization');
    expect(seen?.headers).not.toHaveProperty('x-hop');
    expect(response.headers['x-request-id']).toBe('abc.123');
    expect(response.headers['x-ratelimit-limit-requests']).toBe('6000');
    expect(response.headers['ratelimit-policy']).toBe('"requests";q=6000;w=60');
  });

  it('replaces a client request id that is not a sane token', async () => {
    const { key } = await f.newKey('pro');
    const response = await f.gateway.handle(
      request('GET', '/v1/models', {
        ...bearer(key),
        'x-request-id': 'bad id with spaces\r\nx: y',
      }),
    );
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(f.upstream.seen.at(-1)?.headers['x-request-id']).toBe(response.headers['x-request-id']);
  });

  it('counts down the request headers and answers 429 with Retry-After once the burst is spent', async () => {
    const { key } = await f.newKey('free'); // burst 3
    const remaining = [];
    for (let i = 0; i < 3; i++) {
      const response = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      expect(response.status).toBe(200);
      remaining.push(response.headers['x-ratelimit-remaining-requests']);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const before = f.upstream.seen.length;
    const denied = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
    expect(denied.status).toBe(429);
    expect(json(denied.body)).toMatchObject({
      error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
    });
    expect(Number(denied.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(denied.headers.ratelimit).toMatch(/^"requests";r=0;t=\d+$/);
    expect(denied.headers['x-ratelimit-remaining-tokens']).toBe('1000');
    expect(f.upstream.seen.length).toBe(before);
    expect(f.metrics.counts.get('Denied{code=requests}')).toBeGreaterThanOrEqual(1);
  });

  it('debits the tokens a JSON answer used and denies with token_rate_limit_exceeded when they run out', async () => {
    const { key } = await f.newKey('free'); // 1000 tokens per minute
    f.upstream.script = (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          usage: { prompt_tokens: 600, completion_tokens: 500, total_tokens: 1100 },
        }),
      );
    };
    try {
      expect(
        (await f.gateway.handle(request('POST', '/v1/chat/completions', bearer(key), '{}'))).status,
      ).toBe(200);
      const denied = await f.gateway.handle(
        request('POST', '/v1/chat/completions', bearer(key), '{}'),
      );
      expect(denied.status).toBe(429);
      expect(json(denied.body)).toMatchObject({ error: { code: 'token_rate_limit_exceeded' } });
      expect(denied.headers['x-ratelimit-remaining-tokens']).toBe('0');
      expect(Number(denied.headers['retry-after'])).toBeGreaterThanOrEqual(6);
    } finally {
      f.upstream.script = (_req, res) => res.end('{}');
    }
  });

  it('settles a buffered stream from its usage comment line', async () => {
    const { key } = await f.newKey('free');
    f.upstream.script = (_req, res) => {
      res.setHeader('content-type', 'text/event-stream');
      res.write('data: {"choices":[{"delta":{"content":"hi"}}]}\n\n');
      res.write(': usage {"prompt_tokens":10,"completion_tokens":290,"total_tokens":300}\n\n');
      res.end('data: [DONE]\n\n');
    };
    try {
      const response = await f.gateway.handle(
        request('POST', '/v1/chat/completions', bearer(key), '{"stream":true}'),
      );
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('text/event-stream');
      expect(response.body.toString()).toContain('data: [DONE]');
      // The answer's own headers already show the bucket after settlement: the whole plan was
      // reserved (1000, capped at capacity), 300 were used, 700 came back.
      expect(Number(response.headers['x-ratelimit-remaining-tokens'])).toBeLessThanOrEqual(701);
      expect(Number(response.headers['x-ratelimit-remaining-tokens'])).toBeGreaterThanOrEqual(699);
    } finally {
      f.upstream.script = (_req, res) => res.end('{}');
    }
  });

  it('answers 413 for a body over 1 MB without forwarding it', async () => {
    const { key } = await f.newKey('pro');
    const before = f.upstream.seen.length;
    const response = await f.gateway.handle(
      request('POST', '/v1/chat/completions', bearer(key), Buffer.alloc(1024 * 1024 + 1, 'a')),
    );
    expect(response.status).toBe(413);
    expect(json(response.body)).toMatchObject({
      error: { type: 'invalid_request_error', code: 'request_too_large' },
    });
    expect(response.headers['x-ratelimit-limit-requests']).toBe('6000');
    expect(f.upstream.seen.length).toBe(before);
  });

  it('answers 504 upstream_timeout when the upstream is slower than the timeout', async () => {
    const { key } = await f.newKey('pro');
    f.upstream.script = (_req, res) => {
      setTimeout(() => res.end('{}'), 1000);
    };
    try {
      const started = performance.now();
      const response = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      expect(response.status).toBe(504);
      expect(json(response.body)).toMatchObject({
        error: { type: 'api_error', code: 'upstream_timeout' },
      });
      expect(performance.now() - started).toBeLessThan(1000);
      expect(f.metrics.counts.get('UpstreamErrors{code=upstream_timeout}')).toBeGreaterThanOrEqual(
        1,
      );
    } finally {
      f.upstream.script = (_req, res) => res.end('{}');
    }
  });

  it('answers 502 upstream_unavailable when the upstream resets the connection', async () => {
    const { key } = await f.newKey('pro');
    f.upstream.script = (_req, res) => {
      res.socket?.destroy();
    };
    try {
      const response = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      expect(response.status).toBe(502);
      expect(json(response.body)).toMatchObject({ error: { code: 'upstream_unavailable' } });
      expect(response.body.toString()).not.toMatch(/127\.0\.0\.1|ECONN|at /);
    } finally {
      f.upstream.script = (_req, res) => res.end('{}');
    }
  });

  it('answers 502 when the answer is larger than an ALB target may return', async () => {
    const { key } = await f.newKey('pro');
    f.upstream.script = (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(Buffer.alloc(2 * 1024 * 1024, 'x'));
    };
    try {
      const response = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      expect(response.status).toBe(502);
      expect(json(response.body)).toMatchObject({ error: { code: 'upstream_response_too_large' } });
    } finally {
      f.upstream.script = (_req, res) => res.end('{}');
    }
  });

  it('passes upstream errors through but never its x-axon-* or hop-by-hop headers', async () => {
    const { key } = await f.newKey('pro');
    f.upstream.script = (_req, res) => {
      res.writeHead(400, {
        'content-type': 'application/json',
        'x-axon-internal': 'secret',
        'keep-alive': 'timeout=5',
      });
      res.end('{"error":{"message":"bad","type":"invalid_request_error","code":"x"}}');
    };
    try {
      const response = await f.gateway.handle(
        request('POST', '/v1/chat/completions', bearer(key), '{}'),
      );
      expect(response.status).toBe(400);
      expect(response.headers).not.toHaveProperty('x-axon-internal');
      expect(response.headers).not.toHaveProperty('keep-alive');
      expect(response.headers['x-ratelimit-remaining-requests']).toBeDefined();
    } finally {
      f.upstream.script = (_req, res) => res.end('{}');
    }
  });
});

describe('gateway when the upstream is not listening', () => {
  it('answers 502 upstream_unavailable', async () => {
    const f = await startFixture({
      redisUrl: inject('redisUrl'),
      upstreamUrl: 'http://127.0.0.1:1',
    });
    try {
      const { key } = await f.newKey('pro');
      const response = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      expect(response.status).toBe(502);
      expect(json(response.body)).toMatchObject({ error: { code: 'upstream_unavailable' } });
    } finally {
      await f.close();
    }
  });
});

describe('gateway when Redis dies', () => {
  it.each([
    ['open', 200, 'rate_limit headers marked degraded'],
    ['closed', 503, 'rate_limiter_unavailable'],
  ] as const)('in %s mode answers %i (%s)', async (failureMode, status, _what) => {
    const { RedisServer } = await import('../../support/redis.ts');
    const { parseConfig } = await import('#shared/config');
    const server = await RedisServer.start();
    const config = parseConfig({
      plans: { pro: { requestsPerMinute: 6000, burst: 1000 } },
      rateLimiter: { failureMode, redisTimeoutMs: 100 },
    });
    const f = await startFixture({ redisUrl: server.url, config });
    try {
      const { key } = await f.newKey('pro');
      const healthy = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      expect(healthy.status).toBe(200);
      expect(healthy.headers).not.toHaveProperty('x-axon-ratelimit-degraded');

      await server.kill();
      const response = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      expect(response.status).toBe(status);
      if (failureMode === 'open') {
        expect(response.headers['x-axon-ratelimit-degraded']).toBe('1');
        expect(response.headers['x-ratelimit-remaining-requests']).toBeDefined();
        expect(f.metrics.counts.get('Degraded')).toBe(1);
      } else {
        expect(json(response.body)).toMatchObject({
          error: { type: 'api_error', code: 'rate_limiter_unavailable' },
        });
        expect(response.headers['retry-after']).toBe('1');
      }
      expect(f.metrics.counts.get('RedisErrors')).toBeGreaterThanOrEqual(1);
    } finally {
      await f.close();
      await server.stop();
    }
  });
});

describe('gateway refusals before admission when Redis is down and the limiter fails closed', () => {
  it('still answers 413 and 400 invalid_json, not 503, only without rate-limit headers', async () => {
    const { RedisServer } = await import('../../support/redis.ts');
    const { parseConfig } = await import('#shared/config');
    const server = await RedisServer.start();
    const config = parseConfig({
      plans: { pro: { requestsPerMinute: 6000, burst: 1000 } },
      rateLimiter: { failureMode: 'closed', redisTimeoutMs: 100 },
    });
    const f = await startFixture({ redisUrl: server.url, config });
    try {
      const { key } = await f.newKey('pro');
      // Cached, so authentication needs no Redis (an unknown key's failure budget would).
      expect((await f.gateway.handle(request('GET', '/v1/models', bearer(key)))).status).toBe(200);
      await server.kill();
      const tooLarge = await f.gateway.handle(
        request('POST', '/v1/chat/completions', bearer(key), Buffer.alloc(1024 * 1024 + 1, 'a')),
      );
      expect(tooLarge.status, tooLarge.body.toString()).toBe(413);
      expect(tooLarge.headers).not.toHaveProperty('x-ratelimit-remaining-requests');
      const malformed = await f.gateway.handle(
        request('POST', '/v1/chat/completions', bearer(key), '{"messages":'),
      );
      expect(malformed.status).toBe(400);
      expect(json(malformed.body)).toMatchObject({ error: { code: 'invalid_json' } });
      const admitted = await f.gateway.handle(request('GET', '/v1/models', bearer(key)));
      expect(admitted.status).toBe(503);
    } finally {
      await f.close();
      await server.stop();
    }
  });
});
