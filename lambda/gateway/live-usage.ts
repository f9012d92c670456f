/**
 * Usage up to the last settled request: the Usage table for the hours the exporter has written,
 * and the limiter's ledger hashes (lambda/usage-export/ledger.ts) for the hours it has not, the
 * current one included. The admin API's usage and costs routes read through this, so an operator
 * sees a call's tokens and cost as soon as it settles, not after the next export.
 *
 * Why nothing is counted twice: a ledger hash holds its hour's absolute totals, and the exporter
 * writes those totals to the table before it deletes the hash. Where both hold a (key, hour,
 * model), the hash's totals are the same or newer, so they replace the table's; they are never
 * added to them.
 *
 * Bounded work: the hours read from Redis are those from the exporter's checkpoint to now, at
 * most `maxLiveHours` (24 by default, the exporter's own batch), so one request costs at most
 * keys x 24 HGETALLs, only on this admin path. Hours older than that which the exporter has not
 * reached show as the table has them (its alarm fires long before).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Log } from '#shared/logger';
import { HOUR_MS, LedgerFormatError, ledgerKey, recordsOf } from '../usage-export/ledger.ts';
import { keyIdsOf, UsageTable } from '../usage-export/usage-table.ts';
import {
  DynamoUsageSource,
  distinct,
  eachAtMost,
  type UsageQuery,
  type UsageRow,
  type UsageSource,
} from './usage-api.ts';

/** What this needs of a Redis client; ioredis `Redis` and `Cluster` fit. */
export interface LedgerReader {
  hgetall(key: string): Promise<Record<string, string>>;
}

export interface LiveUsageSourceOptions {
  /** The exported hours (the Usage table). */
  readonly table: UsageSource;
  /** The exporter's checkpoint: the first hour not yet exported completely, if any. */
  readonly nextHour: () => Promise<number | undefined>;
  readonly redis: LedgerReader;
  /** Every key id, when a query names none (the key table). */
  readonly keyIds: () => AsyncIterable<string> | Iterable<string>;
  /** The limiter's key prefix. @default 'axon:rl' */
  readonly prefix?: string;
  /** @default 24 */
  readonly maxLiveHours?: number;
  /** Hashes read at once. @default 16 */
  readonly concurrency?: number;
  readonly now?: () => number;
  readonly log?: Log;
}

export class LiveUsageSource implements UsageSource {
  constructor(private readonly options: LiveUsageSourceOptions) {}

  async read(query: UsageQuery): Promise<UsageRow[]> {
    const keyIds = query.keyIds ?? (await distinct(this.options.keyIds()));
    const nowHour = Math.floor((this.options.now?.() ?? Date.now()) / HOUR_MS);
    const oldestLive = nowHour - (this.options.maxLiveHours ?? 24) + 1;
    const [tableRows, checkpoint] = await Promise.all([
      this.options.table.read({ ...query, keyIds }),
      this.options.nextHour(),
    ]);
    const from = Math.max(query.fromHour, oldestLive, checkpoint ?? oldestLive);
    const to = Math.min(query.toHour, nowHour + 1);

    const reads: [string, number][] = [];
    for (let hour = from; hour < to; hour++) {
      for (const keyId of keyIds) reads.push([keyId, hour]);
    }
    const live: UsageRow[] = [];
    await eachAtMost(reads, this.options.concurrency ?? 16, async ([keyId, hour]) => {
      live.push(...(await this.#hash(keyId, hour)));
    });

    const merged = new Map<string, UsageRow>();
    const id = (row: UsageRow) => `${row.keyId}\0${row.hour}\0${row.model}`;
    for (const row of tableRows) merged.set(id(row), row);
    for (const row of live) merged.set(id(row), row);
    return [...merged.values()];
  }

  async #hash(keyId: string, hour: number): Promise<UsageRow[]> {
    const key = ledgerKey(this.options.prefix ?? 'axon:rl', keyId, hour);
    const hash = await this.options.redis.hgetall(key);
    if (Object.keys(hash).length === 0) return [];
    try {
      return recordsOf(key, keyId, hour, hash).map((record) => ({
        keyId,
        hour,
        model: record.model,
        requests: Number(record.requests),
        inputTokens: Number(record.inputTokens),
        outputTokens: Number(record.outputTokens),
        cachedTokens: Number(record.cachedTokens),
        costNanoUsd: Number(record.costNanoUsd),
      }));
    } catch (err) {
      // The exporter refuses the same hash and fails its run, which alarms; the table's rows
      // for it (if any) still show.
      if (!(err instanceof LedgerFormatError)) throw err;
      this.options.log?.warn('usage ledger hash unreadable', { error: err.message });
      return [];
    }
  }
}

export interface UsageSourceOptions {
  /** A low-level client for the Usage table and the key table. */
  readonly client: Pick<DynamoDBClient, 'send'>;
  readonly usageTable: string;
  readonly keysTable: string;
  /** The limiter's Redis: with it, the hours not exported yet are read too. */
  readonly ledger?: LedgerReader;
  readonly log?: Log;
}

/**
 * Usage as the admin routes and `keys usage` read it: the Usage table, its keys from the key
 * table, and the live ledger when there is a Redis to read it from.
 */
export function usageSourceOf(options: UsageSourceOptions): UsageSource {
  const { client, usageTable, keysTable, ledger, log } = options;
  const keyIds = () => keyIdsOf(client, keysTable);
  const table = new DynamoUsageSource({ client, usageTable, keyIds });
  if (!ledger) return table;
  const checkpoint = new UsageTable(client, usageTable);
  return new LiveUsageSource({
    table,
    nextHour: () => checkpoint.nextHour(),
    redis: ledger,
    keyIds,
    ...(log && { log }),
  });
}
