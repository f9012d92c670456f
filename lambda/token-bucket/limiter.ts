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
import type { DecideInput, Decision, LeaseStore, RenewInput, SettleInput } from './types.ts';

export interface LimiterOptions {
  /**
   * The shared store, normally a `RedisStore`.
   * @default - none: every decision comes from the in-memory store, not marked degraded
   *   (the local stack without redis-server)
   */
  readonly primary?: LeaseStore;
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

/** One call waiting for its deadline. */
interface Pending {
  /** `performance.now()` at which the call is given up. */
  readonly due: number;
  /** Until the call settles or is given up. */
  open: boolean;
  readonly giveUp: () => void;
}

/**
 * Deadlines for calls that all get the same time, so they expire in the order they started: a
 * FIFO with one timer, armed for the oldest open call. Replaces a `setTimeout` and a
 * `clearTimeout` per call on the gateway's hot path (bench:limiter); a settled call stays in the
 * queue, closed, until it reaches the head.
 *
 * When the timer fires, replies may already be in the socket, unread: a busy event loop runs
 * expired timers before it polls for I/O, so a blocked loop would otherwise turn every reply it
 * was too busy to read into a timeout, and a fallback decision on top of a charge Redis already
 * made. So the calls are given up from `setImmediate`, which runs after the loop's I/O poll: a
 * reply that has arrived by then is read and used.
 */
export class Deadlines {
  private queue: Pending[] = [];
  private head = 0;
  private armed = false;

  constructor(private readonly ms: number) {}

  /** Calls not yet given up or settled, or settled but not yet dropped from the queue. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /**
   * Settles with `work`, or rejects with `RedisTimeoutError` after the deadline; `late`
   * receives a value that arrives after the call was given up.
   */
  run<T>(work: Promise<T>, late: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        due: performance.now() + this.ms,
        open: true,
        giveUp: () => reject(new RedisTimeoutError(this.ms)),
      };
      this.queue.push(pending);
      if (!this.armed) this.arm(this.ms);
      work.then(
        (value) => {
          if (!pending.open) return late(value);
          pending.open = false;
          resolve(value);
        },
        (err: unknown) => {
          if (!pending.open) return;
          pending.open = false;
          reject(err);
        },
      );
    });
  }

  private arm(ms: number): void {
    this.armed = true;
    setTimeout(() => {
      const firedAt = performance.now();
      setImmediate(() => this.expire(firedAt));
    }, ms);
  }

  /**
   * Gives up every open call that was due when the timer fired, drops settled ones, and re-arms
   * for the next open one. Due when the timer fired, not now: only those have had an I/O poll
   * since their deadline (a call that started, and blocked the loop, after the timer fired has
   * not).
   */
  private expire(firedAt: number): void {
    this.armed = false;
    const { queue } = this;
    while (this.head < queue.length) {
      const pending = queue[this.head] as Pending;
      if (pending.open && pending.due > firedAt) break;
      this.head++;
      if (pending.open) {
        pending.open = false;
        pending.giveUp();
      }
    }
    if (this.head === queue.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    // Shift the dropped head away now and then, not per call.
    if (this.head > 1024 && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
    this.arm(Math.max(1, (this.queue[this.head] as Pending).due - performance.now()));
  }
}

export class Limiter implements LeaseStore {
  readonly fallback: MemoryStore;
  private failing = false;
  private readonly deadlines: Deadlines;

  constructor(private readonly options: LimiterOptions) {
    this.fallback = options.fallback ?? new MemoryStore();
    this.deadlines = new Deadlines(options.timeoutMs);
  }

  /**
   * One decision, from exactly one store: Redis's answer when it arrives in time, else the
   * fallback's. Every answer from Redis, in time or late, becomes the fallback's state for the
   * key, so a fallback decision continues from what Redis last said (a late answer that
   * charged Redis replaces the fallback's own charge for the same request rather than adding to
   * it).
   */
  async decide(input: DecideInput): Promise<Decision> {
    const { primary } = this.options;
    if (!primary) return this.fallback.decide(input);
    try {
      const decision = await this.deadlines.run(primary.decide(input), (late) =>
        this.remember(input, late),
      );
      this.recovered();
      this.remember(input, decision);
      return decision;
    } catch (err) {
      if (err instanceof InvalidChargeError) throw err;
      this.failed(err, 'decide');
      if (this.options.failureMode === 'closed') throw new RateLimiterUnavailableError(err);
      return { ...(await this.fallback.decide(input)), degraded: true };
    }
  }

  /**
   * Books the request's usage against its reservation and releases its lease. A Redis failure
   * does not throw (the response is already on its way): the fallback books it. Only an
   * impossible charge (InvalidChargeError) throws, since that is a bug in the caller.
   */
  async settle(input: SettleInput): Promise<Decision | undefined> {
    const { primary } = this.options;
    if (!primary) return this.fallback.settle(input);
    try {
      const settled = await this.deadlines.run(primary.settle(input), (late) =>
        this.remember(input, late),
      );
      this.recovered();
      this.remember(input, settled);
      return settled;
    } catch (err) {
      if (err instanceof InvalidChargeError) throw err;
      this.failed(err, 'settle');
      const settled = await this.fallback.settle(input);
      return settled && { ...settled, degraded: true };
    }
  }

  /** Extends a running request's lease. Never throws: false when it could not be renewed. */
  async renew(input: RenewInput): Promise<boolean> {
    const { primary } = this.options;
    if (!primary) return this.fallback.renew(input);
    try {
      const renewed = await this.deadlines.run(primary.renew(input), () => {});
      this.recovered();
      return renewed;
    } catch (err) {
      if (err instanceof InvalidChargeError) throw err;
      this.failed(err, 'renew');
      return this.fallback.renew(input);
    }
  }

  private remember(input: DecideInput | SettleInput, decision: Decision | undefined): void {
    if (decision) this.fallback.observe(input.id, input.limits, decision);
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
