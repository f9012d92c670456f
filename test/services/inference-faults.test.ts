/**
 * Inference faults injected by the Triton stand-in: down, not ready, slow, failing, reset,
 * failing or stalling after a stream started. Each ends in 503/504 with the envelope, or, once
 * SSE has begun, in one terminating `{"error"}` event; never a hang, never a 500.
 */
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../services/session-manager/src/app.ts';
import {
  call,
  envelope,
  freshKeyId,
  GATEWAY_SECRET,
  principal,
  type Stack,
  sseEvents,
  startStack,
} from './support.ts';

const MODEL = 'stub-echo-chatml';
const chat = (extra: object = {}) => ({
  model: MODEL,
  messages: [{ role: 'user' as const, content: 'one two three four five six' }],
  ...extra,
});

/** A loopback port with nothing listening on it: connections are refused. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function streamText(url: string, headers: Record<string, string>, body: object) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('inference faults', () => {
  let stack: Stack;
  const keyId = freshKeyId();
  const headers = principal(keyId);
  const v1 = (path: string) => `${stack.url}/v1${path}`;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl'), inferenceTimeoutMs: 400 });
  });
  afterEach(() => stack.stub.setFault({}));
  afterAll(() => stack.close());

  it('answers 504 inference_timeout when Triton is slower than the timeout', async () => {
    stack.stub.setFault({ latencyMs: 3_000 });
    const plain = await call(v1('/chat/completions'), { headers, body: chat() });
    expect(plain.status).toBe(504);
    expect(envelope(plain.body)).toMatchObject({ type: 'api_error', code: 'inference_timeout' });

    const streamed = await streamText(v1('/chat/completions'), headers, chat({ stream: true }));
    expect(streamed.status).toBe(504);
    expect(envelope(JSON.parse(streamed.text)).code).toBe('inference_timeout');
  });

  it('answers 503 inference_unavailable when Triton reports its model not ready', async () => {
    stack.stub.setFault({ unavailable: true });
    const res = await call(v1('/chat/completions'), { headers, body: chat() });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(envelope(res.body)).toMatchObject({ type: 'api_error', code: 'inference_unavailable' });
    // Readiness is about this pod: a Triton outage must not empty the ALB target group.
    expect((await call(`${stack.url}/readyz`)).status).toBe(200);
  });

  it('answers 503 when generate fails, without leaking Triton message', async () => {
    stack.stub.setFault({ generateError: true });
    const res = await call(v1('/chat/completions'), { headers, body: chat() });
    expect(res.status).toBe(503);
    expect(envelope(res.body).code).toBe('inference_unavailable');
    expect(JSON.stringify(res.body)).not.toContain('stub:');
    const streamed = await streamText(v1('/chat/completions'), headers, chat({ stream: true }));
    expect(streamed.status).toBe(503);
    expect(streamed.type).toContain('application/json');
  });

  it('does not retry a generate whose connection was reset', async () => {
    stack.stub.setFault({ resetConnections: true });
    const before = stack.stub.stats().generate;
    const res = await call(v1('/chat/completions'), { headers, body: chat() });
    expect(res.status).toBe(503);
    expect(envelope(res.body).code).toBe('inference_unavailable');
    expect(stack.stub.stats().generate - before).toBe(1);
  });

  it('ends a stream with one error event when Triton fails after the stream started', async () => {
    stack.stub.setFault({ errorAfterEvents: 2 });
    const res = await streamText(v1('/chat/completions'), headers, chat({ stream: true }));
    expect(res.status).toBe(200);
    const events = sseEvents(res.text);
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1) ?? '{}');
    expect(envelope(last)).toMatchObject({ type: 'api_error', code: 'inference_error' });
    expect(res.text).not.toContain('injected');
    const content = events
      .slice(0, -1)
      .map((e) => JSON.parse(e).choices[0]?.delta?.content ?? '')
      .join('');
    expect(content).toBe('[stub] You');
  });

  it('answers 503 when the very first stream event is an error: nothing was sent yet', async () => {
    stack.stub.setFault({ errorAfterEvents: 0 });
    const res = await streamText(v1('/chat/completions'), headers, chat({ stream: true }));
    expect(res.status).toBe(503);
    expect(res.type).toContain('application/json');
    expect(envelope(JSON.parse(res.text)).code).toBe('inference_unavailable');
  });

  it('ends a stalled stream with an inference_timeout event', async () => {
    stack.stub.setFault({ stallAfterEvents: 1 });
    const res = await streamText(v1('/chat/completions'), headers, chat({ stream: true }));
    expect(res.status).toBe(200);
    const last = JSON.parse(sseEvents(res.text).at(-1) ?? '{}');
    expect(envelope(last).code).toBe('inference_timeout');
  });

  it('raises a mid-stream error event as APIError in the openai SDK', async () => {
    stack.stub.setFault({ errorAfterEvents: 1 });
    const client = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: headers,
    });
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
    });
    const consume = async () => {
      for await (const _chunk of stream) {
        // drain until the error event
      }
    };
    const error = await consume().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('inference_error');
  });

  it('stores nothing in a session when inference fails', async () => {
    const created = await call(v1('/sessions'), { headers, body: {} });
    const { id } = created.body as { id: string };
    stack.stub.setFault({ generateError: true });
    const failed = await call(v1(`/sessions/${id}/messages`), {
      headers,
      body: { content: 'lost?' },
    });
    expect(failed.status).toBe(503);
    stack.stub.setFault({ errorAfterEvents: 1 });
    const streamed = await streamText(v1(`/sessions/${id}/messages`), headers, {
      content: 'lost too?',
      stream: true,
    });
    expect(envelope(JSON.parse(sseEvents(streamed.text).at(-1) ?? '{}')).code).toBe(
      'inference_error',
    );
    stack.stub.setFault({});
    const read = await call(v1(`/sessions/${id}`), { headers });
    expect((read.body as { messages: unknown[] }).messages).toEqual([]);
  });
});

describe('client going away', () => {
  it('stops the upstream generation when the caller disconnects mid-stream', async () => {
    const stack = await startStack(
      { redisUrl: inject('redisUrl') },
      { tokenDelayMs: 1_500 }, // a slow model: one word every 1.5 s
    );
    try {
      const controller = new AbortController();
      const res = await fetch(`${stack.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...principal(freshKeyId()), 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          stream: true,
          max_tokens: 100,
          messages: [{ role: 'user', content: 'word '.repeat(40) }],
        }),
        signal: controller.signal,
      });
      expect(res.headers.get('x-request-id')).toBeTruthy();
      const reader = res.body?.getReader();
      await reader?.read();
      expect(stack.stub.stats().openStreams).toBe(1);
      controller.abort();
      for (let i = 0; i < 40 && stack.stub.stats().openStreams > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(stack.stub.stats().openStreams).toBe(0);
    } finally {
      await stack.close();
    }
  });
});

describe('Triton down (connection refused)', () => {
  it('answers 503 for models, completions and streams, and stays ready', async () => {
    const app = await buildApp({
      redisUrl: inject('redisUrl'),
      tritonUrl: `http://127.0.0.1:${await deadPort()}`,
      gatewaySecret: GATEWAY_SECRET,
      inferenceTimeoutMs: 2_000,
    });
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const headers = principal(freshKeyId());
      const models = await call(`${url}/v1/models`, { headers });
      expect(models.status).toBe(503);
      expect(envelope(models.body).code).toBe('inference_unavailable');
      const plain = await call(`${url}/v1/chat/completions`, { headers, body: chat() });
      expect(plain.status).toBe(503);
      const streamed = await streamText(
        `${url}/v1/chat/completions`,
        headers,
        chat({ stream: true }),
      );
      expect(streamed.status).toBe(503);
      expect((await call(`${url}/readyz`)).status).toBe(200);
      expect((await call(`${url}/healthz`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('keeps session history, listing and deletion working while Triton is gone', async () => {
    const stack = await startStack({ redisUrl: inject('redisUrl'), inferenceTimeoutMs: 2_000 });
    try {
      const headers = principal(freshKeyId());
      const v1 = (path: string) => `${stack.url}/v1${path}`;
      const created = await call(v1('/sessions'), { headers, body: {} });
      const { id } = created.body as { id: string };
      expect(
        (await call(v1(`/sessions/${id}/messages`), { headers, body: { content: 'hi' } })).status,
      ).toBe(200);

      await stack.stub.close();

      expect((await call(`${stack.url}/readyz`)).status).toBe(200);
      const chatted = await call(v1('/chat/completions'), { headers, body: chat() });
      expect(chatted.status).toBe(503);
      expect(envelope(chatted.body)).toMatchObject({
        type: 'api_error',
        code: 'inference_unavailable',
      });
      const turn = await call(v1(`/sessions/${id}/messages`), {
        headers,
        body: { content: 'more' },
      });
      expect(envelope(turn.body).code).toBe('inference_unavailable');

      const read = await call(v1(`/sessions/${id}`), { headers });
      expect(read.status).toBe(200);
      expect((read.body as { messages: { role: string }[] }).messages.map((m) => m.role)).toEqual([
        'user',
        'assistant',
      ]);
      const listed = await call(v1('/sessions'), { headers });
      expect((listed.body as { data: { id: string }[] }).data.map((s) => s.id)).toEqual([id]);
      expect((await call(v1(`/sessions/${id}`), { headers, method: 'DELETE' })).status).toBe(204);
    } finally {
      await stack.app.close();
    }
  });
});
