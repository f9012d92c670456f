/**
 * What an exporter test needs: dynalite with a fresh Usage table (the CDK schema), the items it
 * holds, and ledger entries booked through the limiter's real script.
 */
import { randomBytes } from 'node:crypto';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDynamoClient } from '#authorizer/key-store';
import { RedisStore } from '#token-bucket/redis-store';
import { HOUR_MS } from '../../../lambda/usage-export/ledger.ts';
import { createUsageTable, UsageTable } from '../../../lambda/usage-export/usage-table.ts';
import { type Dynalite, startDynalite } from '../../../local/dynalite.ts';

/** The current hour, as the ledger numbers hours (this machine's clock is Redis's). */
export const hour = () => Math.floor(Date.now() / HOUR_MS);

/** Key ids no other test of the shared redis-server uses. */
export const freshKeys = (n: number) =>
  Array.from({ length: n }, () => `key_${randomBytes(8).toString('hex')}`);

/**
 * What a ledger test file runs on: a client of the suite's redis-server with the limiter's
 * store over it, and a dynalite of its own, started before its tests and stopped after.
 */
export function ledgerParts(): { redis: Redis; store: RedisStore; endpoint: () => string } {
  const redis = new Redis(inject('redisUrl'));
  let dynalite: Dynalite | undefined;
  beforeAll(async () => {
    dynalite = await startDynalite();
  });
  afterAll(async () => {
    redis.disconnect();
    await dynalite?.stop();
  });
  return {
    redis,
    store: new RedisStore(redis),
    endpoint: () => (dynalite as Dynalite).endpoint,
  };
}

let tables = 0;

export async function freshUsageTable(endpoint: string): Promise<{
  client: DynamoDBClient;
  table: UsageTable;
}> {
  const client = createDynamoClient({ endpoint, maxAttempts: 1 });
  const name = `usage-${process.pid}-${++tables}`;
  await createUsageTable(client, name);
  return { client, table: new UsageTable(client, name) };
}

/** One exported item, numbers as bigints (exact), keyed `<keyId> <hour>#<model>`. */
export type Exported = Map<string, Record<string, bigint>>;

/** Every usage item of the table (not the checkpoint). */
export async function exported(client: DynamoDBClient, tableName: string): Promise<Exported> {
  const items: Exported = new Map();
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ...(start && { ExclusiveStartKey: start }) }),
    );
    for (const item of page.Items ?? []) {
      if (item.keyId?.S?.startsWith('#')) continue;
      const numbers: Record<string, bigint> = {};
      for (const [name, value] of Object.entries(item)) {
        if (value.N !== undefined) numbers[name] = BigInt(value.N);
      }
      items.set(`${item.keyId?.S} ${item.hourModel?.S}`, numbers);
    }
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return items;
}

/** Books one settled request in `keyId`'s ledger through the real script. */
export function book(
  store: RedisStore,
  keyId: string,
  model: string,
  input: number,
  output: number,
  costNanoUsd = input + 2 * output,
) {
  return store.settle({
    id: keyId,
    limits: { requestsPerMinute: 6000, burst: 1000 },
    tokens: input + output,
    costNanoUsd,
    usage: { model, inputTokens: input, outputTokens: output, cachedTokens: 0 },
  });
}
