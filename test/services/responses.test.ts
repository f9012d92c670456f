/**
 * The Responses API through the official `openai` SDK over real HTTP, against a real Redis and
 * the labelled Triton stand-in (which echoes the last user turn): create, chains by
 * previous_response_id, streams, retrieve, delete, input_items, failures and isolation.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, envelope, freshKeyId, principal, type Stack, startStack } from './support.ts';

const MODEL = 'stub-echo-chatml';

describe('Responses API through the official openai SDK', () => {
  let stack: Stack;
  let client: OpenAI;
  let keyId: string;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl') });
    keyId = freshKeyId();
    client = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: principal(keyId, 'pro'),
    });
  });
  afterAll(() => stack.close());

  it('answers a string input with a response whose output_text is the answer', async () => {
    const response = await client.responses.create({ model: MODEL, input: 'hello responses' });
    expect(response.id).toMatch(/^resp_/);
    expect(response.object).toBe('response');
    expect(response.status).toBe('completed');
    expect(response.output_text).toBe('[stub] You said: hello responses');
    expect(response.output[0]).toMatchObject({ type: 'message', role: 'assistant' });
    expect(response.output[0]?.id).toMatch(/^msg_/);
    const usage = response.usage;
    expect(usage?.input_tokens).toBeGreaterThan(0);
    expect(usage?.output_tokens).toBeGreaterThan(0);
    expect(usage?.total_tokens).toBe((usage?.input_tokens ?? 0) + (usage?.output_tokens ?? 0));
  });

  it('takes message items in every SDK shape and instructions that reach the model', async () => {
    const plain = await client.responses.create({
      model: MODEL,
      input: [{ role: 'user', content: 'same question' }],
    });
    const shaped = await client.responses.create({
      model: MODEL,
      instructions: 'Answer like a pirate, always and in every single reply.',
      input: [
        {
          type: 'message',
          role: 'developer',
          content: [{ type: 'input_text', text: 'Be terse.' }],
        },
        { role: 'user', content: [{ type: 'input_text', text: 'earlier question' }] },
        {
          // An earlier output item sent back as is (the SDK's ResponseOutputMessage shape).
          type: 'message',
          id: 'msg_from_an_earlier_response',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'earlier answer', annotations: [] }],
        },
        { role: 'user', content: [{ type: 'input_text', text: 'same question' }] },
      ],
    });
    expect(shaped.output_text).toBe('[stub] You said: same question');
    expect(shaped.instructions).toBe('Answer like a pirate, always and in every single reply.');
    // Instructions, the developer item and the earlier turns all count as input.
    expect(shaped.usage?.input_tokens).toBeGreaterThan((plain.usage?.input_tokens ?? 0) + 20);
  });

  it('continues a three-turn chain by previous_response_id, history reaching the model', async () => {
    const first = await client.responses.create({ model: MODEL, input: 'turn one' });
    const second = await client.responses.create({
      model: MODEL,
      input: 'turn two',
      previous_response_id: first.id,
    });
    const third = await client.responses.create({
      model: MODEL,
      input: 'turn three',
      previous_response_id: second.id,
    });
    expect(third.output_text).toBe('[stub] You said: turn three');
    expect(third.previous_response_id).toBe(second.id);
    const tokens = [first, second, third].map((r) => r.usage?.input_tokens ?? 0);
    // Each turn's input is the whole chain so far: it grows by at least the previous answer.
    expect(tokens[1]).toBeGreaterThan((tokens[0] ?? 0) + (first.usage?.output_tokens ?? 0));
    expect(tokens[2]).toBeGreaterThan((tokens[1] ?? 0) + (second.usage?.output_tokens ?? 0));
  });

  it('does not inherit instructions through previous_response_id', async () => {
    const instructed = await client.responses.create({
      model: MODEL,
      instructions: 'A long instruction that costs many tokens when it reaches the model again.',
      input: 'first',
    });
    const plainStart = await client.responses.create({ model: MODEL, input: 'first' });
    const [afterInstructed, afterPlain] = await Promise.all(
      [instructed, plainStart].map((previous) =>
        client.responses.create({ model: MODEL, input: 'next', previous_response_id: previous.id }),
      ),
    );
    expect(afterInstructed?.instructions).toBeNull();
    expect(afterInstructed?.usage?.input_tokens).toBe(afterPlain?.usage?.input_tokens);
  });

  it('streams the Responses event sequence ending in response.completed with usage', async () => {
    const stream = await client.responses.create({
      model: MODEL,
      input: 'stream this answer',
      stream: true,
    });
    const types: string[] = [];
    const sequence: number[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.slice(-4)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(types.filter((t) => t === 'response.output_text.delta').length).toBeGreaterThan(2);
    expect(sequence).toEqual(sequence.map((_, i) => i));
    expect(text).toBe('[stub] You said: stream this answer');
    expect(completed?.usage?.output_tokens).toBeGreaterThan(0);
    const stored = await client.responses.retrieve(completed?.id as string);
    expect(stored.output_text).toBe(text);
    expect(stored.status).toBe('completed');
  });

  it("assembles the final response with the SDK's responses.stream helper", async () => {
    const runner = client.responses.stream({ model: MODEL, input: 'helper stream' });
    let deltas = '';
    runner.on('response.output_text.delta', (event) => {
      deltas += event.delta;
    });
    const final = await runner.finalResponse();
    expect(final.output_text).toBe('[stub] You said: helper stream');
    expect(deltas).toBe(final.output_text);
  });

  it('ends a stream cut by max_output_tokens with response.incomplete, and stores it so', async () => {
    const stream = await client.responses.create({
      model: MODEL,
      input: 'a rather long sentence that needs more than three tokens to echo',
      max_output_tokens: 3,
      stream: true,
    });
    let last: OpenAI.Responses.ResponseStreamEvent | undefined;
    for await (const event of stream) last = event;
    expect(last?.type).toBe('response.incomplete');
    const response = (last as OpenAI.Responses.ResponseIncompleteEvent).response;
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    const stored = await client.responses.retrieve(response.id);
    expect(stored.status).toBe('incomplete');
  });

  it('ends a stream whose generation fails with response.failed, and stores it so', async () => {
    stack.stub.setFault({ errorAfterEvents: 2 });
    try {
      const stream = await client.responses.create({
        model: MODEL,
        input: 'this generation breaks',
        stream: true,
      });
      let last: OpenAI.Responses.ResponseStreamEvent | undefined;
      for await (const event of stream) last = event;
      expect(last?.type).toBe('response.failed');
      const response = (last as OpenAI.Responses.ResponseFailedEvent).response;
      expect(response.error?.code).toBe('inference_error');
      const stored = await client.responses.retrieve(response.id);
      expect(stored.status).toBe('failed');
    } finally {
      stack.stub.setFault({});
    }
  });

  it('retrieves, lists input items with pagination, and deletes a stored response', async () => {
    const created = await client.responses.create({
      model: MODEL,
      input: [
        { role: 'user', content: 'one' },
        { role: 'assistant', content: 'two' },
        { role: 'user', content: 'three' },
      ],
    });
    const retrieved = await client.responses.retrieve(created.id);
    expect(retrieved.output_text).toBe(created.output_text);
    const firstPage = await client.responses.inputItems.list(created.id, {
      limit: 2,
      order: 'asc',
    });
    expect(firstPage.data.map((item) => item.type === 'message' && item.role)).toEqual([
      'user',
      'assistant',
    ]);
    expect(firstPage.has_more).toBe(true);
    const all: string[] = [];
    for await (const item of client.responses.inputItems.list(created.id, { limit: 1 })) {
      if (item.type === 'message')
        all.push(item.content.map((c) => ('text' in c ? c.text : '')).join(''));
    }
    expect(all).toEqual(['three', 'two', 'one']);
    await client.responses.delete(created.id);
    await expect(client.responses.retrieve(created.id)).rejects.toMatchObject({
      status: 404,
      code: 'response_not_found',
    });
  });

  it('does not store a response with store: false', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'forget me',
      store: false,
    });
    expect(response.output_text).toBe('[stub] You said: forget me');
    await expect(client.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
  });

  it('answers 404 to another key for every response id, whatever headers it forges', async () => {
    const mine = await client.responses.create({ model: MODEL, input: 'private' });
    const other = principal(freshKeyId());
    const forged = { ...other, 'x-axon-owner': keyId, 'x-forwarded-for': '127.0.0.1' };
    for (const [method, path] of [
      ['GET', `/v1/responses/${mine.id}`],
      ['GET', `/v1/responses/${mine.id}/input_items`],
      ['DELETE', `/v1/responses/${mine.id}`],
    ] as const) {
      const reply = await call(`${stack.url}${path}`, { method, headers: forged });
      expect(reply.status, `${method} ${path}`).toBe(404);
      expect(envelope(reply.body).code).toBe('response_not_found');
    }
    const chained = await call(`${stack.url}/v1/responses`, {
      headers: forged,
      body: { model: MODEL, input: 'steal', previous_response_id: mine.id },
    });
    expect(chained.status).toBe(404);
    expect((await client.responses.retrieve(mine.id)).output_text).toBe(mine.output_text);
  });

  it('streams through the Vercel AI SDK Responses provider, continued by previousResponseId', async () => {
    const provider = createOpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: 'unused',
      headers: principal(keyId, 'pro'),
    });
    let previousResponseId: string | undefined;
    const inputTokens: number[] = [];
    let text = '';
    for (const prompt of ['first streamed turn', 'second streamed turn']) {
      const result = streamText({
        model: provider.responses(MODEL),
        prompt,
        maxRetries: 0,
        ...(previousResponseId ? { providerOptions: { openai: { previousResponseId } } } : {}),
      });
      text = await result.text;
      previousResponseId = (await result.providerMetadata)?.openai?.responseId as string;
      inputTokens.push((await result.usage).inputTokens ?? 0);
    }
    expect(text).toBe('[stub] You said: second streamed turn');
    expect(previousResponseId).toMatch(/^resp_/);
    expect(inputTokens[1]).toBeGreaterThan((inputTokens[0] ?? 0) + 5);
  });
});
