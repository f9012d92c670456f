/**
 * AUTH token rotation on a real 3-master Redis Cluster, followed by a master the clients have
 * never met: the case where ioredis builds a new node connection from the options its
 * connection pool captured at start. ElastiCache's rotation is played with ACL passwords
 * (ROTATE: old and new both valid; SET: only the new one); then a fourth master that knows only
 * the new token joins, and the slots of the keys under test move to it, so both clients follow a
 * MOVED there. Limiter decisions (the Lambdas' RedisStore) and session writes (the session
 * manager over HTTP) must keep succeeding, with no client restarted.
 *
 * A restarted redis-server comes back with its startup password, so a restart would not test
 * this. The cluster is this file's own: the shared one of the harness is never reconfigured.
 * A function stands in for Secrets Manager.
 */
import { RedisConnection } from '@axon/runtime/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter } from '#token-bucket/limiter';
import { RedisStore } from '#token-bucket/redis-store';
import { call, freshKeyId, principal, type Stack, startStack } from '../../services/support.ts';
import { RedisCluster, type RedisServer, redisCli } from '../../support/redis.ts';
import { SecretStandIn } from '../../support/secret-stand-in.ts';

const OLD = 'old-token-0123456789abcdef';
const NEW = 'new-token-fedcba9876543210';

/** Runs a command on every node as an operator whose connection is not under test. */
async function onEveryNode(cluster: RedisCluster, password: string, ...args: string[]) {
  for (const server of cluster.servers) {
    await redisCli(server.port, '--no-auth-warning', '-a', password, ...args);
  }
}

describe('Redis AUTH token rotation on a cluster that then grows a master', () => {
  const secret = new SecretStandIn(OLD);
  const limits = { requestsPerMinute: 600_000, burst: 10_000 };
  const bucketId = 'rotation-on-cluster';
  const keyId = freshKeyId();
  let cluster: RedisCluster;
  let redis: RedisConnection;
  let store: RedisStore;
  let limiter: Limiter;
  let stack: Stack;
  let sessionId: string;
  let newMaster: RedisServer;

  beforeAll(async () => {
    cluster = await RedisCluster.start(3, { password: OLD });
    redis = await RedisConnection.open({
      clusterNodes: cluster.nodes,
      commandTimeoutMs: 1000,
      password: secret.reader,
    });
    store = new RedisStore(redis.client, { retryAfter: (err) => redis.recoverable(err) });
    // Closed: a decision Redis cannot make fails instead of quietly coming from memory.
    limiter = new Limiter({ primary: store, failureMode: 'closed', timeoutMs: 1000 });
    stack = await startStack({ redisClusterNodes: cluster.nodes, redisPassword: secret.reader });

    // Both clients work with the old token and know the three masters' slot map.
    expect((await limiter.decide({ id: bucketId, limits })).degraded).toBe(false);
    const created = await call(`${stack.url}/v1/sessions`, { headers: principal(keyId), body: {} });
    expect(created.status).toBe(201);
    sessionId = (created.body as { id: string }).id;

    // ROTATE, Secrets Manager's AWSCURRENT moves, then SET.
    await onEveryNode(cluster, OLD, 'ACL', 'SETUSER', 'default', `>${NEW}`);
    secret.value = NEW;
    await onEveryNode(cluster, NEW, 'ACL', 'SETUSER', 'default', 'resetpass', `>${NEW}`);

    newMaster = await cluster.addMaster(NEW);
    for (const key of [store.key(bucketId), `axon:sess:{${keyId}}:index`]) {
      await cluster.moveSlot(await cluster.slotOf(key, NEW), newMaster, NEW);
    }
  });

  afterAll(async () => {
    await stack?.close();
    await redis?.close();
    await cluster?.stop();
  });

  it('keeps making limiter decisions in Redis after following a MOVED to the new master', async () => {
    const decisions = [];
    for (let i = 0; i < 20; i++) decisions.push(await limiter.decide({ id: bucketId, limits }));

    expect(decisions.every((d) => d.allowed && !d.degraded)).toBe(true);
    // The bucket lives on the new master now, and the decisions above went there.
    const bucket = store.key(bucketId);
    expect(await cluster.ownerOf(await cluster.slotOf(bucket, NEW), NEW)).toBe(newMaster);
    const onNewMaster = await redisCli(
      newMaster.port,
      '--no-auth-warning',
      '-a',
      NEW,
      'EXISTS',
      bucket,
    );
    expect(onNewMaster).toBe('1');
    expect(secret.reads).toBeGreaterThanOrEqual(2);
  });

  it('keeps writing sessions after following a MOVED to the new master', async () => {
    const headers = principal(keyId);
    const statuses: number[] = [];
    for (let turn = 0; turn < 3; turn++) {
      const res = await call(`${stack.url}/v1/sessions/${sessionId}/messages`, {
        headers,
        body: { content: `turn ${turn} after the rotation` },
      });
      statuses.push(res.status);
    }
    const another = await call(`${stack.url}/v1/sessions`, { headers, body: {} });
    statuses.push(another.status);

    expect(statuses).toEqual([200, 200, 200, 201]);
    const session = await call(`${stack.url}/v1/sessions/${sessionId}`, { headers });
    expect((session.body as { messages: unknown[] }).messages).toHaveLength(6);
    const index = `axon:sess:{${keyId}}:index`;
    const sessions = await redisCli(newMaster.port, '--no-auth-warning', '-a', NEW, 'ZCARD', index);
    expect(sessions).toBe('2');
  });
});
