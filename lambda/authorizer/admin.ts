/**
 * Key administration behind `npm run keys` (docs/api.md#key-cli): plain functions over a
 * DynamoDB document client and a table name, so the CLI is argument parsing only and the local
 * stack can call the same code to mint its demo key.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AxonConfig, ConfigError, parseModelList, planLimits } from '#shared/config';
import {
  displayPrefix,
  generateKey,
  hashKey,
  KEY_ID_SHAPE,
  KEY_PREFIX,
  newKeyId,
} from './key-format.ts';
import { type KeyRecord, KeyStore } from './key-store.ts';

/** A mistake the operator can fix; the CLI prints its message alone and exits 1. */
export class AdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminError';
  }
}

/** A key as listings show it: everything but the hash (and never the key). */
export interface KeyView {
  readonly keyId: string;
  readonly prefix: string;
  readonly owner: string;
  readonly plan: string;
  readonly status: 'active' | 'revoked' | 'expired';
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
  readonly limits?: Readonly<Record<string, unknown>>;
  /** The key's own list of models, replacing its plan's; absent: the plan's (or every model). */
  readonly models?: readonly string[];
}

export interface CreatedKey extends KeyView {
  /** The only time the key exists outside its owner's hands. */
  readonly key: string;
}

type Client = Pick<DynamoDBDocumentClient, 'send'>;

export const DEFAULT_OWNER = 'default';
const DURATION = /^(\d{1,6})([mhd])$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_DURATION_MS = 10 * 365 * UNIT_MS.d;
const OWNER = /^[^\p{Cc}]{1,128}$/u;

/** `30d`, `12h` or `90m` in milliseconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : 0;
  if (ms <= 0 || ms > MAX_DURATION_MS) {
    throw new AdminError(
      `--expires-in must be a positive duration up to 10 years such as 30d, 12h or 90m, got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

function checkOwner(owner: string): string {
  const trimmed = owner.trim();
  if (!OWNER.test(trimmed)) {
    throw new AdminError('--owner must be 1 to 128 characters without control characters');
  }
  return trimmed;
}

function checkKeyId(keyId: string): string {
  if (keyId.startsWith(KEY_PREFIX)) {
    // Never echo it: it may be a live key pasted by mistake.
    throw new AdminError('that is an API key, not a key id; pass the key id (key_...) from `list`');
  }
  if (!KEY_ID_SHAPE.test(keyId)) {
    throw new AdminError(
      `${JSON.stringify(keyId)} is not a key id; key ids look like key_ followed by 16 letters or digits`,
    );
  }
  return keyId;
}

export function toView(record: KeyRecord, now: Date = new Date()): KeyView {
  const expired =
    record.status === 'active' &&
    record.expiresAt !== undefined &&
    Date.parse(record.expiresAt) <= now.getTime();
  return {
    keyId: record.keyId,
    prefix: record.prefix,
    owner: record.owner,
    plan: record.plan,
    status: expired ? 'expired' : record.status,
    createdAt: record.createdAt,
    ...(record.expiresAt !== undefined && { expiresAt: record.expiresAt }),
    ...(record.revokedAt !== undefined && { revokedAt: record.revokedAt }),
    ...(record.limits !== undefined && { limits: record.limits }),
    ...(record.models !== undefined && { models: record.models }),
  };
}

/**
 * A key's own list of models (`--models a,b`), checked with the config's rules; the names are
 * not checked against what a stage serves (the CLI cannot know), so a typo simply never matches.
 */
export function checkModels(models: readonly string[]): readonly string[] {
  try {
    return parseModelList(models, '--models');
  } catch (err) {
    if (err instanceof ConfigError) throw new AdminError(err.message);
    throw err;
  }
}

export interface CreateKeyOptions {
  readonly config: AxonConfig;
  readonly plan: string;
  /** @default 'default' */
  readonly owner?: string;
  /** A duration such as `30d`; absent means the key never expires. */
  readonly expiresIn?: string;
  /** The models the key may call, replacing its plan's list; absent means the plan's. */
  readonly models?: readonly string[];
  /** @default new Date() */
  readonly now?: Date;
}

export async function createKey(
  client: Client,
  tableName: string,
  options: CreateKeyOptions,
): Promise<CreatedKey> {
  try {
    planLimits(options.config, options.plan);
  } catch (err) {
    if (err instanceof ConfigError) throw new AdminError(err.message);
    throw err;
  }
  const owner = checkOwner(options.owner ?? DEFAULT_OWNER);
  const models = options.models === undefined ? undefined : checkModels(options.models);
  const now = options.now ?? new Date();
  const expiresAt =
    options.expiresIn === undefined
      ? undefined
      : new Date(now.getTime() + parseDuration(options.expiresIn)).toISOString();
  const key = generateKey();
  const record: KeyRecord = {
    keyHash: hashKey(key),
    keyId: newKeyId(),
    prefix: displayPrefix(key),
    owner,
    plan: options.plan,
    status: 'active',
    createdAt: now.toISOString(),
    ...(expiresAt !== undefined && { expiresAt }),
    ...(models !== undefined && { models }),
  };
  await new KeyStore(client, tableName).put(record);
  return { key, ...toView(record, now) };
}

/** Newest first; all keys, or one owner's. */
export async function listKeys(
  client: Client,
  tableName: string,
  owner?: string,
): Promise<KeyView[]> {
  const store = new KeyStore(client, tableName);
  const records =
    owner === undefined ? await store.listAll() : await store.listByOwner(checkOwner(owner));
  const now = new Date();
  return records.map((record) => toView(record, now));
}

export async function showKey(client: Client, tableName: string, keyId: string): Promise<KeyView> {
  const record = await new KeyStore(client, tableName).getByKeyId(checkKeyId(keyId));
  if (!record) throw new AdminError(`no key with id ${keyId}`);
  return toView(record);
}

export interface RevokedKey extends KeyView {
  /** True when the key had been revoked before this call (revoking is idempotent). */
  readonly alreadyRevoked: boolean;
}

/** Revokes a key; it stops authenticating within `auth.cacheTtlSeconds`. */
export async function revokeKey(
  client: Client,
  tableName: string,
  keyId: string,
  now: Date = new Date(),
): Promise<RevokedKey> {
  const store = new KeyStore(client, tableName);
  const before = await store.getByKeyId(checkKeyId(keyId));
  if (!before) throw new AdminError(`no key with id ${keyId}`);
  const after =
    before.status === 'revoked' ? before : await store.revoke(before, now.toISOString());
  return { ...toView(after, now), alreadyRevoked: before.status === 'revoked' };
}
