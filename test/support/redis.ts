/**
 * Real Redis for tests: single nodes (local/redis-server.ts) and a Redis Cluster made of them,
 * on free loopback ports. Tests never talk to a Redis they did not start.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  RedisServer,
  type RedisServerOptions,
  redisCli,
  waitFor,
} from '../../local/redis-server.ts';

export {
  freePort,
  RedisServer,
  type RedisServerOptions,
  redisCli,
  waitFor,
} from '../../local/redis-server.ts';

const run = promisify(execFile);

export interface ClusterNode {
  host: string;
  port: number;
}

export interface RedisClusterOptions {
  /** `requirepass` (and `masterauth`) of every node at start. @default none */
  readonly password?: string;
  /** Replicas of each master (`--cluster-replicas`), for failover tests. @default 0 */
  readonly replicas?: number;
}

/** `redis-cli -a` arguments for a password, none without one. */
function auth(password: string | undefined): string[] {
  return password ? ['--no-auth-warning', '-a', password] : [];
}

/** redis-server arguments of a cluster node; `masterauth` lets nodes replicate and migrate. */
function nodeArgs(name: string, password: string | undefined): RedisServerOptions {
  return {
    ...(password && { password }),
    args: [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${name}.conf`,
      '--cluster-node-timeout',
      '2000',
      ...(password ? ['--masterauth', password] : []),
    ],
  };
}

/**
 * A Redis Cluster of `masters` masters and, by default, no replicas, made with
 * `redis-cli --cluster create`.
 */
export class RedisCluster {
  private constructor(readonly servers: RedisServer[]) {}

  static async start(masters = 3, options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const replicas = options.replicas ?? 0;
    const servers: RedisServer[] = [];
    for (let i = 0; i < masters * (1 + replicas); i++) {
      servers.push(await RedisServer.start(nodeArgs(String(i), options.password)));
    }
    const cluster = new RedisCluster(servers);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...servers.map((s) => `127.0.0.1:${s.port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
      ...auth(options.password),
    ]);
    await waitFor(async () => {
      const states = await Promise.all(servers.map((s) => s.cli('CLUSTER', 'INFO')));
      return states.every((info) => info.includes('cluster_state:ok'));
    }, 'cluster_state:ok on every node');
    if (replicas > 0) {
      await waitFor(async () => {
        const infos = await Promise.all(servers.map((s) => s.cli('INFO', 'replication')));
        return infos.every(
          (info) => info.includes('role:master') || info.includes('master_link_status:up'),
        );
      }, 'every replica in sync with its master');
    }
    return cluster;
  }

  /**
   * A manual failover of the master serving `slot`: `CLUSTER FAILOVER` on one of its replicas,
   * which waits for the replica to catch up before they swap, so no acknowledged write is lost.
   * Resolves once the replica serves the slot; returns the old and the new master.
   */
  async failover(slot: number): Promise<{ from: RedisServer; to: RedisServer }> {
    const from = await this.ownerOf(slot);
    const masterId = await from.cli('CLUSTER', 'MYID');
    const view = await from.cli('CLUSTER', 'NODES');
    const replicaLine = view
      .split('\n')
      .find((line) => line.split(' ')[3] === masterId && line.includes('slave'));
    const port = Number(replicaLine?.split(' ')[1]?.split('@')[0]?.split(':')[1]);
    const to = this.servers.find((s) => s.port === port);
    if (!to) throw new Error(`the master of slot ${slot} (${from.port}) has no replica`);
    const answer = await to.cli('CLUSTER', 'FAILOVER');
    if (answer !== 'OK') throw new Error(`CLUSTER FAILOVER on ${to.port} answered ${answer}`);
    await waitFor(
      async () => (await this.ownerOf(slot)) === to,
      `replica ${to.port} to take over slot ${slot}`,
    );
    return { from, to };
  }

  get nodes(): ClusterNode[] {
    return this.servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /**
   * Starts one more master, with no slots, and introduces it with CLUSTER MEET; resolves once
   * every node lists it as connected. `password` is what the nodes require now (it may have
   * been rotated since start), and the new node's own.
   */
  async addMaster(password?: string): Promise<RedisServer> {
    const server = await RedisServer.start(nodeArgs(String(this.servers.length), password));
    const first = this.servers[0];
    if (!first) throw new Error('the cluster has no node to meet');
    await redisCli(
      first.port,
      ...auth(password),
      'CLUSTER',
      'MEET',
      '127.0.0.1',
      String(server.port),
    );
    this.servers.push(server);
    const id = await redisCli(server.port, ...auth(password), 'CLUSTER', 'MYID');
    await waitFor(async () => {
      const views = await Promise.all(
        this.servers.map((s) => redisCli(s.port, ...auth(password), 'CLUSTER', 'NODES')),
      );
      return views.every((view) =>
        view.split('\n').some((line) => line.startsWith(id) && line.includes(' connected')),
      );
    }, `every node to know the new master ${server.port}`);
    // Until it has the slot map from its peers the new node answers CLUSTERDOWN (to MIGRATE too).
    await waitFor(
      async () =>
        (await redisCli(server.port, ...auth(password), 'CLUSTER', 'INFO')).includes(
          'cluster_state:ok',
        ),
      `cluster_state:ok on the new master ${server.port}`,
    );
    return server;
  }

  /**
   * Moves `slot` with its keys to `target` as `redis-cli --cluster reshard` does: IMPORTING on
   * the target, MIGRATING on the owner, MIGRATE the keys, then SETSLOT NODE on every master.
   * Clients with the old slot map get MOVED on their next command for the slot.
   */
  async moveSlot(slot: number, target: RedisServer, password?: string): Promise<void> {
    const cli = (server: RedisServer, ...args: string[]) =>
      redisCli(server.port, ...auth(password), ...args);
    const ids = await Promise.all(this.servers.map((s) => cli(s, 'CLUSTER', 'MYID')));
    const targetId = await cli(target, 'CLUSTER', 'MYID');
    const owner = await this.ownerOf(slot, password);
    const ownerId = ids[this.servers.indexOf(owner)] ?? '';
    if (owner === target) return;
    await cli(target, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ownerId);
    await cli(owner, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
    // Bounded: a MIGRATE that keeps failing must fail the test, not spin.
    for (let batch = 0; ; batch++) {
      const keys = (await cli(owner, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100'))
        .split('\n')
        .filter(Boolean);
      if (keys.length === 0) break;
      const reply = await cli(
        owner,
        'MIGRATE',
        '127.0.0.1',
        String(target.port),
        '',
        '0',
        '5000',
        ...(password ? ['AUTH', password] : []),
        'KEYS',
        ...keys,
      );
      if (!['OK', 'NOKEY'].includes(reply) || batch > 100) {
        throw new Error(`MIGRATE of slot ${slot} to ${target.port} answered ${reply}`);
      }
    }
    for (const server of [
      target,
      owner,
      ...this.servers.filter((s) => s !== target && s !== owner),
    ]) {
      await cli(server, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
    }
  }

  /** The master serving `slot`, by the first node's view. */
  async ownerOf(slot: number, password?: string): Promise<RedisServer> {
    const first = this.servers[0];
    if (!first) throw new Error('the cluster has no node');
    const view = await redisCli(first.port, ...auth(password), 'CLUSTER', 'NODES');
    for (const line of view.split('\n')) {
      const [, address = '', flags = '', , , , , , ...slots] = line.split(' ');
      if (!flags.includes('master')) continue;
      const serves = slots.some((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return from !== undefined && !Number.isNaN(from) && slot >= from && slot <= (to ?? from);
      });
      const port = Number(address.split('@')[0]?.split(':')[1]);
      const server = this.servers.find((s) => s.port === port);
      if (serves && server) return server;
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /** The slot a key hashes to (hash tags included), as Redis computes it. */
  async slotOf(key: string, password?: string): Promise<number> {
    const first = this.servers[0];
    if (!first) throw new Error('the cluster has no node');
    return Number(await redisCli(first.port, ...auth(password), 'CLUSTER', 'KEYSLOT', key));
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}
