/**
 * The stores every semantics test runs against: process memory, a single Redis node and a
 * 3-master Redis Cluster, the last two started by the global setup.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import { MemoryStore } from '#token-bucket/memory-store';
import { RedisStore } from '#token-bucket/redis-store';
import type { BucketStore } from '#token-bucket/types';

export interface StoreUnderTest {
  name: string;
  store: BucketStore;
  /** The raw client, for tests that look at keys; absent for memory. */
  redis?: Redis | Cluster;
  close(): Promise<void>;
}

export type StoreKind = 'memory' | 'redis' | 'cluster';

export const STORE_KINDS: StoreKind[] = ['memory', 'redis', 'cluster'];

export async function openStore(kind: StoreKind): Promise<StoreUnderTest> {
  if (kind === 'memory') return { name: kind, store: new MemoryStore(), close: async () => {} };
  const redis =
    kind === 'redis' ? new Redis(inject('redisUrl')) : new Cluster(inject('redisClusterNodes'));
  await redis.ping();
  return {
    name: kind,
    store: new RedisStore(redis),
    redis,
    close: async () => void redis.disconnect(),
  };
}

/** A fresh identity per test, so tests sharing a Redis never see each other's buckets. */
export function freshId(label = 'key'): string {
  return `${label}_${randomBytes(6).toString('hex')}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
