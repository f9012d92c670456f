/**
 * What both stores share: input validation and turning the script's flat reply into a
 * `Decision`. The in-memory store produces the same reply shape, so one function reads both.
 */
import type { PlanLimits } from '#shared/config';
import type {
  BucketName,
  BucketState,
  DecideInput,
  Decision,
  Lease,
  SettleInput,
} from './types.ts';

/**
 * The flat reply of the Lua script (and of the in-memory store):
 * [allowed, reqRemaining, reqRetryMs, reqResetMs, tokRemaining, tokRetryMs, tokResetMs,
 *  dayRemaining, dayRetryMs, dayResetMs, concRemaining, concRetryMs].
 */
export type Reply = readonly number[];

/** A bucket identity: key ids and client addresses, never anything that breaks a hash tag. */
const ID = /^[\x21-\x7a\x7c\x7e]{1,200}$/;

export interface Charge {
  readonly id: string;
  readonly limits: PlanLimits;
  readonly cost: number;
  readonly tokenCost: number;
  readonly peek: boolean;
  /** Present when the limits cap concurrency and the caller holds a lease for this request. */
  readonly lease?: Lease;
}

/** A validated settlement. */
export interface Settlement {
  readonly id: string;
  readonly limits: PlanLimits;
  readonly used: number;
  readonly reserved: number;
  readonly lease?: Lease;
}

/** Lease ids are made by the gateway; the check keeps anything odd out of the script. */
const LEASE_ID = /^[\w.:-]{1,100}$/;

/** Thrown for a call the limiter can never satisfy: a programming error, not a denial. */
export class InvalidChargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidChargeError';
  }
}

function wholeNumber(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidChargeError(`${what} must be a whole number >= 0, got ${value}`);
  }
  return value;
}

export function checkId(id: string): string {
  if (!ID.test(id)) {
    throw new InvalidChargeError(
      `bucket id must be 1-200 printable ASCII characters without braces, got ${JSON.stringify(id)}`,
    );
  }
  return id;
}

/**
 * Validates a decision request. A cost above a bucket's capacity could never be admitted, so it
 * is an error here rather than a denial that would retry forever.
 */
export function toCharge(input: DecideInput): Charge {
  const cost = wholeNumber(input.cost ?? 1, 'cost');
  const tokenCost = wholeNumber(input.tokenCost ?? 0, 'tokenCost');
  const { limits } = input;
  if (cost > limits.burst) {
    throw new InvalidChargeError(
      `cost ${cost} exceeds the request bucket's capacity (burst ${limits.burst})`,
    );
  }
  if (limits.requestsPerDay !== undefined && cost > limits.requestsPerDay) {
    throw new InvalidChargeError(`cost ${cost} exceeds the daily quota ${limits.requestsPerDay}`);
  }
  const tokenBurst = limits.tokenBurst ?? limits.tokensPerMinute;
  if (tokenBurst !== undefined && tokenCost > tokenBurst) {
    throw new InvalidChargeError(
      `tokenCost ${tokenCost} exceeds the token bucket's capacity (tokenBurst ${tokenBurst})`,
    );
  }
  const lease = checkLease(input.lease, limits);
  return {
    id: checkId(input.id),
    limits,
    cost,
    tokenCost,
    peek: input.peek ?? false,
    ...(lease && { lease }),
  };
}

/**
 * A lease counts only when the limits cap concurrency: a plan without `maxConcurrentRequests`
 * never touches the lease set, and a caller without a lease (the check Lambda, the authorizer's
 * failure buckets) is not subject to the cap.
 */
function checkLease(lease: Lease | undefined, limits: PlanLimits): Lease | undefined {
  if (!lease || !limits.maxConcurrentRequests) return undefined;
  if (!LEASE_ID.test(lease.id)) {
    throw new InvalidChargeError(`lease id must be 1-100 word characters, got ${lease.id}`);
  }
  if (!Number.isSafeInteger(lease.ttlMs) || lease.ttlMs < 1) {
    throw new InvalidChargeError(`lease ttlMs must be a whole number >= 1, got ${lease.ttlMs}`);
  }
  return lease;
}

export function toSettlement(input: SettleInput): Settlement {
  const used = wholeNumber(input.tokens, 'settled tokens');
  const reserved = wholeNumber(input.reserved ?? 0, 'reserved tokens');
  const lease = checkLease(input.lease, input.limits);
  return { id: checkId(input.id), limits: input.limits, used, reserved, ...(lease && { lease }) };
}

/** Whether a settlement changes anything: a token difference to book, or a lease to release. */
export function settlementNeeded(settlement: Settlement): boolean {
  return (
    settlement.lease !== undefined ||
    (settlement.limits.tokensPerMinute !== undefined && settlement.used !== settlement.reserved)
  );
}

/**
 * The script's arguments, in order: op, cost, tokenCost, rpm, burst, tpm, tokenBurst, perDay,
 * reserved, maxConcurrent, leaseTtlMs.
 */
export type ScriptArgs = readonly [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

export function scriptArgs(
  op: number,
  limits: PlanLimits,
  cost: number,
  tokenCost: number,
  reserved = 0,
  lease?: Lease,
): ScriptArgs {
  const tokensPerMinute = limits.tokensPerMinute ?? 0;
  return [
    op,
    cost,
    tokenCost,
    limits.requestsPerMinute,
    limits.burst,
    tokensPerMinute,
    limits.tokenBurst ?? tokensPerMinute,
    limits.requestsPerDay ?? 0,
    reserved,
    lease ? (limits.maxConcurrentRequests ?? 0) : 0,
    lease ? lease.ttlMs : 0,
  ];
}

function bucket(
  limit: number,
  remaining: number,
  retryAfterMs: number,
  resetMs: number,
): BucketState {
  return { limit, remaining, retryAfterMs, resetMs };
}

/** Runs once per decision: plain assignments, no object spreads (bench:limiter). */
export function toDecision(
  reply: Reply,
  limits: PlanLimits,
  degraded: boolean,
  leased = false,
): Decision {
  const n = (i: number) => Number(reply[i] ?? 0);
  const allowed = n(0) === 1;
  const decision: { -readonly [K in keyof Decision]: Decision[K] } = {
    allowed,
    degraded,
    retryAfterMs: 0,
    requests: bucket(limits.burst, n(1), n(2), n(3)),
  };
  if (limits.tokensPerMinute) {
    decision.tokens = bucket(limits.tokenBurst ?? limits.tokensPerMinute, n(4), n(5), n(6));
  }
  if (limits.requestsPerDay) decision.day = bucket(limits.requestsPerDay, n(7), n(8), n(9));
  if (leased && limits.maxConcurrentRequests) {
    decision.concurrency = bucket(limits.maxConcurrentRequests, n(10), n(11), 0);
  }
  if (!allowed) {
    // The bucket with the longest wait is the one the client must wait for.
    const waits: [BucketName, number][] = [
      ['requests', decision.requests.retryAfterMs],
      ['tokens', decision.tokens?.retryAfterMs ?? 0],
      ['day', decision.day?.retryAfterMs ?? 0],
      ['concurrency', decision.concurrency?.retryAfterMs ?? 0],
    ];
    for (const [name, wait] of waits) {
      if (wait > decision.retryAfterMs) {
        decision.retryAfterMs = wait;
        decision.limitedBy = name;
      }
    }
  }
  return decision;
}
