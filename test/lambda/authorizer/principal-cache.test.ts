import { describe, expect, it } from 'vitest';
import type { Principal } from '#authorizer/principal';
import { LruCache, PrincipalCache } from '#authorizer/principal-cache';
import { TestClock } from './support.ts';

const principal = (keyId: string): Principal => ({
  keyId,
  plan: 'free',
  owner: 'o',
  limits: { requestsPerMinute: 60, burst: 10 },
});

describe('LruCache', () => {
  it('evicts the least recently used entry past its size', () => {
    const lru = new LruCache<number>(2);
    lru.set('a', 1, Infinity);
    lru.set('b', 2, Infinity);
    expect(lru.get('a', 0)).toBe(1); // a is now the most recent
    lru.set('c', 3, Infinity);
    expect(lru.get('b', 0)).toBeUndefined();
    expect(lru.get('a', 0)).toBe(1);
    expect(lru.get('c', 0)).toBe(3);
    expect(lru.size).toBe(2);
  });

  it('forgets an entry once it expires', () => {
    const lru = new LruCache<number>(2);
    lru.set('a', 1, 1000);
    expect(lru.get('a', 999)).toBe(1);
    expect(lru.get('a', 1000)).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it('refuses a size below one', () => {
    expect(() => new LruCache(0)).toThrow(/maxEntries >= 1/);
  });
});

describe('PrincipalCache', () => {
  it('keeps a principal for the TTL and no longer', () => {
    const clock = new TestClock();
    const cache = new PrincipalCache({ ttlSeconds: 30, now: clock.now });
    cache.setPrincipal('h', principal('key_a'));
    clock.advance(29.999);
    expect(cache.get('h')).toEqual({ kind: 'principal', principal: principal('key_a') });
    clock.advance(0.001);
    expect(cache.get('h')).toBeUndefined();
  });

  it('never keeps a principal past its key expiry', () => {
    const clock = new TestClock();
    const cache = new PrincipalCache({ ttlSeconds: 30, now: clock.now });
    cache.setPrincipal('h', principal('key_a'), clock.ms + 5000);
    clock.advance(5);
    expect(cache.get('h')).toBeUndefined();
  });

  it('remembers a rejection for the short negative TTL', () => {
    const clock = new TestClock();
    const cache = new PrincipalCache({ ttlSeconds: 30, negativeTtlSeconds: 2, now: clock.now });
    cache.setRejected('h', { reason: 'unknown' });
    expect(cache.get('h')).toEqual({ kind: 'rejected', rejection: { reason: 'unknown' } });
    clock.advance(2);
    expect(cache.get('h')).toBeUndefined();
  });

  it('cannot lose real principals to a flood of rejected keys', () => {
    const cache = new PrincipalCache({ ttlSeconds: 30, maxEntries: 10, maxNegativeEntries: 10 });
    cache.setPrincipal('real', principal('key_a'));
    for (let i = 0; i < 1000; i++) cache.setRejected(`bad-${i}`, { reason: 'unknown' });
    expect(cache.get('real')?.kind).toBe('principal');
    expect(cache.size).toEqual({ positive: 1, negative: 10 });
  });

  it('replaces a rejection with a principal and back', () => {
    const cache = new PrincipalCache({ ttlSeconds: 30 });
    cache.setRejected('h', { reason: 'unknown' });
    cache.setPrincipal('h', principal('key_a'));
    expect(cache.get('h')?.kind).toBe('principal');
    cache.setRejected('h', { reason: 'revoked', keyId: 'key_a' });
    expect(cache.get('h')).toEqual({
      kind: 'rejected',
      rejection: { reason: 'revoked', keyId: 'key_a' },
    });
  });
});
