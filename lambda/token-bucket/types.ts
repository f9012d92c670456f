/**
 * The limiter's contract. One decision covers every bucket of one identity (an API key id, or
 * a client address for failed authentications) and charges them all or none.
 */
import type { PlanLimits } from '#shared/config';

export type BucketName =
  | 'requests'
  | 'tokens'
  | 'day'
  | 'concurrency'
  | 'dayBudget'
  | 'monthBudget';

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
  /**
   * Present when the limits include `maxConcurrentRequests` and the decision took (or asked
   * for) a lease: `remaining` is how many more may start now.
   */
  readonly concurrency?: BucketState;
  /**
   * Present when the limits include `dailyBudgetUsd` and the call carried a cost, in
   * nano-dollars: the budget, what is left of it (reservations in flight count as spent), and
   * the time until the next UTC midnight.
   */
  readonly dayBudget?: BucketState;
  /** The same for `monthlyBudgetUsd`, resetting on the first of the next UTC month. */
  readonly monthBudget?: BucketState;
}

/**
 * One settled request in the usage ledger (docs/limiter.md#usage-ledger): the model it is booked
 * under (a name from the stage's price table, or `other`, never the raw request field) and its
 * tokens. Its cost is the settlement's `costNanoUsd`.
 */
export interface LedgerUsage {
  readonly model: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Input tokens served from a prompt cache (part of `inputTokens`). */
  readonly cachedTokens: number;
}

/**
 * One request's slot under a plan's `maxConcurrentRequests`. Taken by the decision that admits
 * the request, released by its settlement, renewed while it runs; a lease nobody renews expires
 * by itself after `ttlMs`, which is how a gateway that died mid-request gives its slots back.
 */
export interface Lease {
  /** Unique per request (the gateway makes a random one). */
  readonly id: string;
  readonly ttlMs: number;
}

export interface DecideInput {
  /** Identity whose buckets are charged, e.g. the key id. Becomes the Redis hash tag. */
  readonly id: string;
  readonly limits: PlanLimits;
  /** Requests to charge to the request bucket and the day quota. @default 1 */
  readonly cost?: number;
  /**
   * LLM tokens to reserve at admission: all of them must be in the bucket. The gateway reserves
   * the request's worst case and settles the difference afterwards. @default 0 (the token bucket
   * only has to be above zero; actual usage is debited afterwards with `settle`).
   */
  readonly tokenCost?: number;
  /** The request's concurrency lease; only counted when the limits cap concurrency. */
  readonly lease?: Lease;
  /**
   * The request's worst-case cost in nano-dollars, reserved against the key's budgets (all of
   * it must fit in each); ignored when the limits carry no budget. @default 0
   */
  readonly costNanoUsd?: number;
  /** Decide without charging anything: "would this be admitted now?". @default false */
  readonly peek?: boolean;
}

export interface SettleInput {
  readonly id: string;
  readonly limits: PlanLimits;
  /** LLM tokens actually used; debited even below zero. */
  readonly tokens: number;
  /** LLM tokens reserved at admission (`tokenCost`), given back first. @default 0 */
  readonly reserved?: number;
  /** The lease the decision took; released. */
  readonly lease?: Lease;
  /** The request's actual cost in nano-dollars: spent against the budgets, booked in the ledger. */
  readonly costNanoUsd?: number;
  /** The cost reserved at admission (`DecideInput.costNanoUsd`), given back first. @default 0 */
  readonly reservedNanoUsd?: number;
  /** Books the request in its key's usage ledger for the current hour. @default - not booked */
  readonly usage?: LedgerUsage;
}

export interface RenewInput {
  readonly id: string;
  readonly limits: PlanLimits;
  readonly lease: Lease;
}

/** Where buckets live: Redis (single node or cluster) or process memory. Same semantics. */
export interface BucketStore {
  decide(input: DecideInput): Promise<Decision>;
  /**
   * Books the difference between use and reservation and releases the lease, in one call. Gives
   * the buckets as they are afterwards (for truthful headers), or undefined when there was
   * nothing to book.
   */
  settle(input: SettleInput): Promise<Decision | undefined>;
}

/**
 * A store that also renews concurrency leases: what the gateway needs. Apart from
 * `BucketStore` so that callers which only decide (the authorizer's failure buckets) and their
 * test doubles need not know about leases.
 */
export interface LeaseStore extends BucketStore {
  /** Extends a live lease by its lifetime; false when it had already expired or was released. */
  renew(input: RenewInput): Promise<boolean>;
}
