import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminError,
  createKey,
  listKeys,
  parseDuration,
  revokeKey,
  showKey,
} from '#authorizer/admin';
import { hashKey } from '#authorizer/key-format';
import { parseConfig } from '#shared/config';
import { createTestTable, type Dynalite, startDynalite } from './support.ts';

const config = parseConfig({
  plans: {
    free: { requestsPerMinute: 60, burst: 10 },
    pro: { requestsPerMinute: 600, burst: 100 },
  },
});

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.stop();
});

describe('parseDuration', () => {
  it('reads minutes, hours and days', () => {
    expect(parseDuration('90m')).toBe(90 * 60_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
  });

  it('refuses zero, negative, unitless, unknown units and more than ten years', () => {
    for (const text of ['0d', '-1d', '30', '1w', '1.5d', 'd', '', '3651d']) {
      expect(() => parseDuration(text), text).toThrow(AdminError);
    }
  });
});

describe('admin functions', () => {
  it('creates a key whose record holds its hash and display prefix, never the key', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const now = new Date('2030-05-01T10:00:00.000Z');
    const created = await createKey(client, tableName, {
      config,
      plan: 'pro',
      owner: 'alice',
      expiresIn: '12h',
      now,
    });
    expect(created).toMatchObject({
      plan: 'pro',
      owner: 'alice',
      status: 'active',
      prefix: created.key.slice(0, 12),
      createdAt: '2030-05-01T10:00:00.000Z',
      expiresAt: '2030-05-01T22:00:00.000Z',
    });
    const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
    expect(Items).toHaveLength(1);
    expect(Items[0]?.keyHash).toBe(hashKey(created.key));
    expect(JSON.stringify(Items)).not.toContain(created.key.slice(12));
  });

  it('names the valid plans when the plan is unknown, and writes nothing', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    await expect(createKey(client, tableName, { config, plan: 'gold' })).rejects.toThrow(
      'unknown plan "gold"; valid plans: free, pro',
    );
    expect(await listKeys(client, tableName)).toEqual([]);
  });

  it("lists one owner's keys newest first, and everyone's", async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const at = (iso: string) => new Date(iso);
    const a1 = await createKey(client, tableName, {
      config,
      plan: 'free',
      owner: 'alice',
      now: at('2030-01-01T00:00:00Z'),
    });
    const b1 = await createKey(client, tableName, {
      config,
      plan: 'free',
      owner: 'bob',
      now: at('2030-01-02T00:00:00Z'),
    });
    const a2 = await createKey(client, tableName, {
      config,
      plan: 'pro',
      owner: 'alice',
      now: at('2030-01-03T00:00:00Z'),
    });
    const alice = await listKeys(client, tableName, 'alice');
    expect(alice.map((k) => k.keyId)).toEqual([a2.keyId, a1.keyId]);
    expect(alice[0]).not.toHaveProperty('key');
    expect(alice[0]).not.toHaveProperty('keyHash');
    expect((await listKeys(client, tableName)).map((k) => k.keyId)).toEqual([
      a2.keyId,
      b1.keyId,
      a1.keyId,
    ]);
    expect(await listKeys(client, tableName, 'carol')).toEqual([]);
  });

  it('shows a key as expired once its expiry has passed', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const created = await createKey(client, tableName, {
      config,
      plan: 'free',
      expiresIn: '1m',
      now: new Date(Date.now() - 120_000),
    });
    expect((await showKey(client, tableName, created.keyId)).status).toBe('expired');
  });

  it('revokes idempotently and says when a key was already revoked', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const { keyId } = await createKey(client, tableName, { config, plan: 'free' });
    const first = await revokeKey(client, tableName, keyId, new Date('2030-02-01T00:00:00Z'));
    const second = await revokeKey(client, tableName, keyId, new Date('2030-03-01T00:00:00Z'));
    expect(first).toMatchObject({
      status: 'revoked',
      alreadyRevoked: false,
      revokedAt: '2030-02-01T00:00:00.000Z',
    });
    expect(second).toMatchObject({
      status: 'revoked',
      alreadyRevoked: true,
      revokedAt: '2030-02-01T00:00:00.000Z',
    });
  });

  it('refuses things that are not key ids, without echoing a pasted key', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const { key } = await createKey(client, tableName, { config, plan: 'free' });
    const pasted = await showKey(client, tableName, key).catch((err: Error) => err);
    expect(pasted).toBeInstanceOf(AdminError);
    expect((pasted as Error).message).not.toContain(key.slice(5));
    await expect(showKey(client, tableName, 'key_1')).rejects.toThrow(/not a key id/);
    await expect(revokeKey(client, tableName, 'key_0000000000000000')).rejects.toThrow(
      'no key with id key_0000000000000000',
    );
  });
});
