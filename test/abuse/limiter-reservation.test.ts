/**
 * Abuse: one key runs many large requests at once to take more tokens than its plan (issue 11,
 * finding 4). Through the real gateway (authorizer on dynalite, limiter on a real redis-server)
 * with a real HTTP stand-in for the session manager that reports the usage a ~7 K-token request
 * costs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { bearer, type Fixture, json, request, startFixture } from '../lambda/gateway/support.ts';

const TOKENS_PER_MINUTE = 20_000;
const PROMPT_TOKENS = 7000;
const COMPLETION_TOKENS = 100;

const config = parseConfig({
  plans: {
    free: { requestsPerMinute: 60, burst: 20, tokensPerMinute: TOKENS_PER_MINUTE },
  },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 200 },
});

/** A chat completion whose body is about `PROMPT_TOKENS` tokens at 4 bytes a token. */
function largeChat(): string {
  const filler = 'The quick brown fox jumps over the lazy dog. ';
  const content = filler
    .repeat(Math.ceil((PROMPT_TOKENS * 4) / filler.length))
    .slice(0, PROMPT_TOKENS * 4);
  return JSON.stringify({
    model: 'stub',
    max_tokens: COMPLETION_TOKENS,
    messages: [{ role: 'user', content }],
  });
}

describe('abuse: parallel large requests against a token plan', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ redisUrl: inject('redisUrl'), config, upstreamTimeoutMs: 5000 });
  });
  afterAll(() => f.close());

  it('admits no more tokens than the bucket holds when 10 requests of ~7 K tokens arrive at once', async () => {
    const { key } = await f.newKey('free');
    f.upstream.script = (_req, res) => {
      // Long enough that every request is in flight before the first settles.
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            usage: {
              prompt_tokens: PROMPT_TOKENS,
              completion_tokens: COMPLETION_TOKENS,
              total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS,
            },
          }),
        );
      }, 300);
    };
    const body = largeChat();
    const started = performance.now();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        f.gateway.handle(
          request(
            'POST',
            '/v1/chat/completions',
            { ...bearer(key), 'content-type': 'application/json' },
            body,
          ),
        ),
      ),
    );
    const elapsedMs = performance.now() - started;
    const admitted = responses.filter((r) => r.status === 200);
    const admittedTokens = admitted.length * (PROMPT_TOKENS + COMPLETION_TOKENS);
    // The bucket's capacity plus what it refilled while the test ran (generously rounded up).
    const bound = TOKENS_PER_MINUTE + Math.ceil((TOKENS_PER_MINUTE / 60_000) * elapsedMs) + 1;
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    expect(
      admittedTokens,
      `${admitted.length} admitted in ${Math.round(elapsedMs)} ms`,
    ).toBeLessThanOrEqual(bound);
    for (const denied of responses.filter((r) => r.status !== 200)) {
      expect(denied.status).toBe(429);
      expect(json(denied.body)).toMatchObject({ error: { code: 'token_rate_limit_exceeded' } });
      expect(Number(denied.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
  });

  it.each([
    ['answers 500 without usage', 5000],
    ['does not answer within the deadline', 300],
  ] as const)(
    'keeps the reservation charged when the upstream %s',
    async (_what, upstreamTimeoutMs) => {
      const g = await startFixture({ redisUrl: inject('redisUrl'), config, upstreamTimeoutMs });
      try {
        const { key } = await g.newKey('free');
        g.upstream.script = (_req, res) => {
          if (upstreamTimeoutMs < 5000) return; // never answers: the gateway's deadline ends it
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"inference failed","type":"api_error","code":"x"}}');
        };
        const response = await g.gateway.handle(
          request(
            'POST',
            '/v1/chat/completions',
            { ...bearer(key), 'content-type': 'application/json' },
            largeChat(),
          ),
        );
        expect(response.status).toBeGreaterThanOrEqual(500);
        // The GPU may have done the work: the ~7.1 K reservation stays charged.
        expect(Number(response.headers['x-ratelimit-remaining-tokens'])).toBeLessThanOrEqual(
          TOKENS_PER_MINUTE - PROMPT_TOKENS,
        );
      } finally {
        await g.close();
      }
    },
  );
});
