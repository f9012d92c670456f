/**
 * Vitest global setup: one single-node Redis and one 3-master Redis Cluster for the whole run,
 * shared by tests through `inject('redisUrl')` and `inject('redisClusterNodes')`. Tests that kill
 * or reconfigure Redis start their own `RedisServer` instead.
 */
import type { TestProject } from 'vitest/node';
import { type ClusterNode, RedisCluster, RedisServer } from './redis.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisClusterNodes: ClusterNode[];
  }
}

export default async function setup(project: TestProject) {
  const [single, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start(3)]);
  project.provide('redisUrl', single.url);
  project.provide('redisClusterNodes', cluster.nodes);
  return async () => {
    await Promise.all([single.stop(), cluster.stop()]);
  };
}
