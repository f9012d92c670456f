import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { AxonError } from '@axon/runtime/errors';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKey, revokeKey } from '#authorizer/admin';
import { Authorizer } from '#authorizer/authorizer';
import { displayPrefix, generateKey, hashKey } from '#authorizer/key-format';
import { createDocumentClient, KeyStore } from '#authorizer/key-store';
import { PrincipalCache } from '#authorizer/principal-cache';
import { type AxonConfig, parseConfig } from '#shared/config';
import { Limiter } from '#token-bucket/limiter';
import { MemoryStore } from '#token-bucket/memory-store';
import { RedisStore } from '#token-bucket/redis-store';
import type { BucketStore } from '#token-bucket/types';
import {
  CountingBuckets,
  CountingKeys,
  createTestTable,
  type Dynalite,
  LogCapture,
  startDynalite,
  TestClock,
} from './support.ts';

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

function makeConfig(cacheTtlSeconds = 30, failuresPerMinutePerAddress = 30): AxonConfig {
  return parseConfig({
    plans: {
      free: { requestsPerMinute: 60, burst: 10, tokensPerMinute: 20000, requestsPerDay: 1000 },
      pro: { requestsPerMinute: 600, burst: 100, tokensPerMinute: 200000 },
    },
    auth: { cacheTtlSeconds, failuresPerMinutePerAddress },
  });
}

interface Options {
  ttl?: number;
  failuresPerMinute?: number;
  buckets?: BucketStore;
  cache?: PrincipalCache;
  store?: KeyStore;
}

async function setup(options: Options = {}) {
  const clock = new TestClock();
  const config = makeConfig(options.ttl, options.failuresPerMinute);
  const { client, tableName } = await createTestTable(db.endpoint);
  const keys = new CountingKeys(options.store ?? new KeyStore(client, tableName));
  const failures = new CountingBuckets(options.buckets ?? new MemoryStore({ now: clock.now }));
  const cache =
    options.cache ??
    new PrincipalCache({
      ttlSeconds: config.auth.cacheTtlSeconds,
      negativeTtlSeconds: 5,
      now: clock.now,
    });
  const authorizer = new Authorizer({
    keys,
    cache,
    failures,
    config,
    log: logs.logger,
    now: clock.now,
  });
  const create = (plan = 'free', extra: { owner?: string; expiresIn?: string } = {}) =>
    createKey(client, tableName, { config, plan, now: new Date(clock.ms), ...extra });
  return { authorizer, clock, config, client, tableName, keys, failures, cache, create };
}

const bearer = (key: string) => `Bearer ${key}`;

async function rejectionOf(promise: Promise<unknown>): Promise<AxonError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AxonError) return err;
    throw err;
  }
  throw new Error('expected a rejection, got a principal');
}

describe('Authorizer', () => {
  it('authenticates a key made by the admin API and returns its principal with plan limits', async () => {
    const { authorizer, create, config } = await setup();
    const created = await create('pro', { owner: 'alice' });
    const principal = await authorizer.authenticate({ authorization: bearer(created.key) });
    expect(principal).toEqual({
      keyId: created.keyId,
      plan: 'pro',
      owner: 'alice',
      limits: config.plans.pro,
    });
  });

  it('accepts the scheme in any case', async () => {
    const { authorizer, create } = await setup();
    const { key, keyId } = await create();
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      expect((await authorizer.authenticate({ authorization: `${scheme} ${key}` })).keyId).toBe(
        keyId,
      );
    }
  });

  it('serves a cached key without a key-store read or any limiter call', async () => {
    const { authorizer, create, keys, failures } = await setup();
    const { key } = await create();
    await authorizer.authenticate({ authorization: bearer(key), forwardedFor: '203.0.113.1' });
    expect([keys.calls, failures.peeks, failures.charges]).toEqual([1, 1, 0]);
    for (let i = 0; i < 5; i++) {
      await authorizer.authenticate({ authorization: bearer(key), forwardedFor: '203.0.113.1' });
    }
    expect([keys.calls, failures.peeks, failures.charges]).toEqual([1, 1, 0]);
  });

  it('rejects a revoked key once the cache TTL has passed, and keeps serving it until then', async () => {
    const { authorizer, create, client, tableName, clock } = await setup({ ttl: 1 });
    const { key, keyId } = await create();
    await authorizer.authenticate({ authorization: bearer(key) });
    await revokeKey(client, tableName, keyId);

    clock.advance(0.5);
    expect((await authorizer.authenticate({ authorization: bearer(key) })).keyId).toBe(keyId);
    clock.advance(0.5);
    const error = await rejectionOf(authorizer.authenticate({ authorization: bearer(key) }));
    expect(error).toMatchObject({
      status: 401,
      type: 'authentication_error',
      code: 'invalid_api_key',
    });
    expect(error.headers).toEqual({
      'www-authenticate': 'Bearer realm="axon", error="invalid_token"',
    });
    const logged = logs.entries.find((e) => e.keyId === keyId && e.reason === 'revoked');
    expect(logged).toMatchObject({ event: 'auth_failed', prefix: displayPrefix(key) });
  });

  it('rejects a key at its expiry even when the cache TTL is longer', async () => {
    const { authorizer, create, clock } = await setup({ ttl: 3600 });
    const { key, expiresAt } = await create('free', { expiresIn: '90m' });
    expect(Date.parse(expiresAt ?? '')).toBe(clock.ms + 90 * 60_000);
    await authorizer.authenticate({ authorization: bearer(key) });
    clock.advance(90 * 60 - 1);
    await authorizer.authenticate({ authorization: bearer(key) });
    clock.advance(1);
    const error = await rejectionOf(authorizer.authenticate({ authorization: bearer(key) }));
    expect(error.code).toBe('invalid_api_key');
    expect(logs.entries.some((e) => e.reason === 'expired')).toBe(true);
  });

  it('rejects an unknown key with a valid checksum after one lookup, then from the negative cache', async () => {
    const { authorizer, keys, clock } = await setup();
    const key = generateKey();
    for (let i = 0; i < 3; i++) {
      const error = await rejectionOf(authorizer.authenticate({ authorization: bearer(key) }));
      expect(error.code).toBe('invalid_api_key');
    }
    expect(keys.calls).toBe(1);
    clock.advance(5);
    await rejectionOf(authorizer.authenticate({ authorization: bearer(key) }));
    expect(keys.calls).toBe(2);
  });

  it('answers 401 missing_api_key without a token, and names no error in WWW-Authenticate', async () => {
    const { authorizer, failures } = await setup();
    for (const authorization of [undefined, '', 'Bearer']) {
      const error = await rejectionOf(authorizer.authenticate({ authorization }));
      expect(error).toMatchObject({ status: 401, code: 'missing_api_key' });
      expect(error.headers).toEqual({ 'www-authenticate': 'Bearer realm="axon"' });
      expect(error.toBody().error.type).toBe('authentication_error');
    }
    expect(failures.calls).toEqual([]);
  });

  it('shares one key-store read among concurrent first requests of one key', async () => {
    const { authorizer, create, keys } = await setup();
    const { key, keyId } = await create();
    const principals = await Promise.all(
      Array.from({ length: 25 }, () => authorizer.authenticate({ authorization: bearer(key) })),
    );
    expect(new Set(principals.map((p) => p.keyId))).toEqual(new Set([keyId]));
    expect(keys.calls).toBe(1);
  });

  it('applies the key record limit overrides over its plan', async () => {
    const { authorizer, client, tableName, config } = await setup();
    const key = generateKey();
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          keyHash: hashKey(key),
          keyId: 'key_override00000000',
          prefix: displayPrefix(key),
          owner: 'big-customer',
          plan: 'free',
          status: 'active',
          createdAt: '2030-01-01T00:00:00.000Z',
          limits: { burst: 500, tokensPerMinute: 90000 },
        },
      }),
    );
    const { limits } = await authorizer.authenticate({ authorization: bearer(key) });
    expect(limits).toEqual({
      ...config.plans.free,
      burst: 500,
      tokensPerMinute: 90000,
      tokenBurst: 90000,
    });
  });

  it('rejects, and logs as an error, a key whose plan left the config or whose record is bad', async () => {
    const { authorizer, client, tableName } = await setup();
    const base = { owner: 'o', status: 'active', createdAt: '2030-01-01T00:00:00.000Z' };
    const goneKey = generateKey();
    const badKey = generateKey();
    const brokenKey = generateKey();
    const items = [
      {
        ...base,
        keyHash: hashKey(goneKey),
        keyId: 'key_gone000000000000',
        prefix: 'p',
        plan: 'gold',
      },
      {
        ...base,
        keyHash: hashKey(badKey),
        keyId: 'key_bad0000000000000',
        prefix: 'p',
        plan: 'free',
        limits: { burst: -1 },
      },
      {
        ...base,
        keyHash: hashKey(brokenKey),
        keyId: 'key_broken0000000000',
        prefix: 'p',
        plan: 'free',
        status: 'paused',
      },
    ];
    for (const Item of items) await client.send(new PutCommand({ TableName: tableName, Item }));
    for (const key of [goneKey, badKey, brokenKey]) {
      const error = await rejectionOf(authorizer.authenticate({ authorization: bearer(key) }));
      expect(error).toMatchObject({ status: 401, code: 'invalid_api_key' });
    }
    const errors = logs.entries.filter((e) => e.level === 'ERROR' && e.event === 'auth_bad_record');
    expect(errors.map((e) => e.reason ?? 'malformed')).toEqual(
      expect.arrayContaining(['unknown_plan', 'bad_record', 'malformed']),
    );
  });
});

describe('key store unavailable', () => {
  it('answers 503 auth_unavailable for keys not in the cache and keeps serving cached ones', async () => {
    const live = await setup();
    const cached = await live.create();
    const uncached = await live.create();
    await live.authorizer.authenticate({ authorization: bearer(cached.key) });

    // A second gateway instance view: same cache, but its table endpoint is down.
    const dead = await startDynalite();
    await dead.stop();
    const deadStore = new KeyStore(
      createDocumentClient({ endpoint: dead.endpoint, maxAttempts: 1 }),
      'x',
    );
    const { authorizer, failures } = await setup({ store: deadStore, cache: live.cache });

    expect((await authorizer.authenticate({ authorization: bearer(cached.key) })).keyId).toBe(
      cached.keyId,
    );
    const error = await rejectionOf(
      authorizer.authenticate({ authorization: bearer(uncached.key) }),
    );
    expect(error).toMatchObject({ status: 503, type: 'api_error', code: 'auth_unavailable' });
    expect(error.headers['retry-after']).toBe('1');
    expect(failures.charges).toBe(0);
    expect(logs.entries.some((e) => e.event === 'auth_store_unavailable')).toBe(true);
  });
});

describe('failed-auth limiter', () => {
  it('answers 429 with Retry-After once an address spent its failures, before any lookup', async () => {
    const { authorizer, keys, clock } = await setup({ failuresPerMinute: 3 });
    const from = { forwardedFor: '198.51.100.7, 203.0.113.50' };
    for (let i = 0; i < 3; i++) {
      const error = await rejectionOf(
        authorizer.authenticate({ authorization: bearer(generateKey()), ...from }),
      );
      expect(error.status).toBe(401);
    }
    expect(keys.calls).toBe(3);
    const error = await rejectionOf(
      authorizer.authenticate({ authorization: bearer(generateKey()), ...from }),
    );
    expect(error).toMatchObject({
      status: 429,
      type: 'rate_limit_error',
      code: 'too_many_auth_failures',
    });
    expect(Number(error.headers['retry-after'])).toBe(20);
    expect(keys.calls).toBe(3);
    // Malformed tokens from the same address are refused the same way.
    expect(
      (await rejectionOf(authorizer.authenticate({ authorization: 'Basic x', ...from }))).status,
    ).toBe(429);

    // Another address is unaffected; the first one gets a failure back after 60/3 s.
    const other = await rejectionOf(
      authorizer.authenticate({ authorization: 'Basic x', forwardedFor: '203.0.113.51' }),
    );
    expect(other.status).toBe(401);
    clock.advance(20);
    expect(
      (await rejectionOf(authorizer.authenticate({ authorization: 'Basic x', ...from }))).status,
    ).toBe(401);
  });

  it('blames the last X-Forwarded-For entry, not what the client wrote before it', async () => {
    const { authorizer } = await setup({ failuresPerMinute: 2 });
    const statuses: number[] = [];
    for (const forwardedFor of ['1.1.1.1, 203.0.113.60', '2.2.2.2, 203.0.113.60', '203.0.113.60']) {
      statuses.push(
        (await rejectionOf(authorizer.authenticate({ authorization: 'Basic x', forwardedFor })))
          .status,
      );
    }
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('still serves a cached valid key to an address that is over its failure limit', async () => {
    const { authorizer, create } = await setup({ failuresPerMinute: 1 });
    const { key, keyId } = await create();
    const from = { sourceAddress: '203.0.113.70' };
    await authorizer.authenticate({ authorization: bearer(key), ...from });
    await rejectionOf(authorizer.authenticate({ authorization: 'Basic x', ...from }));
    expect(
      (await rejectionOf(authorizer.authenticate({ authorization: 'Basic x', ...from }))).status,
    ).toBe(429);
    expect((await authorizer.authenticate({ authorization: bearer(key), ...from })).keyId).toBe(
      keyId,
    );
  });

  it('counts failures in Redis: concurrent failures across two instances get exactly the limit of 401s', async () => {
    const redis = new Redis(inject('redisUrl'));
    const shared = new RedisStore(redis);
    const a = await setup({ failuresPerMinute: 5, buckets: shared });
    const b = await setup({ failuresPerMinute: 5, buckets: shared });
    const address = `203.0.113.${Math.floor(Math.random() * 250)}`;
    const attempts = Array.from({ length: 20 }, (_, i) =>
      rejectionOf(
        (i % 2 ? a : b).authorizer.authenticate({
          authorization: i % 4 < 2 ? 'Bearer axon_short' : bearer(generateKey()),
          sourceAddress: address,
        }),
      ),
    );
    const statuses = (await Promise.all(attempts)).map((e) => e.status);
    redis.disconnect();
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it('keeps authenticating, unlimited, when the limiter cannot reach Redis even in closed mode', async () => {
    const dead = new Redis({
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    const limiter = new Limiter({
      primary: new RedisStore(dead),
      failureMode: 'closed',
      timeoutMs: 50,
    });
    const { authorizer, create } = await setup({ buckets: limiter });
    const { key, keyId } = await create();
    expect((await authorizer.authenticate({ authorization: bearer(key) })).keyId).toBe(keyId);
    expect((await rejectionOf(authorizer.authenticate({ authorization: 'Basic x' }))).status).toBe(
      401,
    );
    dead.disconnect();
    expect(logs.entries.some((e) => e.event === 'auth_limiter_unavailable')).toBe(true);
  });
});
