/**
 * The limiter the gateway uses: Redis decides; when Redis fails or is slower than the timeout,
 * the failure mode decides. `open` answers from a per-instance in-memory bucket with the same
 * plan and marks the decision degraded; `closed` raises `RateLimiterUnavailableError` (503).
 * Nothing here waits for Redis to come back: the next decision simply tries Redis again.
 */

import { RateLimiterUnavailableError } from '@axon/runtime/errors';
import type { FailureMode } from '#shared/config';
import type { Log } from '#shared/logger';
import { InvalidChargeError } from './decision.ts';
import { MemoryStore } from './memory-store.ts';
import type { BucketStore, DecideInput, Decision, SettleInput } from './types.ts';

export interface LimiterOptions {
  /**
   * The shared store, normally a `RedisStore`.
   * @default - none: every decision comes from the in-memory store, not marked degraded
   *   (the local stack without redis-server)
   */
  readonly primary?: BucketStore;
  /** @default - a new MemoryStore */
  readonly fallback?: MemoryStore;
  readonly failureMode: FailureMode;
  /** Longest a Redis decision may take before the failure mode applies. */
  readonly timeoutMs: number;
  readonly log?: Log;
  /** Called once per failed Redis call, for metrics. */
  readonly onRedisError?: (err: unknown) => void;
}

export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * Settles with `work`, or rejects after `ms`. Written with one promise and one timer rather than
 * Promise.race, because it runs once per decision on the gateway's hot path.
 */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RedisTimeoutError(ms)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export class Limiter implements BucketStore {
  readonly fallback: MemoryStore;
  private failing = false;

  constructor(private readonly options: LimiterOptions) {
    this.fallback = options.fallback ?? new MemoryStore();
  }

  async decide(input: DecideInput): Promise<Decision> {
    const { primary } = this.options;
    if (!primary) return this.fallback.decide(input);
    try {
      const decision = await withTimeout(primary.decide(input), this.options.timeoutMs);
      this.recovered();
      return decision;
    } catch (err) {
      if (err instanceof InvalidChargeError) throw err;
      this.failed(err, 'decide');
      if (this.options.failureMode === 'closed') throw new RateLimiterUnavailableError(err);
      return { ...(await this.fallback.decide(input)), degraded: true };
    }
  }

  /** Debits used LLM tokens. Never throws: the response has already been sent. */
  async settle(input: SettleInput): Promise<void> {
    const { primary } = this.options;
    if (!primary) return this.fallback.settle(input);
    try {
      await withTimeout(primary.settle(input), this.options.timeoutMs);
      this.recovered();
    } catch (err) {
      if (err instanceof InvalidChargeError) throw err;
      this.failed(err, 'settle');
      await this.fallback.settle(input);
    }
  }

  /** Logs the change of state, not every failure: a dead Redis must not flood the logs. */
  private failed(err: unknown, operation: string): void {
    this.options.onRedisError?.(err);
    if (this.failing) return;
    this.failing = true;
    this.options.log?.warn('rate limiter cannot reach redis', {
      operation,
      failureMode: this.options.failureMode,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.log?.info('rate limiter reaches redis again');
  }
}
