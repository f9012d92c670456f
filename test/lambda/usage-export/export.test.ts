/**
 * The usage exporter over real parts: the limiter's script books the ledger in a real
 * redis-server, the exporter writes it to a Usage table on dynalite. Failures are injected at
 * each step of a run (a write that fails, a delete that fails), and each time a second run
 * leaves the table holding every booked total exactly once.
 */
import { describe, expect, it } from 'vitest';
import { type ExportDeps, exportUsage } from '../../../lambda/usage-export/export.ts';
import { HOUR_MS, isoHour, LedgerFormatError } from '../../../lambda/usage-export/ledger.ts';
import type { UsageSink } from '../../../lambda/usage-export/usage-table.ts';
import { book, exported, freshKeys, freshUsageTable, hour, ledgerParts } from './support.ts';

const { redis, store, endpoint } = ledgerParts();
/** As if two hours had passed: the current hour is closed. */
const later = () => Date.now() + 2 * HOUR_MS;

async function setup(keys: string[]) {
  const { client, table } = await freshUsageTable(endpoint());
  const deps = (sink: UsageSink = table): ExportDeps => ({
    redis,
    sink,
    keyIds: async function* () {
      yield* keys;
    },
  });
  return { client, table, deps };
}

describe('usage export', () => {
  it('writes each closed hour as absolute totals per key and model, then deletes the hash', async () => {
    const [a = '', b = ''] = freshKeys(2);
    const from = hour();
    await book(store, a, 'm1', 10, 5);
    await book(store, a, 'm1', 1, 2);
    await book(store, a, 'other', 7, 0);
    // Two costs just under 2^53 each: their sum is past what a double holds exactly.
    await book(store, b, 'm2', 3, 4, 8_000_000_000_000_001);
    await book(store, b, 'm2', 3, 4, 8_000_000_000_000_001);
    const { client, table, deps } = await setup([a, b]);
    const report = await exportUsage(deps(), { now: later(), fromHour: from });
    expect(report).toMatchObject({ hashes: 2, written: 3, alreadyThere: 0 });
    const items = await exported(client, table.tableName);
    const h = isoHour(from);
    expect(items.get(`${a} ${h}#m1`)).toEqual({
      requests: 2n,
      inputTokens: 11n,
      outputTokens: 7n,
      cachedTokens: 0n,
      costNanoUsd: 11n + 14n,
    });
    expect(items.get(`${a} ${h}#other`)?.requests).toBe(1n);
    // Exact past 2^53: the number went from Redis to DynamoDB as text.
    expect(items.get(`${b} ${h}#m2`)?.costNanoUsd).toBe(16_000_000_000_000_002n);
    expect(await redis.exists(`${store.key(a)}:u:${from}`, `${store.key(b)}:u:${from}`)).toBe(0);
    expect(await table.nextHour()).toBeGreaterThan(from);
  });

  it('leaves an open hour alone', async () => {
    const [a = ''] = freshKeys(1);
    await book(store, a, 'm1', 1, 1);
    const { deps } = await setup([a]);
    const report = await exportUsage(deps(), { fromHour: hour() });
    expect(report.hours).toEqual([]);
    expect(await redis.exists(`${store.key(a)}:u:${hour()}`)).toBe(1);
  });

  it('loses and doubles nothing when a write fails half-way, then the next run finishes', async () => {
    const keys = freshKeys(6);
    const from = hour();
    for (const [i, key] of keys.entries()) {
      await book(store, key, 'm1', i + 1, 1);
      await book(store, key, 'm2', 1, i + 1);
    }
    const { client, table, deps } = await setup(keys);
    let writes = 0;
    const failing: UsageSink = {
      put: (record) => {
        if (++writes > 5) return Promise.reject(new Error('the exporter died here'));
        return table.put(record);
      },
      nextHour: () => table.nextHour(),
      advance: (h) => table.advance(h),
    };
    await expect(
      exportUsage(deps(failing), { now: later(), fromHour: from, concurrency: 2 }),
    ).rejects.toThrow('the exporter died here');
    expect(await table.nextHour()).toBeUndefined();
    const second = await exportUsage(deps(), { now: later(), fromHour: from });
    expect(second.written + second.alreadyThere).toBeGreaterThan(0);
    const items = await exported(client, table.tableName);
    expect(items.size).toBe(12);
    for (const [i, key] of keys.entries()) {
      expect(items.get(`${key} ${isoHour(from)}#m1`)).toMatchObject({
        requests: 1n,
        inputTokens: BigInt(i + 1),
      });
      expect(items.get(`${key} ${isoHour(from)}#m2`)).toMatchObject({
        requests: 1n,
        outputTokens: BigInt(i + 1),
      });
    }
  });

  it('counts nothing twice when it dies after writing and before deleting', async () => {
    const [a = ''] = freshKeys(1);
    const from = hour();
    await book(store, a, 'm1', 4, 4);
    const { client, table, deps } = await setup([a]);
    const noDelete = {
      ...deps(),
      redis: {
        hgetall: (k: string) => redis.hgetall(k),
        time: () => redis.time(),
        del: () => Promise.reject(new Error('died before DEL')),
      },
    };
    await expect(exportUsage(noDelete, { now: later(), fromHour: from })).rejects.toThrow(
      'died before DEL',
    );
    const replay = await exportUsage(deps(), { now: later(), fromHour: from });
    expect(replay).toMatchObject({ hashes: 1, written: 0, alreadyThere: 1 });
    expect((await exported(client, table.tableName)).get(`${a} ${isoHour(from)}#m1`)).toMatchObject(
      {
        requests: 1n,
        inputTokens: 4n,
      },
    );
    expect(await redis.exists(`${store.key(a)}:u:${from}`)).toBe(0);
  });

  it('never replaces totals with smaller ones', async () => {
    const [a = ''] = freshKeys(1);
    const { table } = await setup([a]);
    const record = {
      keyId: a,
      hour: hour(),
      model: 'm1',
      requests: '5',
      inputTokens: '50',
      outputTokens: '5',
      cachedTokens: '0',
      costNanoUsd: '60',
    };
    expect(await table.put(record)).toBe(true);
    expect(await table.put({ ...record, requests: '4', inputTokens: '40' })).toBe(false);
    expect(await table.put(record)).toBe(false);
    expect(await table.put({ ...record, requests: '6', inputTokens: '51' })).toBe(true);
  });

  it('keeps a hash it cannot read and does not move past its hour', async () => {
    const [a = ''] = freshKeys(1);
    const from = hour();
    const key = `${store.key(a)}:u:${from}`;
    await redis.hset(key, 'req:m1', '1', 'tokens:m1', '9');
    const { table, deps } = await setup([a]);
    await expect(exportUsage(deps(), { now: later(), fromHour: from })).rejects.toBeInstanceOf(
      LedgerFormatError,
    );
    expect(await redis.exists(key)).toBe(1);
    expect(await table.nextHour()).toBeUndefined();
    await redis.del(key);
  });
});
