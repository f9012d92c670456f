/**
 * Test support for the authorizer: a real DynamoDB (dynalite, in this process, on a free
 * loopback port) with the ApiKeys table, a clock tests can move, and a capture of everything a
 * real Powertools Logger writes, so tests can assert what is (and is not) logged.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KeyLookup, KeyRecord } from '#authorizer/key-store';
import { createDocumentClient, createDynamoClient, createKeyTable } from '#authorizer/key-store';
import type { BucketStore, DecideInput, Decision, SettleInput } from '#token-bucket/types';

export { type Dynalite, startDynalite } from '../../../local/dynalite.ts';

let tables = 0;

/** A fresh ApiKeys table (exact CDK schema) on `endpoint`, and a document client for it. */
export async function createTestTable(
  endpoint: string,
): Promise<{ client: DynamoDBDocumentClient; tableName: string }> {
  const tableName = `keys-${process.pid}-${++tables}`;
  const base = createDynamoClient({ endpoint, maxAttempts: 1 });
  await createKeyTable(base, tableName);
  base.destroy();
  return { client: createDocumentClient({ endpoint, maxAttempts: 1 }), tableName };
}

/** Milliseconds since the epoch, moved by hand. */
export class TestClock {
  constructor(public ms = Date.parse('2030-01-01T00:00:00Z')) {}
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/**
 * A real Powertools Logger at DEBUG whose output (stdout and stderr of this worker) is kept in
 * `text` instead of printed. Powertools writes through its own `Console` on `process.stdout`,
 * so the capture sits on the streams' `write`.
 */
export class LogCapture {
  readonly logger = new Logger({ serviceName: 'authorizer-test', logLevel: 'DEBUG' });
  #chunks: string[] = [];
  #restore: (() => void)[] = [];

  start(): this {
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write;
      stream.write = ((chunk: string | Uint8Array) => {
        this.#chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return true;
      }) as typeof stream.write;
      this.#restore.push(() => {
        stream.write = original;
      });
    }
    return this;
  }

  stop(): void {
    for (const restore of this.#restore.splice(0)) restore();
  }

  get text(): string {
    return this.#chunks.join('');
  }

  /** Parsed JSON log lines. */
  get entries(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

/** Counts the reads that reach a real key store, so tests can prove which paths skip it. */
export class CountingKeys implements KeyLookup {
  calls = 0;
  constructor(private readonly inner: KeyLookup) {}
  getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    this.calls++;
    return this.inner.getByHash(keyHash);
  }
}

/** Records the calls that reach a real bucket store (peeks and charges apart). */
export class CountingBuckets implements BucketStore {
  readonly calls: DecideInput[] = [];
  constructor(private readonly inner: BucketStore) {}
  decide(input: DecideInput): Promise<Decision> {
    this.calls.push(input);
    return this.inner.decide(input);
  }
  settle(input: SettleInput): Promise<Decision | undefined> {
    return this.inner.settle(input);
  }
  get peeks(): number {
    return this.calls.filter((call) => call.peek).length;
  }
  get charges(): number {
    return this.calls.filter((call) => !call.peek).length;
  }
}
