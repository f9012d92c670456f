/**
 * The gateway's IAM role may write only the attributes in KEY_RECORD_ATTRIBUTES
 * (lib/constructs/api-keys-table.ts `grantKeyAdmin`). Every operation that writes a key record,
 * with every option, must stay inside that list, or it would be refused in AWS only.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminKey, createKey, revokeKey, rotateKey, updateKey } from '#authorizer/admin';
import { hashKey } from '#authorizer/key-format';
import { KeyStore } from '#authorizer/key-store';
import { parseConfig } from '#shared/config';
import { KEY_RECORD_ATTRIBUTES } from '#shared/names';
import { createTestTable, type Dynalite, startDynalite } from './support.ts';

const config = parseConfig({
  plans: { free: { requestsPerMinute: 60, burst: 10 }, pro: { requestsPerMinute: 60, burst: 10 } },
  prices: { small: { inputPerMillion: 1, outputPerMillion: 2 } },
});

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.stop();
});

describe('key record attributes', () => {
  it('stay within KEY_RECORD_ATTRIBUTES whatever writes them', async () => {
    const { client, tableName } = await createTestTable(db.endpoint);
    const store = new KeyStore(client, tableName);
    const model = await createKey(client, tableName, {
      config,
      plan: 'free',
      owner: 'alice',
      name: 'job',
      models: ['small'],
      expiresIn: '30d',
      budgets: { dailyBudgetUsd: 1, monthlyBudgetUsd: 10 },
    });
    const rotated = await rotateKey(client, tableName, model.keyId, { overlapMs: 3_600_000 });
    await store.touch(hashKey(rotated.key), new Date().toISOString(), new Date().toISOString());
    await updateKey(client, tableName, model.keyId, { config, plan: 'pro', expiresIn: '60d' });
    await revokeKey(client, tableName, model.keyId);
    const admin = await createAdminKey(client, tableName, { name: 'ops', expiresIn: '1d' });
    await rotateKey(client, tableName, admin.keyId, { overlapMs: 0 });

    const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
    expect(Items).toHaveLength(4);
    const used = new Set(Items.flatMap((item) => Object.keys(item)));
    const allowed = new Set<string>(KEY_RECORD_ATTRIBUTES);
    expect([...used].filter((name) => !allowed.has(name))).toEqual([]);
    // And the list is not padded with names nothing writes.
    expect([...allowed].filter((name) => !used.has(name))).toEqual([]);
  });
});
