/**
 * Key administration behind `npm run keys` (docs/api.md#key-cli): plain functions over a
 * DynamoDB document client and a table name, so the CLI is argument parsing only and the local
 * stack can call the same code to mint its demo key.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
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
import {
  currentSecret,
  type KeyChanges,
  type KeyRecord,
  KeyStore,
  newestSecretFirst,
} from './key-store.ts';
import { mergeLimits } from './principal.ts';

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
  /** The key's plan; `''` for an admin key. */
  readonly plan: string;
  /** `admin` for an admin key (docs/auth.md#admin-keys); absent for a key that calls models. */
  readonly kind?: 'admin';
  /** The key's label, when it was given one. */
  readonly name?: string;
  readonly status: 'active' | 'revoked' | 'expired';
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
  readonly limits?: Readonly<Record<string, unknown>>;
  /** The key's own list of models, replacing its plan's; absent: the plan's (or every model). */
  readonly models?: readonly string[];
  /** When the current secret was made by `rotate`; absent for a key never rotated. */
  readonly rotatedAt?: string;
  /** The latest use of any of the key's secrets (recorded at most once per 15 minutes each). */
  readonly lastUsedAt?: string;
  /** Secrets a rotation replaced that still work, until their `expiresAt`. */
  readonly previous?: readonly PreviousSecret[];
}

/** A replaced secret inside its overlap window. */
export interface PreviousSecret {
  readonly prefix: string;
  readonly replacedAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt?: string;
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

/** `30d`, `12h` or `90m` in milliseconds; `option` names the flag in the message. */
export function parseDuration(text: string, option = '--expires-in'): number {
  const match = DURATION.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : 0;
  if (ms <= 0 || ms > MAX_DURATION_MS) {
    throw new AdminError(
      `${option} must be a positive duration up to 10 years such as 30d, 12h or 90m, got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

/** A rotation's overlap: a duration as `parseDuration` reads it, or `0` (the old secret stops now). */
export function parseOverlap(text: string): number {
  return text.trim() === '0' ? 0 : parseDuration(text, '--overlap');
}

/** The rotation overlap when none is given. */
export const DEFAULT_OVERLAP = '24h';

function checkOwner(owner: string): string {
  const trimmed = owner.trim();
  if (!OWNER.test(trimmed)) {
    throw new AdminError('--owner must be 1 to 128 characters without control characters');
  }
  return trimmed;
}

/** A key id as the CLI and the admin API take it; a pasted key is refused without an echo. */
export function checkKeyId(keyId: string): string {
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

const isExpired = (record: KeyRecord, now: Date) =>
  record.expiresAt !== undefined && Date.parse(record.expiresAt) <= now.getTime();

/**
 * A key as listings show it, from its current secret; `secrets` (all of the key's records, when
 * known) add the latest use of any secret and the replaced ones still inside their overlap.
 */
export function toView(
  record: KeyRecord,
  now: Date = new Date(),
  secrets: readonly KeyRecord[] = [record],
): KeyView {
  const expired = record.status === 'active' && isExpired(record, now);
  const lastUsedAt = secrets
    .map((secret) => secret.lastUsedAt)
    .filter((at): at is string => at !== undefined)
    .sort()
    .at(-1);
  const previous: PreviousSecret[] = secrets
    .filter(
      (secret) =>
        secret !== record &&
        secret.status === 'active' &&
        secret.replacedAt !== undefined &&
        secret.expiresAt !== undefined &&
        !isExpired(secret, now),
    )
    .map((secret) => ({
      prefix: secret.prefix,
      replacedAt: secret.replacedAt as string,
      expiresAt: secret.expiresAt as string,
      ...(secret.lastUsedAt !== undefined && { lastUsedAt: secret.lastUsedAt }),
    }))
    .sort((a, b) => b.replacedAt.localeCompare(a.replacedAt));
  return {
    keyId: record.keyId,
    prefix: record.prefix,
    owner: record.owner,
    plan: record.plan,
    ...(record.kind !== undefined && { kind: record.kind }),
    ...(record.name !== undefined && { name: record.name }),
    status: expired ? 'expired' : record.status,
    createdAt: record.createdAt,
    ...(record.expiresAt !== undefined && { expiresAt: record.expiresAt }),
    ...(record.revokedAt !== undefined && { revokedAt: record.revokedAt }),
    ...(record.limits !== undefined && { limits: record.limits }),
    ...(record.models !== undefined && { models: record.models }),
    ...(record.rotatedAt !== undefined && { rotatedAt: record.rotatedAt }),
    ...(lastUsedAt !== undefined && { lastUsedAt }),
    ...(previous.length > 0 && { previous }),
  };
}

/** One view per key id: its current secret, with the others folded in. */
function viewsOf(records: readonly KeyRecord[], now: Date): KeyView[] {
  const byKey = new Map<string, KeyRecord[]>();
  for (const record of records) {
    const secrets = byKey.get(record.keyId);
    if (secrets) secrets.push(record);
    else byKey.set(record.keyId, [record]);
  }
  const views: KeyView[] = [];
  for (const secrets of byKey.values()) {
    const current = currentSecret(secrets);
    if (current) views.push(toView(current, now, secrets));
  }
  return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
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
  /** A label for people (the admin API's `name`). */
  readonly name?: string;
  /** A duration such as `30d`; absent (and no `expiresInMs`) means the key never expires. */
  readonly expiresIn?: string;
  /** The same in milliseconds (the admin API's `expires_in_seconds`); up to 10 years. */
  readonly expiresInMs?: number;
  /** The models the key may call, replacing its plan's list; absent means the plan's. */
  readonly models?: readonly string[];
  /**
   * The key's own budgets in USD, over its plan's (stored in the record's `limits`); they need
   * the config's `prices`.
   */
  readonly budgets?: { readonly dailyBudgetUsd?: number; readonly monthlyBudgetUsd?: number };
  /** @default new Date() */
  readonly now?: Date;
}

/** The expiry `expiresIn` (text) or `expiresInMs` ask for, from `now`; absent: none. */
function expiryOf(
  now: Date,
  options: { readonly expiresIn?: string; readonly expiresInMs?: number },
): string | undefined {
  if (options.expiresInMs !== undefined) {
    const ms = options.expiresInMs;
    if (!Number.isInteger(ms) || ms < 1000 || ms > MAX_DURATION_MS) {
      throw new AdminError('the expiry must be a whole number of seconds from 1 up to 10 years');
    }
    return new Date(now.getTime() + ms).toISOString();
  }
  if (options.expiresIn === undefined) return undefined;
  return new Date(now.getTime() + parseDuration(options.expiresIn)).toISOString();
}

/**
 * A key's own budgets, checked with the config's rules over its plan; refused without prices,
 * as a plan's budget is (a budget counts money, and only the price table says what things cost).
 */
function checkBudgets(
  config: AxonConfig,
  plan: string,
  budgets: CreateKeyOptions['budgets'],
): Record<string, number> | undefined {
  if (budgets === undefined) return undefined;
  const limits: Record<string, number> = {};
  if (budgets.dailyBudgetUsd !== undefined) limits.dailyBudgetUsd = budgets.dailyBudgetUsd;
  if (budgets.monthlyBudgetUsd !== undefined) limits.monthlyBudgetUsd = budgets.monthlyBudgetUsd;
  if (Object.keys(limits).length === 0) return undefined;
  if (!config.prices) {
    throw new AdminError("budgets need the config's prices: this stage prices no model");
  }
  try {
    mergeLimits(planLimits(config, plan), limits, 'budget');
  } catch (err) {
    if (err instanceof ConfigError) throw new AdminError(err.message);
    throw err;
  }
  return limits;
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
  const name = options.name === undefined ? undefined : checkName(options.name);
  const models = options.models === undefined ? undefined : checkModels(options.models);
  const limits = checkBudgets(options.config, options.plan, options.budgets);
  const now = options.now ?? new Date();
  const expiresAt = expiryOf(now, options);
  const key = generateKey();
  const record: KeyRecord = {
    keyHash: hashKey(key),
    keyId: newKeyId(),
    prefix: displayPrefix(key),
    owner,
    plan: options.plan,
    ...(name !== undefined && { name }),
    status: 'active',
    createdAt: now.toISOString(),
    ...(expiresAt !== undefined && { expiresAt }),
    ...(limits !== undefined && { limits }),
    ...(models !== undefined && { models }),
  };
  await new KeyStore(client, tableName).put(record);
  return { key, ...toView(record, now) };
}

export interface CreateAdminKeyOptions {
  /** @default 'default' */
  readonly owner?: string;
  /** A label for people, as OpenAI's admin keys have. */
  readonly name?: string;
  /** A duration such as `30d`; absent (and no `expiresInMs`) means the key never expires. */
  readonly expiresIn?: string;
  /** The same in milliseconds (the admin API's `expires_in_seconds`); up to 10 years. */
  readonly expiresInMs?: number;
  /** @default new Date() */
  readonly now?: Date;
}

const NAME = /^[^\p{Cc}]{1,256}$/u;

/** A key's label: 1 to 256 characters without control characters. */
export function checkName(name: string): string {
  if (!NAME.test(name)) {
    throw new AdminError('name must be 1 to 256 characters without control characters');
  }
  return name;
}

/**
 * An admin key (`axon_admin_...`): it may manage keys and read usage on the gateway's
 * `/v1/organization` routes and can never call a model. No plan, no models; its own requests
 * are limited apart from every model key's. Shown once, like any key.
 */
export async function createAdminKey(
  client: Client,
  tableName: string,
  options: CreateAdminKeyOptions = {},
): Promise<CreatedKey> {
  const owner = checkOwner(options.owner ?? DEFAULT_OWNER);
  const name = options.name === undefined ? undefined : checkName(options.name);
  const now = options.now ?? new Date();
  const expiresAt = expiryOf(now, options);
  const key = generateKey('admin');
  const record: KeyRecord = {
    keyHash: hashKey(key),
    keyId: newKeyId(),
    prefix: displayPrefix(key),
    owner,
    plan: '',
    kind: 'admin',
    ...(name !== undefined && { name }),
    status: 'active',
    createdAt: now.toISOString(),
    ...(expiresAt !== undefined && { expiresAt }),
  };
  await new KeyStore(client, tableName).put(record);
  return { key, ...toView(record, now) };
}

/** Newest first, one entry per key (however many secrets rotations left); all, or one owner's. */
export async function listKeys(
  client: Client,
  tableName: string,
  owner?: string,
): Promise<KeyView[]> {
  const store = new KeyStore(client, tableName);
  const records =
    owner === undefined ? await store.listAll() : await store.listByOwner(checkOwner(owner));
  return viewsOf(records, new Date());
}

/** Every secret of a key, newest first; throws when there is none. */
async function secretsOf(store: KeyStore, keyId: string): Promise<KeyRecord[]> {
  const secrets = await store.listByKeyId(checkKeyId(keyId));
  if (secrets.length === 0) throw new AdminError(`no key with id ${keyId}`);
  return secrets;
}

export async function showKey(client: Client, tableName: string, keyId: string): Promise<KeyView> {
  const secrets = await secretsOf(new KeyStore(client, tableName), keyId);
  const now = new Date();
  return toView(currentSecret(secrets) as KeyRecord, now, secrets);
}

export interface RevokedKey extends KeyView {
  /** True when the key had been revoked before this call (revoking is idempotent). */
  readonly alreadyRevoked: boolean;
}

/**
 * Revokes a key, every secret of it (a rotation's old secret included); it stops authenticating
 * within `auth.cacheTtlSeconds`.
 */
export async function revokeKey(
  client: Client,
  tableName: string,
  keyId: string,
  now: Date = new Date(),
): Promise<RevokedKey> {
  const store = new KeyStore(client, tableName);
  const before = await secretsOf(store, keyId);
  const after = await Promise.all(
    before.map((secret) =>
      secret.status === 'revoked' ? secret : store.revoke(secret, now.toISOString()),
    ),
  );
  const current = currentSecret(after) as KeyRecord;
  return {
    ...toView(current, now, after),
    alreadyRevoked: before.every((secret) => secret.status === 'revoked'),
  };
}

export interface RotateKeyOptions {
  /** How long the old secret keeps working, in ms (0: it stops now). */
  readonly overlapMs: number;
  /** @default new Date() */
  readonly now?: Date;
}

export interface RotatedKey extends CreatedKey {
  /** The secret this rotation replaced: its display prefix and when it stops working. */
  readonly replaced: { readonly prefix: string; readonly expiresAt: string };
}

/**
 * A new secret for the same key id, so the key's limits, usage and budgets carry on. The old
 * secret keeps working until `now + overlap`, never later than it would have (its own expiry);
 * the new one inherits the key's expiry, plan, models and limits. Shown once, like a new key.
 */
export async function rotateKey(
  client: Client,
  tableName: string,
  keyId: string,
  options: RotateKeyOptions,
): Promise<RotatedKey> {
  const store = new KeyStore(client, tableName);
  const now = options.now ?? new Date();
  const secrets = await secretsOf(store, keyId);
  const current = currentSecret(secrets) as KeyRecord;
  if (current.status === 'revoked') {
    throw new AdminError(`${keyId} is revoked; create a new key instead`);
  }
  if (isExpired(current, now)) {
    throw new AdminError(
      `${keyId} expired at ${current.expiresAt}; extend it with update --expires-in, or create a new key`,
    );
  }
  const overlapEnd = now.getTime() + options.overlapMs;
  const oldExpiry = new Date(
    current.expiresAt === undefined
      ? overlapEnd
      : Math.min(overlapEnd, Date.parse(current.expiresAt)),
  ).toISOString();
  const at = now.toISOString();
  try {
    await store.replace(current, at, oldExpiry);
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) {
      throw new AdminError(
        `${keyId} changed while rotating (another rotate or a revoke); run show ${keyId} and try again`,
      );
    }
    throw err;
  }
  // The same kind of key: an admin key's new secret is an admin key.
  const key = generateKey(current.kind === 'admin' ? 'admin' : 'model');
  const {
    keyHash: _hash,
    prefix: _prefix,
    lastUsedAt: _used,
    replacedAt: _replaced,
    ...kept
  } = current;
  const record: KeyRecord = {
    ...kept,
    keyHash: hashKey(key),
    prefix: displayPrefix(key),
    rotatedAt: at,
  };
  try {
    await store.put(record);
  } catch (err) {
    // Without a new secret the old one must stay current, with its own expiry.
    await store.unreplace(current, at).catch(() => undefined);
    throw err;
  }
  const replaced = { ...current, replacedAt: at, expiresAt: oldExpiry };
  return {
    key,
    ...toView(record, now, [record, replaced, ...secrets.filter((s) => s !== current)]),
    replaced: { prefix: current.prefix, expiresAt: oldExpiry },
  };
}

export interface UpdateKeyOptions {
  readonly config: AxonConfig;
  readonly plan?: string;
  /** The key's own models; `null` removes them (the key follows its plan again). */
  readonly models?: readonly string[] | null;
  /** A new expiry from now, such as `30d`; `null`: the key never expires. */
  readonly expiresIn?: string | null;
  /** @default new Date() */
  readonly now?: Date;
}

/**
 * Changes a key's plan, models or expiry, on every secret of it. A replaced secret keeps the
 * end of its overlap unless the new expiry comes first. Takes effect within
 * `auth.cacheTtlSeconds`, as gateways cache keys that long.
 */
export async function updateKey(
  client: Client,
  tableName: string,
  keyId: string,
  options: UpdateKeyOptions,
): Promise<KeyView> {
  if (
    options.plan === undefined &&
    options.models === undefined &&
    options.expiresIn === undefined
  ) {
    throw new AdminError(
      'nothing to update: give --plan, --models, --all-models, --expires-in or --never-expires',
    );
  }
  if (options.plan !== undefined) {
    try {
      planLimits(options.config, options.plan);
    } catch (err) {
      if (err instanceof ConfigError) throw new AdminError(err.message);
      throw err;
    }
  }
  const models =
    options.models === undefined || options.models === null
      ? options.models
      : checkModels(options.models);
  const now = options.now ?? new Date();
  const expiresAt =
    options.expiresIn === undefined || options.expiresIn === null
      ? options.expiresIn
      : new Date(now.getTime() + parseDuration(options.expiresIn)).toISOString();
  const store = new KeyStore(client, tableName);
  const secrets = await secretsOf(store, keyId);
  const current = currentSecret(secrets) as KeyRecord;
  if (current.status === 'revoked') throw new AdminError(`${keyId} is revoked; it cannot change`);
  if (current.kind === 'admin' && (options.plan !== undefined || options.models !== undefined)) {
    throw new AdminError(`${keyId} is an admin key: it has no plan or models, only an expiry`);
  }
  // The current secret even when expired (update --expires-in revives it); replaced secrets only
  // while they still work.
  const live = secrets.filter(
    (secret) => secret.status === 'active' && (secret === current || !isExpired(secret, now)),
  );
  const updated = await Promise.all(
    live.map((secret) => {
      const changes: KeyChanges = {
        ...(options.plan !== undefined && { plan: options.plan }),
        ...(models !== undefined && { models }),
        ...(expiresAt !== undefined && {
          expiresAt: secret === current ? expiresAt : overlapExpiry(secret, expiresAt),
        }),
      };
      return store.update(secret, changes).catch((err: unknown) => {
        if (err instanceof ConditionalCheckFailedException) {
          throw new AdminError(`${keyId} was revoked while updating; run show ${keyId}`);
        }
        throw err;
      });
    }),
  );
  const after = secrets.map(
    (secret) => updated.find((u) => u.keyHash === secret.keyHash) ?? secret,
  );
  return toView(currentSecret(after) as KeyRecord, now, after.sort(newestSecretFirst));
}

/** A replaced secret's expiry under a key's new one: the earlier of the two (never removed). */
function overlapExpiry(secret: KeyRecord, keyExpiresAt: string | null): string | undefined {
  const own = secret.expiresAt;
  if (keyExpiresAt === null) return own;
  if (own === undefined) return keyExpiresAt;
  return Date.parse(keyExpiresAt) < Date.parse(own) ? keyExpiresAt : own;
}
