/**
 * Who may go where, through both edges over real HTTP (docs/auth.md#admin-keys): the admin routes
 * (`/v1/organization/...`) answer an admin key only (a model key gets 403, no key 401); an admin
 * key anywhere else gets 403 before admission, so it never reaches the session manager or a model
 * key's buckets; admin auth failures spend their own per-address budget.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAdminKey } from '#authorizer/admin';
import { generateKey } from '#authorizer/key-format';
import { parseConfig } from '#shared/config';
import { type RunningEdge, startEdges } from './edges.ts';
import { type Fixture, startFixture } from './support.ts';

const config = parseConfig({
  plans: { free: { requestsPerMinute: 600, burst: 100 } },
  auth: {
    cacheTtlSeconds: 30,
    failuresPerMinutePerAddress: 100,
    adminFailuresPerMinutePerAddress: 3,
  },
});

let f: Fixture;
let edges: RunningEdge[];
let close: () => Promise<void>;
let redis: Redis;
let admin: { key: string; keyId: string };
let model: { key: string; keyId: string };
beforeAll(async () => {
  f = await startFixture({ redisUrl: inject('redisUrl'), config });
  ({ edges, close } = await startEdges(f.gateway));
  redis = new Redis(inject('redisUrl'));
  admin = await createAdminKey(f.table.client, f.table.tableName);
  model = await f.newKey('free');
});
afterAll(async () => {
  redis?.disconnect();
  await close?.();
  await f?.close();
});

let addresses = 0;
async function call(
  url: string,
  method: string,
  path: string,
  key?: string,
  body?: unknown,
  address = `198.51.100.${++addresses % 250}`,
) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(key !== undefined && { authorization: `Bearer ${key}` }),
      'x-forwarded-for': address,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const ADMIN_PATH = '/v1/organization/admin_api_keys';
const forbidden = (scope: RegExp) => ({
  error: {
    type: 'invalid_request_error',
    code: 'insufficient_permissions',
    message: expect.stringMatching(scope),
  },
});

describe.each(['lambda', 'container'] as const)('admin routing on the %s edge', (name) => {
  const url = () => edges.find((edge) => edge.name === name)?.url ?? '';

  it('answers an admin route 401 without a key and 403 to a model key, forwarding nothing', async () => {
    const before = f.upstream.seen.length;
    const none = await call(url(), 'GET', ADMIN_PATH);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { code: 'missing_api_key' } });
    for (const [method, path] of [
      ['GET', ADMIN_PATH],
      ['POST', ADMIN_PATH],
      ['GET', '/v1/organization/usage/completions?start_time=0'],
      ['DELETE', `/v1/organization/projects/default/api_keys/${model.keyId}`],
      ['GET', '/v1/organization'],
    ] as const) {
      const refused = await call(url(), method, path, model.key);
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.body).toEqual(forbidden(/Missing scopes: api\.management\.read/));
    }
    expect(f.upstream.seen.length).toBe(before);
  });

  it('lets an admin key through to the admin routes only, in a bucket of its own', async () => {
    const passed = await call(url(), 'GET', '/v1/organization/no-such-route', admin.key);
    // Past authentication and the kind check: the admin API's own answer.
    expect(passed.status).toBe(404);
    expect(passed.body).toMatchObject({ error: { code: 'not_found' } });
    expect(passed.headers.get('x-ratelimit-limit-requests')).toBe('120');
    expect(await redis.exists(`axon:rl:{admin:${admin.keyId}}`)).toBe(1);
    // A gateway given no Usage table (the local stack) says so.
    const usage = await call(
      url(),
      'GET',
      '/v1/organization/usage/completions?start_time=0',
      admin.key,
    );
    expect(usage.status).toBe(503);
    expect(usage.body).toMatchObject({ error: { type: 'api_error', code: 'usage_unavailable' } });
    expect(usage.headers.get('retry-after')).toBe('1');
  });

  it('refuses an admin key on every model route with 403, before admission and forwarding', async () => {
    const before = f.upstream.seen.length;
    for (const [method, path, body] of [
      ['GET', '/v1/models', undefined],
      ['POST', '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] }],
      ['POST', '/v1/responses', { model: 'm', input: 'hi' }],
      ['POST', '/v1/sessions', {}],
      ['GET', '/v1/organizations', undefined],
    ] as const) {
      const refused = await call(url(), method, path, admin.key, body);
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.body).toEqual(forbidden(/Missing scopes: model\.request/));
      expect(refused.headers.get('x-ratelimit-limit-requests')).toBeNull();
    }
    expect(f.upstream.seen.length).toBe(before);
    // No model bucket was ever made for the admin key's id.
    expect(await redis.exists(`axon:rl:{${admin.keyId}}`)).toBe(0);
  });

  it('counts admin auth failures against their own budget per address', async () => {
    const address = `203.0.113.${name === 'lambda' ? 1 : 2}`;
    const guess = generateKey('admin');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await call(url(), 'GET', ADMIN_PATH, guess, undefined, address)).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    // A bad model key from the same address is still a plain 401: its own budget is whole.
    const modelGuess = await call(url(), 'GET', '/v1/models', generateKey(), undefined, address);
    expect(modelGuess.status).toBe(401);
    // Any token on an admin route counts as an admin attempt, whatever its prefix.
    const onAdminRoute = await call(url(), 'GET', ADMIN_PATH, generateKey(), undefined, address);
    expect(onAdminRoute.status).toBe(429);
    expect(onAdminRoute.body).toMatchObject({ error: { code: 'too_many_auth_failures' } });
  });
});
