/**
 * Sessions in this process's memory, for the local stack when no redis-server is available
 * (buildApp without any Redis option). Same contract as the Redis store: scoped by key id,
 * idle TTL, atomic appends (JavaScript runs one turn's append at a time), newest-first listing.
 * Not for production: nothing is shared between instances and a restart forgets everything.
 */
import { newSessionId } from './ids.ts';
import type { Session, SessionMeta, SessionRepository, StoredMessage } from './session-store.ts';

interface Entry {
  session: Session;
  expiresAt: number;
}

export class MemorySessionStore implements SessionRepository {
  private readonly byKey = new Map<string, Map<string, Entry>>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  async create(
    keyId: string,
    input: { model: string; system?: string; metadata?: Record<string, string> },
    nowMs = this.now(),
  ): Promise<SessionMeta> {
    const meta: SessionMeta = {
      id: newSessionId(nowMs),
      model: input.model,
      metadata: { ...input.metadata },
      createdAt: nowMs,
      ...(input.system !== undefined ? { system: input.system } : {}),
    };
    const sessions = this.byKey.get(keyId) ?? new Map<string, Entry>();
    this.byKey.set(keyId, sessions);
    sessions.set(meta.id, { session: { ...meta, messages: [] }, expiresAt: this.expiry() });
    return meta;
  }

  async get(keyId: string, id: string): Promise<Session | undefined> {
    const entry = this.live(keyId, id);
    if (!entry) return undefined;
    entry.expiresAt = this.expiry();
    return { ...entry.session, messages: [...entry.session.messages] };
  }

  async append(keyId: string, id: string, messages: readonly StoredMessage[]): Promise<boolean> {
    const entry = this.live(keyId, id);
    if (!entry) return false;
    entry.session.messages.push(...messages);
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
    const ids = [...(this.byKey.get(keyId)?.keys() ?? [])]
      .filter((id) => this.live(keyId, id) && (options.after === undefined || id < options.after))
      .sort()
      .reverse();
    const page = ids.slice(0, options.limit).map((id) => {
      const { messages: _messages, ...meta } = (this.live(keyId, id) as Entry).session;
      return meta;
    });
    return { sessions: page, hasMore: ids.length > options.limit };
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
