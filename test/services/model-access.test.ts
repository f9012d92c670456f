/**
 * Model access in the session manager (docs/api.md#model-access): the gateway's `x-axon-models`
 * limits what a key lists and calls. A model outside the list answers exactly as a model that does
 * not exist (404 `model_not_found`, one message shape), on every route that names a model, and
 * never counts as demand (it must not wake Triton). Real HTTP, real Redis, the Triton stand-in.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseModelsHeader } from '../../services/session-manager/src/plugins/principal.ts';
import {
  call,
  envelope,
  freshKeyId,
  type JsonReply,
  principal,
  type Stack,
  startStack,
} from './support.ts';

const CHATML = 'stub-echo-chatml';
const LLAMA = 'stub-echo-llama3';
const user = [{ role: 'user', content: 'hi' }];

/** OpenAI's answer for a model the key cannot see, word for word. */
const notFound = (model: string) => ({
  error: {
    message: `The model \`${model}\` does not exist or you do not have access to it.`,
    type: 'invalid_request_error',
    code: 'model_not_found',
  },
});

/** The principal of a key limited to `models` (as the gateway sends it). */
const limitedTo = (keyId: string, ...models: string[]) => ({
  ...principal(keyId),
  'x-axon-models': models.join(','),
});

describe('model access', () => {
  let stack: Stack;
  const v1 = (path: string) => `${stack.url}/v1${path}`;

  /** What the demand counter says for a model (what wakes a sleeping Triton). */
  const demandOf = async (model: string) => {
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`axon_sm_model_demand_total{model="${model}"}`));
    return Number(line?.split(' ')[1]);
  };

  beforeAll(async () => {
    stack = await startStack({
      redisUrl: inject('redisUrl'),
      // Served models get a demand series from 0, so a refused request can be seen not to count.
      models: { models: { [CHATML]: {}, [LLAMA]: {} } },
    });
  });
  afterAll(() => stack.close());

  it('lists only the key’s models, and every model without x-axon-models', async () => {
    const ids = (reply: JsonReply) =>
      (reply.body as { data: { id: string }[] }).data.map((m) => m.id);
    const all = await call(v1('/models'), { headers: principal(freshKeyId()) });
    expect(ids(all).sort()).toEqual([CHATML, LLAMA]);
    const limited = await call(v1('/models'), { headers: limitedTo(freshKeyId(), LLAMA) });
    expect(ids(limited)).toEqual([LLAMA]);
    // A listed name Triton does not serve is not invented.
    const ghost = await call(v1('/models'), { headers: limitedTo(freshKeyId(), 'ghost', CHATML) });
    expect(ids(ghost)).toEqual([CHATML]);
  });

  it('answers a model the key may not use exactly as a model that does not exist', async () => {
    const headers = limitedTo(freshKeyId(), LLAMA);
    const before = await demandOf(CHATML);
    expect(before).toBeGreaterThanOrEqual(0); // the series exists (NaN would compare equal)
    const generated = () => stack.stub.stats().generate + stack.stub.stats().generateStream;
    const generatedBefore = generated();
    const cases: [string, string, object | undefined, string][] = [
      ['GET', '/models/', undefined, ''],
      ['POST', '/chat/completions', { messages: user }, 'model'],
      ['POST', '/chat/completions', { messages: user, stream: true }, 'model'],
      ['POST', '/responses', { input: 'hi' }, 'model'],
      ['POST', '/responses', { input: 'hi', stream: true }, 'model'],
      ['POST', '/sessions', {}, 'model'],
    ];
    for (const [method, path, body, field] of cases) {
      const ask = (model: string) =>
        call(v1(field ? path : `${path}${model}`), {
          method,
          headers,
          ...(body ? { body: { ...body, [field]: model } } : {}),
        });
      const forbidden = await ask(CHATML);
      const unknown = await ask('no-such-model');
      expect(forbidden.status, `${method} ${path}`).toBe(404);
      expect(forbidden.body, `${method} ${path}`).toEqual(notFound(CHATML));
      expect(unknown.status, `${method} ${path}`).toBe(404);
      expect(unknown.body, `${method} ${path}`).toEqual(notFound('no-such-model'));
    }
    // Refused before the catalog: no demand counted, so a refused model never wakes Triton.
    expect(await demandOf(CHATML)).toBe(before);
    expect(generated()).toBe(generatedBefore);
  });

  it('serves the key’s own models on every route', async () => {
    const keyId = freshKeyId();
    const headers = limitedTo(keyId, LLAMA);
    expect((await call(v1(`/models/${LLAMA}`), { headers })).status).toBe(200);
    const chat = await call(v1('/chat/completions'), {
      headers,
      body: { model: LLAMA, messages: user },
    });
    expect(chat.status).toBe(200);
    const response = await call(v1('/responses'), { headers, body: { model: LLAMA, input: 'hi' } });
    expect(response.status).toBe(200);
    const session = await call(v1('/sessions'), { headers, body: {} });
    expect(session.status).toBe(201);
    // A session that names no model gets the key's first READY model, never another.
    expect((session.body as { model: string }).model).toBe(LLAMA);
    const conversation = await call(v1('/conversations'), {
      headers,
      body: { items: [{ role: 'user', content: 'kept' }] },
    });
    expect(conversation.status).toBe(200);
  });

  it('refuses a turn on a session whose model the key can no longer use', async () => {
    const keyId = freshKeyId();
    const created = await call(v1('/sessions'), {
      headers: principal(keyId),
      body: { model: CHATML },
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    const turn = (headers: Record<string, string>) =>
      call(v1(`/sessions/${id}/messages`), { headers, body: { content: 'hello' } });
    const refused = await turn(limitedTo(keyId, LLAMA));
    expect(refused.status).toBe(404);
    expect(refused.body).toEqual(notFound(CHATML));
    const streamed = await call(v1(`/sessions/${id}/messages`), {
      headers: limitedTo(keyId, LLAMA),
      body: { content: 'hello', stream: true },
    });
    expect(streamed.status).toBe(404);
    expect(streamed.body).toEqual(notFound(CHATML));
    // Nothing was stored, and the session itself is still the key's.
    const session = await call(v1(`/sessions/${id}`), { headers: limitedTo(keyId, LLAMA) });
    expect((session.body as { messages: unknown[] }).messages).toEqual([]);
    expect((await turn(limitedTo(keyId, CHATML))).status).toBe(200);
  });

  it('refuses a response in a conversation, or a chained one, for a model the key may not use', async () => {
    const keyId = freshKeyId();
    const headers = limitedTo(keyId, LLAMA);
    const conversation = await call(v1('/conversations'), { headers, body: {} });
    const conversationId = (conversation.body as { id: string }).id;
    const inConversation = await call(v1('/responses'), {
      headers,
      body: { model: CHATML, input: 'hi', conversation: conversationId },
    });
    expect(inConversation.status).toBe(404);
    expect(inConversation.body).toEqual(notFound(CHATML));
    const items = await call(v1(`/conversations/${conversationId}/items`), { headers });
    expect((items.body as { data: unknown[] }).data).toEqual([]);

    // A response made while the key had the model cannot carry it on afterwards.
    const first = await call(v1('/responses'), {
      headers: principal(keyId),
      body: { model: CHATML, input: 'my name is Ada' },
    });
    expect(first.status).toBe(200);
    const chained = await call(v1('/responses'), {
      headers,
      body: {
        model: CHATML,
        input: 'who am I?',
        previous_response_id: (first.body as { id: string }).id,
      },
    });
    expect(chained.status).toBe(404);
    expect(chained.body).toEqual(notFound(CHATML));
  });

  it('refuses items added to a conversation whose model the key can no longer use', async () => {
    const keyId = freshKeyId();
    const conversation = await call(v1('/conversations'), {
      headers: limitedTo(keyId, CHATML),
      body: {},
    });
    const id = (conversation.body as { id: string }).id;
    const added = await call(v1(`/conversations/${id}/items`), {
      headers: limitedTo(keyId, LLAMA),
      body: { items: [{ role: 'user', content: 'x' }] },
    });
    expect(added.status).toBe(404);
    expect(added.body).toEqual(notFound(CHATML));
  });

  it('gives a key none of whose models exists 404 for a session without a model, not another model', async () => {
    const res = await call(v1('/sessions'), {
      headers: limitedTo(freshKeyId(), 'ghost'),
      body: {},
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual(notFound('ghost'));
  });

  it('does not believe x-axon-models without the gateway secret', async () => {
    const res = await call(v1('/models'), {
      headers: { 'x-axon-key-id': freshKeyId(), 'x-axon-models': CHATML },
    });
    expect(res.status).toBe(401);
    expect(envelope(res.body).code).toBe('untrusted_caller');
  });
});

describe('x-axon-models', () => {
  it('is absent for every model, and fails closed when garbled', () => {
    expect(parseModelsHeader(undefined)).toBeUndefined();
    expect(parseModelsHeader('a,b')).toEqual(new Set(['a', 'b']));
    expect(parseModelsHeader(' a , b ')).toEqual(new Set(['a', 'b']));
    // Names of the wrong shape are dropped, never read as "every model".
    expect(parseModelsHeader('')).toEqual(new Set());
    expect(parseModelsHeader('a b,*,,c')).toEqual(new Set(['c']));
  });
});
