/**
 * OpenAI `stop` sequences, applied here rather than sent to Triton: generate parameters may only
 * be scalars and each backend names its stop option differently, while cutting the text works
 * for every model. The output ends before the first stop sequence, which is not included.
 */

export function cutAtStop(
  text: string,
  stops: readonly string[],
): { text: string; stopped: boolean } {
  let cut = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at !== -1 && (cut === -1 || at < cut)) cut = at;
  }
  return cut === -1 ? { text, stopped: false } : { text: text.slice(0, cut), stopped: true };
}

/**
 * The streaming form: holds back the last (longest stop - 1) characters, which could be the
 * start of a stop sequence split across two events, and releases them once they cannot be.
 */
export class StopScanner {
  private pending = '';
  private readonly holdBack: number;
  stopped = false;

  constructor(private readonly stops: readonly string[]) {
    this.holdBack = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  /** Text that is safe to send now. */
  push(delta: string): string {
    if (this.stopped) return '';
    const combined = this.pending + delta;
    const cut = cutAtStop(combined, this.stops);
    if (cut.stopped) {
      this.stopped = true;
      this.pending = '';
      return cut.text;
    }
    const release = Math.max(0, combined.length - this.holdBack);
    this.pending = combined.slice(release);
    return combined.slice(0, release);
  }

  /** The held-back rest, once the upstream has ended. */
  flush(): string {
    const rest = this.stopped ? '' : this.pending;
    this.pending = '';
    return rest;
  }
}
