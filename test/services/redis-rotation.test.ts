/**
 * ElastiCache rotates the Redis AUTH token. This test does the same to a real redis-server
 * (CONFIG SET requirepass) while requests flow, then drops every client connection as a
 * failover would. The service gets WRONGPASS on reconnect, re-reads the token from its source
 * (a provider function here, AWS Secrets Manager in production) and carries on: no request fails.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster, RedisServer, waitFor } from '../support/redis.ts';
import { call, freshKeyId, principal, type Stack, startStack } from './support.ts';

const run = promisify(execFile);
const OLD_TOKEN = 'old-token-0123456789abcdef';
const NEW_TOKEN = 'new-token-fedcba9876543210';

interface Target {
  name: string;
  /** Starts Redis requiring OLD_TOKEN; returns the app's Redis options and the node ports. */
  start(): Promise<{ options: object; ports: number[]; stop(): Promise<void> }>;
}

const targets: Target[] = [
  {
    name: 'single node',
    async start() {
      const server = await RedisServer.start({ password: OLD_TOKEN });
      return {
        options: { redisUrl: `redis://127.0.0.1:${server.port}` },
        ports: [server.port],
        stop: () => server.stop(),
      };
    },
  },
  {
    name: '3-master cluster',
    async start() {
      const cluster = await RedisCluster.start(3);
      for (const server of cluster.servers)
        await server.cli('CONFIG', 'SET', 'requirepass', OLD_TOKEN);
      return {
        options: { redisClusterNodes: cluster.nodes },
        ports: cluster.nodes.map((n) => n.port),
        stop: () => cluster.stop(),
      };
    },
  },
];

async function redisCli(port: number, password: string, ...args: string[]) {
  await run('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', password, ...args]);
}

describe.each(targets)('Redis AUTH token rotation on $name', (target) => {
  let redis: Awaited<ReturnType<Target['start']>>;
  let stack: Stack;
  let token = OLD_TOKEN;
  let reads = 0;

  beforeAll(async () => {
    redis = await target.start();
    stack = await startStack({
      ...redis.options,
      redisPassword: async () => {
        reads++;
        return token;
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('re-reads the token after WRONGPASS and loses no request', async () => {
    const keyId = freshKeyId();
    const headers = principal(keyId);
    const created = await call(`${stack.url}/v1/sessions`, { headers, body: {} });
    const { id } = created.body as { id: string };
    const statuses: number[] = [];
    let turns = 0;
    let afterRotation = 0;
    let rotated = false;
    let stop = false;

    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const res =
          i % 2 === 0
            ? await call(`${stack.url}/v1/sessions/${id}/messages`, {
                headers,
                body: { content: `worker ${w} turn ${i}` },
              })
            : await call(`${stack.url}/v1/sessions/${id}`, { headers });
        statuses.push(res.status);
        if (i % 2 === 0 && res.status === 200) turns++;
        if (rotated) afterRotation++;
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => worker(w));

    await waitFor(async () => statuses.length >= 10, 'requests flowing before the rotation');
    for (const port of redis.ports)
      await redisCli(port, OLD_TOKEN, 'CONFIG', 'SET', 'requirepass', NEW_TOKEN);
    token = NEW_TOKEN;
    // A failover or node replacement: every client reconnects, now with a stale token.
    for (const port of redis.ports)
      await redisCli(port, NEW_TOKEN, 'CLIENT', 'KILL', 'TYPE', 'normal');
    rotated = true;
    await waitFor(
      async () => reads >= 2 && afterRotation > 10,
      'the token re-read and more than 10 requests answered after the rotation',
    );
    stop = true;
    await Promise.all(workers);

    expect(reads).toBeGreaterThanOrEqual(2);
    expect(afterRotation).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Every answered turn is stored: none was lost in the reconnect.
    const session = await call(`${stack.url}/v1/sessions/${id}`, { headers });
    expect((session.body as { messages: unknown[] }).messages).toHaveLength(turns * 2);
  });
});
