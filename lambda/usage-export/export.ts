/**
 * Moves the usage ledger from the limiter's Redis to the Usage table, one closed hour at a time:
 * for every API key, read its hour hash, write each model's absolute totals (a conditional write,
 * usage-table.ts), and only once every write is acknowledged delete the hash. When every key of
 * the hour is done, the checkpoint moves past it.
 *
 * Why nothing counted is lost or counted twice:
 * - An hour is closed on Redis's clock (the one the script books by) plus a grace period for a
 *   failover to a node whose clock is a little behind, so a closed hour's hashes never change
 *   again: reading one is reading its final totals.
 * - The exporter dying at any point leaves the hash in Redis (it is deleted last) and the
 *   checkpoint before the hour; the next run reads the same totals again and the conditional
 *   write refuses what the table already holds. A lost delete (a failover right after it) is
 *   the same case.
 * - A hash this code cannot read is left alone and fails the run (LedgerFormatError), so the
 *   checkpoint never moves past usage that was not exported.
 * The hashes themselves expire a week after their hour's first booking (LEDGER_TTL_SECONDS): an
 * exporter that is down longer than that loses the oldest hours, which is why its errors alarm.
 *
 * Where the keys come from: the ApiKeys table (every ledger belongs to a key id), read per key
 * name, so the exporter needs no whole-keyspace command (SCAN) in Redis and connects as the
 * gateway's ACL user.
 */
import type { Log } from '#shared/logger';
import { LEDGER_TTL_SECONDS } from '#token-bucket/lua';
import { HOUR_MS, ledgerKey, recordsOf } from './ledger.ts';
import type { UsageSink } from './usage-table.ts';

/** What the exporter needs of a Redis client; ioredis `Redis` and `Cluster` fit. */
export interface LedgerRedis {
  hgetall(key: string): Promise<Record<string, string>>;
  del(key: string): Promise<number>;
  time(): Promise<[string | number, string | number] | unknown[]>;
}

export interface ExportDeps {
  readonly redis: LedgerRedis;
  readonly sink: UsageSink;
  /** Every key id that may have a ledger (`keyIdsOf` the ApiKeys table). */
  readonly keyIds: () => AsyncIterable<string>;
  readonly log?: Log;
}

export interface ExportOptions {
  /** The limiter's key prefix. @default 'axon:rl' */
  readonly prefix?: string;
  /** How long after its end an hour counts as closed. @default 5 minutes */
  readonly graceMs?: number;
  /** Most hours one run exports, oldest first. @default 24 */
  readonly maxHours?: number;
  /** Hashes read and written at once. @default 32 */
  readonly concurrency?: number;
  /**
   * Where a first run (no checkpoint) starts. @default - as far back as a hash can still live
   */
  readonly fromHour?: number;
  /** The time to close hours by. @default - Redis's clock */
  readonly now?: number;
}

export interface ExportReport {
  /** Hours exported completely by this run. */
  readonly hours: number[];
  /** Hashes found (and deleted once written). */
  readonly hashes: number;
  /** Records written, and records the table already held (a replay). */
  readonly written: number;
  readonly alreadyThere: number;
}

const TTL_HOURS = Math.ceil(LEDGER_TTL_SECONDS / 3600);

export async function exportUsage(
  deps: ExportDeps,
  options: ExportOptions = {},
): Promise<ExportReport> {
  const prefix = options.prefix ?? 'axon:rl';
  const concurrency = options.concurrency ?? 32;
  const now = options.now ?? (await redisNow(deps.redis));
  const lastClosed = Math.floor((now - (options.graceMs ?? 300_000)) / HOUR_MS) - 1;
  const first =
    (await deps.sink.nextHour()) ?? options.fromHour ?? Math.floor(now / HOUR_MS) - TTL_HOURS;
  const last = Math.min(lastClosed, first + (options.maxHours ?? 24) - 1);

  const report = { hours: [] as number[], hashes: 0, written: 0, alreadyThere: 0 };
  if (first > last) return report;
  const keyIds: string[] = [];
  for await (const id of deps.keyIds()) keyIds.push(id);

  for (let hour = first; hour <= last; hour++) {
    for (let i = 0; i < keyIds.length; i += concurrency) {
      await Promise.all(
        keyIds.slice(i, i + concurrency).map(async (keyId) => {
          const key = ledgerKey(prefix, keyId, hour);
          const hash = await deps.redis.hgetall(key);
          if (Object.keys(hash).length === 0) return;
          const records = recordsOf(key, keyId, hour, hash);
          const outcomes = await Promise.all(records.map((record) => deps.sink.put(record)));
          // Every record of the hash is in DynamoDB now: only then may Redis forget it.
          await deps.redis.del(key);
          report.hashes++;
          for (const written of outcomes) {
            if (written) report.written++;
            else report.alreadyThere++;
          }
        }),
      );
    }
    await deps.sink.advance(hour + 1);
    report.hours.push(hour);
  }
  deps.log?.info('usage exported', { ...report, hours: report.hours.length, first, last });
  return report;
}

async function redisNow(redis: LedgerRedis): Promise<number> {
  const [seconds, micros] = (await redis.time()) as [string | number, string | number];
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
