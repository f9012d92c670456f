/**
 * Session quotas per plan, over real HTTP on a single Redis node, the 3-master cluster and the
 * in-memory store: a write over a quota answers 400 with the quota's own code and stores
 * nothing; deletes and expiry give room back; a plan the service was not told about gets the
 * defaults; the create reply and the listing never carry a system prompt.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig, sessionQuotasEnv } from '#shared/config';
import {
  DEFAULT_SESSION_QUOTAS,
  parseSessionQuotas,
} from '../../services/session-manager/src/core/session-quotas.ts';
import { SessionStore } from '../../services/session-manager/src/core/session-store.ts';
import { call, envelope, freshKeyId, principal, type Stack, startStack } from './support.ts';

const QUOTAS = {
  // Small numbers so each limit is reached in a few requests.
  tiny: {
    maxSessions: 3,
    maxSessionMessages: 4,
    maxSessionBytes: 2_000,
    maxSystemPromptBytes: 500,
    maxStoredBytes: 5_000,
  },
  budget: { maxSessionBytes: 2_000, maxSystemPromptBytes: 1_000, maxStoredBytes: 2_500 },
};

interface SessionBody {
  id: string;
  system_bytes: number;
  system?: string | null;
  messages?: { role: string; content: string }[];
}

const stores = [
  { name: 'Redis, single node', options: () => ({ redisUrl: inject('redisUrl') }) },
  {
    name: 'Redis, 3-master cluster',
    options: () => ({ redisClusterNodes: inject('redisClusterNodes') }),
  },
  { name: 'the in-memory store (no Redis)', options: () => ({}) },
];

describe.each(stores)('session quotas on $name', ({ options }) => {
  let stack: Stack;
  const v1 = (path: string) => `${stack.url}/v1${path}`;

  beforeAll(async () => {
    stack = await startStack({ ...options(), sessionQuotas: QUOTAS });
  });
  afterAll(() => stack.close());

  const create = (keyId: string, body: object = {}, plan = 'tiny') =>
    call(v1('/sessions'), { headers: principal(keyId, plan), body });
  const list = async (keyId: string, plan = 'tiny') =>
    (
      (await call(v1('/sessions?limit=100'), { headers: principal(keyId, plan) })).body as {
        data: SessionBody[];
      }
    ).data;
  const turn = (keyId: string, id: string, content: string, plan = 'tiny') =>
    call(v1(`/sessions/${id}/messages`), { headers: principal(keyId, plan), body: { content } });
  const read = async (keyId: string, id: string, plan = 'tiny') =>
    (await call(v1(`/sessions/${id}`), { headers: principal(keyId, plan) })).body as SessionBody;

  it('refuses a system prompt over the plan limit with system_prompt_too_large and stores nothing', async () => {
    const keyId = freshKeyId();
    const res = await create(keyId, { system: 'x'.repeat(501) });
    expect(res.status).toBe(400);
    expect(envelope(res.body)).toMatchObject({
      type: 'invalid_request_error',
      code: 'system_prompt_too_large',
    });
    expect(envelope(res.body).message).toContain('500 bytes');
    expect(await list(keyId)).toEqual([]);
  });

  it('measures the system prompt in UTF-8 bytes, not characters', async () => {
    const keyId = freshKeyId();
    expect((await create(keyId, { system: 'é'.repeat(251) })).status).toBe(400);
    const fits = await create(keyId, { system: 'é'.repeat(250) });
    expect(fits.status).toBe(201);
    expect((fits.body as SessionBody).system_bytes).toBe(500);
  });

  it('refuses a session past the plan maximum with session_limit_exceeded until one is deleted', async () => {
    const keyId = freshKeyId();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await create(keyId);
      expect(res.status).toBe(201);
      ids.push((res.body as SessionBody).id);
    }
    const over = await create(keyId);
    expect(over.status).toBe(400);
    expect(envelope(over.body).code).toBe('session_limit_exceeded');
    expect(await list(keyId)).toHaveLength(3);

    const deleted = await call(v1(`/sessions/${ids[0]}`), {
      method: 'DELETE',
      headers: principal(keyId, 'tiny'),
    });
    expect(deleted.status).toBe(204);
    expect((await create(keyId)).status).toBe(201);
  });

  it('refuses a turn past the session message limit with session_too_large and keeps the history as it was', async () => {
    const keyId = freshKeyId();
    const { id } = (await create(keyId)).body as SessionBody;
    expect((await turn(keyId, id, 'one')).status).toBe(200);
    expect((await turn(keyId, id, 'two')).status).toBe(200);
    const over = await turn(keyId, id, 'three');
    expect(over.status).toBe(400);
    expect(envelope(over.body).code).toBe('session_too_large');
    expect((await read(keyId, id)).messages?.map((m) => m.content)).toEqual([
      'one',
      '[stub] You said: one',
      'two',
      '[stub] You said: two',
    ]);
  });

  it('refuses a turn past the session byte limit with session_too_large and stores nothing', async () => {
    const keyId = freshKeyId();
    const { id } = (await create(keyId)).body as SessionBody;
    const over = await turn(keyId, id, 'y'.repeat(1_500));
    expect(over.status).toBe(400);
    expect(envelope(over.body).code).toBe('session_too_large');
    expect((await read(keyId, id)).messages).toEqual([]);
  });

  it("refuses writes past the key's byte budget with storage_quota_exceeded until a delete gives bytes back", async () => {
    const keyId = freshKeyId();
    const system = 'z'.repeat(1_000);
    const first = await create(keyId, { system }, 'budget');
    const second = await create(keyId, { system }, 'budget');
    expect([first.status, second.status]).toEqual([201, 201]);
    const over = await create(keyId, { system }, 'budget');
    expect(over.status).toBe(400);
    expect(envelope(over.body).code).toBe('storage_quota_exceeded');
    expect(await list(keyId, 'budget')).toHaveLength(2);

    // A turn that would pass the budget is refused too, and stores nothing.
    const { id } = second.body as SessionBody;
    const bigTurn = await turn(keyId, id, 'w'.repeat(600), 'budget');
    expect(bigTurn.status).toBe(400);
    expect(envelope(bigTurn.body).code).toBe('storage_quota_exceeded');
    expect((await read(keyId, id, 'budget')).messages).toEqual([]);

    const { id: firstId } = first.body as SessionBody;
    await call(v1(`/sessions/${firstId}`), {
      method: 'DELETE',
      headers: principal(keyId, 'budget'),
    });
    expect((await create(keyId, { system }, 'budget')).status).toBe(201);
  });

  it('gives a plan it was not told about the default quotas', async () => {
    const keyId = freshKeyId();
    const limit = DEFAULT_SESSION_QUOTAS.maxSystemPromptBytes;
    const over = await create(keyId, { system: 'q'.repeat(limit + 1) }, 'mystery');
    expect(envelope(over.body).code).toBe('system_prompt_too_large');
    expect((await create(keyId, { system: 'q'.repeat(limit) }, 'mystery')).status).toBe(201);
  });

  it('answers create and list with the system prompt size, and only a read returns the prompt', async () => {
    const keyId = freshKeyId();
    const created = await create(keyId, { system: 's'.repeat(400) });
    expect(created.body).toMatchObject({ system_bytes: 400 });
    expect(created.body).not.toHaveProperty('system');
    const [listed] = await list(keyId);
    expect(listed).toMatchObject({ system_bytes: 400 });
    expect(listed).not.toHaveProperty('system');
    expect((await read(keyId, (created.body as SessionBody).id)).system).toBe('s'.repeat(400));
  });
});

describe.each(stores)('session quotas and expiry on $name', ({ options }) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ...options(), sessionQuotas: QUOTAS, sessionTtlSeconds: 1 });
  });
  afterAll(() => stack.close());

  it('stops counting a session once it has expired', async () => {
    const keyId = freshKeyId();
    const create = () =>
      call(`${stack.url}/v1/sessions`, { headers: principal(keyId, 'tiny'), body: {} });
    for (let i = 0; i < 3; i++) expect((await create()).status).toBe(201);
    expect((await create()).status).toBe(400);
    // Polls: within a few seconds of the idle TTL the old sessions no longer count.
    const deadline = Date.now() + 10_000;
    let status = 400;
    while (status !== 201 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await create()).status;
    }
    expect(status).toBe(201);
  });
});

describe('the Redis session store at a quota', () => {
  it('accepts a resend of a stored turn although the session is now full', async () => {
    const { Redis } = await import('ioredis');
    const redis = new Redis(inject('redisUrl'));
    try {
      const store = new SessionStore(redis, { ttlSeconds: 60 });
      const quotas = { ...DEFAULT_SESSION_QUOTAS, maxSessionMessages: 2 };
      const keyId = freshKeyId();
      const { id } = await store.create(keyId, { model: 'm' }, quotas);
      const pair = [
        { role: 'user' as const, content: 'hi', createdAt: 1 },
        { role: 'assistant' as const, content: 'hello', createdAt: 2 },
      ];
      expect(await store.append(keyId, id, pair, quotas, 'turn-1')).toBe(true);
      // The same turn delivered again (a resend after a lost reply) is a no-op, not a 400.
      expect(await store.append(keyId, id, pair, quotas, 'turn-1')).toBe(true);
      await expect(store.append(keyId, id, pair, quotas, 'turn-2')).rejects.toMatchObject({
        code: 'session_too_large',
      });
      expect((await store.get(keyId, id))?.messages).toHaveLength(2);
    } finally {
      redis.disconnect();
    }
  });
});

describe('session quota configuration', () => {
  const plans = { free: { requestsPerMinute: 60, burst: 10 } };

  it("hands every plan's quotas, defaults filled in, to the session manager as JSON", () => {
    const config = parseConfig({
      plans: { ...plans, pro: { requestsPerMinute: 600, burst: 100, maxSessions: 1000 } },
    });
    const byPlan = parseSessionQuotas(sessionQuotasEnv(config));
    expect(byPlan.free).toEqual(DEFAULT_SESSION_QUOTAS);
    expect(byPlan.pro).toEqual({ ...DEFAULT_SESSION_QUOTAS, maxSessions: 1000 });
  });

  it.each([
    [{ maxSessions: 0 }, 'plans.free.maxSessions must be a whole number from 1 to 100000, got 0'],
    [{ maxStoredBytes: 1.5 }, 'plans.free.maxStoredBytes must be a whole number'],
    [
      { maxSystemPromptBytes: 300_000 },
      'maxSystemPromptBytes <= maxSessionBytes <= maxStoredBytes',
    ],
    [{ maxSessionBytes: 8_000_000 }, 'maxSystemPromptBytes <= maxSessionBytes <= maxStoredBytes'],
    [{ maxSessionz: 5 }, 'plans.free.maxSessionz is not a known field'],
  ])('refuses the plan quota %j with a message naming the field', (bad, message) => {
    expect(() => parseConfig({ plans: { free: { ...plans.free, ...bad } } })).toThrow(message);
  });

  it.each([
    ['not json', 'AXON_SESSION_QUOTAS must be JSON'],
    ['{"free":{"maxSessions":-1}}', 'AXON_SESSION_QUOTAS/free/maxSessions'],
    ['{"free":{"maxSesions":5}}', 'AXON_SESSION_QUOTAS/free'],
  ])('refuses AXON_SESSION_QUOTAS=%s with a message naming the field', (raw, message) => {
    expect(() => parseSessionQuotas(raw)).toThrow(message);
  });
});
