/**
 * The Lambda's in-memory cache of key lookups, keyed by the key's SHA-256 (never the key).
 * Positive entries live `auth.cacheTtlSeconds`, which bounds how long a revoked key keeps
 * working; negative entries live a few seconds, so a flood of one bad key costs one DynamoDB
 * read per few seconds. The two live in separate LRUs so a stream of made-up keys can evict
 * other made-up keys but never a real caller's principal.
 */
import type { Principal, RejectReason } from './principal.ts';

/**
 * A small LRU on `Map` (insertion order is recency order: a hit re-inserts). Written here
 * rather than taken from `lru-cache` because the authorizer needs only get/set/expiry and a
 * dependency in the Lambda bundle costs cold-start time.
 */
export class LruCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAtMs: number }>();

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new Error(`LRU cache needs maxEntries >= 1, got ${maxEntries}`);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, nowMs: number): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAtMs <= nowMs) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, expiresAtMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAtMs });
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}

export interface Rejection {
  readonly reason: RejectReason;
  /** The key's public id when the store knew it (revoked, expired); for logs. */
  readonly keyId?: string;
}

export type CacheHit =
  | { readonly kind: 'principal'; readonly principal: Principal }
  | { readonly kind: 'rejected'; readonly rejection: Rejection };

export interface PrincipalCacheOptions {
  /** `auth.cacheTtlSeconds` of the config. */
  readonly ttlSeconds: number;
  /** How long "this key does not authenticate" is remembered. @default 5 */
  readonly negativeTtlSeconds?: number;
  /** @default 10000 (a few MB at most) */
  readonly maxEntries?: number;
  /** @default 1000 */
  readonly maxNegativeEntries?: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

export class PrincipalCache {
  readonly #positive: LruCache<Principal>;
  readonly #negative: LruCache<Rejection>;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #now: () => number;

  constructor(options: PrincipalCacheOptions) {
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#negativeTtlMs = (options.negativeTtlSeconds ?? 5) * 1000;
    this.#positive = new LruCache(options.maxEntries ?? 10_000);
    this.#negative = new LruCache(options.maxNegativeEntries ?? 1000);
    this.#now = options.now ?? Date.now;
  }

  get(keyHash: string): CacheHit | undefined {
    const now = this.#now();
    const principal = this.#positive.get(keyHash, now);
    if (principal) return { kind: 'principal', principal };
    const rejection = this.#negative.get(keyHash, now);
    return rejection ? { kind: 'rejected', rejection } : undefined;
  }

  /** Cached until the TTL or the key's own expiry, whichever comes first. */
  setPrincipal(keyHash: string, principal: Principal, keyExpiresAtMs?: number): void {
    const expires = this.#now() + this.#ttlMs;
    this.#negative.delete(keyHash);
    this.#positive.set(keyHash, principal, Math.min(expires, keyExpiresAtMs ?? expires));
  }

  setRejected(keyHash: string, rejection: Rejection): void {
    this.#positive.delete(keyHash);
    this.#negative.set(keyHash, rejection, this.#now() + this.#negativeTtlMs);
  }

  get size(): { positive: number; negative: number } {
    return { positive: this.#positive.size, negative: this.#negative.size };
  }
}
