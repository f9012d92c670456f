import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  RateLimitExceededError,
  rateLimitHeaders,
  retryAfterSeconds,
} from '#token-bucket/http';
import type { Decision } from '#token-bucket/types';

const limits = {
  requestsPerMinute: 60,
  burst: 10,
  tokensPerMinute: 20_000,
  tokenBurst: 20_000,
  requestsPerDay: 1000,
};

function decision(overrides: Partial<Decision> = {}): Decision {
  return {
    allowed: true,
    degraded: false,
    retryAfterMs: 0,
    requests: { limit: 10, remaining: 7, retryAfterMs: 0, resetMs: 2500 },
    tokens: { limit: 20_000, remaining: 19_000, retryAfterMs: 0, resetMs: 3000 },
    day: { limit: 1000, remaining: 990, retryAfterMs: 0, resetMs: 3_600_000 },
    ...overrides,
  };
}

describe('rate-limit headers', () => {
  it.each([
    [0, '0s'],
    [20, '20ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1001, '2s'],
    [59_000, '59s'],
    [360_000, '6m0s'],
    [3_723_000, '1h2m3s'],
  ])('writes %i ms as %s, the way OpenAI writes reset durations', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('rounds Retry-After up to whole seconds and never below 1', () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
  });

  it('describes an admitted request with the IETF and OpenAI headers', () => {
    expect(rateLimitHeaders(decision(), limits)).toEqual({
      'ratelimit-policy': '"requests";q=60;w=60',
      ratelimit: '"requests";r=7;t=3',
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '7',
      'x-ratelimit-reset-requests': '3s',
      'x-ratelimit-limit-tokens': '20000',
      'x-ratelimit-remaining-tokens': '19000',
      'x-ratelimit-reset-tokens': '3s',
    });
  });

  it('leaves the token headers out when the plan does not limit tokens', () => {
    const headers = rateLimitHeaders(decision({ tokens: undefined }), {
      requestsPerMinute: 60,
      burst: 10,
    });
    expect(Object.keys(headers).filter((h) => h.includes('tokens'))).toEqual([]);
  });

  it('adds Retry-After to a denial and the degraded marker to a local decision', () => {
    const denied = decision({
      allowed: false,
      limitedBy: 'requests',
      retryAfterMs: 1500,
      degraded: true,
    });
    const headers = rateLimitHeaders(denied, limits);
    expect(headers['retry-after']).toBe('2');
    expect(headers['x-axon-ratelimit-degraded']).toBe('1');
  });

  it('never reports negative remaining tokens after settlement drove the bucket below zero', () => {
    const owing = decision({
      tokens: { limit: 20_000, remaining: -500, retryAfterMs: 1500, resetMs: 61_500 },
    });
    expect(rateLimitHeaders(owing, limits)['x-ratelimit-remaining-tokens']).toBe('0');
  });

  it.each([
    ['requests', 'rate_limit_exceeded'],
    ['tokens', 'token_rate_limit_exceeded'],
    ['day', 'quota_exceeded'],
  ] as const)('turns a denial by the %s bucket into a 429 with code %s', (bucket, code) => {
    const error = new RateLimitExceededError(
      decision({ allowed: false, limitedBy: bucket, retryAfterMs: 2500 }),
      limits,
    );
    expect(error.status).toBe(429);
    expect(error.toBody()).toEqual({
      error: { type: 'rate_limit_error', code, message: expect.any(String) },
    });
    expect(error.message).toMatch(/3 s/);
    expect(error.headers['retry-after']).toBe('3');
  });
});
