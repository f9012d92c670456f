/**
 * Live usage over real parts: the limiter's script books the ledger in a real redis-server, the
 * real exporter moves it to a Usage table on dynalite, and the admin API's source reads both.
 * Before, during and after an export (and after an export that died before deleting the hash)
 * it shows every booked total exactly once.
 */
import { describe, expect, it } from 'vitest';
import { LiveUsageSource } from '../../../lambda/gateway/live-usage.ts';
import { DynamoUsageSource, groupRows, type UsageRow } from '../../../lambda/gateway/usage-api.ts';
import { exportUsage } from '../../../lambda/usage-export/export.ts';
import { HOUR_MS, ledgerKey } from '../../../lambda/usage-export/ledger.ts';
import { book, freshKeys, freshUsageTable, hour, ledgerParts } from '../usage-export/support.ts';

const { redis, store, endpoint } = ledgerParts();

async function setup(
  keys: string[],
  reader: { hgetall(key: string): Promise<Record<string, string>> } = redis,
) {
  const { client, table } = await freshUsageTable(endpoint());
  const keyIds = async function* () {
    yield* keys;
  };
  const live = new LiveUsageSource({
    table: new DynamoUsageSource({ client, usageTable: table.tableName, keyIds }),
    nextHour: () => table.nextHour(),
    redis: reader,
    keyIds,
  });
  return { table, keyIds, live };
}

/** Per key and model, over the rows read: what the routes would sum. */
function totals(rows: UsageRow[]) {
  return groupRows(rows, true, true).map(([group, t]) => ({ ...group, ...t }));
}

describe('live usage', () => {
  it('shows settled usage at once, and the same totals after the exporter moved it', async () => {
    const [a = '', b = ''] = freshKeys(2);
    const from = hour();
    await book(store, a, 'm1', 10, 5);
    await book(store, a, 'm1', 1, 2);
    await book(store, b, 'm2', 3, 4);
    const { table, keyIds, live } = await setup([a, b]);
    const query = { fromHour: from - 1, toHour: from + 2 };
    const expected = [
      {
        api_key_id: a,
        model: 'm1',
        requests: 2,
        inputTokens: 11,
        outputTokens: 7,
        cachedTokens: 0,
        costNanoUsd: 25,
      },
      {
        api_key_id: b,
        model: 'm2',
        requests: 1,
        inputTokens: 3,
        outputTokens: 4,
        cachedTokens: 0,
        costNanoUsd: 11,
      },
    ].sort((x, y) => (x.api_key_id < y.api_key_id ? -1 : 1));

    expect(totals(await live.read(query))).toEqual(expected);

    // An exporter that wrote every record and died before deleting the hashes: both hold the
    // hour now, and the checkpoint has not moved.
    const dying = {
      hgetall: (k: string) => redis.hgetall(k),
      time: () => redis.time(),
      del: () => Promise.reject(new Error('died before DEL')),
    };
    await expect(
      exportUsage(
        { redis: dying, sink: table, keyIds },
        { now: Date.now() + 2 * HOUR_MS, fromHour: from },
      ),
    ).rejects.toThrow('died before DEL');
    expect(await redis.exists(ledgerKey('axon:rl', a, from))).toBe(1);
    expect(totals(await live.read(query))).toEqual(expected);

    // The next run finishes: the hashes are gone, the checkpoint is past the hour.
    await exportUsage(
      { redis, sink: table, keyIds },
      { now: Date.now() + 2 * HOUR_MS, fromHour: from },
    );
    expect(await redis.exists(ledgerKey('axon:rl', a, from))).toBe(0);
    expect(await table.nextHour()).toBeGreaterThan(from);
    expect(totals(await live.read(query))).toEqual(expected);
  });
});

describe('live usage bounds', () => {
  it('reads at most maxLiveHours of hashes per key, from the checkpoint on', async () => {
    const keys = freshKeys(3);
    const reads: string[] = [];
    const counting = {
      hgetall: (k: string) => {
        reads.push(k);
        return redis.hgetall(k);
      },
    };
    const { table, live } = await setup(keys, counting);
    const now = hour();
    // A week asked for, nothing exported yet: the last 24 hours, each key once per hour.
    await live.read({ fromHour: now - 168, toHour: now + 1 });
    expect(reads).toHaveLength(3 * 24);
    expect(new Set(reads).size).toBe(3 * 24);
    // The exporter is at the current hour: only that hour is read live.
    await table.advance(now);
    reads.length = 0;
    await live.read({ fromHour: now - 168, toHour: now + 1 });
    expect(reads.sort()).toEqual(keys.map((k) => ledgerKey('axon:rl', k, now)).sort());
    // Hours wholly before the checkpoint: none.
    reads.length = 0;
    await live.read({ fromHour: now - 48, toHour: now - 2 });
    expect(reads).toEqual([]);
  });

  it('skips a hash it cannot read and still shows the others', async () => {
    const [good = '', bad = ''] = freshKeys(2);
    await book(store, good, 'm1', 2, 3);
    await redis.hset(ledgerKey('axon:rl', bad, hour()), 'bogus', 'x');
    const { live } = await setup([good, bad]);
    const rows = await live.read({ fromHour: hour(), toHour: hour() + 1 });
    expect(rows.map((r) => [r.keyId, r.model, r.requests])).toEqual([[good, 'm1', 1]]);
    await redis.del(ledgerKey('axon:rl', bad, hour()));
  });
});
