import { describe, expect, it } from 'vitest';
import { admissionOf, InvalidJsonError, MODEL_ROUTES } from '#gateway/admission';
import { RequestTooLargeError } from '#gateway/errors';
import { usageOf } from '#gateway/gateway';
import {
  ConfigError,
  DEFAULT_COMPLETION_TOKENS,
  type PlanLimits,
  parseConfig,
} from '#shared/config';
import { request } from './support.ts';

const plan: PlanLimits = {
  requestsPerMinute: 60,
  burst: 10,
  tokensPerMinute: 20_000,
  tokenBurst: 20_000,
  defaultCompletionTokens: 300,
};
const json = { 'content-type': 'application/json' };
const MAX = 1024 * 1024;

describe('admission: what a request reserves', () => {
  it('reserves body bytes / 4 plus the completion cap the request names', () => {
    const body = JSON.stringify({
      model: 'm1',
      messages: [{ role: 'user', content: 'x'.repeat(4000) }],
      max_tokens: 50,
    });
    const admission = admissionOf(request('POST', '/v1/chat/completions', json, body), plan, MAX);
    const prompt = Math.ceil(body.length / 4);
    expect(admission).toEqual({
      tokenCost: prompt + 50,
      modelRoute: true,
      // The worst case a budget reserves is priced from, with the model the body names.
      worstCase: { input: prompt, output: 50, model: 'm1' },
    });
  });

  it('prefers max_completion_tokens on chat, reads max_tokens on session messages and max_output_tokens on responses', () => {
    const cost = (path: string, fields: Record<string, unknown>) => {
      const body = JSON.stringify(fields);
      return (
        admissionOf(request('POST', path, json, body), plan, MAX).tokenCost -
        Math.ceil(body.length / 4)
      );
    };
    expect(cost('/v1/chat/completions', { max_completion_tokens: 70, max_tokens: 900 })).toBe(70);
    expect(cost('/v1/sessions/s_123/messages', { max_tokens: 80 })).toBe(80);
    expect(cost('/v1/responses', { max_output_tokens: 90 })).toBe(90);
    expect(MODEL_ROUTES).toHaveLength(3);
  });

  it("falls back to the plan's defaultCompletionTokens, then the safe default, when the request names none or nonsense", () => {
    const body = '{"max_tokens":"lots"}';
    const cost = (limits: PlanLimits) =>
      admissionOf(request('POST', '/v1/chat/completions', json, body), limits, MAX).tokenCost;
    expect(cost(plan)).toBe(Math.ceil(body.length / 4) + 300);
    const { defaultCompletionTokens: _, ...noDefault } = plan;
    expect(cost(noDefault)).toBe(Math.ceil(body.length / 4) + DEFAULT_COMPLETION_TOKENS);
  });

  it("caps a reservation at the token bucket's capacity, so even a tiny plan serves one request", () => {
    const tiny: PlanLimits = {
      requestsPerMinute: 1,
      burst: 1,
      tokensPerMinute: 100,
      tokenBurst: 100,
    };
    const body = JSON.stringify({
      messages: [{ role: 'user', content: 'y'.repeat(100_000) }],
      max_tokens: 1e12,
    });
    expect(
      admissionOf(request('POST', '/v1/chat/completions', json, body), tiny, MAX).tokenCost,
    ).toBe(100);
  });

  it('reserves nothing for routes that do not reach the model, or plans without a token bucket', () => {
    expect(admissionOf(request('GET', '/v1/models'), plan, MAX)).toEqual({
      tokenCost: 0,
      modelRoute: false,
    });
    expect(
      admissionOf(request('POST', '/v1/sessions', json, '{"system":"hi"}'), plan, MAX).tokenCost,
    ).toBe(0);
    const requestsOnly: PlanLimits = { requestsPerMinute: 60, burst: 10 };
    expect(
      admissionOf(request('POST', '/v1/chat/completions', json, '{}'), requestsOnly, MAX),
    ).toEqual({
      tokenCost: 0,
      modelRoute: true,
      worstCase: { input: 1, output: DEFAULT_COMPLETION_TOKENS },
    });
  });

  it('refuses a body over the cap and malformed JSON before anything is reserved', () => {
    const too = () =>
      admissionOf(request('POST', '/v1/chat/completions', json, Buffer.alloc(11)), plan, 10);
    expect(too).toThrow(RequestTooLargeError);
    for (const body of ['{', '', 'null', '"text"', '[]']) {
      expect(
        () => admissionOf(request('POST', '/v1/chat/completions', {}, body), plan, MAX),
        body,
      ).toThrow(InvalidJsonError);
    }
    // Not JSON by content type on a route that does not reach the model: not the gateway's call.
    expect(() =>
      admissionOf(request('POST', '/v1/files', { 'content-type': 'text/plain' }, '{'), plan, MAX),
    ).not.toThrow();
  });
});

describe('admission: what a request is charged after its answer', () => {
  const modelRoute = { tokenCost: 7000, modelRoute: true };
  const answer = (status: number, body: string, type = 'application/json') => ({
    status,
    headers: { 'content-type': type },
    body: Buffer.from(body),
  });

  it('books the usage the answer reports', () => {
    expect(usageOf(answer(200, '{"usage":{"total_tokens":1234}}'), modelRoute)).toBe(1234);
    expect(
      usageOf(
        answer(200, ': usage {"total_tokens":99}\n\ndata: [DONE]\n\n', 'text/event-stream'),
        modelRoute,
      ),
    ).toBe(99);
  });

  it('keeps the whole reservation when the use is unknown: 5xx, or an answer or cut stream without usage', () => {
    expect(usageOf(answer(502, '{"error":{}}'), modelRoute)).toBe(7000);
    expect(usageOf(answer(504, '{"error":{}}'), modelRoute)).toBe(7000);
    expect(
      usageOf(
        answer(200, 'data: {"choices":[]}\n\ndata: {"error":{}}\n\n', 'text/event-stream'),
        modelRoute,
      ),
    ).toBe(7000);
  });

  it('books nothing for a 4xx refusal without usage, or a route that does not reach the model', () => {
    expect(usageOf(answer(400, '{"error":{}}'), modelRoute)).toBe(0);
    expect(usageOf(answer(200, '{"data":[]}'), { tokenCost: 0, modelRoute: false })).toBe(0);
  });
});

describe('admission: plan fields in the config', () => {
  const withPlan = (fields: Record<string, unknown>, rateLimiter: Record<string, unknown> = {}) =>
    parseConfig({ plans: { free: { requestsPerMinute: 60, burst: 10, ...fields } }, rateLimiter });

  it('reads maxConcurrentRequests, defaultCompletionTokens and leaseTtlMs', () => {
    const config = withPlan(
      { maxConcurrentRequests: 4, defaultCompletionTokens: 256 },
      { leaseTtlMs: 20_000 },
    );
    expect(config.plans.free).toMatchObject({
      maxConcurrentRequests: 4,
      defaultCompletionTokens: 256,
    });
    expect(config.rateLimiter.leaseTtlMs).toBe(20_000);
  });

  it.each([
    [
      { maxConcurrentRequests: 0 },
      {},
      /plans\.free\.maxConcurrentRequests must be a whole number from 1 to 1000000, got 0/,
    ],
    [{ maxConcurrentRequests: 2.5 }, {}, /maxConcurrentRequests .*got 2\.5/],
    [
      { defaultCompletionTokens: -1 },
      {},
      /plans\.free\.defaultCompletionTokens must be a whole number from 1/,
    ],
    [{ defaultCompletionTokens: '512' }, {}, /defaultCompletionTokens .*got "512"/],
    [
      {},
      { leaseTtlMs: 100, redisTimeoutMs: 50 },
      /leaseTtlMs \(100\) must be at least 4 times redisTimeoutMs \(50\).*raise leaseTtlMs/,
    ],
    [{}, { leaseTtlMs: 0 }, /rateLimiter\.leaseTtlMs must be a whole number from 1/],
  ])('refuses %j / %j with an error naming the field and the fix', (fields, limiter, message) => {
    expect(() => withPlan(fields, limiter)).toThrow(ConfigError);
    expect(() => withPlan(fields, limiter)).toThrow(message);
  });
});
