/**
 * The shared secret the gateway sends in `x-axon-gateway-secret`: without it, the principal
 * headers could be forged by anything that reaches the service. Compared in constant time
 * (both sides hashed to equal length first).
 *
 * Rotation without downtime: the service accepts the current value and the one the last
 * rotation replaced (Secrets Manager's AWSCURRENT and AWSPREVIOUS), so a gateway instance that
 * read the secret before a rotation keeps working until it is replaced or re-reads. When a
 * presented value matches neither, both are re-read from their source at most once per
 * `minRefreshMs` (a stream of bad values cannot turn into a stream of Secrets Manager calls), so
 * a rotation is picked up without a restart.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecretProvider } from '@axon/runtime/secrets';

const MIN_SECRET_LENGTH = 16;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export interface GatewaySecretOptions {
  /**
   * Where to read the value the last rotation replaced (AWSPREVIOUS). A failed read means there
   * is none yet (a secret that never rotated has no AWSPREVIOUS) and only the current value counts.
   * @default - only the current value is accepted
   */
  readonly previous?: SecretProvider;
  /** Least time between two re-reads caused by mismatches. @default 30000 */
  readonly minRefreshMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export class GatewaySecret {
  /** Digests of the values accepted now: the current one first, then the previous one. */
  private accepted: Buffer[] = [];
  private lastReadAt = 0;
  private reading?: Promise<void>;
  private readonly minRefreshMs: number;
  private readonly now: () => number;

  constructor(
    private readonly source: SecretProvider,
    private readonly options: GatewaySecretOptions = {},
  ) {
    this.minRefreshMs = options.minRefreshMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Reads the secret; call once at start so a missing or weak secret stops the process. */
  async load(): Promise<void> {
    const [value, previous] = await Promise.all([
      this.source(),
      this.options.previous?.().catch(() => undefined),
    ]);
    if (value.length < MIN_SECRET_LENGTH) {
      throw new Error(`the gateway secret must be at least ${MIN_SECRET_LENGTH} characters`);
    }
    this.accepted = [digest(value), ...(previous ? [digest(previous)] : [])];
    this.lastReadAt = this.now();
  }

  async verify(presented: string | undefined): Promise<boolean> {
    if (presented === undefined || presented === '') return false;
    const offered = digest(presented);
    if (this.matches(offered)) return true;
    if (this.now() - this.lastReadAt < this.minRefreshMs) return false;
    this.reading ??= this.load()
      .catch(() => undefined)
      .finally(() => {
        this.reading = undefined;
      });
    await this.reading;
    return this.matches(offered);
  }

  /** Compares against every accepted value, so the time taken does not say which one matched. */
  private matches(offered: Buffer): boolean {
    let found = false;
    for (const value of this.accepted) found = timingSafeEqual(offered, value) || found;
    return found;
  }
}
