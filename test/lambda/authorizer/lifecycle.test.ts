/**
 * Key lifecycle on a real table (dynalite): rotation with an overlap window (one key id, two
 * secrets, the old one ending), updates, revocation of every secret, and the authorizer's
 * last-used stamp, written off the request's path at most once per interval.
 */
import { PutCommand, type UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AxonError } from '@axon/runtime/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminError,
  createKey,
  listKeys,
  parseOverlap,
  revokeKey,
  rotateKey,
  showKey,
  updateKey,
} from '#authorizer/admin';
import { Authorizer } from '#authorizer/authorizer';
import { hashKey } from '#authorizer/key-format';
import { type KeyLookup, type KeyRecord, KeyStore } from '#authorizer/key-store';
import { PrincipalCache } from '#authorizer/principal-cache';
import { parseConfig } from '#shared/config';
import { MemoryStore } from '#token-bucket/memory-store';
import { poll } from '../../support/poll.ts';
import { createTestTable, type Dynalite, LogCapture, startDynalite, TestClock } from './support.ts';

const config = parseConfig({
  plans: {
    free: { requestsPerMinute: 60, burst: 10 },
    pro: { requestsPerMinute: 600, burst: 100, models: ['small'] },
  },
  auth: { cacheTtlSeconds: 30, failuresPerMinutePerAddress: 30 },
});

let db: Dynalite;
const logs = new LogCapture();
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.stop();
});

const HOUR = 3_600_000;

async function setup(options: { keys?: (store: KeyStore) => KeyLookup; ttl?: number } = {}) {
  const clock = new TestClock();
  const { client, tableName } = await createTestTable(db.endpoint);
  const store = new KeyStore(client, tableName);
  const authorizer = (keys: KeyLookup = options.keys?.(store) ?? store) =>
    new Authorizer({
      keys,
      cache: new PrincipalCache({ ttlSeconds: options.ttl ?? 30, now: clock.now }),
      failures: new MemoryStore({ now: clock.now }),
      config,
      log: logs.logger,
      now: clock.now,
    });
  const now = () => new Date(clock.ms);
  const create = (plan = 'free', expiresIn?: string) =>
    createKey(client, tableName, { config, plan, now: now(), ...(expiresIn && { expiresIn }) });
  return { clock, client, tableName, store, authorizer, now, create };
}

/** The secret's `lastUsedAt` once it is `wanted` (the write is not awaited by the request). */
async function lastUsed(store: KeyStore, key: string, wanted: (at?: string) => boolean) {
  return poll(async () => (await store.getByHash(hashKey(key)))?.lastUsedAt, wanted);
}

async function outcome(authorizer: Authorizer, key: string) {
  try {
    return (await authorizer.authenticate({ authorization: `Bearer ${key}` })).keyId;
  } catch (err) {
    if (err instanceof AxonError) return err.status;
    throw err;
  }
}

describe('rotate', () => {
  it('makes a new secret for the same key id; the old one works until the overlap ends', async () => {
    const { client, tableName, clock, authorizer, now, create } = await setup();
    const created = await create('pro');
    const rotated = await rotateKey(client, tableName, created.keyId, {
      overlapMs: 24 * HOUR,
      now: now(),
    });
    expect(rotated.key).not.toBe(created.key);
    expect(rotated).toMatchObject({
      keyId: created.keyId,
      plan: 'pro',
      owner: created.owner,
      createdAt: created.createdAt,
      rotatedAt: now().toISOString(),
      replaced: {
        prefix: created.prefix,
        expiresAt: new Date(clock.ms + 24 * HOUR).toISOString(),
      },
    });
    expect(rotated).not.toHaveProperty('expiresAt');

    // A fresh instance (nothing cached) reads both secrets as the same key.
    const fresh = authorizer();
    expect(await outcome(fresh, created.key)).toBe(created.keyId);
    expect(await outcome(fresh, rotated.key)).toBe(created.keyId);
    clock.advance(24 * 3600 - 1);
    expect(await outcome(authorizer(), created.key)).toBe(created.keyId);
    clock.advance(1);
    expect(await outcome(authorizer(), created.key)).toBe(401);
    expect(await outcome(authorizer(), rotated.key)).toBe(created.keyId);
  });

  it('stops the old secret at most a cache TTL after the overlap on an instance that cached it', async () => {
    const { client, tableName, clock, authorizer, now, create } = await setup({ ttl: 30 });
    const created = await create();
    const cached = authorizer();
    expect(await outcome(cached, created.key)).toBe(created.keyId);
    await rotateKey(client, tableName, created.keyId, { overlapMs: 0, now: now() });
    // Cached before the rotation: still served, but never past the TTL.
    expect(await outcome(cached, created.key)).toBe(created.keyId);
    clock.advance(30);
    expect(await outcome(cached, created.key)).toBe(401);
  });

  it('never lengthens the old secret’s life past its own expiry', async () => {
    const { client, tableName, now, create } = await setup();
    const created = await create('free', '2h');
    const rotated = await rotateKey(client, tableName, created.keyId, {
      overlapMs: 24 * HOUR,
      now: now(),
    });
    expect(rotated.replaced.expiresAt).toBe(created.expiresAt);
    // The new secret keeps the key's expiry.
    expect(rotated.expiresAt).toBe(created.expiresAt);
  });

  it('lists and shows one key with its previous secret; a second rotation keeps the first overlap', async () => {
    const { client, tableName, clock, now, create } = await setup();
    const created = await create();
    const first = await rotateKey(client, tableName, created.keyId, {
      overlapMs: 2 * HOUR,
      now: now(),
    });
    clock.advance(60);
    const second = await rotateKey(client, tableName, created.keyId, {
      overlapMs: 24 * HOUR,
      now: now(),
    });
    const shown = await showKey(client, tableName, created.keyId);
    expect(shown.prefix).toBe(second.prefix);
    expect(shown.previous?.map((p) => [p.prefix, p.expiresAt])).toEqual([
      [first.prefix, new Date(clock.ms + 24 * HOUR).toISOString()],
      [created.prefix, new Date(clock.ms - 60_000 + 2 * HOUR).toISOString()],
    ]);
    const listed = (await listKeys(client, tableName)).filter((k) => k.keyId === created.keyId);
    expect(listed.map((k) => k.prefix)).toEqual([second.prefix]);
  });

  it('lets only one of two concurrent rotations win', async () => {
    const { client, tableName, store, now, create } = await setup();
    const created = await create();
    const results = await Promise.allSettled([
      rotateKey(client, tableName, created.keyId, { overlapMs: HOUR, now: now() }),
      rotateKey(client, tableName, created.keyId, { overlapMs: HOUR, now: now() }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failure.reason).toBeInstanceOf(AdminError);
    expect(await store.listByKeyId(created.keyId)).toHaveLength(2);
  });

  it('puts the old secret back as it was when the new one cannot be written', async () => {
    const { client, tableName, store, authorizer, now, create } = await setup();
    const created = await create('free', '30d');
    const failingPuts = {
      send: (command: unknown) => {
        if (command instanceof PutCommand) return Promise.reject(new Error('write failed'));
        return client.send(command as UpdateCommand);
      },
    } as typeof client;
    await expect(
      rotateKey(failingPuts, tableName, created.keyId, { overlapMs: 0, now: now() }),
    ).rejects.toThrow('write failed');
    const [record] = await store.listByKeyId(created.keyId);
    expect(record).toMatchObject({ expiresAt: created.expiresAt });
    expect(record).not.toHaveProperty('replacedAt');
    expect(await outcome(authorizer(), created.key)).toBe(created.keyId);
  });

  it('refuses a revoked or expired key, and a bad overlap before any write', async () => {
    const { client, tableName, clock, now, create } = await setup();
    const revoked = await create();
    await revokeKey(client, tableName, revoked.keyId);
    await expect(
      rotateKey(client, tableName, revoked.keyId, { overlapMs: HOUR, now: now() }),
    ).rejects.toThrow(`${revoked.keyId} is revoked; create a new key instead`);
    const expiring = await create('free', '90m');
    clock.advance(90 * 60);
    await expect(
      rotateKey(client, tableName, expiring.keyId, { overlapMs: HOUR, now: now() }),
    ).rejects.toThrow(/expired at .*; extend it with update --expires-in/);
    expect(parseOverlap('0')).toBe(0);
    expect(parseOverlap('90m')).toBe(90 * 60_000);
    expect(() => parseOverlap('1w')).toThrow('--overlap must be a positive duration');
  });
});

describe('revoke after a rotation', () => {
  it('revokes every secret of the key', async () => {
    const { client, tableName, authorizer, now, create } = await setup();
    const created = await create();
    const rotated = await rotateKey(client, tableName, created.keyId, {
      overlapMs: 24 * HOUR,
      now: now(),
    });
    const revoked = await revokeKey(client, tableName, created.keyId, now());
    expect(revoked).toMatchObject({ status: 'revoked', alreadyRevoked: false });
    expect(revoked).not.toHaveProperty('previous');
    const fresh = authorizer();
    expect(await outcome(fresh, created.key)).toBe(401);
    expect(await outcome(fresh, rotated.key)).toBe(401);
    expect((await revokeKey(client, tableName, created.keyId)).alreadyRevoked).toBe(true);
  });
});

describe('update', () => {
  it('changes plan, models and expiry on every secret; the next cache fill sees them', async () => {
    const { client, tableName, clock, store, authorizer, now, create } = await setup();
    const created = await create('free');
    await rotateKey(client, tableName, created.keyId, { overlapMs: 24 * HOUR, now: now() });
    const updated = await updateKey(client, tableName, created.keyId, {
      config,
      plan: 'pro',
      models: ['large'],
      expiresIn: '2h',
      now: now(),
    });
    expect(updated).toMatchObject({
      plan: 'pro',
      models: ['large'],
      expiresAt: new Date(clock.ms + 2 * HOUR).toISOString(),
    });
    const secrets = await store.listByKeyId(created.keyId);
    expect(secrets.map((s) => [s.plan, s.models, s.expiresAt])).toEqual([
      ['pro', ['large'], updated.expiresAt],
      // The old secret's overlap (24 h) now ends with the key, 2 h from now.
      ['pro', ['large'], updated.expiresAt],
    ]);
    const principal = await authorizer().authenticate({ authorization: `Bearer ${created.key}` });
    expect(principal).toMatchObject({ plan: 'pro', models: ['large'] });

    const back = await updateKey(client, tableName, created.keyId, {
      config,
      models: null,
      expiresIn: null,
      now: now(),
    });
    expect(back).not.toHaveProperty('models');
    expect(back).not.toHaveProperty('expiresAt');
    const [current, old] = await store.listByKeyId(created.keyId);
    expect(current).not.toHaveProperty('expiresAt');
    // A replaced secret never becomes endless.
    expect(old?.expiresAt).toBe(updated.expiresAt);
  });

  it('revives an expired key with a new expiry, and refuses a revoked key or nothing to do', async () => {
    const { client, tableName, clock, authorizer, now, create } = await setup();
    const created = await create('free', '90m');
    clock.advance(90 * 60);
    expect(await outcome(authorizer(), created.key)).toBe(401);
    await updateKey(client, tableName, created.keyId, { config, expiresIn: '1d', now: now() });
    expect(await outcome(authorizer(), created.key)).toBe(created.keyId);

    await expect(updateKey(client, tableName, created.keyId, { config })).rejects.toThrow(
      'nothing to update',
    );
    await expect(
      updateKey(client, tableName, created.keyId, { config, plan: 'gold' }),
    ).rejects.toThrow('unknown plan "gold"');
    await revokeKey(client, tableName, created.keyId);
    await expect(
      updateKey(client, tableName, created.keyId, { config, plan: 'pro' }),
    ).rejects.toThrow('is revoked; it cannot change');
  });
});

/** Counts the last-used writes that reach the store. */
class CountingTouches implements KeyLookup {
  touches = 0;
  constructor(private readonly inner: KeyStore) {}
  getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    return this.inner.getByHash(keyHash);
  }
  touch(keyHash: string, at: string, staleBefore: string): Promise<boolean> {
    this.touches++;
    return this.inner.touch(keyHash, at, staleBefore);
  }
}

describe('last used', () => {
  it('writes lastUsedAt once per interval per secret, and show and list report it', async () => {
    const { client, tableName, clock, store, authorizer, create } = await setup();
    const created = await create();
    const counting = new CountingTouches(store);
    const instance = authorizer(counting);
    const usedAt = new Date(clock.ms).toISOString();
    await instance.authenticate({ authorization: `Bearer ${created.key}` });
    expect(await lastUsed(store, created.key, (at) => at === usedAt)).toBe(usedAt);
    for (let i = 0; i < 5; i++) {
      clock.advance(60);
      await instance.authenticate({ authorization: `Bearer ${created.key}` });
    }
    expect(counting.touches).toBe(1);
    expect((await showKey(client, tableName, created.keyId)).lastUsedAt).toBe(usedAt);

    clock.advance(15 * 60);
    const laterAt = new Date(clock.ms).toISOString();
    await instance.authenticate({ authorization: `Bearer ${created.key}` });
    expect(counting.touches).toBe(2);
    expect(await lastUsed(store, created.key, (at) => at === laterAt)).toBe(laterAt);
    const listed = (await listKeys(client, tableName)).find((k) => k.keyId === created.keyId);
    expect(listed?.lastUsedAt).toBe(laterAt);
  });

  it('lets only the first of several instances write within one interval', async () => {
    const { clock, store, authorizer, create } = await setup();
    const created = await create();
    const firstAt = new Date(clock.ms).toISOString();
    await authorizer().authenticate({ authorization: `Bearer ${created.key}` });
    expect(await lastUsed(store, created.key, (at) => at === firstAt)).toBe(firstAt);
    clock.advance(10 * 60);
    // Another instance, its own memory empty, tries; the table's condition refuses it.
    expect(
      await store.touch(
        hashKey(created.key),
        new Date(clock.ms).toISOString(),
        new Date(clock.ms - 15 * 60_000 + 1).toISOString(),
      ),
    ).toBe(false);
    await authorizer().authenticate({ authorization: `Bearer ${created.key}` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await store.getByHash(hashKey(created.key)))?.lastUsedAt).toBe(firstAt);
  });

  it('stamps the secret used, so a rotation shows whether the old secret is still in use', async () => {
    const { client, tableName, store, authorizer, now, create } = await setup();
    const created = await create();
    const rotated = await rotateKey(client, tableName, created.keyId, {
      overlapMs: HOUR,
      now: now(),
    });
    await authorizer().authenticate({ authorization: `Bearer ${rotated.key}` });
    expect(await lastUsed(store, rotated.key, (at) => at !== undefined)).toBeDefined();
    const shown = await showKey(client, tableName, created.keyId);
    expect(shown.lastUsedAt).toBeDefined();
    expect(shown.previous?.[0]).not.toHaveProperty('lastUsedAt');
  });

  it('never fails or holds a request when the write fails or hangs, and logs the failure', async () => {
    const failing: (() => Promise<boolean>)[] = [
      () => Promise.reject(Object.assign(new Error('throttled'), { name: 'ThrottlingException' })),
      () => new Promise<boolean>(() => {}),
      () => {
        throw new Error('synchronous');
      },
    ];
    logs.start();
    try {
      for (const touch of failing) {
        const { store, authorizer, create } = await setup();
        const { key } = await create();
        const keys: KeyLookup = { getByHash: (hash) => store.getByHash(hash), touch };
        const started = performance.now();
        const principal = await authorizer(keys).authenticate({ authorization: `Bearer ${key}` });
        expect(principal.plan).toBe('free');
        expect(performance.now() - started).toBeLessThan(1000);
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      logs.stop();
    }
    expect(
      logs.entries.filter((e) => e.event === 'auth_last_used_failed').map((e) => e.error),
    ).toEqual(['ThrottlingException', 'Error']);
  });
});
