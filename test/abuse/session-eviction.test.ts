/**
 * Abuse, issue 11 finding 2: session data must not evict the limiter's state. Through
 * `npm start` with both Redis servers under a small `maxmemory` and `volatile-lru` (ElastiCache's
 * default policy), one tenant fills the session store with large system prompts from several
 * keys while another key's request bucket is drained. The drained key must stay drained: a
 * bucket that vanished would read as a full one. Before the fix sessions and buckets shared one
 * Redis, and the filler's sessions evicted the drained bucket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AbuseStack,
  gateway,
  info,
  newKey,
  STUB_MODEL,
  scanKeys,
  startAbuseStack,
} from './session-support.ts';

const SMALL_CACHE = ['--maxmemory', '6mb', '--maxmemory-policy', 'volatile-lru'];
/** Just under the default 64 KB system-prompt quota, so every create is a legitimate one. */
const PROMPT = 'p'.repeat(60 * 1024);

describe('abuse: sessions filling the cache', () => {
  let abuse: AbuseStack;

  beforeAll(async () => {
    abuse = await startAbuseStack(
      {
        // One request per minute once the burst of 2 is spent: a drained bucket stays drained.
        drained: { requestsPerMinute: 1, burst: 2 },
        roomy: { requestsPerMinute: 60000, burst: 5000 },
      },
      { limiter: SMALL_CACHE, sessions: SMALL_CACHE },
    );
  }, 120_000);
  afterAll(() => abuse?.stop());

  it("leaves another key's drained bucket drained while one tenant's sessions fill the cache", async () => {
    const { stack } = abuse;
    const victim = await newKey(stack, 'drained');
    const spent = [
      await gateway(stack, '/v1/models', { key: victim.key }),
      await gateway(stack, '/v1/models', { key: victim.key }),
      await gateway(stack, '/v1/models', { key: victim.key }),
    ];
    expect(spent.map((r) => r.status)).toEqual([200, 200, 429]);

    // Three keys of one tenant, each storing what its quota allows (about 4 MB): twice the cache.
    const fillers = [
      await newKey(stack, 'roomy'),
      await newKey(stack, 'roomy'),
      await newKey(stack, 'roomy'),
    ];
    const statuses = new Map<number, number>();
    for (const filler of fillers) {
      for (let i = 0; i < 70; i++) {
        const res = await gateway(stack, '/v1/sessions', {
          key: filler.key,
          body: { model: STUB_MODEL, system: PROMPT },
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }
    // The fill really pushed a Redis past maxmemory.
    const evicted =
      (await info(abuse.sessionRedis, 'evicted_keys')) +
      (await info(abuse.limiterRedis, 'evicted_keys'));
    expect(evicted).toBeGreaterThan(0);

    const after = await Promise.all(
      Array.from({ length: 5 }, () => gateway(stack, '/v1/models', { key: victim.key })),
    );
    expect(after.map((r) => r.status)).toEqual([429, 429, 429, 429, 429]);
    // No tenant data on the limiter's Redis at all.
    expect(await scanKeys(abuse.limiterRedis, 'axon:sess:*')).toEqual([]);
  }, 180_000);
});
