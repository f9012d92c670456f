/**
 * Conversation sessions in Redis, scoped by API key id: every key of a session carries the
 * owner's key id as hash tag (`axon:sess:{<keyId>}:<sessionId>`), so another key's lookups miss
 * (404, as if the session did not exist) and one key's data lives on one cluster slot.
 *
 * Layout per API key: a hash per session (model, system, system_bytes, metadata, created_at), a
 * list of its messages (JSON), an index (sorted set, all scores 0, members = session ids, which
 * start with their creation time so lexical order is age order), and the quota bookkeeping that
 * session-scripts.ts describes. All of it expires after the idle TTL; each use extends it.
 */

import { SessionStoreUnavailableError } from '@axon/runtime/errors';
import { isAuthError } from '@axon/runtime/redis';
import type { Redis } from 'ioredis';
import { newSessionId, randomBase62 } from './ids.ts';
import { type QuotaBreach, quotaError, type SessionQuotas, utf8Bytes } from './session-quotas.ts';
import {
  APPEND,
  CREATE,
  DELETE,
  DELETE_MESSAGE,
  DROP_RESPONSES,
  GET,
  MAKE_ROOM,
  READ_MANY,
  type Script,
  SET_METADATA,
  STORE_RESPONSE,
} from './session-scripts.ts';

/** What the store needs from a client; a Redis or a Cluster both fit. */
export type SessionRedis = Pick<Redis, 'evalsha' | 'eval' | 'zrevrangebylex' | 'get'>;

export interface SessionMeta {
  id: string;
  model: string;
  /** Absent in listings, which never carry the prompt itself (see systemBytes). */
  system?: string;
  /** UTF-8 bytes of the system prompt (0 without one). */
  systemBytes: number;
  metadata: Record<string, string>;
  /** Unix time in ms. */
  createdAt: number;
}

export interface NewSession {
  model: string;
  system?: string;
  metadata?: Record<string, string>;
}

export interface StoredMessage {
  /** Item id (`msg_...`) the Conversations API names it by; messages stored before ids lack it. */
  id?: string;
  role: 'user' | 'assistant';
  content: string;
  /** Unix time in ms. */
  createdAt: number;
  /** Tokens of the message as rendered by the model's template, counted once when stored. */
  tokens?: number;
}

export interface Session extends SessionMeta {
  messages: StoredMessage[];
  /** Bytes this session stores, and all of its key's sessions, as the quotas count them. */
  usage: { sessionBytes: number; keyBytes: number };
}

/** A message's item id; messages stored before item ids existed get one from their position. */
export const itemIdOf = (message: StoredMessage, index: number) =>
  message.id ?? `msg_legacy${index}`;

/** Bytes a message costs against the quotas: its stored JSON. */
export const storedBytes = (message: StoredMessage) => utf8Bytes(JSON.stringify(message));

const BREACHES: Record<number, QuotaBreach> = {
  [-1]: 'session_limit_exceeded',
  [-2]: 'session_too_large',
  [-3]: 'session_too_large',
  [-4]: 'storage_quota_exceeded',
};

export interface SessionStoreOptions {
  ttlSeconds: number;
  /** Upper bound for one store operation. @default 3000 */
  timeoutMs?: number;
  /** Called on WRONGPASS/NOAUTH before the one retry (re-reads the token, reconnects). */
  onAuthError?: () => Promise<void>;
}

const PREFIX = 'axon:sess:';
const LIST_BATCH_EXTRA = 10;
const AUTH_RETRIES = 3;
/** Longer than any resend or retry of one append can take. */
const TURN_MARKER_MS = 10 * 60 * 1000;

/**
 * What the routes need from a session store: Redis in production, memory for a dev stack.
 * `create` and `append` enforce the quotas they are given: over one, they store nothing and
 * throw the quota's 400 (session-quotas.ts).
 */
export interface SessionRepository {
  create(keyId: string, input: NewSession, quotas: SessionQuotas): Promise<SessionMeta>;
  get(keyId: string, id: string): Promise<Session | undefined>;
  append(
    keyId: string,
    id: string,
    messages: readonly StoredMessage[],
    quotas: SessionQuotas,
  ): Promise<boolean>;
  delete(keyId: string, id: string): Promise<boolean>;
  list(
    keyId: string,
    options: { limit: number; after?: string },
  ): Promise<{ sessions: SessionMeta[]; hasMore: boolean }>;
  /** Removes one message by item id: undefined when the session is gone, false when the item is. */
  deleteMessage(keyId: string, id: string, itemId: string): Promise<boolean | undefined>;
  /** Replaces the metadata within the quotas; false when the session does not exist. */
  setMetadata(
    keyId: string,
    id: string,
    metadata: Record<string, string>,
    quotas: SessionQuotas,
  ): Promise<boolean>;
  /**
   * Stores a response for the TTL, dropping the key's oldest stored responses when its budget is
   * full; false (nothing stored) when even that leaves no room, since sessions fill the budget.
   */
  storeResponse(keyId: string, id: string, json: string, quotas: SessionQuotas): Promise<boolean>;
  getResponse(keyId: string, id: string): Promise<string | undefined>;
  deleteResponse(keyId: string, id: string): Promise<boolean>;
  /**
   * Drops the key's oldest stored responses until `bytes` more fit its budget; false when even
   * dropping all of them is not enough. Lets a route refuse early what the store would refuse.
   */
  makeRoom(keyId: string, bytes: number, quotas: SessionQuotas): Promise<boolean>;
}

export class SessionStore implements SessionRepository {
  private readonly ttlMs: string;

  constructor(
    private readonly redis: SessionRedis,
    private readonly options: SessionStoreOptions,
  ) {
    this.ttlMs = String(options.ttlSeconds * 1000);
  }

  async create(
    keyId: string,
    input: NewSession,
    quotas: SessionQuotas,
    nowMs = Date.now(),
  ): Promise<SessionMeta> {
    const meta = newSessionMeta(input, quotas, nowMs);
    const fields = [
      'model',
      meta.model,
      'metadata',
      JSON.stringify(meta.metadata),
      'created_at',
      String(nowMs),
      'system_bytes',
      String(meta.systemBytes),
    ];
    if (meta.system !== undefined) fields.push('system', meta.system);
    const keys = sessionKeys(keyId, meta.id);
    const create = async () =>
      Number(
        await this.run(
          CREATE,
          [keys.meta, keys.index, keys.usage, keys.expiry],
          [
            this.ttlMs,
            meta.id,
            String(quotas.maxSessions),
            String(quotas.maxSessionBytes),
            String(quotas.maxStoredBytes),
            ...fields,
          ],
        ),
      );
    let result = await create();
    // Stored responses give way to sessions: drop the oldest, then try once more.
    if (result === -4 && (await this.makeRoom(keyId, byteSum(fields), quotas))) {
      result = await create();
    }
    const breach = BREACHES[result];
    if (breach) throw quotaError(breach, quotas);
    return meta;
  }

  async get(keyId: string, id: string): Promise<Session | undefined> {
    const keys = sessionKeys(keyId, id);
    const reply = (await this.run(
      GET,
      [keys.meta, keys.messages, keys.index, keys.usage, keys.expiry],
      [this.ttlMs, id],
    )) as [string[], string[], number, number] | null;
    if (!reply) return undefined;
    const [hash, messages, sessionBytes, keyBytes] = reply;
    return {
      ...metaFromHash(id, hash),
      messages: messages.map(parseMessage),
      usage: { sessionBytes: Number(sessionBytes), keyBytes: Number(keyBytes) },
    };
  }

  /**
   * Appends atomically, within the quotas; false when the session no longer exists. `turnId`
   * makes a repeated delivery of the same append (a resend after a dropped connection) a no-op.
   */
  async append(
    keyId: string,
    id: string,
    messages: readonly StoredMessage[],
    quotas: SessionQuotas,
    turnId = randomBase62(16),
  ): Promise<boolean> {
    const keys = sessionKeys(keyId, id);
    const encoded = messages.map((m) => JSON.stringify(m));
    const append = async () =>
      Number(
        await this.run(
          APPEND,
          [
            keys.meta,
            keys.messages,
            keys.index,
            `${keys.meta}:turn:${turnId}`,
            keys.usage,
            keys.expiry,
          ],
          [
            this.ttlMs,
            String(TURN_MARKER_MS),
            id,
            String(quotas.maxSessionMessages),
            String(quotas.maxSessionBytes),
            String(quotas.maxStoredBytes),
            ...encoded,
          ],
        ),
      );
    let count = await append();
    if (count === -4 && (await this.makeRoom(keyId, byteSum(encoded), quotas))) {
      count = await append();
    }
    const breach = BREACHES[count];
    if (breach && count !== -1) throw quotaError(breach, quotas);
    return count >= 0;
  }

  async delete(keyId: string, id: string): Promise<boolean> {
    const keys = sessionKeys(keyId, id);
    const all = [keys.meta, keys.messages, keys.index, keys.usage, keys.expiry];
    return Number(await this.run(DELETE, all, [id])) === 1;
  }

  /** Newest first; `after` is the last id of the previous page (it may have expired since). */
  async list(
    keyId: string,
    options: { limit: number; after?: string },
  ): Promise<{ sessions: SessionMeta[]; hasMore: boolean }> {
    const index = indexKey(keyId);
    const found: SessionMeta[] = [];
    let upper = options.after ? `(${options.after}` : '+';
    while (found.length <= options.limit) {
      const want = options.limit + 1 - found.length + LIST_BATCH_EXTRA;
      const ids = await this.call(() =>
        this.redis.zrevrangebylex(index, upper, '-', 'LIMIT', 0, want),
      );
      if (ids.length === 0) break;
      const rows = (await this.run(
        READ_MANY,
        [index, ...ids.map((sid) => sessionKeys(keyId, sid).meta)],
        ids,
      )) as (string | null)[][];
      ids.forEach((sid, i) => {
        const row = rows[i];
        if (row?.[0]) found.push(metaFromListed(sid, row));
      });
      upper = `(${ids.at(-1)}`;
      if (ids.length < want) break;
    }
    return { sessions: found.slice(0, options.limit), hasMore: found.length > options.limit };
  }

  async deleteMessage(keyId: string, id: string, itemId: string): Promise<boolean | undefined> {
    const session = await this.get(keyId, id);
    if (!session) return undefined;
    const message = session.messages.find((m, i) => itemIdOf(m, i) === itemId);
    if (!message) return false;
    const keys = sessionKeys(keyId, id);
    // JSON.parse keeps key order, so this is the exact string LREM must match.
    const result = Number(
      await this.run(
        DELETE_MESSAGE,
        [keys.meta, keys.messages, keys.usage],
        [id, JSON.stringify(message)],
      ),
    );
    return result === -1 ? undefined : result === 1;
  }

  async setMetadata(
    keyId: string,
    id: string,
    metadata: Record<string, string>,
    quotas: SessionQuotas,
  ): Promise<boolean> {
    const keys = sessionKeys(keyId, id);
    const json = JSON.stringify(metadata);
    const set = async () =>
      Number(
        await this.run(
          SET_METADATA,
          [keys.meta, keys.usage],
          [id, String(quotas.maxSessionBytes), String(quotas.maxStoredBytes), json],
        ),
      );
    let result = await set();
    if (result === -4 && (await this.makeRoom(keyId, utf8Bytes(json), quotas))) {
      result = await set();
    }
    const breach = BREACHES[result];
    if (breach && result !== -1) throw quotaError(breach, quotas);
    return result === 1;
  }

  async storeResponse(
    keyId: string,
    id: string,
    json: string,
    quotas: SessionQuotas,
  ): Promise<boolean> {
    const keys = sessionKeys(keyId, id);
    const store = async () =>
      Number(
        await this.run(
          STORE_RESPONSE,
          [responseKey(keyId, id), keys.index, keys.usage, keys.expiry],
          [this.ttlMs, id, String(quotas.maxStoredBytes), json],
        ),
      );
    // Responses stored meanwhile by concurrent requests can take the room just made; a few
    // rounds settle it, and past them the response is simply not kept.
    for (let round = 0; round < 3; round++) {
      if ((await store()) === 1) return true;
      if (!(await this.makeRoom(keyId, utf8Bytes(json), quotas))) return false;
    }
    return false;
  }

  async getResponse(keyId: string, id: string): Promise<string | undefined> {
    const json = await this.call(() => this.redis.get(responseKey(keyId, id)));
    return json ?? undefined;
  }

  async deleteResponse(keyId: string, id: string): Promise<boolean> {
    return (await this.dropResponses(keyId, [id])) === 1;
  }

  async makeRoom(keyId: string, bytes: number, quotas: SessionQuotas): Promise<boolean> {
    const keys = sessionKeys(keyId, '');
    const [fits, ...ids] = (await this.run(
      MAKE_ROOM,
      [keys.index, keys.usage, keys.expiry],
      [String(bytes), String(quotas.maxStoredBytes)],
    )) as [number, ...string[]];
    if (Number(fits) !== 1) return false;
    if (ids.length > 0) await this.dropResponses(keyId, ids);
    return true;
  }

  private async dropResponses(keyId: string, ids: readonly string[]): Promise<number> {
    const keys = sessionKeys(keyId, '');
    return Number(
      await this.run(
        DROP_RESPONSES,
        [keys.usage, keys.expiry, ...ids.map((id) => responseKey(keyId, id))],
        [...ids],
      ),
    );
  }

  private run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    return this.call(async () => {
      try {
        return await this.redis.evalsha(script.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return this.redis.eval(script.lua, keys.length, ...keys, ...args);
      }
    });
  }

  /**
   * Deadline, Redis errors as 503, and retries after an AUTH failure: the token is re-read,
   * then the command is tried again a few times, since on a cluster each node connection comes
   * back with the new token at its own pace.
   */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.withDeadline(operation);
      } catch (error) {
        if (!isAuthError(error) || !this.options.onAuthError || attempt >= AUTH_RETRIES) {
          throw new SessionStoreUnavailableError(error);
        }
        try {
          await this.options.onAuthError();
        } catch (refreshError) {
          throw new SessionStoreUnavailableError(refreshError);
        }
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  private async withDeadline<T>(operation: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        operation(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('session store operation timed out')),
            this.options.timeoutMs ?? 3_000,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const byteSum = (values: readonly string[]) => values.reduce((n, v) => n + utf8Bytes(v), 0);

/** A stored response: a JSON string under the key's hash tag, beside its sessions. */
function responseKey(keyId: string, responseId: string): string {
  return `${PREFIX}{${keyId}}:${responseId}`;
}

function indexKey(keyId: string): string {
  return `${PREFIX}{${keyId}}:index`;
}

export function sessionKeys(keyId: string, sessionId: string) {
  const base = `${PREFIX}{${keyId}}:${sessionId}`;
  return {
    meta: base,
    messages: `${base}:msgs`,
    index: indexKey(keyId),
    usage: `${PREFIX}{${keyId}}:usage`,
    expiry: `${PREFIX}{${keyId}}:expiry`,
  };
}

/** A new session's meta after the checks that need no store: the system prompt's size. */
export function newSessionMeta(
  input: NewSession,
  quotas: SessionQuotas,
  nowMs: number,
): SessionMeta {
  const systemBytes = input.system === undefined ? 0 : utf8Bytes(input.system);
  if (systemBytes > quotas.maxSystemPromptBytes) {
    throw quotaError('system_prompt_too_large', quotas);
  }
  return {
    id: newSessionId(nowMs),
    model: input.model,
    metadata: { ...input.metadata },
    createdAt: nowMs,
    systemBytes,
    ...(input.system !== undefined ? { system: input.system } : {}),
  };
}

function metaFromHash(id: string, flat: string[]): SessionMeta {
  const hash = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) hash.set(flat[i] as string, flat[i + 1] as string);
  const system = hash.get('system');
  return {
    id,
    model: hash.get('model') ?? '',
    metadata: JSON.parse(hash.get('metadata') ?? '{}'),
    createdAt: Number(hash.get('created_at') ?? 0),
    systemBytes: Number(hash.get('system_bytes') ?? (system === undefined ? 0 : utf8Bytes(system))),
    ...(system !== undefined ? { system } : {}),
  };
}

/** A listing row: LISTED_FIELDS' values in order (model, metadata, created_at, system_bytes). */
function metaFromListed(id: string, [model, metadata, createdAt, systemBytes]: (string | null)[]) {
  return {
    id,
    model: model ?? '',
    metadata: JSON.parse(metadata ?? '{}'),
    createdAt: Number(createdAt ?? 0),
    systemBytes: Number(systemBytes ?? 0),
  };
}

function parseMessage(json: string): StoredMessage {
  return JSON.parse(json) as StoredMessage;
}
