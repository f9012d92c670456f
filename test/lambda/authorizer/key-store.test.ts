import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, hashKey } from '#authorizer/key-format';
import {
  BY_KEY_ID_INDEX,
  BY_OWNER_INDEX,
  createDynamoClient,
  createKeyTable,
  type KeyRecord,
  KeyRecordError,
  KeyStore,
} from '#authorizer/key-store';
import { createTestTable, type Dynalite, startDynalite } from './support.ts';

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.stop();
});

function record(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const key = generateKey();
  return {
    keyHash: hashKey(key),
    keyId: `key_${Math.random().toString(36).slice(2, 10).padEnd(16, '0')}`,
    prefix: key.slice(0, 12),
    owner: 'alice',
    plan: 'free',
    status: 'active',
    createdAt: '2030-01-01T00:00:00.000Z',
    ...overrides,
  };
}

describe('createKeyTable', () => {
  it('creates exactly the schema the CDK DataStack deploys, and tolerates an existing table', async () => {
    const { tableName } = await createTestTable(db.endpoint);
    const client = createDynamoClient({ endpoint: db.endpoint, maxAttempts: 1 });
    await createKeyTable(client, tableName); // second call: no error
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    client.destroy();
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'keyHash', KeyType: 'HASH' }]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const indexes = Object.fromEntries(
      (Table?.GlobalSecondaryIndexes ?? []).map((index) => [
        index.IndexName,
        { keys: index.KeySchema, projection: index.Projection?.ProjectionType },
      ]),
    );
    expect(indexes).toEqual({
      [BY_KEY_ID_INDEX]: { keys: [{ AttributeName: 'keyId', KeyType: 'HASH' }], projection: 'ALL' },
      [BY_OWNER_INDEX]: {
        keys: [
          { AttributeName: 'owner', KeyType: 'HASH' },
          { AttributeName: 'createdAt', KeyType: 'RANGE' },
        ],
        projection: 'ALL',
      },
    });
  });
});

describe('KeyStore', () => {
  it('finds a record by hash and by key id', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const store = new KeyStore(client, tableName);
    const stored = record({ expiresAt: '2031-01-01T00:00:00.000Z', limits: { burst: 5 } });
    await store.put(stored);
    expect(await store.getByHash(stored.keyHash)).toEqual(stored);
    expect(await store.getByKeyId(stored.keyId)).toEqual(stored);
    expect(await store.getByHash(hashKey('nope'))).toBeUndefined();
    expect(await store.getByKeyId('key_0000000000000000')).toBeUndefined();
  });

  it('never overwrites an existing hash', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const store = new KeyStore(client, tableName);
    const first = record();
    await store.put(first);
    await expect(store.put({ ...first, owner: 'mallory' })).rejects.toThrow(/conditional/i);
    expect((await store.getByHash(first.keyHash))?.owner).toBe('alice');
  });

  it("lists one owner's keys newest first, and all keys newest first", async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const store = new KeyStore(client, tableName);
    const a1 = record({ owner: 'alice', createdAt: '2030-01-01T00:00:00.000Z' });
    const a2 = record({ owner: 'alice', createdAt: '2030-03-01T00:00:00.000Z' });
    const b1 = record({ owner: 'bob', createdAt: '2030-02-01T00:00:00.000Z' });
    await Promise.all([a1, a2, b1].map((r) => store.put(r)));
    expect((await store.listByOwner('alice')).map((r) => r.keyId)).toEqual([a2.keyId, a1.keyId]);
    expect((await store.listByOwner('carol')).length).toBe(0);
    expect((await store.listAll()).map((r) => r.keyId)).toEqual([a2.keyId, b1.keyId, a1.keyId]);
  });

  it('revokes once: a concurrent second revoke keeps the first revokedAt', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const store = new KeyStore(client, tableName);
    const stored = record();
    await store.put(stored);
    const [first, second] = await Promise.all([
      store.revoke(stored, '2030-01-02T00:00:00.000Z'),
      store.revoke(stored, '2030-01-03T00:00:00.000Z'),
    ]);
    expect(first.status).toBe('revoked');
    expect(second.status).toBe('revoked');
    const final = await store.getByHash(stored.keyHash);
    expect(final?.revokedAt).toBe(first.revokedAt);
    expect([first.revokedAt, second.revokedAt]).toEqual([final?.revokedAt, final?.revokedAt]);
  });

  it('refuses to revoke a record that is not in the table instead of creating it', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const store = new KeyStore(client, tableName);
    await expect(store.revoke(record(), '2030-01-02T00:00:00.000Z')).rejects.toThrow(
      /conditional/i,
    );
    const { Items } = await client.send(new ScanCommand({ TableName: tableName }));
    expect(Items).toEqual([]);
  });

  it('reports an item without the table shape as a KeyRecordError naming the attribute', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const bad = { ...record(), status: 'paused' };
    await client.send(new PutCommand({ TableName: tableName, Item: bad }));
    const store = new KeyStore(client, tableName);
    await expect(store.getByHash(bad.keyHash)).rejects.toThrow(KeyRecordError);
    await expect(store.getByHash(bad.keyHash)).rejects.toThrow(/status/);
  });
});
