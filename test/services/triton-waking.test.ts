/**
 * A Triton scaled to zero (dev at idle): the session manager counts demand, waits for Triton
 * within a bound and then answers, or answers 503 `model_starting` with Retry-After; it never
 * hangs, never answers 500 and never sends a generation twice. The Triton stand-in is stopped
 * and started on the same port, as the Service's endpoints come and go.
 */
import { InferenceUnavailableError } from '@axon/runtime/errors';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type InferenceStub, startInferenceStub } from '../../services/inference-stub/src/index.ts';
import { TritonClient } from '../../services/session-manager/src/core/triton-client.ts';
import { WakingTriton } from '../../services/session-manager/src/core/waking.ts';
import { freePort } from '../support/redis.ts';
import {
  call,
  envelope,
  freshKeyId,
  principal,
  type Stack,
  sseEvents,
  startStack,
} from './support.ts';

const MODEL = 'stub-echo-chatml';
const MODELS = { models: { [MODEL]: { template: 'chatml' as const } } };
const chat = (extra: object = {}) => ({
  model: MODEL,
  messages: [{ role: 'user' as const, content: 'wake up' }],
  ...extra,
});

/** The session manager against a Triton port where nothing listens yet. */
async function asleep(waitMs: number) {
  const port = await freePort();
  const stack: Stack = await startStack({
    redisUrl: inject('redisUrl'),
    tritonUrl: `http://127.0.0.1:${port}`,
    models: MODELS,
    wake: { waitMs, retryAfterSeconds: 30, pollMs: 50 },
  });
  // startStack's own stub is not the one this Triton URL names: it plays no part.
  return { stack, port };
}

const demandOf = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`axon_sm_model_demand_total{model="${MODEL}"}`));
  return Number(line?.split(' ')[1]);
};

describe('Triton scaled to zero', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  const headers = principal(freshKeyId());

  it('lists the configured models and counts no demand while nobody calls one', async () => {
    const { stack } = await asleep(1_000);
    cleanup.push(() => stack.close());
    const res = await call(`${stack.url}/v1/models`, { headers });
    expect(res.status).toBe(200);
    expect((res.body as { data: { id: string }[] }).data.map((m) => m.id)).toEqual([MODEL]);
    expect(await demandOf(stack.url)).toBe(0);
  });

  it('answers the waking request once Triton starts within the bound', async () => {
    const { stack, port } = await asleep(20_000);
    cleanup.push(() => stack.close());
    let triton: InferenceStub | undefined;
    cleanup.push(async () => triton?.close());
    const answer = call(`${stack.url}/v1/chat/completions`, { headers, body: chat() });
    // Demand is counted before Triton answers: what KEDA's activation query reads.
    await expect.poll(() => demandOf(stack.url), { timeout: 5_000 }).toBe(1);
    triton = await startInferenceStub({ port, log: () => {} });
    const res = await answer;
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain('[stub] You said: wake up');
    expect(triton.stats().generate).toBe(1);
  });

  it('streams the waking request once Triton starts', async () => {
    const { stack, port } = await asleep(20_000);
    cleanup.push(() => stack.close());
    let triton: InferenceStub | undefined;
    cleanup.push(async () => triton?.close());
    const answer = fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(chat({ stream: true })),
    });
    await expect.poll(() => demandOf(stack.url), { timeout: 5_000 }).toBe(1);
    triton = await startInferenceStub({ port, log: () => {} });
    const res = await answer;
    expect(res.status).toBe(200);
    const events = sseEvents(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('answers 503 model_starting with Retry-After past the bound, plain and streamed', async () => {
    const { stack } = await asleep(300);
    cleanup.push(() => stack.close());
    const started = Date.now();
    const plain = await call(`${stack.url}/v1/chat/completions`, { headers, body: chat() });
    expect(plain.status).toBe(503);
    expect(plain.headers.get('retry-after')).toBe('30');
    expect(envelope(plain.body)).toMatchObject({ type: 'api_error', code: 'model_starting' });
    const streamed = await call(`${stack.url}/v1/chat/completions`, {
      headers,
      body: chat({ stream: true }),
    });
    expect(streamed.status).toBe(503);
    expect(envelope(streamed.body).code).toBe('model_starting');
    // Bounded: 300 ms each; ten times that and more only if the wait were unbounded.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await demandOf(stack.url)).toBe(2);
  });

  it('does not count demand for a model nobody serves', async () => {
    const { stack } = await asleep(300);
    cleanup.push(() => stack.close());
    const res = await call(`${stack.url}/v1/chat/completions`, {
      headers,
      body: chat({ model: 'no-such-model' }),
    });
    expect(res.status).toBe(404);
    expect(envelope(res.body).code).toBe('model_not_found');
    expect(await demandOf(stack.url)).toBe(0);
  });
});

describe('WakingTriton', () => {
  it('shares one readiness probe loop among every waiting request', async () => {
    const port = await freePort();
    const inner = new TritonClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 1_000 });
    let probes = 0;
    const counting = {
      ready: async (timeoutMs?: number) => {
        probes++;
        return inner.ready(timeoutMs);
      },
      repositoryIndex: () => inner.repositoryIndex(),
      generate: inner.generate.bind(inner),
      generateStream: inner.generateStream.bind(inner),
      close: () => inner.close(),
    };
    const waking = new WakingTriton(counting, { waitMs: 500, retryAfterSeconds: 5, pollMs: 50 });
    const request = { textInput: 'x', maxTokens: 4 };
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => waking.generate(MODEL, request)),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    // One loop of ~500 / 50 probes, not one loop per request (50 x that).
    expect(probes).toBeLessThanOrEqual(2 * (500 / 50 + 1));
    await waking.close();
  });

  it('never repeats a request that reached Triton', async () => {
    const triton = await startInferenceStub({ log: () => {} });
    triton.setFault({ generateError: true });
    const waking = new WakingTriton(new TritonClient({ url: triton.url, timeoutMs: 1_000 }), {
      waitMs: 5_000,
      retryAfterSeconds: 5,
      pollMs: 50,
    });
    await expect(waking.generate(MODEL, { textInput: 'x', maxTokens: 4 })).rejects.toBeInstanceOf(
      InferenceUnavailableError,
    );
    expect(triton.stats().generate).toBe(1);
    expect(triton.stats().ready).toBe(0);
    await waking.close();
    await triton.close();
  });
});
