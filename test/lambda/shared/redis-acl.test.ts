/**
 * Least privilege inside Redis, on a real redis-server with the SAME users the CDK app gives
 * ElastiCache (lambda/shared/redis-acl.ts): the real limiter and the real session store run
 * through them, each may do its own work and nothing on the other's keys, the `default` user is
 * shut, and a user's password rotates through the two passwords a user may hold at once without
 * the client stopping.
 */
import { RedisConnection } from '@axon/runtime/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SESSION_QUOTAS } from '#shared/config';
import {
  DISABLED_DEFAULT_REDIS_USER,
  GATEWAY_REDIS_USER,
  REDIS_KEY_PREFIXES,
  type RedisAclUser,
  SESSION_MANAGER_REDIS_USER,
} from '#shared/redis-acl';
import { RedisStore } from '#token-bucket/redis-store';
import { exportUsage } from '../../../lambda/usage-export/export.ts';
import type { UsageRecord } from '../../../lambda/usage-export/ledger.ts';
import { SessionStore } from '../../../services/session-manager/src/core/session-store.ts';
import { poll } from '../../support/poll.ts';
import { RedisServer } from '../../support/redis.ts';
import { SecretStandIn } from '../../support/secret-stand-in.ts';

const ADMIN = { userName: 'test-admin', password: 'admin-password-0123456789' };
const PASSWORDS = {
  gateway: 'gateway-password-0123456789',
  sessions: 'sessions-password-0123456789',
};
const LIMITS = { requestsPerMinute: 600, burst: 10, tokensPerMinute: 10_000 };

let server: RedisServer;
let admin: Redis;
const opened: { close(): Promise<void> | void }[] = [];

/** `ACL SETUSER` with the access string exactly as ElastiCache gets it, plus passwords. */
async function createUser(user: RedisAclUser, passwords: readonly string[]): Promise<void> {
  await admin.call(
    'ACL',
    'SETUSER',
    user.userName,
    'reset',
    ...passwords.map((p) => `>${p}`),
    ...user.accessString.split(' '),
  );
}

async function connectAs(userName: string, password: string | SecretStandIn) {
  const connection = await RedisConnection.open({
    url: `redis://127.0.0.1:${server.port}`,
    username: userName,
    password: typeof password === 'string' ? async () => password : password.reader,
    commandTimeoutMs: 1000,
    minRefreshIntervalMs: 0,
  });
  opened.push(connection);
  return connection;
}

beforeAll(async () => {
  server = await RedisServer.start();
  const bootstrap = new Redis(server.url);
  await bootstrap.call(
    'ACL',
    'SETUSER',
    ADMIN.userName,
    'on',
    `>${ADMIN.password}`,
    '~*',
    '&*',
    '+@all',
  );
  bootstrap.disconnect();
  admin = new Redis({ port: server.port, username: ADMIN.userName, password: ADMIN.password });
  await createUser(GATEWAY_REDIS_USER, [PASSWORDS.gateway]);
  await createUser(SESSION_MANAGER_REDIS_USER, [PASSWORDS.sessions]);
  // Last: from here on a client without a user name is the disabled default user.
  await createUser(DISABLED_DEFAULT_REDIS_USER, []);
});

afterAll(async () => {
  for (const connection of opened.splice(0)) await connection.close();
  admin?.disconnect();
  await server?.stop();
});

describe('the users match the code', () => {
  it('grant each store the prefix its keys really carry', () => {
    expect(new RedisStore({} as never).key('k1').startsWith(REDIS_KEY_PREFIXES.limiter)).toBe(true);
    expect(GATEWAY_REDIS_USER.accessString).toContain(`~${REDIS_KEY_PREFIXES.limiter}*`);
    expect(SESSION_MANAGER_REDIS_USER.accessString).toContain(`~${REDIS_KEY_PREFIXES.sessions}*`);
  });
});

describe('the gateway user', () => {
  it('decides and settles with the real limiter script', async () => {
    const { client } = await connectAs(GATEWAY_REDIS_USER.userName, PASSWORDS.gateway);
    const store = new RedisStore(client);
    const decision = await store.decide({ id: 'acl-gw', limits: LIMITS, tokenCost: 5 });
    expect(decision.allowed).toBe(true);
    await store.settle({ id: 'acl-gw', limits: LIMITS, tokens: 50 });
    expect(await admin.exists(store.key('acl-gw'))).toBe(1);
  });

  it('books budgets and the usage ledger, and the usage exporter moves the ledger as this user', async () => {
    const { client } = await connectAs(GATEWAY_REDIS_USER.userName, PASSWORDS.gateway);
    const store = new RedisStore(client);
    const limits = { ...LIMITS, dailyBudgetUsd: 1 };
    await store.decide({ id: 'acl-usage', limits, tokenCost: 5, costNanoUsd: 1000 });
    const usage = { model: 'm1', inputTokens: 3, outputTokens: 2, cachedTokens: 1 };
    await store.settle({
      id: 'acl-usage',
      limits,
      tokens: 5,
      reserved: 5,
      costNanoUsd: 7,
      reservedNanoUsd: 1000,
      usage,
    });
    const hour = Math.floor(Date.now() / 3_600_000);
    const written: UsageRecord[] = [];
    const report = await exportUsage(
      {
        redis: client,
        sink: {
          put: async (r) => Boolean(written.push(r)),
          nextHour: async () => undefined,
          advance: async () => {},
        },
        keyIds: async function* () {
          yield 'acl-usage';
        },
      },
      { fromHour: hour, now: Date.now() + 2 * 3_600_000 },
    );
    expect(report.hashes).toBe(1);
    expect(written).toEqual([
      expect.objectContaining({ model: 'm1', requests: '1', costNanoUsd: '7' }),
    ]);
    expect(await admin.exists(`${store.key('acl-usage')}:u:${hour}`)).toBe(0);
  });

  it('cannot read, write or create a session', async () => {
    const sessions = new SessionStore(
      new Redis({ port: server.port, username: ADMIN.userName, password: ADMIN.password }),
      { ttlSeconds: 60 },
    );
    const { id } = await sessions.create(
      'acl-key',
      { model: 'm', system: 'secret prompt' },
      DEFAULT_SESSION_QUOTAS,
    );
    const [sessionKey] = await admin.keys(`${REDIS_KEY_PREFIXES.sessions}*${id}*`);
    expect(sessionKey).toBeDefined();

    const { client } = await connectAs(GATEWAY_REDIS_USER.userName, PASSWORDS.gateway);
    await expect(client.hgetall(sessionKey as string)).rejects.toThrow(/NOPERM/);
    await expect(client.del(sessionKey as string)).rejects.toThrow(/NOPERM/);
    // The store reports any Redis refusal as its own "unavailable" error (a 503, never a leak).
    const asGateway = new SessionStore(client as Redis, { ttlSeconds: 60 });
    const before = await admin.keys(`${REDIS_KEY_PREFIXES.sessions}*`);
    await expect(asGateway.get('acl-key', id)).rejects.toThrow(/unavailable/);
    await expect(
      asGateway.create('acl-key', { model: 'm' }, DEFAULT_SESSION_QUOTAS),
    ).rejects.toThrow(/unavailable/);
    expect((await admin.keys(`${REDIS_KEY_PREFIXES.sessions}*`)).sort()).toEqual(before.sort());
  });

  it('cannot list or wipe the keyspace or change the server', async () => {
    const { client } = await connectAs(GATEWAY_REDIS_USER.userName, PASSWORDS.gateway);
    await expect(client.keys('*')).rejects.toThrow(/NOPERM/);
    await expect(client.scan(0)).rejects.toThrow(/NOPERM/);
    await expect(client.flushall()).rejects.toThrow(/NOPERM/);
    await expect(client.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru')).rejects.toThrow(
      /NOPERM/,
    );
    await expect(client.call('SCRIPT', 'FLUSH')).rejects.toThrow(/NOPERM/);
  });
});

describe('the session manager user', () => {
  it('creates, reads, appends to, lists and deletes sessions with the real session store', async () => {
    const { client } = await connectAs(SESSION_MANAGER_REDIS_USER.userName, PASSWORDS.sessions);
    const store = new SessionStore(client as Redis, { ttlSeconds: 60 });
    const { id } = await store.create(
      'acl-sm',
      { model: 'm', system: 'be brief' },
      DEFAULT_SESSION_QUOTAS,
    );
    const turn = [
      { role: 'user' as const, content: 'hi', createdAt: 1 },
      { role: 'assistant' as const, content: 'hello', createdAt: 2 },
    ];
    expect(await store.append('acl-sm', id, turn, DEFAULT_SESSION_QUOTAS)).toBe(true);
    expect((await store.get('acl-sm', id))?.messages).toHaveLength(2);
    expect((await store.list('acl-sm', { limit: 10 })).sessions.map((s) => s.id)).toEqual([id]);
    expect(await store.delete('acl-sm', id)).toBe(true);
  });

  it("cannot touch a limiter key, nor run the limiter's script", async () => {
    const limiter = new RedisStore(admin);
    await limiter.decide({ id: 'acl-drained', limits: LIMITS });
    const bucket = limiter.key('acl-drained');

    const { client } = await connectAs(SESSION_MANAGER_REDIS_USER.userName, PASSWORDS.sessions);
    await expect(client.get(bucket)).rejects.toThrow(/NOPERM/);
    await expect(client.del(bucket)).rejects.toThrow(/NOPERM/);
    await expect(client.set(bucket, 'full')).rejects.toThrow(/NOPERM/);
    await expect(
      new RedisStore(client).decide({ id: 'acl-drained', limits: LIMITS }),
    ).rejects.toThrow(/NOPERM/);
    expect(await admin.exists(bucket)).toBe(1);
  });
});

describe('the default user', () => {
  it('lets no client in without a user name', async () => {
    const anonymous = new Redis({
      port: server.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    anonymous.on('error', () => undefined);
    try {
      await anonymous.connect().catch(() => undefined);
      await expect(anonymous.get(`${REDIS_KEY_PREFIXES.limiter}x`)).rejects.toThrow(
        /NOAUTH|NOPERM|closed/i,
      );
    } finally {
      anonymous.disconnect();
    }
  });
});

describe('rotating a user password through two passwords', () => {
  it('keeps the client deciding while the old password goes and a reconnect needs the new one', async () => {
    const user: RedisAclUser = { ...GATEWAY_REDIS_USER, userName: 'axon-gateway-rotating' };
    await createUser(user, ['first-password-0123456789']);
    const secret = new SecretStandIn('first-password-0123456789');
    const connection = await connectAs(user.userName, secret);
    const store = new RedisStore(connection.client, {
      retryAfter: (err) => connection.recoverable(err),
    });
    const decide = () => store.decide({ id: 'acl-rotating', limits: LIMITS });
    expect((await decide()).allowed).toBe(true);

    // Step 1, as ModifyUser with two Passwords: old and new both valid; the secret moves on.
    await admin.call('ACL', 'SETUSER', user.userName, '>second-password-0123456789');
    secret.value = 'second-password-0123456789';
    expect((await decide()).allowed).toBe(true);

    // Step 2, ModifyUser with only the new one; every live connection of the user is dropped
    // (ElastiCache reconnects clients on a password change), so the client must re-read it.
    await admin.call('ACL', 'SETUSER', user.userName, '<first-password-0123456789');
    await admin.call('CLIENT', 'KILL', 'USER', user.userName);
    // The reconnect with the old password gets WRONGPASS; the client re-reads the secret and the
    // next connect uses the new one. Decisions in between fail fast (no offline queue).
    const after = await poll(
      () =>
        decide().then(
          (d) => d.allowed,
          () => false,
        ),
      (allowed) => allowed,
    );
    expect(after).toBe(true);
    expect(secret.reads).toBeGreaterThanOrEqual(1);
    const clients = String(await admin.call('CLIENT', 'LIST'));
    expect(clients).toContain(`user=${user.userName}`);
  });
});
