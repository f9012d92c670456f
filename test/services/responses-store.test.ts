/**
 * Stored responses share the key's byte budget with its sessions (one store, real Redis, and the
 * in-memory store of a dev stack): a full
 * budget never fails a create, the key's oldest stored responses give way first, sessions push
 * responses out rather than the reverse, and stored responses expire with the session TTL.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, envelope, freshKeyId, principal, type Stack, startStack } from './support.ts';

const MODEL = 'stub-echo-chatml';
const BUDGET = 12_000;

// The same contract over Redis, a Redis Cluster and the in-memory store of a dev stack without Redis.
describe.each([
  { store: 'Redis', redis: () => ({ redisUrl: inject('redisUrl') }) },
  { store: 'Redis Cluster', redis: () => ({ redisClusterNodes: inject('redisClusterNodes') }) },
  { store: 'memory', redis: () => ({}) },
])('stored responses within the key budget ($store)', ({ redis }) => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      ...redis(),
      sessionQuotas: { small: { maxStoredBytes: BUDGET } },
    });
  });
  afterAll(() => stack.close());

  const create = async (headers: Record<string, string>, input: string) => {
    const reply = await call(`${stack.url}/v1/responses`, {
      headers,
      body: { model: MODEL, input },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return (reply.body as { id: string }).id;
  };
  const stored = async (headers: Record<string, string>, id: string) =>
    (await call(`${stack.url}/v1/responses/${id}`, { headers })).status === 200;

  it('keeps creating when the budget is full, dropping the oldest stored responses first', async () => {
    const headers = principal(freshKeyId(), 'small');
    const ids: string[] = [];
    for (let i = 0; i < 12; i++)
      ids.push(await create(headers, `message number ${i} ${'x'.repeat(400)}`));
    const kept = [];
    for (const id of ids) kept.push(await stored(headers, id));
    // Some were dropped to make room, and exactly the oldest ones: a run of false, then true.
    expect(kept.filter(Boolean).length).toBeGreaterThan(0);
    expect(kept.filter(Boolean).length).toBeLessThan(ids.length);
    expect(kept).toEqual([...kept].sort((a, b) => Number(a) - Number(b)));
    expect(kept.at(-1)).toBe(true);
  });

  it('lets a session push stored responses out instead of failing on them', async () => {
    const headers = principal(freshKeyId(), 'small');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await create(headers, `filler ${i} ${'y'.repeat(400)}`));
    const session = await call(`${stack.url}/v1/sessions`, {
      headers,
      body: { model: MODEL, system: 'z'.repeat(6_000) },
    });
    expect(session.status, JSON.stringify(session.body)).toBe(201);
    expect(await stored(headers, ids[0] as string)).toBe(false);
  });

  it('lets a session turn push stored responses out when they fill the budget', async () => {
    const headers = principal(freshKeyId(), 'small');
    const session = await call(`${stack.url}/v1/sessions`, { headers, body: { model: MODEL } });
    const sessionId = (session.body as { id: string }).id;
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await create(headers, `filler ${i} ${'y'.repeat(400)}`));
    const turn = await call(`${stack.url}/v1/sessions/${sessionId}/messages`, {
      headers,
      body: { content: 'q'.repeat(3_000) },
    });
    expect(turn.status, JSON.stringify(turn.body)).toBe(200);
    expect(await stored(headers, ids[0] as string)).toBe(false);
    expect(await stored(headers, ids.at(-1) as string)).toBe(true);
  });

  it('still answers, unstored, when sessions leave no room at all', async () => {
    const headers = principal(freshKeyId(), 'small');
    for (let i = 0; i < 2; i++) {
      const session = await call(`${stack.url}/v1/sessions`, {
        headers,
        body: { model: MODEL, system: 's'.repeat(5_900) },
      });
      expect(session.status).toBe(201);
    }
    const id = await create(headers, 'no room for me');
    const reply = await call(`${stack.url}/v1/responses/${id}`, { headers });
    expect(envelope(reply.body).code).toBe('response_not_found');
    const chained = await call(`${stack.url}/v1/responses`, {
      headers,
      body: { model: MODEL, input: 'x', previous_response_id: id },
    });
    expect(chained.status).toBe(404);
  });

  it('gives back the bytes of a deleted response', async () => {
    const headers = principal(freshKeyId(), 'small');
    const first = await create(headers, `kept ${'k'.repeat(400)}`);
    const deleted = await create(headers, `deleted ${'d'.repeat(400)}`);
    expect(
      (await call(`${stack.url}/v1/responses/${deleted}`, { method: 'DELETE', headers })).status,
    ).toBe(200);
    // With the deleted response's bytes back, a session that needs them pushes nothing out.
    const session = await call(`${stack.url}/v1/sessions`, {
      headers,
      body: { model: MODEL, system: 'z'.repeat(BUDGET - 4_000) },
    });
    expect(session.status).toBe(201);
    expect(await stored(headers, first)).toBe(true);
  });
});

describe('stored responses and the session TTL', () => {
  it('expires a stored response once the session TTL has passed', async () => {
    const stack = await startStack({ redisUrl: inject('redisUrl'), sessionTtlSeconds: 1 });
    try {
      const headers = principal(freshKeyId());
      const created = await call(`${stack.url}/v1/responses`, {
        headers,
        body: { model: MODEL, input: 'short-lived' },
      });
      const id = (created.body as { id: string }).id;
      expect((await call(`${stack.url}/v1/responses/${id}`, { headers })).status).toBe(200);
      const deadline = Date.now() + 10_000;
      let status = 200;
      while (status === 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = (await call(`${stack.url}/v1/responses/${id}`, { headers })).status;
      }
      expect(status).toBe(404);
    } finally {
      await stack.close();
    }
  });
});
