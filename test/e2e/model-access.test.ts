/**
 * Model access as a user meets it (docs/api.md#model-access): `npm start` with plans that list
 * their models, keys made with `npm run keys -- create --models`, and the official `openai` SDK
 * against the gateway. A model the key may not use is 404 `model_not_found` on every route that
 * names one, word for word what a model that does not exist gets, and is not listed; a model it
 * may use works. Everything is real except Triton (the labelled stand-in serves stub-echo-chatml
 * and stub-echo-llama3).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#authorizer/key-store';
import { poll } from '../support/poll.ts';
import { RedisServer } from '../support/redis.ts';
import { type RunningStack, startStack } from './local-stack.ts';

const CHATML = 'stub-echo-chatml';
const LLAMA = 'stub-echo-llama3';

const config = {
  plans: {
    open: { requestsPerMinute: 6000, burst: 500 },
    // A plan-level list: its keys may call stub-echo-chatml only, unless a key says otherwise.
    chatml: { requestsPerMinute: 6000, burst: 500, models: [CHATML] },
  },
  rateLimiter: { failureMode: 'closed', redisTimeoutMs: 500 },
  auth: { cacheTtlSeconds: 1, failuresPerMinutePerAddress: 1000 },
};

/** OpenAI's answer for a model the key cannot see. */
const notFound = (model: string) => ({
  error: {
    message: `The model \`${model}\` does not exist or you do not have access to it.`,
    type: 'invalid_request_error',
    code: 'model_not_found',
  },
});

describe('model access through npm start', () => {
  let redis: RedisServer;
  let stack: RunningStack;

  const newKey = async (...args: string[]) => {
    const created = await stack.keys('create', ...args);
    return { key: created.key as string, keyId: created.keyId as string };
  };
  const client = (apiKey: string) =>
    new OpenAI({ baseURL: `${stack.url}/v1`, apiKey, maxRetries: 0 });
  /** The sessions API has no SDK: plain fetch, JSON in and out. */
  const raw = async (key: string, path: string, body?: unknown) => {
    const reply = await fetch(`${stack.url}/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
  };
  /** The error an SDK call raised, as status and body. */
  const refusal = async (call: () => Promise<unknown>) => {
    const error = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const { status, error: body } = error as InstanceType<typeof OpenAI.APIError>;
    return { status, body: { error: body } };
  };

  /**
   * Every route that names a model, for `model`, as the SDK sends it; a chain starts from a
   * response made with `usable`, a model the key may use.
   */
  function routes(key: string, model: string, usable = model) {
    const openai = client(key);
    const chat = { model, messages: [{ role: 'user' as const, content: 'hi' }] };
    return {
      'chat completions': () => openai.chat.completions.create(chat),
      'chat completions, streamed': async () => {
        const stream = await openai.chat.completions.create({ ...chat, stream: true });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        return text;
      },
      responses: () => openai.responses.create({ model, input: 'hi' }),
      'responses, streamed': async () => {
        const stream = await openai.responses.create({ model, input: 'hi', stream: true });
        let text = '';
        for await (const event of stream) {
          if (event.type === 'response.output_text.delta') text += event.delta;
        }
        return text;
      },
      'responses, chained by previous_response_id': async () => {
        const first = await openai.responses.create({ model: usable, input: 'my name is Ada' });
        return openai.responses.create({ model, input: 'who?', previous_response_id: first.id });
      },
      'conversations and responses': async () => {
        const conversation = await openai.conversations.create();
        return openai.responses.create({ model, input: 'hi', conversation: conversation.id });
      },
      'model retrieve': () => openai.models.retrieve(model),
    };
  }

  /**
   * Asserts `key` gets the 404 for `model` on every route, exactly as for a made-up model
   * (`usable` is a model it may use, to start chains and conversations).
   */
  async function refusedEverywhere(key: string, model: string, usable: string) {
    const allowed = routes(key, model, usable);
    const unknown = routes(key, 'no-such-model', usable);
    for (const [name, call] of Object.entries(allowed)) {
      expect(await refusal(call), name).toEqual({ status: 404, body: notFound(model) });
      const made = await refusal(unknown[name as keyof typeof unknown]);
      expect(made, name).toEqual({ status: 404, body: notFound('no-such-model') });
    }
    const session = await raw(key, '/sessions', { model });
    expect(session).toEqual({ status: 404, body: notFound(model) });
    expect(await raw(key, '/sessions', { model: 'no-such-model' })).toEqual({
      status: 404,
      body: notFound('no-such-model'),
    });
    const listed = (await client(key).models.list()).data.map((m) => m.id);
    expect(listed).not.toContain(model);
  }

  /** Asserts `key` may use `model` on every route. */
  async function servedEverywhere(key: string, model: string) {
    for (const [name, call] of Object.entries(routes(key, model))) {
      await expect(call(), name).resolves.toBeDefined();
    }
    expect(
      (
        await client(key).chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'hello' }],
        })
      ).choices[0]?.message.content,
    ).toBe('[stub] You said: hello');
    const session = await raw(key, '/sessions', { model });
    expect(session.status).toBe(201);
    const turn = await raw(key, `/sessions/${session.body.id}/messages`, { content: 'hello' });
    expect(turn.status).toBe(200);
    expect((await client(key).models.list()).data.map((m) => m.id)).toContain(model);
  }

  beforeAll(async () => {
    redis = await RedisServer.start();
    stack = await startStack(config, { REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('serves every model to a key whose plan and record list none', async () => {
    const { key } = await newKey('--plan', 'open');
    expect((await client(key).models.list()).data.map((m) => m.id).sort()).toEqual([CHATML, LLAMA]);
    await servedEverywhere(key, LLAMA);
    await servedEverywhere(key, CHATML);
  });

  it('holds a key of a plan that lists its models to that list', async () => {
    const { key } = await newKey('--plan', 'chatml');
    expect((await client(key).models.list()).data.map((m) => m.id)).toEqual([CHATML]);
    await refusedEverywhere(key, LLAMA, CHATML);
    await servedEverywhere(key, CHATML);
    // A session or conversation that names no model gets the key's own, never another.
    expect((await raw(key, '/sessions', {})).body.model).toBe(CHATML);
  });

  it('lets a key’s own --models replace its plan’s list', async () => {
    const wider = await newKey('--plan', 'chatml', '--models', LLAMA);
    expect((await client(wider.key).models.list()).data.map((m) => m.id)).toEqual([LLAMA]);
    await servedEverywhere(wider.key, LLAMA);
    await refusedEverywhere(wider.key, CHATML, LLAMA);

    const narrower = await newKey('--plan', 'open', '--models', CHATML);
    await refusedEverywhere(narrower.key, LLAMA, CHATML);
    await servedEverywhere(narrower.key, CHATML);
  });

  it('refuses the next turn of a session whose model the key has lost', async () => {
    const { key, keyId } = await newKey('--plan', 'open');
    const session = await raw(key, '/sessions', { model: LLAMA });
    const id = session.body.id as string;
    expect((await raw(key, `/sessions/${id}/messages`, { content: 'one' })).status).toBe(200);
    const conversation = await client(key).conversations.create();

    // No CLI verb edits a key yet: the operator's change is written to the record directly.
    const state = JSON.parse(readFileSync(join(stack.stateDir, 'local.json'), 'utf8')) as {
      dynamodbEndpoint: string;
      keysTable: string;
    };
    const db = createDocumentClient({ endpoint: state.dynamodbEndpoint });
    try {
      const { Items } = await db.send(new ScanCommand({ TableName: state.keysTable }));
      const keyHash = Items?.find((item) => item.keyId === keyId)?.keyHash as string;
      await db.send(
        new UpdateCommand({
          TableName: state.keysTable,
          Key: { keyHash },
          UpdateExpression: 'SET models = :models',
          ExpressionAttributeValues: { ':models': [CHATML] },
        }),
      );
    } finally {
      db.destroy();
    }

    // Within auth.cacheTtlSeconds (1 s here) the gateways hold the key to its new list.
    const listed = await poll(
      async () => (await client(key).models.list()).data.map((m) => m.id),
      (ids) => !ids.includes(LLAMA),
      10_000,
    );
    expect(listed).toEqual([CHATML]);
    const turn = await raw(key, `/sessions/${id}/messages`, { content: 'two' });
    expect(turn).toEqual({ status: 404, body: notFound(LLAMA) });
    const streamed = await raw(key, `/sessions/${id}/messages`, { content: 'two', stream: true });
    expect(streamed).toEqual({ status: 404, body: notFound(LLAMA) });
    expect(
      await refusal(() =>
        client(key).responses.create({ model: LLAMA, input: 'x', conversation: conversation.id }),
      ),
    ).toEqual({ status: 404, body: notFound(LLAMA) });
    // Nothing of the refused turns was stored; the session is still the key's to read.
    const kept = await raw(key, `/sessions/${id}`);
    expect((kept.body.messages as unknown[]).length).toBe(2);
  });
});
