/**
 * Buckets in Redis: a single node, a Redis Cluster or ElastiCache Serverless. Every decision is
 * one EVALSHA; only the first call after a Redis restart (NOSCRIPT) falls back to EVAL, which
 * also loads the script for the calls after it.
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
import { Op, TOKEN_BUCKET_LUA, TOKEN_BUCKET_SHA } from './lua.ts';
import type { BucketStore, DecideInput, Decision, SettleInput } from './types.ts';

/** All the limiter needs of a client; ioredis `Redis` and `Cluster` fit as they are. */
export interface ScriptClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
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

export class RedisStore implements BucketStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: ScriptClient,
    private readonly options: RedisStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'axon:rl';
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
    const args = scriptArgs(op, charge.limits, charge.cost, charge.tokenCost);
    return toDecision(await this.run(this.keyOf(charge.id), args), charge.limits, false);
  }

  async settle(input: SettleInput): Promise<void> {
    const tokens = settleAmount(input.tokens);
    if (tokens === 0 || !input.limits.tokensPerMinute) return;
    await this.run(this.key(input.id), scriptArgs(Op.settle, input.limits, 0, tokens));
  }

  private async run(key: string, args: ScriptArgs): Promise<Reply> {
    const argv = args.join(' ');
    try {
      return await this.call(key, argv);
    } catch (err) {
      if (!(await this.options.retryAfter?.(err))) throw err;
      return this.call(key, argv);
    }
  }

  private async call(key: string, argv: string): Promise<Reply> {
    try {
      return (await this.redis.evalsha(TOKEN_BUCKET_SHA, 1, key, argv)) as Reply;
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await this.redis.eval(TOKEN_BUCKET_LUA, 1, key, argv)) as Reply;
    }
  }
}
