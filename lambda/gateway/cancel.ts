/**
 * What the gateway needs of a cancellation signal: whether it fired, and one listener at a time
 * to tell. An `AbortSignal` fits; the container edge passes a `ClientGone` instead, because an
 * `AbortController` per request (an EventTarget, and its listener bookkeeping) was a measurable
 * part of the edge's CPU per request (bench:gateway profile, issue 21) for an event that almost
 * never happens.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Fires once, when the client went away before its answer was written. */
export class ClientGone implements CancelSignal {
  aborted = false;
  #listeners: (() => void)[] = [];

  addEventListener(_type: 'abort', listener: () => void): void {
    this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.#listeners.indexOf(listener);
    if (at >= 0) this.#listeners.splice(at, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }
}
