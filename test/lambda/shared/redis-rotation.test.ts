/**
 * Redis AUTH token rotation as ElastiCache does it (ROTATE: old and new both valid; SET: only
 * the new one), played on a real redis-server with ACL passwords while decisions flow. The
 * secret source is a function standing in for Secrets Manager.
 */

import { RedisConnection } from '@axon/runtime/redis';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Limiter } from '#token-bucket/limiter';
import { RedisStore } from '#token-bucket/redis-store';
import { RedisServer, waitFor } from '../../support/redis.ts';
import { SecretStandIn } from '../../support/secret-stand-in.ts';

const OLD = 'old-token-0123456789abcdef';
const NEW = 'new-token-fedcba9876543210';
/** Lets the other workers and the client's socket events run between two decisions. */
const yieldTurn = () => new Promise((r) => setImmediate(r));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function serverWith(password: string) {
  const server = await RedisServer.start({ password });
  cleanups.push(() => server.stop());
  return server;
}

describe('Redis AUTH token rotation', () => {
  it('re-reads the token and reconnects when Redis answers WRONGPASS, while decisions flow', async () => {
    const server = await serverWith(OLD);
    const secret = new SecretStandIn(OLD);
    const redis = await RedisConnection.open({
      url: `redis://127.0.0.1:${server.port}`,
      commandTimeoutMs: 50,
      password: secret.reader,
    });
    cleanups.push(() => redis.close());
    const limiter = new Limiter({
      primary: new RedisStore(redis.client, { retryAfter: (err) => redis.recoverable(err) }),
      failureMode: 'open',
      timeoutMs: 50,
    });
    const limits = { requestsPerMinute: 600_000, burst: 10_000 };

    const outcomes: { degraded?: boolean; error?: unknown }[] = [];
    let flowing = true;
    const workers = Array.from({ length: 4 }, async () => {
      while (flowing) {
        try {
          outcomes.push({ degraded: (await limiter.decide({ id: 'rotating', limits })).degraded });
        } catch (error) {
          outcomes.push({ error });
        }
        await yieldTurn();
      }
    });

    // An operator connection that stays authenticated across the rotation.
    const admin = new Redis(server.url);
    cleanups.push(async () => void admin.disconnect());
    await waitFor(async () => outcomes.length >= 20, 'decisions flowing before the rotation');
    await admin.acl('SETUSER', 'default', `>${NEW}`); // ROTATE: both tokens valid
    secret.value = NEW; // Secrets Manager's AWSCURRENT moves to the new token
    await admin.acl('SETUSER', 'default', 'resetpass', `>${NEW}`); // SET: only the new one
    // Connections re-authenticate from here on, as after a failover or a node replacement.
    const rotatedAt = outcomes.length;
    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    // Settled: the token was re-read and the last 20 decisions, all after the rotation, came
    // from Redis again.
    await waitFor(async () => {
      const last = outcomes.slice(Math.max(rotatedAt, outcomes.length - 20));
      return secret.reads >= 2 && last.length === 20 && last.every((o) => o.degraded === false);
    }, '20 decisions in a row from Redis after the rotation');
    flowing = false;
    await Promise.all(workers);

    expect(outcomes.filter((o) => o.error)).toEqual([]);
    expect(await admin.exists(new RedisStore(redis.client).key('rotating'))).toBe(1);
  });

  it('starts with a stale token, re-reads it and gets ready without a restart', async () => {
    const server = await serverWith(NEW);
    // The first read returns a token that was rotated away since; later reads the current one.
    let reads = 0;
    const reader = async () => (++reads === 1 ? OLD : NEW);
    const redis = await RedisConnection.open({
      url: `redis://127.0.0.1:${server.port}`,
      commandTimeoutMs: 50,
      password: reader,
    });
    cleanups.push(() => redis.close());
    expect(await redis.run((c) => c.ping())).toBe('PONG');
    expect(reads).toBe(2);
  });

  it('never puts the token in an error it surfaces', async () => {
    const server = await serverWith(NEW);
    const redis = await RedisConnection.open(
      { url: `redis://127.0.0.1:${server.port}`, commandTimeoutMs: 50, password: async () => OLD },
      200,
    );
    cleanups.push(() => redis.close());
    const error = await redis.run((c) => c.ping()).catch((err: Error) => err);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).not.toContain(OLD);
  });
});
