/**
 * The limiter's contract. One decision covers every bucket of one identity (an API key id, or
 * a client address for failed authentications) and charges them all or none.
 */
import type { PlanLimits } from '#shared/config';

export type BucketName = 'requests' | 'tokens' | 'day';

export interface BucketState {
  /** Capacity: `burst`, `tokenBurst`, or `requestsPerDay`. */
  readonly limit: number;
  /** Whole units left after this decision (may be negative for tokens after settlement). */
  readonly remaining: number;
  /** Milliseconds until this bucket would admit the same cost; 0 when it admits now. */
  readonly retryAfterMs: number;
  /** Milliseconds until this bucket is full again (the day quota: until the next UTC midnight). */
  readonly resetMs: number;
}

export interface Decision {
  readonly allowed: boolean;
  /** Decided by the per-instance in-memory store because Redis failed (failure mode `open`). */
  readonly degraded: boolean;
  /** The bucket that denied, when denied; the one with the longest wait if several did. */
  readonly limitedBy?: BucketName;
  /** Milliseconds until the whole request would be admitted; 0 when allowed. */
  readonly retryAfterMs: number;
  readonly requests: BucketState;
  /** Present when the limits include `tokensPerMinute`. */
  readonly tokens?: BucketState;
  /** Present when the limits include `requestsPerDay`. */
  readonly day?: BucketState;
}

export interface DecideInput {
  /** Identity whose buckets are charged, e.g. the key id. Becomes the Redis hash tag. */
  readonly id: string;
  readonly limits: PlanLimits;
  /** Requests to charge to the request bucket and the day quota. @default 1 */
  readonly cost?: number;
  /**
   * LLM tokens to charge at admission. @default 0 (the token bucket only has to be above zero;
   * actual usage is debited afterwards with `settle`).
   */
  readonly tokenCost?: number;
  /** Decide without charging anything: "would this be admitted now?". @default false */
  readonly peek?: boolean;
}

export interface SettleInput {
  readonly id: string;
  readonly limits: PlanLimits;
  /** LLM tokens actually used; debited even below zero. */
  readonly tokens: number;
}

/** Where buckets live: Redis (single node or cluster) or process memory. Same semantics. */
export interface BucketStore {
  decide(input: DecideInput): Promise<Decision>;
  settle(input: SettleInput): Promise<void>;
}
