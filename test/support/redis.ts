/**
 * Real Redis for tests: single nodes (local/redis-server.ts) and a Redis Cluster made of them,
 * on free loopback ports. Tests never talk to a Redis they did not start.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RedisServer, waitFor } from '../../local/redis-server.ts';

export { freePort, RedisServer, type RedisServerOptions } from '../../local/redis-server.ts';

const run = promisify(execFile);

export interface ClusterNode {
  host: string;
  port: number;
}

/** A Redis Cluster of `masters` masters and no replicas, made with `redis-cli --cluster create`. */
export class RedisCluster {
  private constructor(readonly servers: RedisServer[]) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const servers: RedisServer[] = [];
    for (let i = 0; i < masters; i++) {
      servers.push(
        await RedisServer.start({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${i}.conf`,
            '--cluster-node-timeout',
            '2000',
          ],
        }),
      );
    }
    const cluster = new RedisCluster(servers);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...servers.map((s) => `127.0.0.1:${s.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitFor(async () => {
      const states = await Promise.all(servers.map((s) => s.cli('CLUSTER', 'INFO')));
      return states.every((info) => info.includes('cluster_state:ok'));
    }, 'cluster_state:ok on every node');
    return cluster;
  }

  get nodes(): ClusterNode[] {
    return this.servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}
