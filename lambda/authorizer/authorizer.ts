/**
 * API key authentication as the gateway composes it (docs/api.md#authentication). Checks:
 * header shape → key shape and checksum → principal cache → failed-auth budget (peek) → key
 * store. A valid cached key touches neither Redis nor DynamoDB; every rejection is charged to
 * the caller's address, and an address out of budget gets 429 before any lookup.
 */
import type { AxonConfig, PlanLimits } from '#shared/config';
import type { Log } from '#shared/logger';
import type { BucketStore, Decision } from '#token-bucket/types';
import { clientAddress, failureIdentity } from './client-address.ts';
import { readCredential } from './credentials.ts';
import { AuthenticationError, AuthUnavailableError, TooManyAuthFailuresError } from './errors.ts';
import { claimedKind, displayPrefix, hashKey, keyShapeProblem } from './key-format.ts';
import { type KeyLookup, KeyRecordError } from './key-store.ts';
import { type Principal, type RejectReason, resolveRecord } from './principal.ts';
import { LruCache, type PrincipalCache, type Rejection } from './principal-cache.ts';

export type { Principal } from './principal.ts';

export interface AuthenticateInput {
  /** The `Authorization` header: absent, one value, or every value when it was sent twice. */
  readonly authorization: string | readonly string[] | undefined;
  /** `X-Forwarded-For` as received from the ALB; its last entry is the client. */
  readonly forwardedFor?: string | readonly string[] | undefined;
  /** The client address when the platform gives it directly (API Gateway `sourceIp`). Wins. */
  readonly sourceAddress?: string | undefined;
  /**
   * The request is for an admin route (`/v1/organization/...`): its failures, like those of any
   * token with the admin prefix, count against the address's admin bucket
   * (`auth.adminFailuresPerMinutePerAddress`), apart from the model keys' one. @default false
   */
  readonly adminRoute?: boolean;
}

export interface AuthorizerDeps {
  readonly keys: KeyLookup;
  readonly cache: PrincipalCache;
  /** Buckets for failed authentications per address (the gateway's limiter, Redis-backed). */
  readonly failures: BucketStore;
  readonly config: AxonConfig;
  readonly log: Log;
  /** Milliseconds since the epoch; share it with the cache. @default Date.now */
  readonly now?: () => number;
  /**
   * How often a secret's `lastUsedAt` is written, at most: once per interval per secret across
   * every instance (a conditional write), off the request's path. @default 900 (15 minutes)
   */
  readonly lastUsedIntervalSeconds?: number;
}

/** Default of `lastUsedIntervalSeconds`. */
export const LAST_USED_INTERVAL_SECONDS = 900;

type Lookup = { ok: true; principal: Principal } | { ok: false; rejection: Rejection };

/** Which failed-auth bucket of an address a request is charged to. */
interface FailureBucket {
  readonly id: string;
  readonly limits: PlanLimits;
}

interface FailureContext {
  readonly reason: RejectReason;
  readonly bucket: FailureBucket;
  readonly address: string | undefined;
  readonly keyId?: string | undefined;
  readonly prefix?: string | undefined;
}

export class Authorizer {
  readonly #deps: AuthorizerDeps;
  readonly #now: () => number;
  readonly #failureLimits: PlanLimits;
  readonly #adminFailureLimits: PlanLimits;
  /** Concurrent misses for one key share one GetItem instead of stampeding the table. */
  readonly #inFlight = new Map<string, Promise<Lookup>>();
  /** Secrets whose `lastUsedAt` this instance wrote (or tried to) within the interval. */
  readonly #touched = new LruCache<true>(10_000);
  readonly #lastUsedIntervalMs: number;

  constructor(deps: AuthorizerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#lastUsedIntervalMs = (deps.lastUsedIntervalSeconds ?? LAST_USED_INTERVAL_SECONDS) * 1000;
    const perMinute = deps.config.auth.failuresPerMinutePerAddress;
    this.#failureLimits = { requestsPerMinute: perMinute, burst: perMinute };
    const adminPerMinute = deps.config.auth.adminFailuresPerMinutePerAddress;
    this.#adminFailureLimits = { requestsPerMinute: adminPerMinute, burst: adminPerMinute };
  }

  /**
   * Resolves the caller's principal, or throws `AuthenticationError` (401),
   * `TooManyAuthFailuresError` (429) or `AuthUnavailableError` (503). Never anything else for
   * bad input: whatever the header holds, the answer is one of those.
   */
  async authenticate(input: AuthenticateInput): Promise<Principal> {
    const credential = readCredential(input.authorization);
    if (credential.kind === 'missing') {
      this.#deps.log.info('authentication failed', { event: 'auth_failed', reason: 'missing' });
      throw new AuthenticationError(false);
    }
    const address = input.sourceAddress || clientAddress(input.forwardedFor);
    const adminRoute = input.adminRoute === true;
    if (credential.kind === 'malformed') {
      const bucket = this.#bucket(address, adminRoute);
      return this.#reject({ reason: credential.reason, bucket, address });
    }
    const token = credential.token;
    const bucket = this.#bucket(address, adminRoute || claimedKind(token) === 'admin');
    const problem = keyShapeProblem(token);
    if (problem) {
      // Only a token with the right shape has a display prefix worth logging.
      const prefix = problem === 'checksum' ? displayPrefix(token) : undefined;
      return this.#reject({ reason: problem, bucket, address, prefix });
    }

    const keyHash = hashKey(token);
    const hit = this.#deps.cache.get(keyHash);
    if (hit?.kind === 'principal') {
      this.#touch(keyHash, hit.principal.keyId);
      return hit.principal;
    }
    const prefix = displayPrefix(token);
    if (hit?.kind === 'rejected') {
      const { reason, keyId } = hit.rejection;
      return this.#reject({ reason, bucket, address, keyId, prefix });
    }

    await this.#requireFailureBudget(bucket, address, prefix);
    const lookup = await this.#lookup(keyHash, prefix);
    if (lookup.ok) {
      this.#touch(keyHash, lookup.principal.keyId);
      return lookup.principal;
    }
    const { reason, keyId } = lookup.rejection;
    return this.#reject({ reason, bucket, address, keyId, prefix });
  }

  /**
   * The address's failed-auth bucket: `auth:<address>`, or for admin routes and admin-prefixed
   * tokens `admin-auth:<address>` with the admin budget.
   */
  #bucket(address: string | undefined, admin: boolean): FailureBucket {
    const id = failureIdentity(address);
    return admin
      ? { id: `admin-${id}`, limits: this.#adminFailureLimits }
      : { id, limits: this.#failureLimits };
  }

  async #lookup(keyHash: string, prefix: string): Promise<Lookup> {
    const pending = this.#inFlight.get(keyHash);
    if (pending) return pending;
    const lookup = this.#load(keyHash, prefix).finally(() => this.#inFlight.delete(keyHash));
    this.#inFlight.set(keyHash, lookup);
    return lookup;
  }

  async #load(keyHash: string, prefix: string): Promise<Lookup> {
    const { cache, config, keys, log } = this.#deps;
    let record: Awaited<ReturnType<KeyLookup['getByHash']>>;
    try {
      record = await keys.getByHash(keyHash);
    } catch (err) {
      if (err instanceof KeyRecordError) {
        log.error('key record is malformed', {
          event: 'auth_bad_record',
          prefix,
          error: String(err),
        });
        const rejection: Rejection = { reason: 'bad_record' };
        cache.setRejected(keyHash, rejection);
        return { ok: false, rejection };
      }
      const error = err instanceof Error ? err.name : 'unknown';
      log.error('key store unavailable', { event: 'auth_store_unavailable', prefix, error });
      throw new AuthUnavailableError(err);
    }
    if (!record) {
      const rejection: Rejection = { reason: 'unknown' };
      cache.setRejected(keyHash, rejection);
      return { ok: false, rejection };
    }
    const resolution = resolveRecord(record, config, this.#now());
    if (!resolution.ok) {
      if (resolution.detail) {
        log.error('key record cannot be used', {
          event: 'auth_bad_record',
          keyId: record.keyId,
          reason: resolution.reason,
          detail: resolution.detail,
        });
      }
      const rejection: Rejection = { reason: resolution.reason, keyId: record.keyId };
      cache.setRejected(keyHash, rejection);
      return { ok: false, rejection };
    }
    cache.setPrincipal(keyHash, resolution.principal, resolution.expiresAtMs);
    log.debug('key loaded', { event: 'auth_key_loaded', keyId: record.keyId });
    return { ok: true, principal: resolution.principal };
  }

  /**
   * Records the secret's last use: at most one conditional write per secret per interval from
   * this instance (a `Map` lookup otherwise), never awaited, so it can neither fail nor slow the
   * request; its failures are logged. The condition in the store keeps every instance together
   * to about one write per interval.
   */
  #touch(keyHash: string, keyId: string): void {
    const { keys, log } = this.#deps;
    if (!keys.touch) return;
    const now = this.#now();
    if (this.#touched.get(keyHash, now)) return;
    this.#touched.set(keyHash, true, now + this.#lastUsedIntervalMs);
    const at = new Date(now).toISOString();
    const staleBefore = new Date(now - this.#lastUsedIntervalMs + 1).toISOString();
    let pending: Promise<boolean>;
    try {
      pending = keys.touch(keyHash, at, staleBefore);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.catch((err: unknown) => {
      log.warn('could not record when a key was last used', {
        event: 'auth_last_used_failed',
        keyId,
        error: err instanceof Error ? err.name : 'unknown',
      });
    });
  }

  /** 429 before a key-store lookup when the address has no failures left. Charges nothing. */
  async #requireFailureBudget(bucket: FailureBucket, address: string | undefined, prefix: string) {
    const decision = await this.#ask(bucket, true);
    if (decision && !decision.allowed) {
      this.#deps.log.warn('authentication refused: too many failures', {
        event: 'auth_failures_exceeded',
        address,
        prefix,
        ...(bucket.limits === this.#adminFailureLimits && { admin: true }),
      });
      throw new TooManyAuthFailuresError(decision.retryAfterMs);
    }
  }

  /** Logs the real reason, charges one failure to the address, and throws 401 (or 429). */
  async #reject(context: FailureContext): Promise<never> {
    const { reason, bucket, address, keyId, prefix } = context;
    const decision = await this.#ask(bucket, false);
    const exceeded = decision !== undefined && !decision.allowed;
    this.#deps.log.warn('authentication failed', {
      event: exceeded ? 'auth_failures_exceeded' : 'auth_failed',
      reason,
      address,
      ...(bucket.limits === this.#adminFailureLimits && { admin: true }),
      ...(keyId !== undefined && { keyId }),
      ...(prefix !== undefined && { prefix }),
    });
    if (exceeded) throw new TooManyAuthFailuresError(decision.retryAfterMs);
    throw new AuthenticationError(true);
  }

  /**
   * One call to the failure buckets. If the limiter itself fails, authentication goes on
   * unlimited (with a warning): the limiter guards against guessing and table hammering, and
   * must never turn a Redis outage into rejected valid keys. Returns `undefined` then.
   */
  async #ask(bucket: FailureBucket, peek: boolean): Promise<Decision | undefined> {
    try {
      return await this.#deps.failures.decide({
        id: bucket.id,
        limits: bucket.limits,
        cost: 1,
        peek,
      });
    } catch (err) {
      this.#deps.log.warn('failed-auth limiter unavailable; not limiting', {
        event: 'auth_limiter_unavailable',
        error: err instanceof Error ? err.name : 'unknown',
      });
      return undefined;
    }
  }
}
