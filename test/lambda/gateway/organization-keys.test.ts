/**
 * The admin API's key routes through both edges over real HTTP, driven with the official `openai`
 * SDK's admin client where it has the route (OpenAI has no create for project keys: raw HTTP), and
 * every answer validated against OpenAI's published schema for the route (openai-schemas.ts),
 * with exactly the fields docs/api.md says Axon adds.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createAdminKey } from '#authorizer/admin';
import { parseConfig } from '#shared/config';
import { poll } from '../../support/poll.ts';
import { type RunningEdge, startEdges } from './edges.ts';
import { extraProperties, routeErrors, schemaErrors } from './openai-schemas.ts';
import { type Fixture, startFixture } from './support.ts';

const config = parseConfig({
  plans: {
    free: { requestsPerMinute: 600, burst: 100, models: ['small'] },
    pro: { requestsPerMinute: 6000, burst: 1000 },
  },
  prices: { small: { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
  auth: { cacheTtlSeconds: 1, failuresPerMinutePerAddress: 1000 },
});

/** What Axon adds to OpenAI's objects (docs/api.md#admin-api). */
const PROJECT_KEY_ADDITIONS = [
  'daily_budget_usd',
  'expires_at',
  'models',
  'monthly_budget_usd',
  'plan',
  'status',
];
const ADMIN_KEY_ADDITIONS = ['status'];

let f: Fixture;
let edges: RunningEdge[];
let close: () => Promise<void>;
let adminKey: string;
beforeAll(async () => {
  f = await startFixture({ redisUrl: inject('redisUrl'), config });
  ({ edges, close } = await startEdges(f.gateway));
});
// Each test its own admin key: an admin key's requests have a bucket of their own (burst 30).
beforeEach(async () => {
  adminKey = (await createAdminKey(f.table.client, f.table.tableName, { owner: 'ops' })).key;
});
afterAll(async () => {
  await close?.();
  await f?.close();
});

async function raw(url: string, method: string, path: string, body?: unknown, key = adminKey) {
  const response = await fetch(`${url}/v1/organization${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe.each(['lambda', 'container'] as const)('admin key routes on the %s edge', (name) => {
  const url = () => edges.find((edge) => edge.name === name)?.url ?? '';
  const sdk = () => new OpenAI({ baseURL: `${url()}/v1`, adminAPIKey: adminKey, maxRetries: 0 });

  it('manages admin keys with the SDK, each answer in OpenAI’s shape', async () => {
    const client = sdk();
    const created = await client.admin.organization.adminAPIKeys.create({
      name: 'deploy bot',
      expires_in_seconds: 3600,
    });
    expect(created.value).toMatch(/^axon_admin_[0-9A-Za-z]{36}$/);
    expect(created).toMatchObject({
      object: 'organization.admin_api_key',
      name: 'deploy bot',
      redacted_value: `${created.value.slice(0, 18)}...`,
      last_used_at: null,
      owner: { type: 'service_account', id: 'ops', name: 'ops', role: 'owner' },
      status: 'active',
    });
    expect((created.expires_at ?? 0) - created.created_at).toBe(3600);
    expect(routeErrors('POST /organization/admin_api_keys', created)).toEqual([]);
    expect(extraProperties('AdminApiKey', { ...created })).toEqual(['status', 'value']);

    const got = await raw(url(), 'GET', `/admin_api_keys/${created.id}`);
    expect(routeErrors('GET /organization/admin_api_keys/{key_id}', got.body)).toEqual([]);
    expect(extraProperties('AdminApiKey', got.body)).toEqual(ADMIN_KEY_ADDITIONS);
    expect(got.body).not.toHaveProperty('value');

    // The new admin key works at once, and is an admin key.
    const other = new OpenAI({ baseURL: `${url()}/v1`, adminAPIKey: created.value, maxRetries: 0 });
    expect((await other.admin.organization.adminAPIKeys.retrieve(created.id)).id).toBe(created.id);

    const listed = await raw(url(), 'GET', '/admin_api_keys?limit=100');
    expect(routeErrors('GET /organization/admin_api_keys', listed.body)).toEqual([]);
    const ids: string[] = [];
    for await (const key of client.admin.organization.adminAPIKeys.list({ limit: 1 })) {
      ids.push(key.id);
    }
    expect(ids).toEqual((listed.body.data as { id: string }[]).map((key) => key.id));
    expect(ids).toContain(created.id);
    const desc = await raw(url(), 'GET', '/admin_api_keys?order=desc&limit=100');
    expect((desc.body.data as { id: string }[]).map((key) => key.id)).toEqual([...ids].reverse());

    const deleted = await client.admin.organization.adminAPIKeys.delete(created.id);
    expect(deleted).toEqual({
      id: created.id,
      object: 'organization.admin_api_key.deleted',
      deleted: true,
    });
    expect(routeErrors('DELETE /organization/admin_api_keys/{key_id}', deleted)).toEqual([]);
    // Revoked: refused within the cache TTL (1 s here).
    const refused = await poll(
      () =>
        other.admin.organization.adminAPIKeys.retrieve(created.id).then(
          () => 200,
          (e) => e.status,
        ),
      (status) => status === 401,
    );
    expect(refused).toBe(401);
    const after = await client.admin.organization.adminAPIKeys.retrieve(created.id);
    expect((after as unknown as { status: string }).status).toBe('revoked');
  });

  it('creates a model key with plan, models, budgets and expiry; the key calls models at once', async () => {
    const created = await raw(url(), 'POST', '/projects/default/api_keys', {
      plan: 'free',
      name: 'batch job',
      owner: 'alice',
      models: ['small', 'large'],
      expires_in_seconds: 86_400,
      daily_budget_usd: 5,
      monthly_budget_usd: 100.5,
    });
    expect(created.status).toBe(200);
    const body = created.body;
    expect(body).toMatchObject({
      object: 'organization.project.api_key',
      name: 'batch job',
      last_used_at: null,
      owner_project_access: 'active',
      owner: { type: 'service_account', service_account: { id: 'alice', name: 'alice' } },
      plan: 'free',
      models: ['small', 'large'],
      daily_budget_usd: 5,
      monthly_budget_usd: 100.5,
      status: 'active',
    });
    const value = body.value as string;
    expect(value).toMatch(/^axon_[0-9A-Za-z]{36}$/);
    expect(body.redacted_value).toBe(`${value.slice(0, 12)}...`);
    expect((body.expires_at as number) - (body.created_at as number)).toBe(86_400);
    const { value: _value, ...object } = body;
    expect(schemaErrors('ProjectApiKey', object)).toEqual([]);
    expect(extraProperties('ProjectApiKey', body)).toEqual([...PROJECT_KEY_ADDITIONS, 'value']);

    // It is a model key: its own models reach the session manager, and it is not an admin key.
    const before = f.upstream.seen.length;
    const models = await fetch(`${url()}/v1/models`, {
      headers: { authorization: `Bearer ${value}` },
    });
    expect(models.status).toBe(200);
    expect(f.upstream.seen[before]?.headers['x-axon-models']).toBe('small,large');
    expect((await raw(url(), 'GET', '/admin_api_keys', undefined, value)).status).toBe(403);

    // And its use shows up as last_used_at.
    const id = body.id as string;
    const used = await poll(
      async () => (await raw(url(), 'GET', `/projects/default/api_keys/${id}`)).body,
      (key) => key.last_used_at !== null,
    );
    expect(Math.abs((used.last_used_at as number) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('lists, retrieves and deletes model keys with the SDK in OpenAI’s shape', async () => {
    const client = sdk();
    const made = await raw(url(), 'POST', '/projects/default/api_keys', { plan: 'pro' });
    const id = made.body.id as string;
    const value = made.body.value as string;

    const got = await client.admin.organization.projects.apiKeys.retrieve(id, {
      project_id: 'default',
    });
    expect(got).toMatchObject({ id, plan: 'pro', models: null, daily_budget_usd: null, name: '' });
    const retrieved = await raw(url(), 'GET', `/projects/default/api_keys/${id}`);
    expect(
      routeErrors('GET /organization/projects/{project_id}/api_keys/{api_key_id}', retrieved.body),
    ).toEqual([]);
    expect(extraProperties('ProjectApiKey', retrieved.body)).toEqual(PROJECT_KEY_ADDITIONS);

    const page = await raw(url(), 'GET', '/projects/default/api_keys?limit=2');
    expect(routeErrors('GET /organization/projects/{project_id}/api_keys', page.body)).toEqual([]);
    const all: string[] = [];
    for await (const key of client.admin.organization.projects.apiKeys.list('default', {
      limit: 2,
    })) {
      all.push(key.id);
      expect(key.object).toBe('organization.project.api_key');
    }
    expect(all).toContain(id);
    expect(new Set(all).size).toBe(all.length);
    // Admin keys are not project keys.
    expect(all.some((key) => key === got.owner?.service_account?.id)).toBe(false);

    expect(
      (await fetch(`${url()}/v1/models`, { headers: { authorization: `Bearer ${value}` } })).status,
    ).toBe(200);
    const deleted = await client.admin.organization.projects.apiKeys.delete(id, {
      project_id: 'default',
    });
    expect(deleted).toEqual({ id, object: 'organization.project.api_key.deleted', deleted: true });
    expect(
      routeErrors('DELETE /organization/projects/{project_id}/api_keys/{api_key_id}', deleted),
    ).toEqual([]);
    const status = await poll(
      async () =>
        (await fetch(`${url()}/v1/models`, { headers: { authorization: `Bearer ${value}` } }))
          .status,
      (code) => code === 401,
    );
    expect(status).toBe(401);
    expect((await raw(url(), 'GET', `/projects/default/api_keys/${id}`)).body.status).toBe(
      'revoked',
    );
  });

  it('answers mistakes in the error envelope with the field named', async () => {
    const admin = await raw(url(), 'POST', '/admin_api_keys', { name: 'x' });
    const modelKey = await raw(url(), 'POST', '/projects/default/api_keys', { plan: 'free' });
    const cases: [string, string, unknown, number, string, RegExp][] = [
      [
        'GET',
        '/projects/default/api_keys/key_0000000000000000',
        undefined,
        404,
        'api_key_not_found',
        /No API key/,
      ],
      [
        'GET',
        `/projects/default/api_keys/${admin.body.id}`,
        undefined,
        404,
        'api_key_not_found',
        /No API key/,
      ],
      [
        'GET',
        `/admin_api_keys/${modelKey.body.id}`,
        undefined,
        404,
        'api_key_not_found',
        /No admin API key/,
      ],
      [
        'DELETE',
        '/admin_api_keys/not-an-id',
        undefined,
        404,
        'api_key_not_found',
        /No admin API key/,
      ],
      [
        'GET',
        '/projects/proj_abc/api_keys',
        undefined,
        404,
        'project_not_found',
        /project "default"/,
      ],
      ['POST', '/projects/other/api_keys', { plan: 'free' }, 404, 'project_not_found', /proj/],
      ['POST', '/projects/default/api_keys', {}, 400, 'missing_required_parameter', /plan/],
      [
        'POST',
        '/projects/default/api_keys',
        { plan: 'gold' },
        400,
        'invalid_value',
        /unknown plan "gold"; valid plans: free, pro/,
      ],
      [
        'POST',
        '/projects/default/api_keys',
        { plan: 'free', scopes: [] },
        400,
        'unknown_parameter',
        /"scopes"/,
      ],
      [
        'POST',
        '/projects/default/api_keys',
        { plan: 7 },
        400,
        'invalid_type',
        /plan must be a string/,
      ],
      [
        'POST',
        '/projects/default/api_keys',
        { plan: 'free', models: ['a', 'a'] },
        400,
        'invalid_value',
        /models names "a" twice/,
      ],
      [
        'POST',
        '/projects/default/api_keys',
        { plan: 'free', daily_budget_usd: 0 },
        400,
        'invalid_value',
        /daily_budget_usd must be a number of US dollars/,
      ],
      [
        'POST',
        '/projects/default/api_keys',
        { plan: 'free', monthly_budget_usd: '5' },
        400,
        'invalid_type',
        /monthly_budget_usd must be a number/,
      ],
      [
        'POST',
        '/projects/default/api_keys',
        { plan: 'free', expires_in_seconds: 0 },
        400,
        'invalid_value',
        /expires_in_seconds must be a whole number/,
      ],
      ['POST', '/projects/default/api_keys', '[1]', 400, 'invalid_json', /JSON object/],
      ['POST', '/projects/default/api_keys', 'nope', 400, 'invalid_json', /JSON object/],
      ['POST', '/admin_api_keys', {}, 400, 'missing_required_parameter', /name/],
      [
        'GET',
        '/admin_api_keys?limit=0',
        undefined,
        400,
        'invalid_value',
        /limit must be a whole number from 1 to 100/,
      ],
      [
        'GET',
        '/admin_api_keys?order=up',
        undefined,
        400,
        'invalid_value',
        /order must be one of asc, desc/,
      ],
      [
        'GET',
        '/projects/default/api_keys?after=key_0000000000000000',
        undefined,
        400,
        'invalid_value',
        /after must be the id of a key/,
      ],
      ['PATCH', '/admin_api_keys', undefined, 404, 'not_found', /No route for PATCH/],
      ['GET', '/projects', undefined, 404, 'not_found', /No route/],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const answer = await raw(url(), method, path, body);
      expect(answer.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(answer.body, `${method} ${path}`).toEqual({
        error: { type: expect.any(String), code, message: expect.stringMatching(message) },
      });
    }
  });
});
