/**
 * Sessions in this process's memory, for the local stack when no redis-server is available
 * (buildApp without any Redis option). Same contract as the Redis store: scoped by key id,
 * idle TTL, the same quotas, atomic appends (JavaScript runs one turn's append at a time),
 * newest-first listing.
 * Not for production: nothing is shared between instances and a restart forgets everything.
 */
import { quotaError, type SessionQuotas, utf8Bytes } from './session-quotas.ts';
import {
  itemIdOf,
  type NewSession,
  newSessionMeta,
  type Session,
  type SessionMeta,
  type SessionRepository,
  type StoredMessage,
  storedBytes,
} from './session-store.ts';

interface Entry {
  session: Omit<Session, 'usage'>;
  /** Bytes as the Redis store counts them: its hash fields and values, its messages' JSON. */
  bytes: number;
  expiresAt: number;
}

interface StoredResponse {
  json: string;
  bytes: number;
  expiresAt: number;
}

export class MemorySessionStore implements SessionRepository {
  private readonly byKey = new Map<string, Map<string, Entry>>();
  /** Per key, in insertion order, which is age order (every response lives the same TTL). */
  private readonly responses = new Map<string, Map<string, StoredResponse>>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  async create(
    keyId: string,
    input: NewSession,
    quotas: SessionQuotas,
    nowMs = this.now(),
  ): Promise<SessionMeta> {
    const meta = newSessionMeta(input, quotas, nowMs);
    const fields = {
      model: meta.model,
      metadata: JSON.stringify(meta.metadata),
      created_at: String(nowMs),
      system_bytes: String(meta.systemBytes),
      ...(meta.system !== undefined ? { system: meta.system } : {}),
    };
    let bytes = 0;
    for (const [name, value] of Object.entries(fields)) bytes += utf8Bytes(name) + utf8Bytes(value);
    const live = this.liveIds(keyId);
    if (live.length >= quotas.maxSessions) throw quotaError('session_limit_exceeded', quotas);
    if (bytes > quotas.maxSessionBytes) throw quotaError('session_too_large', quotas);
    if (!this.fits(keyId, bytes, quotas)) throw quotaError('storage_quota_exceeded', quotas);
    const sessions = this.byKey.get(keyId) ?? new Map<string, Entry>();
    this.byKey.set(keyId, sessions);
    sessions.set(meta.id, { session: { ...meta, messages: [] }, bytes, expiresAt: this.expiry() });
    return meta;
  }

  async get(keyId: string, id: string): Promise<Session | undefined> {
    const entry = this.live(keyId, id);
    if (!entry) return undefined;
    entry.expiresAt = this.expiry();
    return {
      ...entry.session,
      messages: [...entry.session.messages],
      usage: { sessionBytes: entry.bytes, keyBytes: this.keyBytes(keyId) },
    };
  }

  async append(
    keyId: string,
    id: string,
    messages: readonly StoredMessage[],
    quotas: SessionQuotas,
  ): Promise<boolean> {
    const entry = this.live(keyId, id);
    if (!entry) return false;
    const added = messages.reduce((sum, m) => sum + storedBytes(m), 0);
    if (
      entry.session.messages.length + messages.length > quotas.maxSessionMessages ||
      entry.bytes + added > quotas.maxSessionBytes
    ) {
      throw quotaError('session_too_large', quotas);
    }
    if (!this.fits(keyId, added, quotas)) throw quotaError('storage_quota_exceeded', quotas);
    entry.session.messages.push(...messages);
    entry.bytes += added;
    entry.expiresAt = this.expiry();
    return true;
  }

  async delete(keyId: string, id: string): Promise<boolean> {
    const existed = this.live(keyId, id) !== undefined;
    this.byKey.get(keyId)?.delete(id);
    return existed;
  }

  async list(
    keyId: string,
    options: { limit: number; after?: string },
  ): Promise<{ sessions: SessionMeta[]; hasMore: boolean }> {
    const ids = this.liveIds(keyId)
      .filter((id) => options.after === undefined || id < options.after)
      .sort()
      .reverse();
    const page = ids.slice(0, options.limit).map((id) => {
      const {
        messages: _messages,
        system: _system,
        ...meta
      } = (this.live(keyId, id) as Entry).session;
      return meta;
    });
    return { sessions: page, hasMore: ids.length > options.limit };
  }

  async deleteMessage(keyId: string, id: string, itemId: string): Promise<boolean | undefined> {
    const entry = this.live(keyId, id);
    if (!entry) return undefined;
    const at = entry.session.messages.findIndex((m, i) => itemIdOf(m, i) === itemId);
    if (at < 0) return false;
    const [removed] = entry.session.messages.splice(at, 1);
    if (removed) entry.bytes -= storedBytes(removed);
    return true;
  }

  async setMetadata(
    keyId: string,
    id: string,
    metadata: Record<string, string>,
    quotas: SessionQuotas,
  ): Promise<boolean> {
    const entry = this.live(keyId, id);
    if (!entry) return false;
    const delta =
      utf8Bytes(JSON.stringify(metadata)) - utf8Bytes(JSON.stringify(entry.session.metadata));
    if (delta > 0 && entry.bytes + delta > quotas.maxSessionBytes) {
      throw quotaError('session_too_large', quotas);
    }
    if (delta > 0 && !this.fits(keyId, delta, quotas)) {
      throw quotaError('storage_quota_exceeded', quotas);
    }
    entry.session.metadata = { ...metadata };
    entry.bytes += delta;
    return true;
  }

  async storeResponse(
    keyId: string,
    id: string,
    json: string,
    quotas: SessionQuotas,
  ): Promise<boolean> {
    const bytes = utf8Bytes(json);
    if (!this.fits(keyId, bytes, quotas)) return false;
    const own = this.responses.get(keyId) ?? new Map<string, StoredResponse>();
    this.responses.set(keyId, own);
    own.set(id, { json, bytes, expiresAt: this.expiry() });
    return true;
  }

  async getResponse(keyId: string, id: string): Promise<string | undefined> {
    return this.liveResponses(keyId).get(id)?.json;
  }

  async deleteResponse(keyId: string, id: string): Promise<boolean> {
    return this.liveResponses(keyId).delete(id);
  }

  async makeRoom(keyId: string, bytes: number, quotas: SessionQuotas): Promise<boolean> {
    return this.fits(keyId, bytes, quotas);
  }

  /** As the Redis store: the oldest stored responses give way; false when that is not enough. */
  private fits(keyId: string, bytes: number, quotas: SessionQuotas): boolean {
    const own = this.liveResponses(keyId);
    let total = this.keyBytes(keyId);
    const drop: string[] = [];
    for (const [id, response] of own) {
      if (total + bytes <= quotas.maxStoredBytes) break;
      drop.push(id);
      total -= response.bytes;
    }
    if (total + bytes > quotas.maxStoredBytes) return false;
    for (const id of drop) own.delete(id);
    return true;
  }

  private liveResponses(keyId: string): Map<string, StoredResponse> {
    const own = this.responses.get(keyId) ?? new Map<string, StoredResponse>();
    for (const [id, response] of own) if (response.expiresAt <= this.now()) own.delete(id);
    return own;
  }

  private liveIds(keyId: string): string[] {
    return [...(this.byKey.get(keyId)?.keys() ?? [])].filter((id) => this.live(keyId, id));
  }

  private keyBytes(keyId: string): number {
    let total = 0;
    for (const id of this.liveIds(keyId)) total += (this.live(keyId, id) as Entry).bytes;
    for (const response of this.liveResponses(keyId).values()) total += response.bytes;
    return total;
  }

  private live(keyId: string, id: string): Entry | undefined {
    const sessions = this.byKey.get(keyId);
    const entry = sessions?.get(id);
    if (entry && entry.expiresAt <= this.now()) {
      sessions?.delete(id);
      return undefined;
    }
    return entry;
  }

  private expiry(): number {
    return this.now() + this.ttlSeconds * 1000;
  }
}
