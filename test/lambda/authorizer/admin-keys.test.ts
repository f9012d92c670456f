/**
 * Admin keys in the authorizer (docs/auth.md#admin-keys): their own format, a principal of kind
 * `admin` with no plan and fixed limits, a failed-auth bucket of their own per address, and no
 * way through the API Gateway adapters (which front model routes only).
 */

import { AxonError } from '@axon/runtime/errors';
import type {
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
} from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminError,
  createAdminKey,
  createKey,
  listKeys,
  rotateKey,
  showKey,
  updateKey,
} from '#authorizer/admin';
import { authorizeHttpApi, authorizeRestApi } from '#authorizer/api-gateway';
import { Authorizer } from '#authorizer/authorizer';
import {
  ADMIN_KEY_LENGTH,
  checksum,
  claimedKind,
  displayPrefix,
  generateKey,
  keyShapeProblem,
} from '#authorizer/key-format';
import { KeyStore } from '#authorizer/key-store';
import { ADMIN_LIMITS } from '#authorizer/principal';
import { PrincipalCache } from '#authorizer/principal-cache';
import { parseConfig } from '#shared/config';
import { MemoryStore } from '#token-bucket/memory-store';
import {
  CountingBuckets,
  createTestTable,
  type Dynalite,
  LogCapture,
  startDynalite,
  TestClock,
} from './support.ts';

const config = parseConfig({
  plans: { free: { requestsPerMinute: 60, burst: 10 } },
  auth: {
    cacheTtlSeconds: 30,
    failuresPerMinutePerAddress: 5,
    adminFailuresPerMinutePerAddress: 2,
  },
});

let db: Dynalite;
const logs = new LogCapture();
beforeAll(async () => {
  logs.start();
  db = await startDynalite();
});
afterAll(async () => {
  logs.stop();
  await db.stop();
});

async function setup() {
  const clock = new TestClock();
  const { client, tableName } = await createTestTable(db.endpoint);
  const failures = new CountingBuckets(new MemoryStore({ now: clock.now }));
  const authorizer = new Authorizer({
    keys: new KeyStore(client, tableName),
    cache: new PrincipalCache({ ttlSeconds: 30, now: clock.now }),
    failures,
    config,
    log: logs.logger,
    now: clock.now,
  });
  return { client, tableName, failures, authorizer };
}

async function status(promise: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (err instanceof AxonError) return err.status;
    throw err;
  }
}

describe('admin key format', () => {
  it('is axon_admin_ + 30 random base62 + a checksum, and checks like any key', () => {
    const key = generateKey('admin');
    expect(key).toMatch(/^axon_admin_[0-9A-Za-z]{36}$/);
    expect(key).toHaveLength(ADMIN_KEY_LENGTH);
    expect(keyShapeProblem(key)).toBeUndefined();
    expect(claimedKind(key)).toBe('admin');
    expect(displayPrefix(key)).toBe(key.slice(0, 18));
    const body = key.slice(0, -6);
    const flipped = body.slice(0, -1) + (body.endsWith('A') ? 'B' : 'A');
    expect(keyShapeProblem(flipped + key.slice(-6))).toBe('checksum');
    expect(keyShapeProblem(key.slice(0, -1))).toBe('length');
    // The admin prefix with a model key's length, or any other length, is refused unread.
    const short = `axon_admin_${'A'.repeat(24)}`;
    expect(keyShapeProblem(short + checksum(short))).toBe('length');
  });

  it('never comes out of the model key generator (base62 has no underscore)', () => {
    for (let i = 0; i < 1000; i++) expect(claimedKind(generateKey())).toBe('model');
  });
});

describe('admin keys in the authorizer', () => {
  it('authenticates an admin key as kind admin, with no plan and the fixed admin limits', async () => {
    const { client, tableName, authorizer } = await setup();
    const created = await createAdminKey(client, tableName, { owner: 'ops', name: 'CI' });
    expect(created).toMatchObject({ kind: 'admin', plan: '', owner: 'ops', name: 'CI' });
    expect(created.key.startsWith('axon_admin_')).toBe(true);
    expect(created.prefix).toBe(created.key.slice(0, 18));
    const principal = await authorizer.authenticate({ authorization: `Bearer ${created.key}` });
    expect(principal).toEqual({
      keyId: created.keyId,
      plan: '',
      owner: 'ops',
      limits: ADMIN_LIMITS,
      kind: 'admin',
    });
    const record = await new KeyStore(client, tableName).getByKeyId(created.keyId);
    expect(record).toMatchObject({ kind: 'admin', name: 'CI' });
    // No plan attribute is stored for it at all.
    const { Item } = await client.send(
      new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
        TableName: tableName,
        Key: { keyHash: record?.keyHash },
      }),
    );
    expect(Item).not.toHaveProperty('plan');
  });

  it('charges admin failures to a bucket of their own, so neither kind locks the other out', async () => {
    const { client, tableName, authorizer, failures } = await setup();
    const admin = await createAdminKey(client, tableName);
    const model = await createKey(client, tableName, { config, plan: 'free' });
    const from = { forwardedFor: '203.0.113.9' };
    const badAdmin = `Bearer ${generateKey('admin')}`;
    const badModel = `Bearer ${generateKey()}`;

    // The admin budget is 2: the third bad admin token (or admin-route attempt) is 429.
    expect(await status(authorizer.authenticate({ authorization: badAdmin, ...from }))).toBe(401);
    expect(
      await status(
        authorizer.authenticate({ authorization: 'Bearer nonsense', adminRoute: true, ...from }),
      ),
    ).toBe(401);
    expect(await status(authorizer.authenticate({ authorization: badAdmin, ...from }))).toBe(429);
    // The model keys' budget from the same address is untouched: a bad model key is 401, and
    // a real model key that is not cached is served.
    expect(await status(authorizer.authenticate({ authorization: badModel, ...from }))).toBe(401);
    expect(
      await status(authorizer.authenticate({ authorization: `Bearer ${model.key}`, ...from })),
    ).toBe('ok');
    // An uncached admin key from there waits for the admin bucket to refill.
    expect(
      await status(authorizer.authenticate({ authorization: `Bearer ${admin.key}`, ...from })),
    ).toBe(429);

    // Spending the model budget (5) leaves the admin one as it was (still empty here, and a
    // fresh address's admin budget is whole).
    for (let i = 0; i < 5; i++) {
      await status(
        authorizer.authenticate({ authorization: badModel, forwardedFor: '203.0.113.10' }),
      );
    }
    expect(
      await status(
        authorizer.authenticate({ authorization: badModel, forwardedFor: '203.0.113.10' }),
      ),
    ).toBe(429);
    expect(
      await status(
        authorizer.authenticate({
          authorization: `Bearer ${admin.key}`,
          forwardedFor: '203.0.113.10',
        }),
      ),
    ).toBe('ok');

    const ids = new Set(failures.calls.map((call) => call.id));
    expect(ids).toEqual(
      new Set([
        'auth:203.0.113.9',
        'admin-auth:203.0.113.9',
        'auth:203.0.113.10',
        'admin-auth:203.0.113.10',
      ]),
    );
    for (const call of failures.calls) {
      const perMinute = call.id.startsWith('admin-') ? 2 : 5;
      expect(call.limits).toEqual({ requestsPerMinute: perMinute, burst: perMinute });
    }
    expect(logs.entries.some((e) => e.event === 'auth_failures_exceeded' && e.admin === true)).toBe(
      true,
    );
  });

  it('rotates an admin key into another admin key, and will not give it a plan or models', async () => {
    const { client, tableName, authorizer } = await setup();
    const admin = await createAdminKey(client, tableName);
    const rotated = await rotateKey(client, tableName, admin.keyId, { overlapMs: 0 });
    expect(rotated.key.startsWith('axon_admin_')).toBe(true);
    expect(await authorizer.authenticate({ authorization: `Bearer ${rotated.key}` })).toMatchObject(
      {
        keyId: admin.keyId,
        kind: 'admin',
      },
    );
    await expect(
      updateKey(client, tableName, admin.keyId, { config, plan: 'free' }),
    ).rejects.toThrow(AdminError);
    await expect(
      updateKey(client, tableName, admin.keyId, { config, models: ['m'] }),
    ).rejects.toThrow('is an admin key: it has no plan or models, only an expiry');
    expect(
      (await updateKey(client, tableName, admin.keyId, { config, expiresIn: '1d' })).expiresAt,
    ).toBeDefined();
    const updated = await updateKey(client, tableName, admin.keyId, { config, expiresIn: null });
    expect(updated).toMatchObject({ kind: 'admin' });
    expect(updated).not.toHaveProperty('expiresAt');
    expect((await showKey(client, tableName, admin.keyId)).kind).toBe('admin');
    expect((await listKeys(client, tableName)).map((view) => view.kind)).toEqual(['admin']);
  });
});

describe('admin keys behind API Gateway', () => {
  it('are refused by both adapters: those APIs front model routes only', async () => {
    const { client, tableName, authorizer } = await setup();
    const admin = await createAdminKey(client, tableName);
    const http = {
      headers: { authorization: `Bearer ${admin.key}` },
      requestContext: { http: { sourceIp: '198.51.100.1' } },
    } as unknown as APIGatewayRequestAuthorizerEventV2;
    expect(await authorizeHttpApi(authorizer, http)).toEqual({ isAuthorized: false });
    const methodArn =
      'arn:aws:execute-api:eu-west-1:123456789012:abc/prod/POST/v1/chat/completions';
    const rest = {
      headers: { Authorization: `Bearer ${admin.key}` },
      methodArn,
      requestContext: { identity: { sourceIp: '198.51.100.1' } },
    } as unknown as APIGatewayRequestAuthorizerEvent;
    const result = await authorizeRestApi(authorizer, rest);
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: methodArn },
    ]);
    expect(result.context).toEqual({ code: 'insufficient_permissions' });
  });
});
