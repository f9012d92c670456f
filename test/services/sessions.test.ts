/**
 * Sessions over real HTTP against a real Redis, on a single node and on the 3-master cluster
 * (and the in-memory fallback of the local stack): history across turns, isolation between
 * keys, atomic concurrent appends, idle TTL expiry.
 */
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

interface SessionBody {
  id: string;
  object: string;
  model: string;
  created_at: number;
  metadata: Record<string, string>;
  system_bytes: number;
  system?: string | null;
  messages?: { role: string; content: string; created_at: number }[];
}

const stores = [
  { name: 'Redis, single node', options: () => ({ redisUrl: inject('redisUrl') }) },
  {
    name: 'Redis, 3-master cluster',
    options: () => ({ redisClusterNodes: inject('redisClusterNodes') }),
  },
  // The local stack's fallback when no redis-server is installed: same contract.
  { name: 'the in-memory store (no Redis)', options: () => ({}) },
];

describe.each(stores)('sessions on $name', ({ options }) => {
  let stack: Stack;
  const v1 = (path: string) => `${stack.url}/v1${path}`;

  beforeAll(async () => {
    stack = await startStack(options());
  });
  afterAll(() => stack.close());

  /** The model a session was made with, as the session manager reads it back. */
  async function createSessionModel(keyId: string, id: string): Promise<string | undefined> {
    const read = await call(v1(`/sessions/${id}`), { headers: principal(keyId) });
    return (read.body as { model?: string }).model;
  }

  async function createSession(keyId: string, body: object = {}): Promise<SessionBody> {
    const res = await call(v1('/sessions'), { headers: principal(keyId), body });
    expect(res.status).toBe(201);
    return res.body as SessionBody;
  }

  it('creates a session with defaults and returns it in the documented shape', async () => {
    const keyId = freshKeyId();
    const session = await createSession(keyId, {
      model: 'stub-echo-llama3',
      system: 'You are terse.',
      metadata: { team: 'search' },
    });
    expect(session).toMatchObject({
      object: 'session',
      model: 'stub-echo-llama3',
      metadata: { team: 'search' },
      system_bytes: 'You are terse.'.length,
    });
    // The reply gives the prompt's size, not the prompt: it stays small whatever the prompt.
    expect(session).not.toHaveProperty('system');
    expect(session.id).toMatch(/^sess_[0-9A-Za-z]{30}$/);
    expect(Math.abs(session.created_at - Date.now() / 1000)).toBeLessThan(60);

    const defaulted = await createSession(keyId);
    expect(defaulted.model).toBe('stub-echo-chatml');
    expect(defaulted.metadata).toEqual({});
  });

  it('keeps the history across turns and shows it to the model', async () => {
    const keyId = freshKeyId();
    const { id } = await createSession(keyId, { system: 'sys prompt' });
    const first = await call(v1(`/sessions/${id}/messages`), {
      headers: principal(keyId),
      body: { content: 'my name is Ada' },
    });
    expect(first.status).toBe(200);
    // The turn names no model: the gateway prices it at this one (docs/api.md#budgets).
    expect(first.headers.get('x-axon-model')).toBe((await createSessionModel(keyId, id)) ?? '');
    expect(first.body).toMatchObject({
      message: { role: 'assistant', content: '[stub] You said: my name is Ada' },
      usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) },
    });
    const second = await call(v1(`/sessions/${id}/messages`), {
      headers: principal(keyId),
      body: { content: 'what is my name?' },
    });
    const firstUsage = (first.body as { usage: { prompt_tokens: number } }).usage;
    const secondUsage = (second.body as { usage: { prompt_tokens: number } }).usage;
    // The second prompt carries the first turn too.
    expect(secondUsage.prompt_tokens).toBeGreaterThan(firstUsage.prompt_tokens + 10);

    const read = await call(v1(`/sessions/${id}`), { headers: principal(keyId) });
    expect(read.status).toBe(200);
    const messages = (read.body as SessionBody).messages ?? [];
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'my name is Ada'],
      ['assistant', '[stub] You said: my name is Ada'],
      ['user', 'what is my name?'],
      ['assistant', '[stub] You said: what is my name?'],
    ]);
    expect((read.body as SessionBody).system).toBe('sys prompt');
  });

  it('streams a turn and stores it once the stream completes', async () => {
    const keyId = freshKeyId();
    const { id } = await createSession(keyId);
    const res = await fetch(v1(`/sessions/${id}/messages`), {
      method: 'POST',
      headers: { ...principal(keyId), 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'streamed turn', stream: true }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-axon-model')).toBe((await createSessionModel(keyId, id)) ?? '');
    const body = await res.text();
    const events = sseEvents(body);
    expect(events.at(-1)).toBe('[DONE]');
    // The comment line the gateway settles the token bucket from; SSE clients skip it.
    const usage = /^: usage (\{.*\})$/m.exec(body)?.[1];
    expect(JSON.parse(usage ?? 'null')).toMatchObject({ total_tokens: expect.any(Number) });
    const text = events
      .slice(0, -1)
      .map((e) => JSON.parse(e).choices[0]?.delta?.content ?? '')
      .join('');
    expect(text).toBe('[stub] You said: streamed turn');
    const read = await call(v1(`/sessions/${id}`), { headers: principal(keyId) });
    expect((read.body as SessionBody).messages?.map((m) => m.content)).toEqual([
      'streamed turn',
      '[stub] You said: streamed turn',
    ]);
  });

  it('answers 404 to every other key, as if the session did not exist', async () => {
    const owner = freshKeyId();
    const other = freshKeyId();
    const { id } = await createSession(owner);
    const attempts = [
      call(v1(`/sessions/${id}`), { headers: principal(other) }),
      call(v1(`/sessions/${id}/messages`), { headers: principal(other), body: { content: 'x' } }),
      call(v1(`/sessions/${id}`), { method: 'DELETE', headers: principal(other) }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(404);
      expect(envelope(res.body)).toMatchObject({
        type: 'not_found_error',
        code: 'session_not_found',
      });
    }
    const list = await call(v1('/sessions'), { headers: principal(other) });
    expect((list.body as { data: unknown[] }).data).toEqual([]);
    // The owner still has it, untouched.
    const mine = await call(v1(`/sessions/${id}`), { headers: principal(owner) });
    expect(mine.status).toBe(200);
    expect((mine.body as SessionBody).messages).toEqual([]);
  });

  it('loses no turn when many messages race on one session', async () => {
    const keyId = freshKeyId();
    const { id } = await createSession(keyId);
    const turns = Array.from({ length: 24 }, (_, i) => `concurrent turn ${i}`);
    const replies = await Promise.all(
      turns.map((content) =>
        call(v1(`/sessions/${id}/messages`), { headers: principal(keyId), body: { content } }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(turns.map(() => 200));
    const read = await call(v1(`/sessions/${id}`), { headers: principal(keyId) });
    const messages = (read.body as SessionBody).messages ?? [];
    expect(messages).toHaveLength(turns.length * 2);
    // Every turn is there exactly once, each user message directly followed by its answer.
    const users = messages.filter((_, i) => i % 2 === 0).map((m) => m.content);
    expect([...users].sort()).toEqual([...turns].sort());
    for (let i = 0; i < messages.length; i += 2) {
      expect(messages[i]?.role).toBe('user');
      expect(messages[i + 1]).toMatchObject({
        role: 'assistant',
        content: `[stub] You said: ${messages[i]?.content}`,
      });
    }
  });

  it('lists sessions newest first with limit/after pagination and deletes them', async () => {
    const keyId = freshKeyId();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await createSession(keyId, { metadata: { n: String(i) } })).id);
      await new Promise((resolve) => setTimeout(resolve, 2)); // distinct creation milliseconds
    }
    const newestFirst = [...created].reverse();
    const page1 = await call(v1('/sessions?limit=2'), { headers: principal(keyId) });
    expect(page1.body).toMatchObject({ object: 'list', has_more: true });
    const ids1 = (page1.body as { data: SessionBody[] }).data.map((s) => s.id);
    expect(ids1).toEqual(newestFirst.slice(0, 2));
    const page2 = await call(v1(`/sessions?limit=2&after=${ids1[1]}`), {
      headers: principal(keyId),
    });
    expect((page2.body as { data: SessionBody[] }).data.map((s) => s.id)).toEqual(
      newestFirst.slice(2, 4),
    );

    const removed = await call(v1(`/sessions/${newestFirst[4]}`), {
      method: 'DELETE',
      headers: principal(keyId),
    });
    expect(removed.status).toBe(204);
    const again = await call(v1(`/sessions/${newestFirst[4]}`), { headers: principal(keyId) });
    expect(again.status).toBe(404);
    const page3 = await call(v1(`/sessions?limit=2&after=${newestFirst[3]}`), {
      headers: principal(keyId),
    });
    expect(page3.body).toMatchObject({ data: [], has_more: false });
  });
});

describe.each(stores.filter((s) => !s.name.includes('cluster')))(
  'session idle TTL on $name',
  ({ options }) => {
    let stack: Stack;

    beforeAll(async () => {
      stack = await startStack({ ...options(), sessionTtlSeconds: 1 });
    });
    afterAll(() => stack.close());

    it('expires an idle session and drops it from the list', async () => {
      const keyId = freshKeyId();
      const created = await call(`${stack.url}/v1/sessions`, {
        headers: principal(keyId),
        body: {},
      });
      const { id } = created.body as SessionBody;
      const turn = await call(`${stack.url}/v1/sessions/${id}/messages`, {
        headers: principal(keyId),
        body: { content: 'remember me' },
      });
      expect(turn.status).toBe(200);

      // A fixed wait, not polling: every read is activity that renews the idle TTL, so a poll
      // would keep the session alive for ever.
      await new Promise((resolve) => setTimeout(resolve, 1_500));

      const read = await call(`${stack.url}/v1/sessions/${id}`, { headers: principal(keyId) });
      expect(read.status).toBe(404);
      const message = await call(`${stack.url}/v1/sessions/${id}/messages`, {
        headers: principal(keyId),
        body: { content: 'still there?' },
      });
      expect(message.status).toBe(404);
      const list = await call(`${stack.url}/v1/sessions`, { headers: principal(keyId) });
      expect((list.body as { data: unknown[] }).data).toEqual([]);
    });
  },
);

describe('prompts sent to Triton', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      redisUrl: inject('redisUrl'),
      models: { default: { contextWindow: 256, defaultMaxTokens: 32 } },
    });
  });
  afterAll(() => stack.close());

  it('uses each model template with the parameters the caller set', async () => {
    const keyId = freshKeyId();
    await call(`${stack.url}/v1/chat/completions`, {
      headers: principal(keyId),
      body: {
        model: 'stub-echo-llama3',
        messages: [
          { role: 'developer', content: 'rules' },
          { role: 'user', content: [{ type: 'text', text: 'hi' }] },
        ],
        temperature: 0.5,
        top_p: 0.9,
        max_tokens: 7,
      },
    });
    expect(stack.stub.lastGenerate()).toEqual({
      model: 'stub-echo-llama3',
      body: {
        text_input:
          '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nrules<|eot_id|>' +
          '<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>' +
          '<|start_header_id|>assistant<|end_header_id|>\n\n',
        parameters: { max_tokens: 7, stream: false, temperature: 0.5, top_p: 0.9 },
      },
    });
  });

  it("trims a session's oldest turns to the context window and keeps the system prompt", async () => {
    const keyId = freshKeyId();
    const created = await call(`${stack.url}/v1/sessions`, {
      headers: principal(keyId),
      body: { model: 'stub-echo-chatml', system: 'SYSTEM-PROMPT' },
    });
    const { id } = created.body as SessionBody;
    let usage = { prompt_tokens: 0 };
    for (let i = 0; i < 8; i++) {
      const res = await call(`${stack.url}/v1/sessions/${id}/messages`, {
        headers: principal(keyId),
        body: { content: `turn-${i} ${'filler '.repeat(15)}` },
      });
      expect(res.status).toBe(200);
      usage = (res.body as { usage: typeof usage }).usage;
    }
    const prompt = String(stack.stub.lastGenerate()?.body.text_input);
    expect(prompt.startsWith('<|im_start|>system\nSYSTEM-PROMPT<|im_end|>\n')).toBe(true);
    expect(prompt).toContain('turn-7');
    expect(prompt).not.toContain('turn-0');
    expect(usage.prompt_tokens).toBeLessThanOrEqual(256 - 32);
    // The stored history is complete; only the prompt was trimmed.
    const read = await call(`${stack.url}/v1/sessions/${id}`, { headers: principal(keyId) });
    expect((read.body as SessionBody).messages).toHaveLength(16);
  });
});
