/**
 * The Usage table on DynamoDB: one item per (API key, UTC hour, model) holding the hour's
 * absolute totals, plus one checkpoint item. The low-level client is used on purpose: numbers
 * go over the wire as the decimal strings Redis gave, exact past 2^53, never through a double.
 *
 * Idempotence: an item is written with the condition that the table holds no item for it yet,
 * or one that counted fewer requests. Totals of an hour only grow, and the request count grows
 * with every booking, so a replay of the same totals (an exporter that died after the write and
 * before deleting the hash) is refused by the condition and counts nothing twice, and an older
 * read can never overwrite a newer one.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceInUseException,
  ScanCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { USAGE_TABLE } from '#shared/names';
import { COUNTERS, isoHour, type UsageRecord } from './ledger.ts';

type Sender = Pick<DynamoDBClient, 'send'>;

const { partitionKey: PK, sortKey: SK } = USAGE_TABLE;
/** The checkpoint's item; `#` never starts a key id (`key_...`), so it cannot collide. */
const CHECKPOINT = { [PK]: { S: '#usage-export' }, [SK]: { S: 'checkpoint' } };

/** Where the exporter writes; an interface so tests can make it fail at a chosen write. */
export interface UsageSink {
  /** Writes the record's totals; false when the table already held them (or more). */
  put(record: UsageRecord): Promise<boolean>;
  /** The first hour not yet exported completely, if the exporter has ever finished one. */
  nextHour(): Promise<number | undefined>;
  /** Records that every hour before `hour` is exported; never moves backwards. */
  advance(hour: number): Promise<void>;
}

export class UsageTable implements UsageSink {
  constructor(
    private readonly client: Sender,
    readonly tableName: string,
  ) {}

  async put(record: UsageRecord): Promise<boolean> {
    const numbers = Object.fromEntries(
      Object.values(COUNTERS).map((measure) => [measure, { N: record[measure] }]),
    );
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            [PK]: { S: record.keyId },
            [SK]: { S: `${isoHour(record.hour)}#${record.model}` },
            hour: { S: isoHour(record.hour) },
            model: { S: record.model },
            ...numbers,
            exportedAt: { S: new Date().toISOString() },
          },
          ConditionExpression: 'attribute_not_exists(requests) OR requests < :requests',
          ExpressionAttributeValues: { ':requests': { N: record.requests } },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async nextHour(): Promise<number | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: CHECKPOINT, ConsistentRead: true }),
    );
    const next = Item?.nextHour?.N;
    return next === undefined ? undefined : Number(next);
  }

  async advance(hour: number): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: { ...CHECKPOINT, nextHour: { N: String(hour) }, hour: { S: isoHour(hour) } },
          ConditionExpression: 'attribute_not_exists(nextHour) OR nextHour < :next',
          ExpressionAttributeValues: { ':next': { N: String(hour) } },
        }),
      );
    } catch (err) {
      // Another run got further: its checkpoint stands.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}

/**
 * Every key id of the ApiKeys table, revoked and expired ones too (their last hours may hold
 * usage): the ledgers to look for. A consistent scan of the one attribute, page by page.
 */
export async function* keyIdsOf(client: Sender, keysTable: string): AsyncGenerator<string> {
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: keysTable,
        ProjectionExpression: 'keyId',
        ConsistentRead: true,
        ...(start && { ExclusiveStartKey: start as never }),
      }),
    );
    for (const item of page.Items ?? []) {
      const id = item.keyId?.S;
      if (id) yield id;
    }
    start = page.LastEvaluatedKey;
  } while (start);
}

/** Creates the Usage table with the schema the CDK Data stack deploys (dynalite, tests). */
export async function createUsageTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: PK, AttributeType: 'S' },
          { AttributeName: SK, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: PK, KeyType: 'HASH' },
          { AttributeName: SK, KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
}
