/**
 * Conversation sessions in Redis, scoped by API key id: every key of a session carries the
 * owner's key id as hash tag (`axon:sess:{<keyId>}:<sessionId>`), so another key's lookups miss
 * (404, as if the session did not exist) and one key's data lives on one cluster slot.
 *
 * Layout per API key: a hash per session (model, system, metadata, created_at), a list of its
 * messages (JSON), and an index (sorted set, all scores 0, members = session ids, which start
 * with their creation time so lexical order is age order). All of it expires after the idle TTL;
 * each use extends it.
 */

import { SessionStoreUnavailableError } from '@axon/runtime/errors';
import { isAuthError } from '@axon/runtime/redis';
import type { Redis } from 'ioredis';
import { newSessionId, randomBase62 } from './ids.ts';
import { APPEND, CREATE, DELETE, GET, READ_MANY, type Script } from './session-scripts.ts';

/** What the store needs from a client; a Redis or a Cluster both fit. */
export type SessionRedis = Pick<Redis, 'evalsha' | 'eval' | 'zrevrangebylex'>;

export interface SessionMeta {
  id: string;
  model: string;
  system?: string;
  metadata: Record<string, string>;
  /** Unix time in ms. */
  createdAt: number;
}

export interface StoredMessage {
  role: 'user' | 'assistant';
  content: string;
  /** Unix time in ms. */
  createdAt: number;
  /** Tokens of the message as rendered by the model's template, counted once when stored. */
  tokens?: number;
}

export interface Session extends SessionMeta {
  messages: StoredMessage[];
}

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

/** What the routes need from a session store: Redis in production, memory for a dev stack. */
export interface SessionRepository {
  create(
    keyId: string,
    input: { model: string; system?: string; metadata?: Record<string, string> },
  ): Promise<SessionMeta>;
  get(keyId: string, id: string): Promise<Session | undefined>;
  append(keyId: string, id: string, messages: readonly StoredMessage[]): Promise<boolean>;
  delete(keyId: string, id: string): Promise<boolean>;
  list(
    keyId: string,
    options: { limit: number; after?: string },
  ): Promise<{ sessions: SessionMeta[]; hasMore: boolean }>;
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
    input: { model: string; system?: string; metadata?: Record<string, string> },
    nowMs = Date.now(),
  ): Promise<SessionMeta> {
    const meta: SessionMeta = {
      id: newSessionId(nowMs),
      model: input.model,
      metadata: input.metadata ?? {},
      createdAt: nowMs,
      ...(input.system !== undefined ? { system: input.system } : {}),
    };
    const fields = [
      'model',
      meta.model,
      'metadata',
      JSON.stringify(meta.metadata),
      'created_at',
      String(nowMs),
    ];
    if (meta.system !== undefined) fields.push('system', meta.system);
    const keys = sessionKeys(keyId, meta.id);
    await this.run(CREATE, [keys.meta, keys.index], [this.ttlMs, meta.id, ...fields]);
    return meta;
  }

  async get(keyId: string, id: string): Promise<Session | undefined> {
    const keys = sessionKeys(keyId, id);
    const reply = (await this.run(GET, [keys.meta, keys.messages, keys.index], [this.ttlMs])) as
      | [string[], string[]]
      | null;
    if (!reply) return undefined;
    const [hash, messages] = reply;
    return { ...metaFromHash(id, hash), messages: messages.map(parseMessage) };
  }

  /** Appends atomically; false when the session no longer exists. */
  /**
   * Appends atomically; false when the session no longer exists. `turnId` makes a repeated
   * delivery of the same append (a resend after a dropped connection) a no-op.
   */
  async append(
    keyId: string,
    id: string,
    messages: readonly StoredMessage[],
    turnId = randomBase62(16),
  ): Promise<boolean> {
    const keys = sessionKeys(keyId, id);
    const encoded = messages.map((m) => JSON.stringify(m));
    const count = await this.run(
      APPEND,
      [keys.meta, keys.messages, keys.index, `${keys.meta}:turn:${turnId}`],
      [this.ttlMs, String(TURN_MARKER_MS), ...encoded],
    );
    return Number(count) >= 0;
  }

  async delete(keyId: string, id: string): Promise<boolean> {
    const keys = sessionKeys(keyId, id);
    return Number(await this.run(DELETE, [keys.meta, keys.messages, keys.index], [id])) === 1;
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
      const hashes = (await this.run(
        READ_MANY,
        [index, ...ids.map((sid) => sessionKeys(keyId, sid).meta)],
        ids,
      )) as string[][];
      ids.forEach((sid, i) => {
        const hash = hashes[i];
        if (hash && hash.length > 0) found.push(metaFromHash(sid, hash));
      });
      upper = `(${ids.at(-1)}`;
      if (ids.length < want) break;
    }
    return { sessions: found.slice(0, options.limit), hasMore: found.length > options.limit };
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

function indexKey(keyId: string): string {
  return `${PREFIX}{${keyId}}:index`;
}

export function sessionKeys(keyId: string, sessionId: string) {
  const base = `${PREFIX}{${keyId}}:${sessionId}`;
  return { meta: base, messages: `${base}:msgs`, index: indexKey(keyId) };
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
    ...(system !== undefined ? { system } : {}),
  };
}

function parseMessage(json: string): StoredMessage {
  return JSON.parse(json) as StoredMessage;
}
