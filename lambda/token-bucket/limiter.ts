/**
 * The limiter the gateway uses: Redis decides; when Redis fails or is slower than the timeout,
 * the failure mode decides. `open` answers from a per-instance in-memory bucket with the same
 * plan and marks the decision degraded; `closed` raises `RateLimiterUnavailableError` (503).
 * Nothing here waits for Redis to come back: the next decision simply tries Redis again.
 */

import { RateLimiterUnavailableError } from '@axon/runtime/errors';
import type { FailureMode } from '#shared/config';
import type { Log } from '#shared/logger';
import { DeadlineQueue, type Timed } from './deadline-queue.ts';
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
class Call<C> implements Timed {
  /** Until the call settles or is given up. */
  open = true;
  due = 0;
  constructor(
    readonly context: C,
    readonly resolve: (value: unknown) => void,
    readonly reject: (err: unknown) => void,
  ) {}
}

// The settle functions of the promise `Deadlines.run` returns, taken by a module-level executor:
// a closure per call is an allocation per decision, which this module avoids on the hot path.
let capturedResolve: (value: unknown) => void = () => {};
let capturedReject: (err: unknown) => void = () => {};
function capture(resolve: (value: unknown) => void, reject: (err: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * The limiter's deadline for calls to Redis, all of the same length, on one `DeadlineQueue`.
 *
 * When the timer fires, replies may already be in the socket, unread: a busy event loop runs
 * expired timers before it polls for I/O, so a blocked loop would otherwise turn every reply it
 * was too busy to read into a timeout, and a fallback decision on top of a charge Redis already
 * made. So the calls are given up after the loop's I/O poll (`afterPoll`): a reply that has
 * arrived by then is read and used.
 */
export class Deadlines<C = undefined> {
  private readonly queue: DeadlineQueue<Call<C>>;

  /**
   * @param ms how long every call may take
   * @param late receives a call's context and the value that arrived after it was given up
   */
  constructor(
    ms: number,
    private readonly late: (context: C, value: unknown) => void,
  ) {
    this.queue = new DeadlineQueue<Call<C>>(
      ms,
      (call) => call.open,
      (call) => {
        call.open = false;
        call.reject(new RedisTimeoutError(ms));
      },
      true,
    );
  }

  /** Calls not yet given up or settled, or settled but not yet dropped from the queue. */
  get size(): number {
    return this.queue.size;
  }

  /** Settles with `work`, or rejects with `RedisTimeoutError` after the deadline. */
  run<T>(work: Promise<T>, context: C): Promise<T> {
    const promise = new Promise<T>(capture as (resolve: (value: T) => void) => void);
    const call = new Call(context, capturedResolve, capturedReject);
    this.queue.add(call);
    void this.watch(work, call);
    return promise;
  }

  private async watch(work: Promise<unknown>, call: Call<C>): Promise<void> {
    let value: unknown;
    try {
      value = await work;
    } catch (err) {
      if (!call.open) return;
      this.settle(call);
      call.reject(err);
      return;
    }
    if (!call.open) return this.late(call.context, value);
    this.settle(call);
    call.resolve(value);
  }

  /** Closes a call and drops the settled calls at the head. */
  private settle(call: Call<C>): void {
    call.open = false;
    this.queue.drop();
  }
}

export class Limiter implements LeaseStore {
  readonly fallback: MemoryStore;
  private failing = false;
  /** The context of a call is what a late answer is remembered for; none for renewals. */
  private readonly deadlines: Deadlines<DecideInput | SettleInput | undefined>;

  constructor(private readonly options: LimiterOptions) {
    this.fallback = options.fallback ?? new MemoryStore();
    this.deadlines = new Deadlines(options.timeoutMs, (input, late) => {
      if (input) this.remember(input, late as Decision | undefined);
    });
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
      const decision = await this.deadlines.run(primary.decide(input), input);
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
      const settled = await this.deadlines.run(primary.settle(input), input);
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
      const renewed = await this.deadlines.run(primary.renew(input), undefined);
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
