/**
 * Log hygiene: drive every authorizer path (valid, cached, revoked, expired, unknown, bad
 * checksum, truncated, other scheme, duplicate headers, bad record, store down, limiter down,
 * too many failures, both API Gateway handlers) with the project's real Powertools logger at
 * DEBUG, capture everything written, then grep it: no key (not even 13 characters of one, one
 * more than the display prefix) and no Authorization value, while every failure was logged.
 * The paths are driven once, in beforeAll, so each test below stands alone (any one of them can
 * run by itself) and first checks that the paths it relies on were really taken.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
} from 'aws-lambda';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKey, revokeKey } from '#authorizer/admin';
import { Authorizer } from '#authorizer/authorizer';
import { DISPLAY_PREFIX_LENGTH, generateKey, hashKey } from '#authorizer/key-format';
import { createDocumentClient, KeyStore } from '#authorizer/key-store';
import { PrincipalCache } from '#authorizer/principal-cache';
import { parseConfig } from '#shared/config';
import { createLogger } from '#shared/logger';
import { Limiter } from '#token-bucket/limiter';
import { MemoryStore } from '#token-bucket/memory-store';
import { RedisStore } from '#token-bucket/redis-store';
import type { BucketStore } from '#token-bucket/types';
import { createTestTable, type Dynalite, LogCapture, startDynalite, TestClock } from './support.ts';

const CONFIG_DOC = {
  plans: { free: { requestsPerMinute: 60, burst: 10 } },
  auth: { cacheTtlSeconds: 1, failuresPerMinutePerAddress: 1000 },
};
const config = parseConfig(CONFIG_DOC);

let db: Dynalite;
const capture = new LogCapture();
/** Every key the suite made or presented, including malformed variants carrying key material. */
const secrets: string[] = [];
const saved = { ...process.env };

async function attempt(
  authorizer: Authorizer,
  authorization: string | string[] | undefined,
  sourceAddress?: string,
) {
  try {
    return (await authorizer.authenticate({ authorization, sourceAddress })).keyId;
  } catch (err) {
    return (err as { status?: number }).status ?? 'threw';
  }
}

/** Every path through Authorizer with the real logger; returns what each attempt answered. */
async function driveAuthorizer() {
  const log = createLogger('axon-authorizer');
  const clock = new TestClock();
  const { client, tableName } = await createTestTable(db.endpoint);
  const cache = new PrincipalCache({ ttlSeconds: 1, now: clock.now });
  const make = (
    keys: KeyStore,
    failures: BucketStore = new MemoryStore({ now: clock.now }),
    cfg = config,
  ) => new Authorizer({ keys, cache, failures, config: cfg, log, now: clock.now });
  const authorizer = make(new KeyStore(client, tableName));
  const create = async (extra: { expiresIn?: string } = {}) => {
    const created = await createKey(client, tableName, {
      config,
      plan: 'free',
      now: new Date(clock.ms),
      ...extra,
    });
    secrets.push(created.key);
    return created;
  };

  const good = await create();
  const revoked = await create();
  const expiring = await create({ expiresIn: '90m' });
  const unknown = generateKey();
  const badRecord = generateKey();
  secrets.push(unknown, badRecord);
  await client.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        keyHash: hashKey(badRecord),
        keyId: 'key_badrecord0000000',
        prefix: 'x',
        owner: 'o',
        plan: 'gone',
        status: 'active',
        createdAt: '2030-01-01T00:00:00Z',
      },
    }),
  );
  const flipped = good.key.slice(0, -1) + (good.key.endsWith('0') ? '1' : '0');
  const dashed = `${good.key.slice(0, 10)}-${good.key.slice(11)}`;
  secrets.push(flipped, dashed);

  const accepted = [
    await attempt(authorizer, `Bearer ${good.key}`),
    await attempt(authorizer, `bearer ${good.key}`),
    await attempt(authorizer, `Bearer ${revoked.key}`),
    await attempt(authorizer, `Bearer ${expiring.key}`),
  ];
  await revokeKey(client, tableName, revoked.keyId);
  clock.advance(90 * 60);
  const refused = [
    await attempt(authorizer, `Bearer ${revoked.key}`),
    await attempt(authorizer, `Bearer ${expiring.key}`),
    await attempt(authorizer, `Bearer ${unknown}`),
    await attempt(authorizer, `Bearer ${badRecord}`),
    await attempt(authorizer, `Bearer ${flipped}`),
    await attempt(authorizer, `Bearer ${good.key.slice(0, -1)}`),
    await attempt(authorizer, `Bearer ${good.key}0`),
    await attempt(authorizer, `Bearer ${dashed}`),
    await attempt(authorizer, `Basic ${good.key}`),
    await attempt(authorizer, good.key),
    await attempt(authorizer, `Bearer  ${good.key}`),
    await attempt(authorizer, `Bearer ${good.key}\u0000`),
    await attempt(authorizer, [`Bearer ${good.key}`, `Bearer ${good.key}`]),
    await attempt(authorizer, `Bearer ${'k'.repeat(5000)}${good.key}`),
    await attempt(authorizer, undefined),
  ];

  // Key store down: a key that is not cached is a 503.
  const dead = await startDynalite();
  await dead.stop();
  const down = make(
    new KeyStore(createDocumentClient({ endpoint: dead.endpoint, maxAttempts: 1 }), 'x'),
  );
  const fresh = await create();
  const storeDown = await attempt(down, `Bearer ${fresh.key}`);

  // Too many failures from one address.
  const strict = make(
    new KeyStore(client, tableName),
    new MemoryStore({ now: clock.now }),
    parseConfig({ ...CONFIG_DOC, auth: { failuresPerMinutePerAddress: 1 } }),
  );
  const tooManyFailures = [
    await attempt(strict, `Bearer ${unknown}`, '203.0.113.99'),
    await attempt(strict, `Bearer ${fresh.key}`, '203.0.113.99'),
  ];

  // Limiter unreachable (closed mode): authentication goes on, unlimited.
  const redis = new Redis({
    port: 1,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  const limiter = new Limiter({
    primary: new RedisStore(redis),
    failureMode: 'closed',
    timeoutMs: 50,
    log,
  });
  const limiterDown = await attempt(
    make(new KeyStore(client, tableName), limiter),
    `Bearer ${unknown}`,
  );
  redis.disconnect();

  return {
    keyIds: [good.keyId, good.keyId, revoked.keyId, expiring.keyId],
    accepted,
    refused,
    storeDown,
    tooManyFailures,
    limiterDown,
  };
}

/** Both API Gateway handlers, as imported by Lambda, with a good key, a damaged one and Basic. */
async function driveHandlers() {
  const { client, tableName } = await createTestTable(db.endpoint);
  Object.assign(process.env, {
    AXON_KEYS_TABLE: tableName,
    AXON_DYNAMODB_ENDPOINT: db.endpoint,
    AXON_CONFIG: JSON.stringify(CONFIG_DOC),
  });
  delete process.env.AXON_REDIS_URL;
  vi.resetModules();
  const handlers = await import('#authorizer/handler');
  const { key } = await createKey(client, tableName, { config, plan: 'free' });
  const wrong = `${key.slice(0, 20)}${key.slice(21)}x`;
  secrets.push(key, wrong);
  const httpApi: boolean[] = [];
  const restApi: string[] = [];
  for (const authorization of [`Bearer ${key}`, `Bearer ${wrong}`, `Basic ${key}`]) {
    const v2 = {
      headers: { authorization },
      requestContext: { http: { sourceIp: '192.0.2.1' } },
    };
    httpApi.push(
      (await handlers.httpApiHandler(v2 as unknown as APIGatewayRequestAuthorizerEventV2))
        .isAuthorized,
    );
    const rest = {
      methodArn: 'arn:aws:execute-api:eu-west-1:1:a/b/GET/x',
      headers: { Authorization: authorization },
      multiValueHeaders: { Authorization: [authorization] },
      requestContext: { identity: { sourceIp: '192.0.2.1' } },
    };
    restApi.push(
      await handlers.restApiHandler(rest as unknown as APIGatewayRequestAuthorizerEvent).then(
        (policy) => String(policy.policyDocument.Statement[0]?.Effect),
        (err: Error) => err.message,
      ),
    );
  }
  return { httpApi, restApi };
}

let driven: {
  authorizer: Awaited<ReturnType<typeof driveAuthorizer>>;
  handlers: Awaited<ReturnType<typeof driveHandlers>>;
};

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  db = await startDynalite();
  capture.start();
  try {
    driven = { authorizer: await driveAuthorizer(), handlers: await driveHandlers() };
  } finally {
    capture.stop();
  }
});
afterAll(async () => {
  process.env = saved;
  await db?.stop();
});

describe('what the authorizer logs', () => {
  it('was driven down every path: accepted, refused, store down, too many failures, limiter down', () => {
    const { keyIds, accepted, refused, storeDown, tooManyFailures, limiterDown } =
      driven.authorizer;
    expect(accepted).toEqual(keyIds);
    expect(refused).toEqual(Array(15).fill(401));
    expect(storeDown).toBe(503);
    expect(tooManyFailures).toEqual([401, 429]);
    expect(limiterDown).toBe(401);
  });

  it('was driven through both API Gateway handlers, which allow the good key and refuse the others', () => {
    expect(driven.handlers).toEqual({
      httpApi: [true, false, false],
      restApi: ['Allow', 'Unauthorized', 'Unauthorized'],
    });
  });

  it('logs every failure with its reason', () => {
    const entries = capture.entries;
    const failures = entries.filter((e) => e.event === 'auth_failed');
    const reasons = new Set(failures.map((e) => e.reason));
    for (const reason of [
      'revoked',
      'expired',
      'unknown',
      'checksum',
      'length',
      'scheme',
      'whitespace',
      'multiple-headers',
      'too-long',
      'missing',
      'unknown_plan',
      'characters',
    ]) {
      expect(reasons, reason).toContain(reason);
    }
    const events = new Set(entries.map((e) => e.event));
    for (const event of [
      'auth_store_unavailable',
      'auth_failures_exceeded',
      'auth_limiter_unavailable',
      'auth_bad_record',
      'auth_key_loaded',
    ]) {
      expect(events, event).toContain(event);
    }
    expect(failures.length).toBeGreaterThanOrEqual(17);
  });

  it('logs no key, no part of one beyond its display prefix, and no Authorization value', () => {
    const text = capture.text;
    expect(text.length).toBeGreaterThan(0);
    expect(secrets.length).toBeGreaterThanOrEqual(10);
    for (const secret of secrets) {
      expect(text).not.toContain(secret);
      for (let i = 0; i + DISPLAY_PREFIX_LENGTH < secret.length; i++) {
        const window = secret.slice(i, i + DISPLAY_PREFIX_LENGTH + 1);
        expect(text.includes(window), `13 characters of a key at offset ${i}`).toBe(false);
      }
    }
    expect(text).not.toMatch(/bearer /i);
    expect(text).not.toMatch(/basic axon/i);
  });
});
