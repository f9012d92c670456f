/**
 * Buckets in this process's memory, with the Lua script's exact semantics (same arithmetic, same
 * reply). Used when Redis fails in `open` mode, so one instance degrades to local limits, and
 * by the local stack when no redis-server is available. Never shared across instances: N
 * instances admit up to N times the limit, which is the documented price of failing open.
 */
import type { PlanLimits } from '#shared/config';
import {
  InvalidChargeError,
  type Reply,
  type ScriptArgs,
  scriptArgs,
  settlementNeeded,
  toCharge,
  toDecision,
  toSettlement,
} from './decision.ts';
import { Op } from './lua.ts';
import type { DecideInput, Decision, LeaseStore, RenewInput, SettleInput } from './types.ts';

/** The six numbers the script packs into one Redis string, plus when that key would expire. */
interface State {
  req: number;
  reqTs: number;
  tok: number;
  tokTs: number;
  day: number;
  used: number;
  expiresAt: number;
}

export interface MemoryStoreOptions {
  /** Wall clock in milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Most identities kept; the least recently used go first. @default 100_000 */
  readonly maxEntries?: number;
}

const MAX_TTL_MS = 1e10;
const DAY_MS = 86_400_000;

export class MemoryStore implements LeaseStore {
  private readonly entries = new Map<string, State>();
  /** The script's lease sets: identity -> lease id -> expiry (whole ms). */
  private readonly leases = new Map<string, Map<string, number>>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  get size(): number {
    return this.entries.size;
  }

  async decide(input: DecideInput): Promise<Decision> {
    const charge = toCharge(input);
    const op = charge.peek ? Op.peek : Op.decide;
    const args = scriptArgs(op, charge.limits, charge.cost, charge.tokenCost, 0, charge.lease);
    const reply = this.evaluate(charge.id, args, charge.lease?.id);
    return toDecision(reply, charge.limits, false, charge.lease !== undefined);
  }

  async settle(input: SettleInput): Promise<Decision | undefined> {
    const s = toSettlement(input);
    if (!settlementNeeded(s)) return undefined;
    const args = scriptArgs(Op.settle, s.limits, 0, s.used, s.reserved, s.lease);
    const reply = this.evaluate(s.id, args, s.lease?.id);
    return toDecision(reply, s.limits, false, s.lease !== undefined);
  }

  async renew(input: RenewInput): Promise<boolean> {
    const charge = toCharge({ id: input.id, limits: input.limits, lease: input.lease, peek: true });
    if (!charge.lease)
      throw new InvalidChargeError('renew needs limits with maxConcurrentRequests');
    const args = scriptArgs(Op.renew, charge.limits, 0, 0, 0, charge.lease);
    return this.evaluate(charge.id, args, charge.lease.id)[0] === 1;
  }

  /**
   * Takes the buckets Redis last reported for `id` as this store's state, so that a fallback
   * decision continues from there instead of from full buckets (which would hand a key its burst
   * a second time whenever Redis is slow). Remaining counts are whole numbers, rounded down by
   * the script, so the copy never holds more than Redis did. Leases are not copied: while Redis
   * is away the concurrency cap counts this instance's requests only.
   */
  observe(id: string, limits: PlanLimits, decision: Decision): void {
    const now = this.now();
    const day = decision.day;
    const tokens = decision.tokens;
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
    });
  }

  /** The Lua script, line for line (see lua.ts for the meaning of every argument). */
  private evaluate(id: string, args: ScriptArgs, lease?: string): Reply {
    const [op, reqCost, tokCost, rpm, reqCap, tpm, tokCap, dayLimit, tokHeld, concMax, leaseTtl] =
      args;
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

    if (op === Op.renew) {
      const score = leases && lease !== undefined ? leases.get(lease) : undefined;
      if (leases && lease !== undefined && score !== undefined && score > nowMs) {
        leases.set(lease, nowMs + leaseTtl);
        return [1];
      }
      return [0];
    }

    const stored = this.entries.get(id);
    if (stored) this.put(id, stored); // a read is a use: denied identities stay, too
    const current = stored && stored.expiresAt > now ? stored : undefined;
    let { req, reqTs, tok, tokTs, day, used } = current ?? {
      req: reqCap,
      reqTs: 0,
      tok: tokCap,
      tokTs: 0,
      day: -1,
      used: 0,
    };

    const refill = (tokens: number, ts: number, cap: number, rate: number) =>
      Math.min(cap, tokens + Math.max(0, now - ts) * rate);
    const waitMs = (tokens: number, need: number, rate: number) => {
      if (tokens >= need) return 0;
      let ms = Math.ceil((need - tokens) / rate);
      if (tokens + ms * rate < need) ms += 1;
      return ms;
    };

    req = refill(req, reqTs, reqCap, reqRate);
    if (tokRate > 0) {
      tok = refill(tok, tokTs, tokCap, tokRate);
      tokTs = now;
    }
    const today = Math.floor(now / DAY_MS);
    if (day !== today) used = 0;
    const dayReset = dayLimit > 0 ? Math.ceil((today + 1) * DAY_MS - now) : 0;

    const save = () => {
      let ttl = (reqCap - req) / reqRate;
      if (tokRate > 0) ttl = Math.max(ttl, (tokCap - tok) / tokRate);
      if (used > 0) ttl = Math.max(ttl, dayReset + 60_000);
      ttl = Math.min(Math.ceil(ttl) + 1000, MAX_TTL_MS);
      this.put(id, { req, reqTs: now, tok, tokTs, day: today, used, expiresAt: now + ttl });
    };

    let inFlight = 0;
    if (op === Op.settle) {
      if (tokRate > 0) {
        tok = Math.min(tokCap, tok + tokHeld - tokCost);
        save();
      }
      if (leases && lease !== undefined) {
        leases.delete(lease);
        inFlight = live(leases);
        if (leases.size === 0) this.leases.delete(id); // Redis drops an empty sorted set
      }
      const tokLeft = tokRate > 0 ? Math.floor(tok) : 0;
      const tokReset = tokRate > 0 ? Math.ceil((tokCap - tok) / tokRate) : 0;
      return [
        1,
        Math.floor(req),
        0,
        Math.ceil((reqCap - req) / reqRate),
        tokLeft,
        0,
        tokReset,
        dayLimit > 0 ? dayLimit - used : 0,
        0,
        dayReset,
        concMax > 0 ? concMax - inFlight : 0,
        0,
      ];
    }

    const reqRetry = waitMs(req, reqCost, reqRate);
    let tokRetry = 0;
    if (tokRate > 0) {
      if (tokCost > 0) tokRetry = waitMs(tok, tokCost, tokRate);
      else if (tok <= 0) tokRetry = Math.floor(-tok / tokRate) + 1;
    }
    const dayRetry = dayLimit > 0 && used + reqCost > dayLimit ? dayReset : 0;
    let concRetry = 0;
    if (leases) {
      inFlight = live(leases);
      if (inFlight >= concMax) concRetry = 1000;
    }

    const allowed = reqRetry === 0 && tokRetry === 0 && dayRetry === 0 && concRetry === 0;
    if (allowed && op === Op.decide) {
      req -= reqCost;
      if (tokRate > 0) tok -= tokCost;
      if (dayLimit > 0) used += reqCost;
      save();
      if (leases && lease !== undefined) {
        for (const [other, expiry] of leases) if (expiry <= nowMs) leases.delete(other);
        leases.set(lease, nowMs + leaseTtl);
        this.leases.set(id, leases);
        inFlight += 1;
      }
    }

    return [
      allowed ? 1 : 0,
      Math.floor(req),
      reqRetry,
      Math.ceil((reqCap - req) / reqRate),
      tokRate > 0 ? Math.floor(tok) : 0,
      tokRetry,
      tokRate > 0 ? Math.ceil((tokCap - tok) / tokRate) : 0,
      dayLimit > 0 ? dayLimit - used : 0,
      dayRetry,
      dayReset,
      concMax > 0 ? concMax - inFlight : 0,
      concRetry,
    ];
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
