/**
 * The limiter's prebuilt EVALSHA: the bytes it writes are the bytes ioredis's own encoder writes
 * for the same call, it routes to the slot of its key in a real 3-master cluster, and its
 * fallback arguments are the same call for ioredis's ordinary path.
 */
import { Cluster, Command, Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { packArgs, type ScriptArgs } from '#token-bucket/decision';
import { TOKEN_BUCKET_SHA } from '#token-bucket/lua';
import { RedisStore } from '#token-bucket/redis-store';
import { commandsAwaitingTimeout, ScriptCommand } from '#token-bucket/script-command';
import { RedisServer } from '../../support/redis.ts';
import { freshId } from './stores.ts';

// Values whose doubles hold bytes >= 0x80 and \r\n, which a text encoding would mangle.
const ARGS: ScriptArgs = [0, 1, 2_570, 13, 1e9, 0.5e6, 141, 86_400, 3, 4, 60_000];

/** What ioredis's ordinary `callBuffer('evalsha', ...)` would write for the same call. */
function ioredisBytes(args: (string | Buffer)[]): Buffer {
  const written = new Command('evalsha', args).toWritable({});
  return Buffer.isBuffer(written) ? written : Buffer.from(written);
}

describe('ScriptCommand', () => {
  it('writes the same bytes as ioredis for an EVALSHA with one key', () => {
    const key = 'axon:rl:{k1}';
    const command = new ScriptCommand(key, ARGS);
    expect(command.toWritable({})).toEqual(
      ioredisBytes([TOKEN_BUCKET_SHA, '1', key, packArgs(ARGS)]),
    );
  });

  it('writes the same bytes as ioredis with a lease, and with a key outside ASCII', () => {
    const key = 'präfix:{k-ü}';
    const command = new ScriptCommand(key, ARGS, 'lease:1.a-b');
    expect(command.toWritable({})).toEqual(
      ioredisBytes([TOKEN_BUCKET_SHA, '2', key, `${key}:leases`, packArgs(ARGS), 'lease:1.a-b']),
    );
  });

  it('gives the fallback path the same call as ordinary arguments', () => {
    const key = 'axon:rl:{k2}';
    expect(new ScriptCommand(key, ARGS).fallbackArgs()).toEqual([
      TOKEN_BUCKET_SHA,
      '1',
      key,
      packArgs(ARGS),
    ]);
    expect(new ScriptCommand(key, ARGS, 'l1').fallbackArgs()).toEqual([
      TOKEN_BUCKET_SHA,
      '2',
      key,
      `${key}:leases`,
      packArgs(ARGS),
      'l1',
    ]);
  });

  it('writes the same bytes as ioredis for the long form, with a ledger model, lease or not', () => {
    const key = 'axon:rl:{k3}';
    const long: ScriptArgs = [...ARGS, 5e9, 0, 1_234_567, 7_000, 23, 7, 5, 1];
    expect(new ScriptCommand(key, long, undefined, 'stub-echo-chatml').toWritable({})).toEqual(
      ioredisBytes([TOKEN_BUCKET_SHA, '1', key, packArgs(long), 'stub-echo-chatml']),
    );
    expect(new ScriptCommand(key, long, 'l1', 'other').toWritable({})).toEqual(
      ioredisBytes([TOKEN_BUCKET_SHA, '2', key, `${key}:leases`, packArgs(long), 'l1', 'other']),
    );
    // A budget without a ledger entry: the long form, no model.
    expect(new ScriptCommand(key, long).toWritable({})).toEqual(
      ioredisBytes([TOKEN_BUCKET_SHA, '1', key, packArgs(long)]),
    );
    expect(new ScriptCommand(key, long, 'l1', 'other').fallbackArgs()).toEqual([
      TOKEN_BUCKET_SHA,
      '2',
      key,
      `${key}:leases`,
      packArgs(long),
      'l1',
      'other',
    ]);
  });

  describe('against a real 3-master cluster', () => {
    const cluster = new Cluster(inject('redisClusterNodes'));
    afterAll(() => cluster.disconnect());

    it('routes to the slot of its key, without a MOVED redirection', async () => {
      const store = new RedisStore(cluster);
      const id = freshId();
      const key = store.key(id);
      const command = new ScriptCommand(key, ARGS);
      expect(command.getSlot()).toBe(await cluster.cluster('KEYSLOT', key));
      // A decision through the cluster client goes straight to the node owning the slot: no
      // master answers MOVED (ioredis would follow one silently), and the key is there.
      const movedBefore = await movedReplies();
      const decision = await store.decide({ id, limits: { requestsPerMinute: 60, burst: 5 } });
      expect(decision.requests.remaining).toBe(4);
      expect(await movedReplies()).toBe(movedBefore);
      const owner = cluster
        .nodes('master')
        .find((node) => node.options.port === ownerPort(command.getSlot()));
      expect(await owner?.exists(key)).toBe(1);
    });

    /** MOVED replies all masters have given so far (INFO errorstats). */
    async function movedReplies(): Promise<number> {
      let total = 0;
      for (const node of cluster.nodes('master')) {
        const stats = await node.info('errorstats');
        total += Number(/errorstat_MOVED:count=(\d+)/.exec(stats)?.[1] ?? 0);
      }
      return total;
    }

    function ownerPort(slot: number): number | undefined {
      const slots = (cluster as unknown as { slots: string[][] }).slots;
      return Number(slots[slot]?.[0]?.split(':')[1]);
    }
  });

  it('is refused a client with a key prefix, which it would not apply', () => {
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app:' });
    expect(() => new RedisStore(prefixed)).toThrow(/keyPrefix/);
    prefixed.disconnect();
  });

  describe('with ioredis commandTimeout', () => {
    // A timeout no other test file's client uses, so the FIFO counted here is this test's.
    const TIMEOUT_MS = 173;

    it('rejects a command Redis does not answer in time, as ioredis does', async () => {
      const server = await RedisServer.start();
      const client = new Redis(server.url, { commandTimeout: TIMEOUT_MS });
      try {
        const store = new RedisStore(client);
        const limits = { requestsPerMinute: 60, burst: 5 };
        await store.decide({ id: 'stall', limits }); // loads the script
        server.pause();
        const started = performance.now();
        await expect(store.decide({ id: 'stall', limits })).rejects.toThrow('Command timed out');
        expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
        server.resume();
        expect((await store.decide({ id: 'stall', limits })).allowed).toBe(true);
      } finally {
        server.resume();
        client.disconnect();
        await server.stop();
      }
    });

    it('holds only the commands in flight, not every command of the last timeout', async () => {
      const server = await RedisServer.start();
      const client = new Redis(server.url, { commandTimeout: TIMEOUT_MS + 1 });
      try {
        const store = new RedisStore(client);
        const limits = { requestsPerMinute: 60_000, burst: 100_000 };
        for (let i = 0; i < 50; i++) {
          await Promise.all(
            Array.from({ length: 20 }, (_, j) => store.decide({ id: `k${j}`, limits })),
          );
        }
        // 1,000 commands answered; the next one finds the answered ones gone.
        await store.decide({ id: 'k0', limits });
        expect(commandsAwaitingTimeout(TIMEOUT_MS + 1)).toBeLessThanOrEqual(1);
      } finally {
        client.disconnect();
        await server.stop();
      }
    });
  });
});
