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

export class MemoryStore implements BucketStore {
  private readonly entries = new Map<string, State>();
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
    const [op, reqCost, tokCost, rpm, reqCap, tpm, tokCap, dayLimit] = args;
    const reqRate = rpm / 60_000;
    const tokRate = tpm / 60_000;
    const now = this.now();

    const stored = this.entries.get(id);
    if (stored) this.put(id, stored); // a read is a use: denied identities stay, too
    const live = stored && stored.expiresAt > now ? stored : undefined;
    let { req, reqTs, tok, tokTs, day, used } = live ?? {
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

    if (op === Op.settle) {
      if (tokRate <= 0) return [1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
      tok -= tokCost;
      save();
      return [1, 0, 0, 0, Math.floor(tok), 0, Math.ceil((tokCap - tok) / tokRate), 0, 0, 0];
    }

    const reqRetry = waitMs(req, reqCost, reqRate);
    let tokRetry = 0;
    if (tokRate > 0) {
      if (tokCost > 0) tokRetry = waitMs(tok, tokCost, tokRate);
      else if (tok <= 0) tokRetry = Math.floor(-tok / tokRate) + 1;
    }
    const dayRetry = dayLimit > 0 && used + reqCost > dayLimit ? dayReset : 0;

    const allowed = reqRetry === 0 && tokRetry === 0 && dayRetry === 0;
    if (allowed && op === Op.decide) {
      req -= reqCost;
      if (tokRate > 0) tok -= tokCost;
      if (dayLimit > 0) used += reqCost;
      save();
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
    ];
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
