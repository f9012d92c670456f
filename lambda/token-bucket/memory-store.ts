/**
 * Buckets in this process's memory, with the Lua script's exact semantics (same arithmetic, same
 * reply). Used when Redis fails in `open` mode, so one instance degrades to local limits, and
 * by the local stack when no redis-server is available. Never shared across instances: N
 * instances admit up to N times the limit, which is the documented price of failing open.
 * Budgets are kept as the script keeps them; the usage ledger is not: no exporter reads this
 * process, so a settlement that falls back here books no usage (docs/limiter.md#usage-ledger).
 */
import type { PlanLimits } from '#shared/config';
import {
  InvalidChargeError,
  moneyOf,
  msToNextMonth,
  type Outcome,
  type ScriptArgs,
  scriptArgs,
  settlementNeeded,
  toCharge,
  toDecision,
  toSettlement,
} from './decision.ts';
import { Op } from './lua.ts';
import type { DecideInput, Decision, LeaseStore, RenewInput, SettleInput } from './types.ts';

/** The numbers the script packs into one Redis string, with when that key would expire. */
interface State {
  req: number;
  reqTs: number;
  tok: number;
  tokTs: number;
  day: number;
  used: number;
  expiresAt: number;
  /** Nano-dollars spent on `day` and in `month` (year * 12 + month - 1); -1: none kept. */
  spentDay: number;
  month: number;
  spentMonth: number;
}

export interface MemoryStoreOptions {
  /** Wall clock in milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Most identities kept; the least recently used go first. @default 100_000 */
  readonly maxEntries?: number;
}

const MAX_TTL_MS = 1e10;
const DAY_MS = 86_400_000;

/** The UTC month of `now` as the script numbers it: year * 12 + month - 1. */
function monthOf(now: number): number {
  const date = new Date(now);
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
}

export class MemoryStore implements LeaseStore {
  private readonly entries = new Map<string, State>();
  /** What Redis last reported per identity (`observe`), not yet made into an entry. */
  private readonly observed = new Map<
    string,
    { limits: PlanLimits; decision: Decision; at: number }
  >();
  /** The script's lease sets: identity -> lease id -> expiry (whole ms). */
  private readonly leases = new Map<string, Map<string, number>>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  /** Identities held: decided here, or reported by Redis and not decided here since. */
  get size(): number {
    return this.entries.size + this.observed.size;
  }

  async decide(input: DecideInput): Promise<Decision> {
    const charge = toCharge(input);
    const op = charge.peek ? Op.peek : Op.decide;
    const money = charge.costNanoUsd > 0 ? moneyOf(charge.limits, charge.costNanoUsd) : undefined;
    const args = scriptArgs(
      op,
      charge.limits,
      charge.cost,
      charge.tokenCost,
      0,
      charge.lease,
      money,
    );
    return toDecision(this.evaluate(charge.id, args, charge.lease?.id), args, false);
  }

  async settle(input: SettleInput): Promise<Decision | undefined> {
    const s = toSettlement(input);
    if (!settlementNeeded(s)) return undefined;
    const money = moneyOf(s.limits, s.costNanoUsd, s.reservedNanoUsd, s.usage);
    const args = scriptArgs(Op.settle, s.limits, 0, s.used, s.reserved, s.lease, money);
    return toDecision(this.evaluate(s.id, args, s.lease?.id), args, false);
  }

  async renew(input: RenewInput): Promise<boolean> {
    const charge = toCharge({ id: input.id, limits: input.limits, lease: input.lease, peek: true });
    if (!charge.lease)
      throw new InvalidChargeError('renew needs limits with maxConcurrentRequests');
    const leases = this.leases.get(charge.id);
    const nowMs = Math.floor(this.now());
    const expiry = leases?.get(charge.lease.id);
    if (!leases || expiry === undefined || expiry <= nowMs) return false;
    leases.set(charge.lease.id, nowMs + charge.lease.ttlMs);
    return true;
  }

  /**
   * Takes the buckets Redis last reported for `id` as this store's state, so that a fallback
   * decision continues from there instead of from full buckets (which would hand a key its burst
   * a second time whenever Redis is slow). Remaining counts are whole numbers, rounded down by
   * the script, so the copy never holds more than Redis did. Leases are not copied: while Redis
   * is away the concurrency cap counts this instance's requests only.
   */
  observe(id: string, limits: PlanLimits, decision: Decision): void {
    // Kept as reported and made into state only if this store ever decides for the key (Redis
    // failed): the copy runs on every decision and settlement, the fallback almost never. A
    // repeat keeps the key's place in the bound (a Map keeps first insertion order).
    this.observed.set(id, { limits, decision, at: this.now() });
    if (this.observed.size > this.maxEntries) {
      const oldest = this.observed.keys().next().value;
      if (oldest !== undefined) this.observed.delete(oldest);
    }
  }

  /** The state Redis last reported for `id`, if it reported since this store last decided. */
  private adopt(id: string): void {
    const seen = this.observed.get(id);
    if (!seen) return;
    this.observed.delete(id);
    const { limits, decision } = seen;
    const now = seen.at;
    const day = decision.day;
    const tokens = decision.tokens;
    const { dayBudget, monthBudget } = decision;
    // A decision that reports no budget keeps the spend this store already has for the key.
    const kept = this.entries.get(id);
    const month = monthOf(now);
    const spentDay = dayBudget
      ? dayBudget.limit - dayBudget.remaining
      : kept && kept.day === Math.floor(now / DAY_MS)
        ? kept.spentDay
        : 0;
    const spentMonth = monthBudget
      ? monthBudget.limit - monthBudget.remaining
      : kept && kept.month === month
        ? kept.spentMonth
        : 0;
    const resetMs = Math.max(
      decision.requests.resetMs,
      tokens?.resetMs ?? 0,
      day && day.remaining < day.limit ? day.resetMs + 60_000 : 0,
    );
    this.put(id, {
      req: decision.requests.remaining,
      reqTs: now,
      tok: tokens ? tokens.remaining : (limits.tokenBurst ?? limits.tokensPerMinute ?? 0),
      tokTs: now,
      day: Math.floor(now / DAY_MS),
      used: day ? day.limit - day.remaining : 0,
      expiresAt: now + Math.min(resetMs + 1000, MAX_TTL_MS),
      spentDay,
      month: spentDay > 0 || spentMonth > 0 ? month : -1,
      spentMonth,
    });
  }

  /** The Lua script, line for line (see lua.ts for the meaning of every argument). */
  private evaluate(id: string, args: ScriptArgs, lease?: string): Outcome {
    const [op, reqCost, tokCost, rpm, reqCap, tpm, tokCap, dayLimit, tokHeld, concMax, leaseTtl] =
      args as [
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
    // The long form's budgets and costs (the ledger's tokens are not kept here).
    const [dayBudget = 0, monthBudget = 0, cost = 0, costHeld = 0] = args.slice(11);
    const budgeted = dayBudget > 0 || monthBudget > 0;
    const reqRate = rpm / 60_000;
    const tokRate = tpm / 60_000;
    const now = this.now();
    const nowMs = Math.floor(now);
    const leases = concMax > 0 ? this.leaseSet(id) : undefined;
    const live = (set: Map<string, number>) => {
      let n = 0;
      for (const expiry of set.values()) if (expiry > nowMs) n++;
      return n;
    };

    this.adopt(id);
    const stored = this.entries.get(id);
    if (stored) this.put(id, stored); // a read is a use: denied identities stay, too
    const current = stored && stored.expiresAt > now ? stored : undefined;
    let { req, reqTs, tok, tokTs, day, used, spentDay, month, spentMonth } = current ?? {
      req: reqCap,
      reqTs: 0,
      tok: tokCap,
      tokTs: 0,
      day: -1,
      used: 0,
      spentDay: 0,
      month: -1,
      spentMonth: 0,
    };
    // Spend is kept once a budget has applied (the script's ten-double key).
    const wide = budgeted || month >= 0;

    const refill = (tokens: number, ts: number, cap: number, rate: number) =>
      Math.min(cap, tokens + Math.max(0, now - ts) * rate);
    req = refill(req, reqTs, reqCap, reqRate);
    if (tokRate > 0) {
      tok = refill(tok, tokTs, tokCap, tokRate);
      tokTs = now;
    }
    const today = Math.floor(now / DAY_MS);
    if (day !== today) {
      used = 0;
      spentDay = 0;
    }
    const thisMonth = monthOf(now);
    if (wide && month !== thisMonth) {
      month = thisMonth;
      spentMonth = 0;
    }

    const save = () => {
      let ttl = (reqCap - req) / reqRate;
      if (tokRate > 0) ttl = Math.max(ttl, (tokCap - tok) / tokRate);
      if (used > 0) ttl = Math.max(ttl, (today + 1) * DAY_MS - now + 60_000);
      // The script keeps a key with spend until 32 days after the month's first; this store
      // needs it only until the month is over.
      if (spentMonth > 0) ttl = Math.max(ttl, msToNextMonth(now));
      ttl = Math.min(Math.ceil(ttl) + 1000, MAX_TTL_MS);
      this.put(id, {
        req,
        reqTs: now,
        tok,
        tokTs,
        day: today,
        used,
        expiresAt: now + ttl,
        spentDay,
        month: wide ? month : -1,
        spentMonth,
      });
    };
    const outcome = (allowed: boolean, inFlight: number): Outcome => ({
      allowed,
      req,
      tok,
      used,
      inFlight,
      now,
      spentDay,
      spentMonth,
    });

    let allowed = true;
    let inFlight = 0;
    if (op === Op.settle) {
      if (tokRate > 0) tok = Math.min(tokCap, tok + tokHeld - tokCost);
      if (budgeted) {
        spentDay = Math.max(0, spentDay - costHeld) + cost;
        spentMonth = Math.max(0, spentMonth - costHeld) + cost;
      }
      if (tokRate > 0 || budgeted) save();
      if (leases && lease !== undefined) {
        leases.delete(lease);
        inFlight = live(leases);
        if (leases.size === 0) this.leases.delete(id); // Redis drops an empty sorted set
      }
      return outcome(allowed, inFlight);
    }

    if (req < reqCost) allowed = false;
    if (tokRate > 0 && (tokCost > 0 ? tok < tokCost : tok <= 0)) allowed = false;
    if (dayLimit > 0 && used + reqCost > dayLimit) allowed = false;
    if (budgeted && cost > 0) {
      if (dayBudget > 0 && spentDay + cost > dayBudget) allowed = false;
      if (monthBudget > 0 && spentMonth + cost > monthBudget) allowed = false;
    }
    if (leases) {
      for (const [other, expiry] of leases) if (expiry <= nowMs) leases.delete(other);
      inFlight = leases.size;
      if (inFlight >= concMax) allowed = false;
    }
    if (allowed && op === Op.decide) {
      req -= reqCost;
      if (tokRate > 0) tok -= tokCost;
      if (dayLimit > 0) used += reqCost;
      if (budgeted) {
        spentDay += cost;
        spentMonth += cost;
      }
      save();
      if (leases && lease !== undefined) {
        leases.set(lease, nowMs + leaseTtl);
        this.leases.set(id, leases);
        inFlight += 1;
      }
    }
    return outcome(allowed, inFlight);
  }

  /**
   * The lease set of `id`; a new one is stored only when a lease is added. Expired leases go
   * when the next lease is taken, as in the script, so the map holds at most the live leases of
   * identities that took one (the cap bounds each set).
   */
  private leaseSet(id: string): Map<string, number> {
    return this.leases.get(id) ?? new Map<string, number>();
  }

  /**
   * Stores the state of `id` as the most recently used. Past `maxEntries` the least recently
   * used identity is dropped; it comes back as full buckets, the same as an expired Redis key.
   */
  private put(id: string, state: State): void {
    this.entries.delete(id);
    this.entries.set(id, state);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
