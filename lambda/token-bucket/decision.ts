/**
 * What both stores share: input validation, the script's arguments, and turning the buckets'
 * state after a decision into a `Decision`. The in-memory store produces the same state, so one
 * function reads both, and the arithmetic of waits and resets exists once.
 */
import { nanoUsd, type PlanLimits } from '#shared/config';
import { ARGS_BYTES, LONG_ARGS_BYTES, LONG_REPLY_BYTES, REPLY_BYTES } from './lua.ts';
import type {
  BucketName,
  BucketState,
  DecideInput,
  Decision,
  Lease,
  LedgerUsage,
  SettleInput,
} from './types.ts';

/**
 * The buckets after a decision, as the script answers them (lua.ts) and the in-memory store
 * computes them: unrounded, so that waits and resets come out as the script would compute them.
 */
export interface Outcome {
  /** Whether every bucket admitted (always true for a settlement). */
  readonly allowed: boolean;
  /** Request tokens, refilled and, when admitted, charged. */
  readonly req: number;
  /** LLM tokens, likewise; meaningless without a token bucket. */
  readonly tok: number;
  /** Requests counted today, this one included when admitted. */
  readonly used: number;
  /** Live concurrency leases, this one included when admitted; 0 without a cap. */
  readonly inFlight: number;
  /** The store's clock, in ms (Redis's `TIME` for Redis). */
  readonly now: number;
  /** Nano-dollars spent today and this month, after the call; 0 without a budget. */
  readonly spentDay: number;
  readonly spentMonth: number;
}

/** A bucket identity: key ids and client addresses, never anything that breaks a hash tag. */
const ID = /^[\x21-\x7a\x7c\x7e]{1,200}$/;

export interface Charge {
  readonly id: string;
  readonly limits: PlanLimits;
  readonly cost: number;
  readonly tokenCost: number;
  /** Nano-dollars reserved against the budgets: 0 when the key has none. */
  readonly costNanoUsd: number;
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
  /** Nano-dollars spent and given back: 0 when the key has no budget. */
  readonly costNanoUsd: number;
  readonly reservedNanoUsd: number;
  readonly usage?: LedgerUsage;
  readonly lease?: Lease;
}

/** Lease ids are made by the gateway; the check keeps anything odd out of the script. */
const LEASE_ID = /^[\w.:-]{1,100}$/;
/** A ledger model name: what the config allows for a model (parseModelList), or `other`. */
const LEDGER_MODEL = /^[A-Za-z0-9][\w.:/-]{0,127}$/;

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

/** Whether the limits carry a budget, so that costs are reserved and spent. */
export function hasBudget(limits: PlanLimits): boolean {
  return limits.dailyBudgetUsd !== undefined || limits.monthlyBudgetUsd !== undefined;
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
  // A cost matters only against a budget; without one the short, faster form goes to Redis.
  const costNanoUsd = hasBudget(limits) ? wholeNumber(input.costNanoUsd ?? 0, 'costNanoUsd') : 0;
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
    costNanoUsd,
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
  const costNanoUsd = wholeNumber(input.costNanoUsd ?? 0, 'costNanoUsd');
  const reservedNanoUsd = wholeNumber(input.reservedNanoUsd ?? 0, 'reservedNanoUsd');
  const usage = input.usage && checkUsage(input.usage);
  return {
    id: checkId(input.id),
    limits: input.limits,
    used,
    reserved,
    costNanoUsd,
    reservedNanoUsd,
    ...(usage && { usage }),
    ...(lease && { lease }),
  };
}

function checkUsage(usage: LedgerUsage): LedgerUsage {
  if (!LEDGER_MODEL.test(usage.model)) {
    throw new InvalidChargeError(`ledger model must be a model name, got ${usage.model}`);
  }
  wholeNumber(usage.inputTokens, 'ledger input tokens');
  wholeNumber(usage.outputTokens, 'ledger output tokens');
  wholeNumber(usage.cachedTokens, 'ledger cached tokens');
  return usage;
}

/**
 * Whether a settlement changes anything: usage to book in the ledger, a token difference or a
 * cost to book, or a lease to release.
 */
export function settlementNeeded(settlement: Settlement): boolean {
  return (
    settlement.lease !== undefined ||
    settlement.usage !== undefined ||
    (settlement.limits.tokensPerMinute !== undefined && settlement.used !== settlement.reserved) ||
    (hasBudget(settlement.limits) && settlement.costNanoUsd !== settlement.reservedNanoUsd)
  );
}

/**
 * The script's arguments, in order: op, cost, tokenCost, rpm, burst, tpm, tokenBurst, perDay,
 * reserved, maxConcurrent, leaseTtlMs; in the long form (budgets, the usage ledger) then
 * dayBudget, monthBudget, costNanoUsd, reservedNanoUsd, input, output and cached tokens, book.
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
  ...number[],
];

/** What the long form adds: the money of one call and, for a settlement, its ledger entry. */
export interface Money {
  readonly costNanoUsd: number;
  readonly reservedNanoUsd?: number;
  readonly usage?: LedgerUsage;
}

/**
 * Money goes to the script only when it matters: a decision with a cost against a budget, a
 * settlement with a ledger entry or a cost to spend. Everything else keeps the short form.
 */
export function moneyOf(
  limits: PlanLimits,
  costNanoUsd: number,
  reservedNanoUsd = 0,
  usage?: LedgerUsage,
): Money | undefined {
  const spends = hasBudget(limits) && (costNanoUsd > 0 || reservedNanoUsd > 0);
  if (!spends && !usage) return undefined;
  return { costNanoUsd, reservedNanoUsd, ...(usage && { usage }) };
}

export function scriptArgs(
  op: number,
  limits: PlanLimits,
  cost: number,
  tokenCost: number,
  reserved = 0,
  lease?: Lease,
  money?: Money,
): ScriptArgs {
  const tokensPerMinute = limits.tokensPerMinute ?? 0;
  const short: ScriptArgs = [
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
  if (!money) return short;
  const { usage } = money;
  return [
    ...short,
    limits.dailyBudgetUsd === undefined ? 0 : nanoUsd(limits.dailyBudgetUsd),
    limits.monthlyBudgetUsd === undefined ? 0 : nanoUsd(limits.monthlyBudgetUsd),
    money.costNanoUsd,
    money.reservedNanoUsd ?? 0,
    usage?.inputTokens ?? 0,
    usage?.outputTokens ?? 0,
    usage?.cachedTokens ?? 0,
    usage ? 1 : 0,
  ];
}

/** The script's argument: the numbers as little-endian doubles (lua.ts, ARGV[1]). */
export function packArgs(args: ScriptArgs): Buffer {
  const buffer = Buffer.allocUnsafe(args.length === 11 ? ARGS_BYTES : LONG_ARGS_BYTES);
  for (let i = 0; i < args.length; i++) buffer.writeDoubleLE(args[i] as number, i * 8);
  return buffer;
}

/**
 * The script's reply to decide, peek and settle (six doubles). Anything else is not an answer
 * this limiter can trust (a script of another version, a proxy in the way), so it is an error
 * and the failure mode decides.
 */
export function readReply(reply: unknown): Outcome {
  const long = reply instanceof Buffer && reply.length === LONG_REPLY_BYTES;
  if (!(reply instanceof Buffer) || (reply.length !== REPLY_BYTES && !long)) {
    throw new Error(
      `token bucket script answered ${describe(reply)}, not ${REPLY_BYTES} or ${LONG_REPLY_BYTES} bytes`,
    );
  }
  return {
    allowed: reply.readDoubleLE(0) === 1,
    req: reply.readDoubleLE(8),
    tok: reply.readDoubleLE(16),
    used: reply.readDoubleLE(24),
    inFlight: reply.readDoubleLE(32),
    now: reply.readDoubleLE(40),
    spentDay: long ? reply.readDoubleLE(48) : 0,
    spentMonth: long ? reply.readDoubleLE(56) : 0,
  };
}

function describe(reply: unknown): string {
  return reply instanceof Buffer ? `${reply.length} bytes` : typeof reply;
}

/** Milliseconds until `have` refills to `need` at `rate` per ms; one more where rounding falls short. */
function waitMs(have: number, need: number, rate: number): number {
  if (have >= need) return 0;
  let ms = Math.ceil((need - have) / rate);
  if (have + ms * rate < need) ms += 1;
  return ms;
}

function bucket(
  limit: number,
  remaining: number,
  retryAfterMs: number,
  resetMs: number,
): BucketState {
  return { limit, remaining, retryAfterMs, resetMs };
}

const DAY_MS = 86_400_000;

/** Milliseconds from `now` to the first moment of the next UTC month. */
export function msToNextMonth(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) - now;
}

/**
 * A budget as a bucket, in nano-dollars: what is left of it after the call, and, when it is the
 * reason for a denial, the wait until it resets (it may admit sooner, once requests in flight
 * give their reservations back; when is unknown, so the reset is what a client is told).
 */
function budget(
  limit: number,
  spent: number,
  cost: number,
  allowed: boolean,
  resetMs: number,
): BucketState {
  const refused = !allowed && cost > 0 && spent + cost > limit;
  return bucket(limit, limit - spent, refused ? resetMs : 0, resetMs);
}

/**
 * The decision the arguments and the state after it mean. Runs once per decision: plain
 * assignments, no object spreads (bench:limiter). Waits are worked out only for a denial (an
 * admission waits for nothing), and only disabled buckets are left out.
 */
export function toDecision(outcome: Outcome, args: ScriptArgs, degraded: boolean): Decision {
  const { allowed, req, tok, used, inFlight, now } = outcome;
  const reqCost = args[1];
  const reqRate = args[3] / 60_000;
  const reqCap = args[4];
  const decision: { -readonly [K in keyof Decision]: Decision[K] } = {
    allowed,
    degraded,
    retryAfterMs: 0,
    requests: bucket(
      reqCap,
      Math.floor(req),
      allowed ? 0 : waitMs(req, reqCost, reqRate),
      Math.ceil((reqCap - req) / reqRate),
    ),
  };
  const tpm = args[5];
  if (tpm > 0) {
    const tokCost = args[2];
    const tokRate = tpm / 60_000;
    const tokCap = args[6];
    let retry = 0;
    if (!allowed) {
      // A reservation waits until all of it fits; without one the bucket must be above zero.
      if (tokCost > 0) retry = waitMs(tok, tokCost, tokRate);
      else if (tok <= 0) retry = Math.floor(-tok / tokRate) + 1;
    }
    decision.tokens = bucket(tokCap, Math.floor(tok), retry, Math.ceil((tokCap - tok) / tokRate));
  }
  const dayLimit = args[7];
  if (dayLimit > 0) {
    const reset = Math.ceil((Math.floor(now / DAY_MS) + 1) * DAY_MS - now);
    const retry = !allowed && used + reqCost > dayLimit ? reset : 0;
    decision.day = bucket(dayLimit, dayLimit - used, retry, reset);
  }
  if (args.length > 11) {
    const [dayBudget = 0, monthBudget = 0, cost = 0] = args.slice(11);
    const dayReset = Math.ceil((Math.floor(now / DAY_MS) + 1) * DAY_MS - now);
    if (dayBudget > 0) {
      decision.dayBudget = budget(dayBudget, outcome.spentDay, cost, allowed, dayReset);
    }
    if (monthBudget > 0) {
      const reset = Math.ceil(msToNextMonth(now));
      decision.monthBudget = budget(monthBudget, outcome.spentMonth, cost, allowed, reset);
    }
  }
  const concMax = args[9];
  if (concMax > 0) {
    // When a running request ends is unknown (answers end when they end): wait one second.
    const retry = !allowed && inFlight >= concMax ? 1000 : 0;
    decision.concurrency = bucket(concMax, concMax - inFlight, retry, 0);
  }
  if (!allowed) {
    // The bucket with the longest wait is the one the client must wait for.
    const waits: [BucketName, number][] = [
      ['requests', decision.requests.retryAfterMs],
      ['tokens', decision.tokens?.retryAfterMs ?? 0],
      ['day', decision.day?.retryAfterMs ?? 0],
      ['concurrency', decision.concurrency?.retryAfterMs ?? 0],
      ['dayBudget', decision.dayBudget?.retryAfterMs ?? 0],
      ['monthBudget', decision.monthBudget?.retryAfterMs ?? 0],
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
