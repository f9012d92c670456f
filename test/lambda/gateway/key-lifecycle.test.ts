/**
 * Key lifecycle through both edges over real HTTP: a revoked key stops within the cache TTL (the
 * documented bound, docs/auth.md), a rotated key's two secrets share one key id (and so one set
 * of buckets) and the old one stops within its overlap plus the cache TTL.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { revokeKey, rotateKey } from '#authorizer/admin';
import { parseConfig } from '#shared/config';
import { type RunningEdge, startEdges } from './edges.ts';
import { type Fixture, startFixture } from './support.ts';

const TTL_SECONDS = 1;
/** Scheduling slack on a loaded 2-core machine, on top of the bound under test. */
const SLACK_MS = 700;

const config = parseConfig({
  plans: {
    small: { requestsPerMinute: 60, burst: 4 },
    big: { requestsPerMinute: 6000, burst: 1000 },
  },
  auth: { cacheTtlSeconds: TTL_SECONDS, failuresPerMinutePerAddress: 1000 },
});

let f: Fixture;
let edges: RunningEdge[];
let close: () => Promise<void>;
beforeAll(async () => {
  f = await startFixture({ redisUrl: inject('redisUrl'), config });
  ({ edges, close } = await startEdges(f.gateway));
});
afterAll(async () => {
  await close?.();
  await f?.close();
});

async function get(url: string, key: string) {
  const response = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  await response.arrayBuffer();
  return response;
}

/** Requests every 50 ms until one is refused; the time from `since` to that refusal. */
async function msUntilRefused(url: string, key: string, since: number, timeoutMs = 10_000) {
  while (Date.now() - since < timeoutMs) {
    if ((await get(url, key)).status === 401) return Date.now() - since;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Number.POSITIVE_INFINITY;
}

describe.each(['lambda', 'container'] as const)('key lifecycle on the %s edge', (name) => {
  const url = () => edges.find((edge) => edge.name === name)?.url ?? '';

  it('stops a revoked key within auth.cacheTtlSeconds', async () => {
    const { key, keyId } = await f.newKey('big');
    expect((await get(url(), key)).status).toBe(200); // now cached
    const revokedAt = Date.now();
    await revokeKey(f.table.client, f.table.tableName, keyId);
    const ms = await msUntilRefused(url(), key, revokedAt);
    expect(ms).toBeLessThanOrEqual(TTL_SECONDS * 1000 + SLACK_MS);
    // And it stays refused.
    expect((await get(url(), key)).status).toBe(401);
  });

  it('serves both secrets of a rotated key as one key: one bucket, one key id upstream', async () => {
    const { key, keyId } = await f.newKey('small');
    const rotated = await rotateKey(f.table.client, f.table.tableName, keyId, {
      overlapMs: 3_600_000,
    });
    const before = f.upstream.seen.length;
    const remaining: (string | null)[] = [];
    const statuses: number[] = [];
    for (const secret of [key, rotated.key, key, rotated.key, key]) {
      const response = await get(url(), secret);
      statuses.push(response.status);
      remaining.push(response.headers.get('x-ratelimit-remaining-requests'));
    }
    // burst 4 shared by both secrets: the fifth request, whichever secret, is refused.
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    expect(remaining.slice(0, 4)).toEqual(['3', '2', '1', '0']);
    const ids = f.upstream.seen.slice(before).map((seen) => seen.headers['x-axon-key-id']);
    expect(ids).toEqual([keyId, keyId, keyId, keyId]);
  });

  it('stops the old secret within its overlap plus the cache TTL; the new one goes on', async () => {
    const { key, keyId } = await f.newKey('big');
    expect((await get(url(), key)).status).toBe(200);
    const overlapMs = 1_000;
    const rotatedAt = Date.now();
    const rotated = await rotateKey(f.table.client, f.table.tableName, keyId, { overlapMs });
    expect((await get(url(), rotated.key)).status).toBe(200);
    const ms = await msUntilRefused(url(), key, rotatedAt);
    expect(ms).toBeLessThanOrEqual(overlapMs + TTL_SECONDS * 1000 + SLACK_MS);
    expect((await get(url(), rotated.key)).status).toBe(200);
  });
});
