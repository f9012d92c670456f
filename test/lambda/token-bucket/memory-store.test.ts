import { describe, expect, it } from 'vitest';
import { MemoryStore } from '#token-bucket/memory-store';

function fakeClock(start = Date.UTC(2026, 10, 26, 12)) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('MemoryStore', () => {
  it('refills exactly rate times elapsed time', async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now });
    const limits = { requestsPerMinute: 600, burst: 100 };
    for (let i = 0; i < 100; i++) await store.decide({ id: 'k', limits });
    clock.advance(1500); // 15 tokens at 10 per second
    const admitted = [];
    for (let i = 0; i < 20; i++) admitted.push((await store.decide({ id: 'k', limits })).allowed);
    expect(admitted.filter(Boolean)).toHaveLength(15);
  });

  it('does not refill while the clock goes backwards', async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now });
    const limits = { requestsPerMinute: 60, burst: 1 };
    expect((await store.decide({ id: 'k', limits })).allowed).toBe(true);
    clock.advance(-60_000);
    const denied = await store.decide({ id: 'k', limits });
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBe(1000);
  });

  it('resets the daily quota at UTC midnight', async () => {
    const clock = fakeClock(Date.UTC(2026, 10, 26, 23, 59, 59));
    const store = new MemoryStore({ now: clock.now });
    const limits = { requestsPerMinute: 6000, burst: 100, requestsPerDay: 1 };
    expect((await store.decide({ id: 'k', limits })).allowed).toBe(true);
    const denied = await store.decide({ id: 'k', limits });
    expect(denied.limitedBy).toBe('day');
    expect(denied.retryAfterMs).toBe(1000);
    clock.advance(1000);
    expect((await store.decide({ id: 'k', limits })).allowed).toBe(true);
  });

  it('keeps at most maxEntries identities, dropping the least recently used', async () => {
    const store = new MemoryStore({ maxEntries: 3 });
    const limits = { requestsPerMinute: 60, burst: 1 };
    for (const id of ['a', 'b', 'c']) await store.decide({ id, limits });
    await store.decide({ id: 'a', limits }); // a is now the most recently used
    await store.decide({ id: 'd', limits }); // evicts b
    expect(store.size).toBe(3);
    expect((await store.decide({ id: 'a', limits, peek: true })).allowed).toBe(false);
    expect((await store.decide({ id: 'b', limits, peek: true })).allowed).toBe(true);
  });

  it('holds at most maxEntries of what Redis reported, and adopts only what it still holds', async () => {
    const redisSide = new MemoryStore();
    const store = new MemoryStore({ maxEntries: 3 });
    const limits = { requestsPerMinute: 60, burst: 5 };
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      // Each key has spent 4 of its 5 in "Redis"; the fallback store is told so.
      for (let i = 0; i < 3; i++) await redisSide.decide({ id, limits });
      store.observe(id, limits, await redisSide.decide({ id, limits }));
    }
    expect(store.size).toBe(3);
    // The oldest reports were dropped: a and b start full; c, d and e from what Redis said.
    const remaining = async (id: string) =>
      (await store.decide({ id, limits, peek: true })).requests.remaining;
    expect(await remaining('a')).toBe(5);
    expect(await remaining('e')).toBe(1);
  });
});
