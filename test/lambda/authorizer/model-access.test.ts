/**
 * Model access in the key table and the principal (docs/auth.md#key-table-dynamodb): a plan's
 * `models`, a key record's own `models` replacing it, and records whose list breaks the rules,
 * through the real Authorizer over dynalite.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { AxonError } from '@axon/runtime/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminError, createKey, showKey } from '#authorizer/admin';
import { authorizeHttpApi, authorizeRestApi } from '#authorizer/api-gateway';
import { Authorizer } from '#authorizer/authorizer';
import { displayPrefix, generateKey, hashKey } from '#authorizer/key-format';
import { KeyStore } from '#authorizer/key-store';
import { PrincipalCache } from '#authorizer/principal-cache';
import { parseConfig } from '#shared/config';
import { MemoryStore } from '#token-bucket/memory-store';
import { createTestTable, type Dynalite, LogCapture, startDynalite } from './support.ts';

const config = parseConfig({
  plans: {
    free: { requestsPerMinute: 60, burst: 10, models: ['small'] },
    pro: { requestsPerMinute: 600, burst: 100 },
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
  const { client, tableName } = await createTestTable(db.endpoint);
  const authorizer = new Authorizer({
    keys: new KeyStore(client, tableName),
    cache: new PrincipalCache({ ttlSeconds: 30 }),
    failures: new MemoryStore(),
    config,
    log: logs.logger,
  });
  const authenticate = (key: string) => authorizer.authenticate({ authorization: `Bearer ${key}` });
  /** A record written by hand, as a future version or an operator might. */
  const put = async (extra: Record<string, unknown>) => {
    const key = generateKey();
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          keyHash: hashKey(key),
          keyId: `key_${Math.random().toString(36).slice(2, 10).padEnd(16, '0')}`,
          prefix: displayPrefix(key),
          owner: 'o',
          plan: 'free',
          status: 'active',
          createdAt: '2030-01-01T00:00:00.000Z',
          ...extra,
        },
      }),
    );
    return key;
  };
  return { client, tableName, authorizer, authenticate, put };
}

describe('model access in the principal', () => {
  it('gives a key its plan’s models, and no list when the plan has none', async () => {
    const { client, tableName, authenticate } = await setup();
    const free = await createKey(client, tableName, { config, plan: 'free' });
    expect((await authenticate(free.key)).models).toEqual(['small']);
    const pro = await createKey(client, tableName, { config, plan: 'pro' });
    expect(await authenticate(pro.key)).not.toHaveProperty('models');
  });

  it('lets a key’s own list replace its plan’s, wider or narrower', async () => {
    const { client, tableName, authenticate } = await setup();
    const wider = await createKey(client, tableName, {
      config,
      plan: 'free',
      models: ['small', 'large'],
    });
    expect((await authenticate(wider.key)).models).toEqual(['small', 'large']);
    const narrower = await createKey(client, tableName, { config, plan: 'pro', models: ['tiny'] });
    expect((await authenticate(narrower.key)).models).toEqual(['tiny']);
    expect(await showKey(client, tableName, narrower.keyId)).toMatchObject({ models: ['tiny'] });
  });

  it('refuses to create a key with a bad list, naming --models', async () => {
    const { client, tableName } = await setup();
    for (const models of [[], [''], ['a', 'a'], ['a,b']]) {
      await expect(createKey(client, tableName, { config, plan: 'free', models })).rejects.toThrow(
        AdminError,
      );
    }
    await expect(
      createKey(client, tableName, { config, plan: 'free', models: ['ok', ' '] }),
    ).rejects.toThrow(/--models\[1\] must be a model name/);
  });

  it('rejects (401) and logs a record whose models break the rules or hide in limits', async () => {
    const { authenticate, put } = await setup();
    const bad = [
      await put({ models: 'small' }),
      await put({ models: [] }),
      await put({ models: ['small', 'small'] }),
      await put({ limits: { models: ['large'] } }),
    ];
    for (const key of bad) {
      const error = await authenticate(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AxonError);
      expect(error).toMatchObject({ status: 401, code: 'invalid_api_key' });
    }
    const reasons = logs.entries
      .filter((e) => e.event === 'auth_bad_record')
      .map((e) => String(e.detail ?? e.error));
    expect(reasons.join('\n')).toMatch(/models must be a list of strings/);
    expect(reasons.join('\n')).toMatch(/key record models must name at least one model/);
    expect(reasons.join('\n')).toMatch(/key record models names "small" twice/);
    expect(reasons.join('\n')).toMatch(/limits\.models is not a limit/);
  });

  it('passes the models to API Gateway in the authorizer context, comma-separated', async () => {
    const { client, tableName, authorizer } = await setup();
    const limited = await createKey(client, tableName, {
      config,
      plan: 'free',
      models: ['a', 'b'],
    });
    const open = await createKey(client, tableName, { config, plan: 'pro' });
    const http = (key: string) =>
      authorizeHttpApi(authorizer, {
        headers: { authorization: `Bearer ${key}` },
        requestContext: { http: { sourceIp: '198.51.100.1' } },
      } as never);
    expect(await http(limited.key)).toEqual({
      isAuthorized: true,
      context: { keyId: limited.keyId, plan: 'free', models: 'a,b' },
    });
    expect(await http(open.key)).toEqual({
      isAuthorized: true,
      context: { keyId: open.keyId, plan: 'pro' },
    });
    const rest = await authorizeRestApi(authorizer, {
      headers: { Authorization: `Bearer ${limited.key}` },
      methodArn: 'arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/v1/models',
      requestContext: { identity: { sourceIp: '198.51.100.1' } },
    } as never);
    expect(rest.context).toMatchObject({ models: 'a,b' });
  });
});
