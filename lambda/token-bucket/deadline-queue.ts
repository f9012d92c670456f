/**
 * Deadlines for items that all get the same time, so they fall due in the order they were
 * added: a FIFO with one timer, armed for the oldest item still live. It replaces a
 * `setTimeout` and a `clearTimeout` per item on the limiter's hot path (bench:limiter), for the
 * limiter's own deadline (`Deadlines`, limiter.ts) and for ioredis's `commandTimeout` on its
 * EVALSHA (`ScriptCommand`, script-command.ts).
 *
 * Items that are no longer live (answered) leave from the head as the owner calls `drop`;
 * replies come back mostly in order, so the queue holds about the items in flight. Kept for
 * the whole deadline instead, every item would live long enough to be promoted out of the
 * young generation, and the garbage collector would cost more than the timers saved.
 */
export interface Timed {
  /** `performance.now()` at which the item falls due; set by `add`. */
  due: number;
}

export class DeadlineQueue<T extends Timed> {
  private queue: T[] = [];
  private head = 0;
  private armed = false;

  /**
   * @param ms how long every item may take
   * @param live whether an item still waits for its deadline
   * @param expire called once for each live item when its deadline passes
   * @param afterPoll give up from `setImmediate` after the timer: the event loop then polls for
   *   I/O first, so a reply already in the socket when a blocked loop's timer fires is read and
   *   counts, and only items that were due when the timer fired are given up
   */
  constructor(
    private readonly ms: number,
    private readonly live: (item: T) => boolean,
    private readonly expire: (item: T) => void,
    private readonly afterPoll: boolean,
  ) {}

  /** Items at or after the first live one: what the queue keeps alive. */
  get size(): number {
    return this.queue.length - this.head;
  }

  add(item: T): void {
    item.due = performance.now() + this.ms;
    this.queue.push(item);
    if (!this.armed) this.arm(this.ms);
  }

  /** Drops the items at the head that are no longer live. */
  drop(): void {
    const { queue } = this;
    while (this.head < queue.length && !this.live(queue[this.head] as T)) this.head++;
    this.compact();
  }

  /** Empties the array when all items are gone, and shifts the dropped head away now and then. */
  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private arm(ms: number): void {
    this.armed = true;
    setTimeout(() => {
      const firedAt = performance.now();
      if (this.afterPoll) setImmediate(() => this.fire(firedAt));
      else this.fire(firedAt);
    }, ms);
  }

  /** Expires every live item that was due at `at`, drops dead ones, re-arms for the next. */
  private fire(at: number): void {
    this.armed = false;
    const { queue } = this;
    while (this.head < queue.length) {
      const item = queue[this.head] as T;
      const live = this.live(item);
      if (live && item.due > at) break;
      this.head++;
      if (live) this.expire(item);
    }
    this.compact();
    const next = this.queue[this.head];
    if (next) this.arm(Math.max(1, next.due - performance.now()));
  }
}
