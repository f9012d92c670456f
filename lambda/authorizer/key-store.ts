/**
 * The ApiKeys table on DynamoDB. The partition key is the SHA-256 of the key, so the hot path is
 * one strongly consistent GetItem and the key itself is never stored. The GSIs serve the admin
 * CLI only (find by public id, list by owner).
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { API_KEYS_TABLE, ENV } from '#shared/names';

/** Env var naming the table for handlers (the CDK table's `bindReader` sets it). */
export const KEYS_TABLE_ENV = ENV.keysTable;
/** Env var pointing handlers at a local DynamoDB (dynalite); unset in AWS. */
export const DYNAMODB_ENDPOINT_ENV = ENV.dynamodbEndpoint;
/** Table name the local stack and tests use when none is given. */
export const LOCAL_KEYS_TABLE = 'axon-local-api-keys';
/** Partition key of the table: lowercase hex SHA-256 of the full key. */
export const KEY_HASH_ATTRIBUTE = API_KEYS_TABLE.partitionKey;
/** GSI: partition `keyId`, projection ALL. */
export const BY_KEY_ID_INDEX = API_KEYS_TABLE.indexes.byKeyId.name;
/** GSI: partition `owner`, sort `createdAt`, projection ALL. */
export const BY_OWNER_INDEX = API_KEYS_TABLE.indexes.byOwner.name;

const { byKeyId, byOwner } = API_KEYS_TABLE.indexes;

export type KeyStatus = 'active' | 'revoked';

/** `admin`: an admin key (docs/auth.md#admin-keys); absent: a key that calls models. */
export type RecordKind = 'admin';

/**
 * One item of the table, as stored: one secret of a key. `limits` overrides the plan's numbers
 * field by field; `models`, when present, replaces the plan's list of models the key may call.
 *
 * A rotated key has several items with the same `keyId` (so its limits, usage and budgets carry
 * on): the current secret, and the secrets it replaced, each marked `replacedAt` and expiring at
 * the end of its overlap window.
 */
export interface KeyRecord {
  readonly keyHash: string;
  readonly keyId: string;
  readonly prefix: string;
  readonly owner: string;
  /** The key's plan; `''` for an admin key, which has none (the attribute is not stored). */
  readonly plan: string;
  /** `admin` for an admin key; absent for a key that calls models. */
  readonly kind?: RecordKind;
  /** A label for people (the admin API's `name`); absent: none. */
  readonly name?: string;
  readonly status: KeyStatus;
  /** When the key (its id) was created; a rotated secret keeps its key's. */
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
  readonly limits?: Readonly<Record<string, unknown>>;
  readonly models?: readonly string[];
  /** When this secret was made by a rotation (absent on a key's first secret). */
  readonly rotatedAt?: string;
  /** When a rotation replaced this secret; it then works until its `expiresAt` only. */
  readonly replacedAt?: string;
  /** Last successful authentication with this secret, written at most once per interval. */
  readonly lastUsedAt?: string;
}

/** An item that does not have the table's shape (written by hand, or by a future version). */
export class KeyRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRecordError';
  }
}

/** What the authorizer needs from the store: one lookup by hash, and the last-used stamp. */
export interface KeyLookup {
  getByHash(keyHash: string): Promise<KeyRecord | undefined>;
  /**
   * Sets the secret's `lastUsedAt` to `at` unless it is already at or after `staleBefore`, so
   * every gateway instance together writes it at most once per interval. Resolves `false` when
   * the condition kept it (another instance was first); rejects only on a store failure.
   */
  touch?(keyHash: string, at: string, staleBefore: string): Promise<boolean>;
}

type DocumentSender = Pick<DynamoDBDocumentClient, 'send'>;

const REQUIRED_STRINGS = ['keyHash', 'keyId', 'prefix', 'owner', 'createdAt'] as const;

/** Checks an item's shape; throws `KeyRecordError` naming the bad attribute. */
export function toKeyRecord(item: Record<string, unknown>): KeyRecord {
  if (item.kind !== undefined && item.kind !== 'admin') {
    throw new KeyRecordError('key record attribute kind must be "admin" when present');
  }
  const admin = item.kind === 'admin';
  // An admin key has no plan; a key that calls models must have one.
  for (const name of admin ? REQUIRED_STRINGS : [...REQUIRED_STRINGS, 'plan']) {
    if (typeof item[name] !== 'string' || item[name] === '') {
      throw new KeyRecordError(`key record attribute ${name} must be a non-empty string`);
    }
  }
  if (admin && item.plan !== undefined) {
    throw new KeyRecordError('an admin key record has no plan attribute');
  }
  if (item.name !== undefined && typeof item.name !== 'string') {
    throw new KeyRecordError('key record attribute name must be a string');
  }
  if (item.status !== 'active' && item.status !== 'revoked') {
    throw new KeyRecordError('key record attribute status must be "active" or "revoked"');
  }
  for (const name of ['expiresAt', 'revokedAt', 'rotatedAt', 'replacedAt', 'lastUsedAt'] as const) {
    if (item[name] !== undefined && typeof item[name] !== 'string') {
      throw new KeyRecordError(`key record attribute ${name} must be an ISO-8601 string`);
    }
  }
  const limits = item.limits;
  if (
    limits !== undefined &&
    (typeof limits !== 'object' || limits === null || Array.isArray(limits))
  ) {
    throw new KeyRecordError('key record attribute limits must be a map');
  }
  // The shape only; the list's rules (parseModelList) are checked where the key is resolved.
  const models = item.models;
  if (
    models !== undefined &&
    (!Array.isArray(models) || !models.every((name) => typeof name === 'string'))
  ) {
    throw new KeyRecordError('key record attribute models must be a list of strings');
  }
  return {
    keyHash: item.keyHash as string,
    keyId: item.keyId as string,
    prefix: item.prefix as string,
    owner: item.owner as string,
    plan: admin ? '' : (item.plan as string),
    ...(admin && { kind: 'admin' as const }),
    ...(item.name !== undefined && { name: item.name as string }),
    status: item.status,
    createdAt: item.createdAt as string,
    ...(item.expiresAt !== undefined && { expiresAt: item.expiresAt as string }),
    ...(item.revokedAt !== undefined && { revokedAt: item.revokedAt as string }),
    ...(limits !== undefined && { limits: limits as Record<string, unknown> }),
    ...(models !== undefined && { models: models as string[] }),
    ...(item.rotatedAt !== undefined && { rotatedAt: item.rotatedAt as string }),
    ...(item.replacedAt !== undefined && { replacedAt: item.replacedAt as string }),
    ...(item.lastUsedAt !== undefined && { lastUsedAt: item.lastUsedAt as string }),
  };
}

/** What may change on a key after creation (`update`); `null` removes the attribute. */
export interface KeyChanges {
  readonly plan?: string;
  readonly models?: readonly string[] | null;
  readonly limits?: Readonly<Record<string, unknown>> | null;
  readonly expiresAt?: string | null;
}

export class KeyStore implements KeyLookup {
  constructor(
    private readonly client: DocumentSender,
    private readonly tableName: string,
  ) {}

  /**
   * Strongly consistent, so a revocation is visible to the next cache miss at once; the cost
   * (one read unit instead of half) is paid once per cache TTL per key.
   */
  async getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [KEY_HASH_ATTRIBUTE]: keyHash },
        ConsistentRead: true,
      }),
    );
    return Item ? toKeyRecord(Item) : undefined;
  }

  /**
   * The key's current secret: the one no rotation replaced (the newest, should a failed
   * rotation have left two). GSI reads are eventually consistent: a key created a moment ago
   * may not be found yet.
   */
  async getByKeyId(keyId: string): Promise<KeyRecord | undefined> {
    return currentSecret(await this.listByKeyId(keyId));
  }

  /** Every secret of a key (one, or more after rotations), newest first. */
  async listByKeyId(keyId: string): Promise<KeyRecord[]> {
    const records = await this.queryAll({
      IndexName: BY_KEY_ID_INDEX,
      KeyConditionExpression: 'keyId = :keyId',
      ExpressionAttributeValues: { ':keyId': keyId },
    });
    return records.sort(newestSecretFirst);
  }

  /** Newest first. */
  listByOwner(owner: string): Promise<KeyRecord[]> {
    return this.queryAll({
      IndexName: BY_OWNER_INDEX,
      KeyConditionExpression: '#owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': owner },
      ScanIndexForward: false,
    });
  }

  /** Every record a query of this table matches, page after page, in the order it answers. */
  private async queryAll(
    query: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): Promise<KeyRecord[]> {
    const records: KeyRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({ ...query, TableName: this.tableName, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) records.push(toKeyRecord(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return records;
  }

  /** Every key, newest first. A Scan: fine for an admin CLI, never on the request path. */
  async listAll(): Promise<KeyRecord[]> {
    const records: KeyRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) records.push(toKeyRecord(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return records.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Writes a new record; refuses to overwrite an existing hash. */
  async put(record: KeyRecord): Promise<void> {
    const { plan, ...rest } = record;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        // An admin key's record has no plan attribute at all.
        Item: record.kind === 'admin' ? rest : { ...rest, plan },
        ConditionExpression: 'attribute_not_exists(keyHash)',
      }),
    );
  }

  async touch(keyHash: string, at: string, staleBefore: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [KEY_HASH_ATTRIBUTE]: keyHash },
          UpdateExpression: 'SET lastUsedAt = :at',
          // ISO-8601 UTC strings of one format compare as the times they name.
          ConditionExpression:
            'attribute_exists(keyHash) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :stale)',
          ExpressionAttributeValues: { ':at': at, ':stale': staleBefore },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * The first half of a rotation: marks the current secret replaced and shortens its life to
   * `expiresAt`. Fails (ConditionalCheckFailedException) unless it is still the key's active,
   * unreplaced secret, so two rotations racing cannot both win.
   */
  async replace(record: KeyRecord, replacedAt: string, expiresAt: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [KEY_HASH_ATTRIBUTE]: record.keyHash },
        UpdateExpression: 'SET replacedAt = :at, expiresAt = :expires',
        ConditionExpression:
          'attribute_exists(keyHash) AND keyId = :keyId AND #status = :active AND attribute_not_exists(replacedAt)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':at': replacedAt,
          ':expires': expiresAt,
          ':keyId': record.keyId,
          ':active': 'active',
        },
      }),
    );
  }

  /** Undoes `replace` when the new secret could not be written: the old one stays current. */
  async unreplace(record: KeyRecord, replacedAt: string): Promise<void> {
    const restore = record.expiresAt === undefined;
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [KEY_HASH_ATTRIBUTE]: record.keyHash },
        UpdateExpression: restore
          ? 'REMOVE replacedAt, expiresAt'
          : 'SET expiresAt = :expires REMOVE replacedAt',
        ConditionExpression: 'replacedAt = :at',
        ExpressionAttributeValues: {
          ':at': replacedAt,
          ...(!restore && { ':expires': record.expiresAt }),
        },
      }),
    );
  }

  /**
   * Changes what `update` may change on one secret of an active key; fails
   * (ConditionalCheckFailedException) when it was revoked or vanished in between.
   */
  async update(record: KeyRecord, changes: KeyChanges): Promise<KeyRecord> {
    const set: string[] = [];
    const remove: string[] = [];
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':keyId': record.keyId, ':active': 'active' };
    for (const name of ['plan', 'models', 'limits', 'expiresAt'] as const) {
      const value = changes[name];
      if (value === undefined) continue;
      // `plan` is a DynamoDB reserved word: every name goes through a placeholder.
      names[`#${name}`] = name;
      if (value === null) {
        remove.push(`#${name}`);
      } else {
        set.push(`#${name} = :${name}`);
        values[`:${name}`] = value;
      }
    }
    const expression = [
      set.length > 0 ? `SET ${set.join(', ')}` : '',
      remove.length > 0 ? `REMOVE ${remove.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    if (!expression) return record;
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [KEY_HASH_ATTRIBUTE]: record.keyHash },
        UpdateExpression: expression,
        ConditionExpression: 'attribute_exists(keyHash) AND keyId = :keyId AND #status = :active',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    if (!Attributes) throw new KeyRecordError(`updating ${record.keyId} returned no record`);
    return toKeyRecord(Attributes);
  }

  /**
   * Marks a key revoked. A concurrent revoke keeps the first `revokedAt`; a record that vanished
   * or changed id in between fails the condition instead of being recreated.
   */
  async revoke(record: KeyRecord, revokedAt: string): Promise<KeyRecord> {
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [KEY_HASH_ATTRIBUTE]: record.keyHash },
        UpdateExpression: 'SET #status = :revoked, revokedAt = if_not_exists(revokedAt, :at)',
        ConditionExpression: 'attribute_exists(keyHash) AND keyId = :keyId',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':revoked': 'revoked',
          ':at': revokedAt,
          ':keyId': record.keyId,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    if (!Attributes) throw new KeyRecordError(`revoking ${record.keyId} returned no record`);
    return toKeyRecord(Attributes);
  }
}

/**
 * Newest secret first: a rotated secret by its rotation time, a first secret by its key's; at the
 * same instant, the one no rotation replaced first.
 */
export function newestSecretFirst(a: KeyRecord, b: KeyRecord): number {
  const byTime = (b.rotatedAt ?? b.createdAt).localeCompare(a.rotatedAt ?? a.createdAt);
  if (byTime !== 0) return byTime;
  return Number(a.replacedAt !== undefined) - Number(b.replacedAt !== undefined);
}

/**
 * The key's current secret among its records: the newest one no rotation replaced, else (a
 * rotation that failed half way and could not be undone) the newest of all.
 */
export function currentSecret(records: readonly KeyRecord[]): KeyRecord | undefined {
  const sorted = [...records].sort(newestSecretFirst);
  return sorted.find((record) => record.replacedAt === undefined) ?? sorted[0];
}

export interface DynamoClientOptions {
  /** A local DynamoDB (dynalite, the local stack). Dummy credentials are used with it. */
  readonly endpoint?: string;
  readonly region?: string;
  /** @default 3 (the SDK default) */
  readonly maxAttempts?: number;
}

/**
 * A document client with timeouts: without them a stalled connection would hold a request until
 * the Lambda times out, instead of answering 503 `auth_unavailable`.
 */
export function createDocumentClient(options: DynamoClientOptions = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(createDynamoClient(options), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createDynamoClient(options: DynamoClientOptions = {}): DynamoDBClient {
  const config: DynamoDBClientConfig = {
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.region !== undefined && { region: options.region }),
  };
  if (options.endpoint !== undefined) {
    config.endpoint = options.endpoint;
    config.region = options.region ?? 'us-east-1';
    config.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }
  return new DynamoDBClient(config);
}

/**
 * Creates the ApiKeys table with exactly the schema the CDK DataStack deploys, for dynalite in
 * tests and for the local stack. An existing table is left as it is. Resolves once the table
 * and its indexes are ACTIVE.
 */
export async function createKeyTable(
  client: Pick<DynamoDBClient, 'send'>,
  tableName: string,
): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: KEY_HASH_ATTRIBUTE, AttributeType: 'S' },
          { AttributeName: byKeyId.partitionKey, AttributeType: 'S' },
          { AttributeName: byOwner.partitionKey, AttributeType: 'S' },
          { AttributeName: byOwner.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: KEY_HASH_ATTRIBUTE, KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: BY_KEY_ID_INDEX,
            KeySchema: [{ AttributeName: byKeyId.partitionKey, KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: BY_OWNER_INDEX,
            KeySchema: [
              { AttributeName: byOwner.partitionKey, KeyType: 'HASH' },
              { AttributeName: byOwner.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  for (let attempt = 0; attempt < 600; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === 'ACTIVE',
    );
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`table ${tableName} did not become ACTIVE within 30 s`);
}
