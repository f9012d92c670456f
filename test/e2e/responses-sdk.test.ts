/**
 * The Responses and Conversations APIs as a user reaches them: `npm start`, then the official
 * `openai` SDK and the Vercel AI SDK against the gateway with real API keys. Everything behind
 * it is real (gateway bundle, dynalite, Redis, session manager) except Triton, which the labelled
 * inference stand-in replaces; it echoes only the last user turn, so growing input_tokens is how
 * a test sees the history reach the model.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { generateText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESPONSE_CASES } from '../services/responses-cases.ts';
import { RedisServer } from '../support/redis.ts';
import { type RunningStack, startStack } from './local-stack.ts';

const MODEL = 'stub-echo-chatml';

const config = {
  plans: {
    roomy: { requestsPerMinute: 6000, burst: 500 },
    metered: { requestsPerMinute: 600, burst: 50, tokensPerMinute: 6000 },
  },
  rateLimiter: { failureMode: 'closed', redisTimeoutMs: 500 },
  auth: { cacheTtlSeconds: 1, failuresPerMinutePerAddress: 1000 },
};

const textOf = (item: { type: string; content?: { type: string; text?: string }[] }) =>
  (item.content ?? []).map((c) => c.text ?? '').join('');

describe('Responses and Conversations through npm start', () => {
  let redis: RedisServer;
  let stack: RunningStack;
  let openai: OpenAI;
  let key: string;

  const newKey = async (plan: string) => (await stack.keys('create', '--plan', plan)).key as string;
  const client = (apiKey: string) =>
    new OpenAI({ baseURL: `${stack.url}/v1`, apiKey, maxRetries: 0 });

  beforeAll(async () => {
    redis = await RedisServer.start();
    stack = await startStack(config, { REDIS_URL: redis.url });
    key = await newKey('roomy');
    openai = client(key);
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('creates responses from a string, message items and instructions', async () => {
    const plain = await openai.responses.create({ model: MODEL, input: 'hello gateway' });
    expect(plain.output_text).toBe('[stub] You said: hello gateway');
    const items = await openai.responses.create({
      model: MODEL,
      instructions: 'Reply in one short sentence, please, whatever the question is.',
      input: [
        { role: 'developer', content: 'Be kind.' },
        { role: 'user', content: [{ type: 'input_text', text: 'hello gateway' }] },
      ],
    });
    expect(items.output_text).toBe('[stub] You said: hello gateway');
    expect(items.instructions).toContain('one short sentence');
    expect(items.usage?.input_tokens).toBeGreaterThan(plain.usage?.input_tokens ?? 0);
  });

  it('chains three turns by previous_response_id, the history reaching the model', async () => {
    let previous: OpenAI.Responses.Response | undefined;
    const tokens: number[] = [];
    for (const input of ['my name is Ada', 'I like chess', 'what is my name?']) {
      previous = await openai.responses.create({
        model: MODEL,
        input,
        ...(previous ? { previous_response_id: previous.id } : {}),
      });
      tokens.push(previous.usage?.input_tokens ?? 0);
    }
    expect(previous?.output_text).toBe('[stub] You said: what is my name?');
    expect(tokens[1]).toBeGreaterThan((tokens[0] ?? 0) + 5);
    expect(tokens[2]).toBeGreaterThan((tokens[1] ?? 0) + 5);
    const items = await openai.responses.inputItems.list(previous?.id as string);
    expect(items.data.map((i) => textOf(i as never))).toEqual(['what is my name?']);
  });

  it('chains three turns through a conversation and pages its items', async () => {
    const conversation = await openai.conversations.create({ metadata: { via: 'gateway' } });
    const tokens: number[] = [];
    for (const input of ['one', 'two', 'three']) {
      const reply = await openai.responses.create({
        model: MODEL,
        input,
        conversation: conversation.id,
      });
      tokens.push(reply.usage?.input_tokens ?? 0);
    }
    expect(tokens[1]).toBeGreaterThan(tokens[0] ?? 0);
    expect(tokens[2]).toBeGreaterThan(tokens[1] ?? 0);
    const seen: string[] = [];
    for await (const item of openai.conversations.items.list(conversation.id, {
      limit: 2,
      order: 'asc',
    })) {
      seen.push(textOf(item as never));
    }
    expect(seen).toEqual([
      'one',
      '[stub] You said: one',
      'two',
      '[stub] You said: two',
      'three',
      '[stub] You said: three',
    ]);
  });

  it('streams through the gateway to response.completed and debits the tokens used', async () => {
    const metered = await newKey('metered');
    // Refill is counted from before the stream: the bucket refills from the moment it was
    // debited, which a slow machine can put well before the next request.
    const started = Date.now();
    const { data: stream, response } = await client(metered)
      .responses.create({ model: MODEL, input: 'stream me', stream: true })
      .withResponse();
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const types: string[] = [];
    let usage: OpenAI.Responses.ResponseUsage | undefined;
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') usage = event.response.usage;
    }
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(text).toBe('[stub] You said: stream me');
    const used = usage?.total_tokens ?? 0;
    expect(used).toBeGreaterThan(0);
    // The next request sees the bucket short by what the stream used (less what refilled).
    const next = await client(metered).models.list().withResponse();
    const refilled = Math.ceil(((Date.now() - started) / 1000) * 100) + 1;
    expect(Number(next.response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThanOrEqual(
      6000 - used + refilled,
    );
  });

  it('retrieves and deletes a stored response', async () => {
    const created = await openai.responses.create({ model: MODEL, input: 'keep me' });
    expect((await openai.responses.retrieve(created.id)).output_text).toBe(created.output_text);
    await openai.responses.delete(created.id);
    await expect(openai.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it('answers 404 to another key for responses, conversations and items, spoofed headers or not', async () => {
    const response = await openai.responses.create({ model: MODEL, input: 'private' });
    const conversation = await openai.conversations.create({
      items: [{ role: 'user', content: 'private' }],
    });
    const item = (await openai.conversations.items.list(conversation.id)).data[0]?.id as string;
    const thief = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: await newKey('roomy'),
      maxRetries: 0,
      defaultHeaders: { 'x-axon-key-id': 'anything', 'x-axon-gateway-secret': 'guess' },
    });
    const attempts = [
      () => thief.responses.retrieve(response.id),
      () => thief.responses.inputItems.list(response.id),
      () => thief.responses.create({ model: MODEL, input: 'x', previous_response_id: response.id }),
      () => thief.conversations.retrieve(conversation.id),
      () => thief.conversations.items.list(conversation.id),
      () => thief.conversations.items.retrieve(item, { conversation_id: conversation.id }),
      () => thief.conversations.delete(conversation.id),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toMatchObject({ status: 404 });
    expect((await openai.conversations.items.list(conversation.id)).data).toHaveLength(1);
  });

  it.each(RESPONSE_CASES.map(([name, body, status, code]) => ({ name, body, status, code })))(
    'answers $status $code through the gateway to $name',
    async ({ body, status, code }) => {
      const reply = await fetch(`${stack.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      expect(reply.status).toBe(status);
      expect(((await reply.json()) as { error: { code: string } }).error.code).toBe(code);
    },
  );

  it('chains three turns through the Vercel AI SDK with previousResponseId', async () => {
    const provider = createOpenAI({ baseURL: `${stack.url}/v1`, apiKey: key });
    let previousResponseId: string | undefined;
    const inputTokens: number[] = [];
    let last = '';
    for (const prompt of ['my name is Ada', 'I like chess', 'what is my name?']) {
      const result = await generateText({
        model: provider.responses(MODEL),
        prompt,
        maxRetries: 0,
        ...(previousResponseId ? { providerOptions: { openai: { previousResponseId } } } : {}),
      });
      previousResponseId = result.providerMetadata?.openai?.responseId as string;
      expect(previousResponseId).toMatch(/^resp_/);
      inputTokens.push(result.usage.inputTokens ?? 0);
      last = result.text;
    }
    expect(last).toBe('[stub] You said: what is my name?');
    expect(inputTokens[1]).toBeGreaterThan((inputTokens[0] ?? 0) + 5);
    expect(inputTokens[2]).toBeGreaterThan((inputTokens[1] ?? 0) + 5);
  });
});
