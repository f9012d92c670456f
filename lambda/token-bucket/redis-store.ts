/**
 * Buckets in Redis: a single node, a Redis Cluster or ElastiCache Serverless. Every decision is
 * one EVALSHA; only the first call after a Redis restart (NOSCRIPT) falls back to EVAL, which
 * also loads the script for the calls after it.
 */

import type { Command } from 'ioredis';
import {
  checkId,
  InvalidChargeError,
  moneyOf,
  readReply,
  type ScriptArgs,
  scriptArgs,
  settlementNeeded,
  toCharge,
  toDecision,
  toSettlement,
} from './decision.ts';
import { Op, TOKEN_BUCKET_LUA } from './lua.ts';
import { ScriptCommand } from './script-command.ts';
import type { DecideInput, Decision, Lease, LeaseStore, RenewInput, SettleInput } from './types.ts';

/**
 * All the limiter needs of a client; ioredis `Redis` and `Cluster` fit as they are. Every
 * decision is a prebuilt `ScriptCommand` through `sendCommand`; the rare paths (NOSCRIPT's
 * EVAL, a retry) use `callBuffer`, whose reply stays a `Buffer` (ioredis's `eval` would decode
 * it as UTF-8 and mangle the packed doubles the script answers).
 */
export interface ScriptClient {
  sendCommand(command: Command): unknown;
  callBuffer(command: string, args: (string | number | Buffer)[]): Promise<unknown>;
  /** The store writes keys whole (`ScriptCommand`), so a client-side key prefix would be lost. */
  readonly options?: { readonly keyPrefix?: string };
}

export interface RedisStoreOptions {
  /** Prefix of every key this store writes. @default 'axon:rl' */
  readonly prefix?: string;
  /**
   * Asked after a failed call; resolving true runs the call once more. `RedisConnection`'s
   * `recoverable` re-reads a rotated AUTH token here. Consulted only on failure, so the fast
   * path is the bare client.
   * @default - no retry
   */
  readonly retryAfter?: (err: unknown) => Promise<boolean>;
}

export class RedisStore implements LeaseStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: ScriptClient,
    private readonly options: RedisStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'axon:rl';
    if (redis.options?.keyPrefix) {
      throw new Error('RedisStore needs a client without keyPrefix: use its own prefix option');
    }
  }

  /**
   * The key holding all buckets of one identity. The braces make it a hash tag, so any key
   * added for the same identity later lands in the same cluster slot.
   */
  key(id: string): string {
    return this.keyOf(checkId(id));
  }

  /** `key` for an id `toCharge` has already checked: the hot path checks it once. */
  private keyOf(checkedId: string): string {
    return `${this.prefix}:{${checkedId}}`;
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
    const reply = await this.run(charge.id, args, charge.lease);
    return toDecision(readReply(reply), args, false);
  }

  async settle(input: SettleInput): Promise<Decision | undefined> {
    const s = toSettlement(input);
    if (!settlementNeeded(s)) return undefined;
    const money = moneyOf(s.limits, s.costNanoUsd, s.reservedNanoUsd, s.usage);
    const args = scriptArgs(Op.settle, s.limits, 0, s.used, s.reserved, s.lease, money);
    const reply = await this.run(s.id, args, s.lease, s.usage?.model);
    return toDecision(readReply(reply), args, false);
  }

  async renew(input: RenewInput): Promise<boolean> {
    const charge = toCharge({ id: input.id, limits: input.limits, lease: input.lease, peek: true });
    if (!charge.lease)
      throw new InvalidChargeError('renew needs limits with maxConcurrentRequests');
    const args = scriptArgs(Op.renew, charge.limits, 0, 0, 0, charge.lease);
    return (await this.run(charge.id, args, charge.lease)) === 1;
  }

  /**
   * One EVALSHA: the state key, plus the lease set and the lease id when a cap applies, plus the
   * ledger's model when the settlement books usage. The fast path is a single await; failures
   * take `recover`.
   */
  private async run(
    checkedId: string,
    args: ScriptArgs,
    lease?: Lease,
    model?: string,
  ): Promise<unknown> {
    const command = new ScriptCommand(this.keyOf(checkedId), args, lease?.id, model);
    try {
      return await (this.redis.sendCommand(command) as Promise<unknown>);
    } catch (err) {
      command.failed = true;
      return this.recover(command.fallbackArgs(), err);
    }
  }

  /**
   * After a failed EVALSHA: NOSCRIPT loads the script with EVAL; a failure that `retryAfter`
   * says is worth it (a rotated AUTH token) runs the call once more.
   */
  private async recover(command: (string | number | Buffer)[], failure: unknown): Promise<unknown> {
    let err = failure;
    if (isNoScript(err)) {
      try {
        return await this.evalScript(command);
      } catch (evalErr) {
        err = evalErr;
      }
    }
    if (!(await this.options.retryAfter?.(err))) throw err;
    try {
      return await this.redis.callBuffer('evalsha', command);
    } catch (again) {
      if (!isNoScript(again)) throw again;
      return this.evalScript(command);
    }
  }

  /** EVAL with the script in the SHA's place: runs it and loads it for the EVALSHAs after. */
  private evalScript(command: (string | number | Buffer)[]): Promise<unknown> {
    return this.redis.callBuffer('eval', [TOKEN_BUCKET_LUA, ...command.slice(1)]);
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
