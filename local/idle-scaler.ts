/**
 * DEV/TEST STAND-IN for KEDA and Karpenter, so the local stack shows what dev does at idle: the
 * Triton stand-in is not running until a model is asked for, starts a cold-start delay after
 * the first request (a GPU node booting, the image pulling, the model loading), and stops again
 * once nobody has asked for a model for the idle period. It reads the same signal KEDA reads in
 * AWS, the session manager's `axon_sm_model_demand_total` on `/metrics`, and it only ever starts
 * and stops the stand-in: it stands in for no other part of the system.
 */

export interface IdleScalerOptions {
  /** The session manager's Prometheus endpoint. */
  readonly metricsUrl: string;
  /** Starts the Triton stand-in; the returned close stops it. */
  readonly start: () => Promise<{ close(): Promise<void> }>;
  /** From the first demand to a serving Triton. */
  readonly coldStartMs: number;
  /** Without demand for this long, Triton stops. */
  readonly idleMs: number;
  /** How often /metrics is read (KEDA's pollingInterval). @default 200 */
  readonly pollMs?: number;
  readonly say: (line: string) => void;
}

/** The sum of every series of `name` in a Prometheus text exposition. */
export function counterSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

export class IdleScaler {
  private running?: { close(): Promise<void> };
  private starting?: NodeJS.Timeout;
  private lastSum = 0;
  private lastDemand = 0;
  private readonly timer: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly o: IdleScalerOptions) {
    this.timer = setInterval(() => void this.tick(), o.pollMs ?? 200);
    this.timer.unref();
  }

  /** Whether the Triton stand-in is serving now. */
  get awake(): boolean {
    return this.running !== undefined;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const text = await fetch(this.o.metricsUrl, { signal: AbortSignal.timeout(2_000) })
        .then((r) => r.text())
        .catch(() => undefined);
      if (text === undefined) return;
      const sum = counterSum(text, 'axon_sm_model_demand_total');
      const now = Date.now();
      if (sum > this.lastSum) {
        this.lastDemand = now;
        if (!this.running && !this.starting) {
          this.o.say(
            `idle scaler (stand-in): demand seen, Triton stand-in starts in ${this.o.coldStartMs} ms`,
          );
          this.starting = setTimeout(() => void this.wake(), this.o.coldStartMs);
        }
      }
      this.lastSum = sum;
      if (this.running && now - this.lastDemand >= this.o.idleMs) {
        const running = this.running;
        this.running = undefined;
        this.o.say('idle scaler (stand-in): idle, Triton stand-in stops');
        await running.close();
      }
    } finally {
      this.busy = false;
    }
  }

  private async wake(): Promise<void> {
    this.running = await this.o.start();
    this.starting = undefined;
    this.lastDemand = Date.now();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.starting) clearTimeout(this.starting);
    await this.running?.close();
    this.running = undefined;
  }
}
