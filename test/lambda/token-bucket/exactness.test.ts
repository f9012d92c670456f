/**
 * No over-admission under concurrency: many clients racing for one key's last tokens must admit
 * exactly what the bucket holds, because each decision is one atomic script call.
 */
import { Cluster, Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { RedisStore } from '#token-bucket/redis-store';
import { freshId } from './stores.ts';

const CONNECTIONS = 4;
const DECISIONS = 1000;
const BURST = 137;
// One token a minute: over a test lasting about a second, refill adds well under one token.
const limits = { requestsPerMinute: 1, burst: BURST };

async function race(stores: RedisStore[], id: string) {
  const decisions = await Promise.all(
    Array.from({ length: DECISIONS }, (_, i) => stores[i % stores.length]?.decide({ id, limits })),
  );
  return decisions.filter((d) => d?.allowed).length;
}

describe.each([
  ['a single node', () => new Redis(inject('redisUrl'), { connectionName: 'exactness' })],
  [
    'a 3-master cluster',
    () =>
      new Cluster(inject('redisClusterNodes'), { redisOptions: { connectionName: 'exactness' } }),
  ],
])('exact admission on %s', (_, connect) => {
  it(`admits exactly the burst of ${BURST} out of ${DECISIONS} concurrent decisions from ${CONNECTIONS} connections`, async () => {
    const clients: (Redis | Cluster)[] = Array.from({ length: CONNECTIONS }, () => connect());
    try {
      await Promise.all(clients.map((c) => c.ping()));
      const stores = clients.map((c) => new RedisStore(c));
      const id = freshId();
      expect(await race(stores, id)).toBe(BURST);
      // A second wave finds the bucket empty: nothing was over-admitted to be paid back later.
      expect(await race(stores, id)).toBe(0);

      const first = clients[0];
      const nodes = first instanceof Cluster ? first.nodes('master') : [first as Redis];
      const list = (await Promise.all(nodes.map((n) => n.client('LIST')))).join('\n');
      const ours = list.split('\n').filter((line) => line.includes('name=exactness'));
      expect(ours.length).toBeGreaterThanOrEqual(CONNECTIONS);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});
