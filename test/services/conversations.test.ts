/**
 * The Conversations API through the official `openai` SDK over real HTTP and a real Redis:
 * conversations are the sessions of /v1/sessions, their items the session's messages.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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

const textOf = (item: OpenAI.Conversations.ConversationItem) =>
  item.type === 'message' ? item.content.map((c) => ('text' in c ? c.text : '')).join('') : '';

// Over Redis, a Redis Cluster, and the in-memory store of a dev stack without Redis.
describe.each([
  { store: 'Redis', redis: () => ({ redisUrl: inject('redisUrl') }) },
  { store: 'Redis Cluster', redis: () => ({ redisClusterNodes: inject('redisClusterNodes') }) },
  { store: 'memory', redis: () => ({}) },
])('Conversations API through the official openai SDK ($store)', ({ redis }) => {
  let stack: Stack;
  let client: OpenAI;
  let keyId: string;

  beforeAll(async () => {
    stack = await startStack({
      ...redis(),
      sessionQuotas: { tight: { maxSessionMessages: 6 } },
    });
    keyId = freshKeyId();
    client = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: principal(keyId, 'pro'),
    });
  });
  afterAll(() => stack.close());

  it('continues a three-turn chain through a conversation, history reaching the model', async () => {
    const conversation = await client.conversations.create({ metadata: { topic: 'chain' } });
    expect(conversation.id).toMatch(/^conv_/);
    expect(conversation.metadata).toEqual({ topic: 'chain' });
    const replies: OpenAI.Responses.Response[] = [];
    for (const input of ['turn one', 'turn two', 'turn three']) {
      replies.push(
        await client.responses.create({ model: MODEL, input, conversation: conversation.id }),
      );
    }
    expect(replies[2]?.output_text).toBe('[stub] You said: turn three');
    expect(replies[2]?.conversation).toEqual({ id: conversation.id });
    const tokens = replies.map((r) => r.usage?.input_tokens ?? 0);
    expect(tokens[1]).toBeGreaterThan((tokens[0] ?? 0) + (replies[0]?.usage?.output_tokens ?? 0));
    expect(tokens[2]).toBeGreaterThan((tokens[1] ?? 0) + (replies[1]?.usage?.output_tokens ?? 0));

    const items = await client.conversations.items.list(conversation.id, { order: 'asc' });
    expect(items.data.map(textOf)).toEqual([
      'turn one',
      '[stub] You said: turn one',
      'turn two',
      '[stub] You said: turn two',
      'turn three',
      '[stub] You said: turn three',
    ]);
    // The conversation's answer items are the responses' output items.
    expect(items.data[5]?.id).toBe(replies[2]?.output[0]?.id);
  });

  it('is the same record as the session of the same id', async () => {
    const conversation = await client.conversations.create({
      items: [{ role: 'user', content: 'seeded question' }],
    });
    const sessionId = `sess_${conversation.id.slice(5)}`;
    const session = await call(`${stack.url}/v1/sessions/${sessionId}`, {
      headers: principal(keyId),
    });
    expect(session.status).toBe(200);
    expect((session.body as { messages: { content: string }[] }).messages).toEqual([
      expect.objectContaining({ role: 'user', content: 'seeded question' }),
    ]);
  });

  it('pages items with after, limit and order', async () => {
    const conversation = await client.conversations.create({
      items: ['a', 'b', 'c', 'd', 'e'].map((content) => ({ role: 'user' as const, content })),
    });
    const page = await client.conversations.items.list(conversation.id, { limit: 2 });
    expect(page.data.map(textOf)).toEqual(['e', 'd']);
    expect(page.has_more).toBe(true);
    const seen: string[] = [];
    for await (const item of client.conversations.items.list(conversation.id, {
      limit: 2,
      order: 'asc',
    })) {
      seen.push(textOf(item));
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    const bad = await call(
      `${stack.url}/v1/conversations/${conversation.id}/items?after=msg_nope`,
      {
        headers: principal(keyId),
      },
    );
    expect(bad.status).toBe(400);
    expect(envelope(bad.body).code).toBe('invalid_value');
  });

  it('adds, retrieves and deletes items, and updates and deletes the conversation', async () => {
    const conversation = await client.conversations.create({});
    const added = await client.conversations.items.create(conversation.id, {
      items: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'kept' }] },
        { type: 'message', role: 'user', content: 'dropped' },
      ],
    });
    expect(added.data.map(textOf)).toEqual(['kept', 'dropped']);
    const dropped = added.data[1]?.id as string;
    const one = await client.conversations.items.retrieve(dropped, {
      conversation_id: conversation.id,
    });
    expect(textOf(one)).toBe('dropped');
    const after = await client.conversations.items.delete(dropped, {
      conversation_id: conversation.id,
    });
    expect(after.id).toBe(conversation.id);
    const left = await client.conversations.items.list(conversation.id);
    expect(left.data.map(textOf)).toEqual(['kept']);
    await expect(
      client.conversations.items.retrieve(dropped, { conversation_id: conversation.id }),
    ).rejects.toMatchObject({ status: 404, code: 'item_not_found' });

    const updated = await client.conversations.update(conversation.id, {
      metadata: { stage: 'two' },
    });
    expect(updated.metadata).toEqual({ stage: 'two' });
    expect((await client.conversations.retrieve(conversation.id)).metadata).toEqual({
      stage: 'two',
    });
    const deleted = await client.conversations.delete(conversation.id);
    expect(deleted).toMatchObject({
      id: conversation.id,
      object: 'conversation.deleted',
      deleted: true,
    });
    await expect(client.conversations.retrieve(conversation.id)).rejects.toMatchObject({
      status: 404,
      code: 'conversation_not_found',
    });
  });

  it('answers 400 conversation_too_large once a conversation passes its caps', async () => {
    const tight = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: principal(freshKeyId(), 'tight'),
    });
    const conversation = await tight.conversations.create({});
    for (const input of ['one', 'two', 'three']) {
      await tight.responses.create({ model: MODEL, input, conversation: conversation.id });
    }
    await expect(
      tight.responses.create({
        model: MODEL,
        input: 'four',
        conversation: { id: conversation.id },
      }),
    ).rejects.toMatchObject({ status: 400, code: 'conversation_too_large' });
    await expect(
      tight.conversations.items.create(conversation.id, {
        items: [{ role: 'user', content: 'more' }],
      }),
    ).rejects.toMatchObject({ status: 400, code: 'conversation_too_large' });
    expect((await tight.conversations.items.list(conversation.id)).data).toHaveLength(6);
  });

  it('answers 404 to another key for every conversation and item id', async () => {
    const conversation = await client.conversations.create({
      items: [{ role: 'user', content: 'private' }],
    });
    const item = (await client.conversations.items.list(conversation.id)).data[0]?.id as string;
    const forged = { ...principal(freshKeyId()), 'x-axon-owner': keyId };
    const base = `/v1/conversations/${conversation.id}`;
    for (const [method, path, body] of [
      ['GET', base, undefined],
      ['POST', base, { metadata: { x: 'y' } }],
      ['DELETE', base, undefined],
      ['GET', `${base}/items`, undefined],
      ['POST', `${base}/items`, { items: [{ role: 'user', content: 'x' }] }],
      ['GET', `${base}/items/${item}`, undefined],
      ['DELETE', `${base}/items/${item}`, undefined],
      ['POST', '/v1/responses', { model: MODEL, input: 'x', conversation: conversation.id }],
    ] as const) {
      const reply = await call(`${stack.url}${path}`, { method, headers: forged, body });
      expect(reply.status, `${method} ${path}`).toBe(404);
      expect(envelope(reply.body).code).toBe('conversation_not_found');
    }
    expect((await client.conversations.items.list(conversation.id)).data.map(textOf)).toEqual([
      'private',
    ]);
  });
});

describe('a conversation deleted while its answer streams', () => {
  it('ends the stream with response.failed that still carries the usage to charge', async () => {
    const stack = await startStack({ redisUrl: inject('redisUrl') }, { tokenDelayMs: 30 });
    try {
      const headers = principal(freshKeyId());
      const client = new OpenAI({
        baseURL: `${stack.url}/v1`,
        apiKey: 'unused',
        maxRetries: 0,
        defaultHeaders: headers,
      });
      const conversation = await client.conversations.create({});
      const reply = await fetch(`${stack.url}/v1/responses`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          input: 'a reply long enough to be interrupted',
          conversation: conversation.id,
          stream: true,
        }),
      });
      const reader = (reply.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let body = '';
      let deleted = false;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        body += decoder.decode(value, { stream: true });
        if (!deleted && body.includes('response.output_text.delta')) {
          await client.conversations.delete(conversation.id);
          deleted = true;
        }
      }
      expect(deleted).toBe(true);
      const events = sseEvents(body).map((data) => JSON.parse(data) as Record<string, unknown>);
      const last = events.at(-1) as {
        type: string;
        response: { status: string; error: { code: string } };
      };
      expect(last.type).toBe('response.failed');
      expect(last.response.error.code).toBe('conversation_not_found');
      const usage = /^: usage (\{.*\})$/m.exec(body)?.[1];
      expect(JSON.parse(usage ?? '{}').output_tokens).toBeGreaterThan(0);
    } finally {
      await stack.close();
    }
  });
});
