/**
 * `npm run bench:auth [-- --json] [--seconds N]`: authorizations per second of the Authorizer
 * for a cache hit and for a cache miss against a fresh in-process dynalite, side by side with
 * the baseline of a bare GetItem on the same table, in one run.
 *
 * A miss is forced on every call by a one-entry cache and two keys used in turn. The failure
 * limiter is the in-memory store (a miss peeks at it once); in AWS that peek is one Redis round
 * trip more, and DynamoDB is a network hop instead of a loopback one, so absolute miss numbers
 * here are an upper bound. Ratios are the point.
 */
import { parseArgs } from 'node:util';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createKey } from '#authorizer/admin';
import { Authorizer } from '#authorizer/authorizer';
import { hashKey } from '#authorizer/key-format';
import { KeyStore } from '#authorizer/key-store';
import { PrincipalCache } from '#authorizer/principal-cache';
import { parseConfig } from '#shared/config';
import type { Log } from '#shared/logger';
import { MemoryStore } from '#token-bucket/memory-store';
import { createTestTable, startDynalite } from '../test/lambda/authorizer/support.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: { json: { type: 'boolean' }, seconds: { type: 'string', default: '2' } },
});
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`);

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Log;
const config = parseConfig({ plans: { free: { requestsPerMinute: 60, burst: 10 } } });

interface Case {
  readonly name: string;
  readonly concurrency: number;
  readonly op: (i: number) => Promise<unknown>;
  /** Key-store reads so far, to show how many calls really missed. */
  readonly reads?: () => number;
}

interface Result {
  name: string;
  concurrency: number;
  ops: number;
  opsPerSecond: number;
  p50Micros: number;
  p99Micros: number;
  storeReadsPerAuth?: number;
}

const ROUNDS = 4;

/**
 * Runs the cases in ROUNDS interleaved slices of `seconds / ROUNDS` each, so a change in machine
 * load (other processes on a shared box) hits every case alike and the ratios stay fair.
 */
async function measure(cases: readonly Case[]): Promise<Result[]> {
  const totals = cases.map(() => ({ ops: 0, ms: 0, reads: 0, latencies: [] as number[] }));
  for (const c of cases) {
    const warmUntil = performance.now() + 300;
    for (let i = 0; performance.now() < warmUntil; i++) await c.op(i);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, c] of cases.entries()) {
      const total = totals[index] as (typeof totals)[number];
      const readsBefore = c.reads?.() ?? 0;
      let next = 0;
      const start = performance.now();
      const end = start + (seconds * 1000) / ROUNDS;
      await Promise.all(
        Array.from({ length: c.concurrency }, async () => {
          while (performance.now() < end) {
            const t0 = performance.now();
            await c.op(next++);
            total.latencies.push(performance.now() - t0);
          }
        }),
      );
      total.ms += performance.now() - start;
      total.ops += next;
      total.reads += (c.reads?.() ?? 0) - readsBefore;
    }
  }
  return cases.map((c, index) => {
    const { ops, ms, reads, latencies } = totals[index] as (typeof totals)[number];
    latencies.sort((x, y) => x - y);
    const pct = (p: number) =>
      Math.round((latencies[Math.floor((latencies.length - 1) * p)] ?? 0) * 1000);
    return {
      name: c.name,
      concurrency: c.concurrency,
      ops,
      opsPerSecond: Math.round(ops / (ms / 1000)),
      p50Micros: pct(0.5),
      p99Micros: pct(0.99),
      ...(c.reads && { storeReadsPerAuth: Number((reads / ops).toFixed(2)) }),
    };
  });
}

class CountingStore extends KeyStore {
  reads = 0;
  override getByHash(keyHash: string) {
    this.reads++;
    return super.getByHash(keyHash);
  }
}

const db = await startDynalite();
try {
  const { client, tableName } = await createTestTable(db.endpoint);
  // 64 keys in turn through a one-entry cache: every call misses, and concurrent callers
  // rarely ask for the same key at once (which would share one read).
  const created = await Promise.all(
    Array.from({ length: 64 }, () => createKey(client, tableName, { config, plan: 'free' })),
  );
  const headers = created.map((c) => `Bearer ${c.key}`);
  const keys = new CountingStore(client, tableName);
  const build = (maxEntries: number) =>
    new Authorizer({
      keys,
      cache: new PrincipalCache({ ttlSeconds: 3600, maxEntries }),
      failures: new MemoryStore(),
      config,
      log: silent,
    });
  const hits = build(10);
  const misses = build(1);
  const hashA = hashKey(created[0]?.key ?? '');
  const reads = () => keys.reads;
  const miss = (i: number) =>
    misses.authenticate({ authorization: headers[i % headers.length], forwardedFor: '192.0.2.1' });

  const results = await measure([
    {
      name: 'cache hit',
      concurrency: 1,
      op: () => hits.authenticate({ authorization: headers[0], forwardedFor: '192.0.2.1' }),
      reads,
    },
    { name: 'cache miss (dynalite GetItem)', concurrency: 1, op: miss, reads },
    {
      name: 'baseline: bare GetItem (dynalite)',
      concurrency: 1,
      op: () =>
        client.send(
          new GetCommand({ TableName: tableName, Key: { keyHash: hashA }, ConsistentRead: true }),
        ),
    },
    { name: 'cache miss (dynalite GetItem)', concurrency: 16, op: miss, reads },
  ]);
  const [hit, missed, raw] = results as [Result, Result, Result, Result];
  const ratios = {
    hitOverMiss: Number((hit.opsPerSecond / missed.opsPerSecond).toFixed(1)),
    missOverBareGetItem: Number((missed.opsPerSecond / raw.opsPerSecond).toFixed(2)),
  };
  client.destroy();

  if (values.json) {
    console.log(JSON.stringify({ bench: 'auth', seconds, node: process.version, results, ratios }));
  } else {
    const rows = results.map((r) => [
      r.name,
      String(r.concurrency),
      r.opsPerSecond.toLocaleString('en-US'),
      String(r.p50Micros),
      String(r.p99Micros),
      r.storeReadsPerAuth === undefined ? '-' : String(r.storeReadsPerAuth),
    ]);
    const head = ['case', 'in flight', 'auth/s', 'p50 µs', 'p99 µs', 'reads/auth'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join('  ');
    console.log(line(head));
    for (const row of rows) console.log(line(row));
    console.log(
      `\ncache hit is ${ratios.hitOverMiss}x a miss; a miss runs at ${ratios.missOverBareGetItem}x a bare GetItem (sequential, ${seconds} s each in ${ROUNDS} interleaved rounds, ${process.version})`,
    );
  }
} finally {
  await db.stop();
}
