/**
 * Buckets in this process's memory, with the Lua script's exact semantics (same arithmetic, same
 * reply). Used when Redis fails in `open` mode, so one instance degrades to local limits, and
 * by the local stack when no redis-server is available. Never shared across instances: N
 * instances admit up to N times the limit, which is the documented price of failing open.
 */
import {
  checkId,
  type Reply,
  type ScriptArgs,
  scriptArgs,
  settleAmount,
  toCharge,
  toDecision,
} from './decision.ts';
import { Op } from './lua.ts';
import type { BucketStore, DecideInput, Decision, SettleInput } from './types.ts';

interface Level {
  t: number;
  ts: number;
  expiresAt: number;
}

interface Entry {
  req?: Level;
  tok?: Level;
  day?: { d: number; n: number; expiresAt: number };
}

export interface MemoryStoreOptions {
  /** Wall clock in milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Most identities kept; the least recently used go first. @default 100_000 */
  readonly maxEntries?: number;
}

const MAX_TTL_MS = 1e10;
const DAY_MS = 86_400_000;

export class MemoryStore implements BucketStore {
  private readonly entries = new Map<string, Entry>();
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
    const reply = this.evaluate(
      charge.id,
      scriptArgs(op, charge.limits, charge.cost, charge.tokenCost),
    );
    return toDecision(reply, charge.limits, false);
  }

  async settle(input: SettleInput): Promise<void> {
    const tokens = settleAmount(input.tokens);
    if (tokens === 0 || !input.limits.tokensPerMinute) return;
    this.evaluate(checkId(input.id), scriptArgs(Op.settle, input.limits, 0, tokens));
  }

  /** The Lua script, line for line (see lua.ts for the meaning of every argument). */
  private evaluate(id: string, args: ScriptArgs): Reply {
    const [op, rpm, reqCap, reqCost, tpm, tokCap, tokCost, dayLimit] = args;
    const reqRate = rpm / 60_000;
    const tokRate = tpm / 60_000;
    const now = this.now();
    const entry = this.touch(id);

    const level = (state: Level | undefined, cap: number, rate: number) => {
      if (!state || state.expiresAt <= now) return cap;
      return Math.min(cap, state.t + Math.max(0, now - state.ts) * rate);
    };
    const waitMs = (tokens: number, need: number, rate: number) => {
      if (tokens >= need) return 0;
      let ms = Math.ceil((need - tokens) / rate);
      if (tokens + ms * rate < need) ms += 1;
      return ms;
    };
    const store = (tokens: number, cap: number, rate: number): Level => ({
      t: tokens,
      ts: now,
      expiresAt: now + Math.min(Math.ceil((cap - tokens) / rate) + 1000, MAX_TTL_MS),
    });

    if (op === Op.settle) {
      if (tokRate <= 0) return [1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
      const tokens = level(entry.tok, tokCap, tokRate) - tokCost;
      entry.tok = store(tokens, tokCap, tokRate);
      return [1, 0, 0, 0, Math.floor(tokens), 0, Math.ceil((tokCap - tokens) / tokRate), 0, 0, 0];
    }

    let req = level(entry.req, reqCap, reqRate);
    const reqRetry = waitMs(req, reqCost, reqRate);

    let tok = 0;
    let tokRetry = 0;
    if (tokRate > 0) {
      tok = level(entry.tok, tokCap, tokRate);
      if (tokCost > 0) tokRetry = waitMs(tok, tokCost, tokRate);
      else if (tok <= 0) tokRetry = Math.floor(-tok / tokRate) + 1;
    }

    let day = 0;
    let used = 0;
    let dayRetry = 0;
    let dayReset = 0;
    if (dayLimit > 0) {
      day = Math.floor(now / DAY_MS);
      dayReset = Math.ceil((day + 1) * DAY_MS - now);
      if (entry.day && entry.day.d === day && entry.day.expiresAt > now) used = entry.day.n;
      if (used + reqCost > dayLimit) dayRetry = dayReset;
    }

    const allowed = reqRetry === 0 && tokRetry === 0 && dayRetry === 0;
    if (allowed && op === Op.decide) {
      req -= reqCost;
      entry.req = store(req, reqCap, reqRate);
      if (tokRate > 0 && tokCost > 0) {
        tok -= tokCost;
        entry.tok = store(tok, tokCap, tokRate);
      }
      if (dayLimit > 0) {
        used += reqCost;
        entry.day = { d: day, n: used, expiresAt: now + dayReset + 60_000 };
      }
    }

    const tokReset = tokRate > 0 ? Math.ceil((tokCap - tok) / tokRate) : 0;
    return [
      allowed ? 1 : 0,
      Math.floor(req),
      reqRetry,
      Math.ceil((reqCap - req) / reqRate),
      Math.floor(tok),
      tokRetry,
      tokReset,
      dayLimit - used,
      dayRetry,
      dayReset,
    ];
  }

  /**
   * The entry of `id`, moved to the most-recently-used end. Past `maxEntries` the least recently
   * used identity is dropped; it comes back as a full bucket, the same as an expired Redis key.
   */
  private touch(id: string): Entry {
    const entry = this.entries.get(id) ?? {};
    this.entries.delete(id);
    this.entries.set(id, entry);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return entry;
  }
}
