/**
 * The shared secret the gateway sends in `x-axon-gateway-secret`: without it, the principal
 * headers could be forged by anything that reaches the service. Compared in constant time
 * (both sides hashed to equal length first). When a presented value does not match, the secret
 * is re-read from its source at most once per `minRefreshMs`, so a rotation in Secrets Manager
 * is picked up without a restart.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecretProvider } from '@axon/runtime/secrets';

const MIN_SECRET_LENGTH = 16;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export class GatewaySecret {
  private current?: Buffer;
  private lastReadAt = 0;
  private reading?: Promise<void>;

  constructor(
    private readonly source: SecretProvider,
    private readonly minRefreshMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads the secret; call once at start so a missing or weak secret stops the process. */
  async load(): Promise<void> {
    const value = await this.source();
    if (value.length < MIN_SECRET_LENGTH) {
      throw new Error(`the gateway secret must be at least ${MIN_SECRET_LENGTH} characters`);
    }
    this.current = digest(value);
    this.lastReadAt = this.now();
  }

  async verify(presented: string | undefined): Promise<boolean> {
    if (presented === undefined || presented === '') return false;
    const offered = digest(presented);
    if (this.current && timingSafeEqual(offered, this.current)) return true;
    if (this.now() - this.lastReadAt < this.minRefreshMs) return false;
    this.reading ??= this.load()
      .catch(() => undefined)
      .finally(() => {
        this.reading = undefined;
      });
    await this.reading;
    return this.current !== undefined && timingSafeEqual(offered, this.current);
  }
}
