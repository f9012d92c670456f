/**
 * Abuse: one key fires 50 streamed requests at once against a daily budget worth 10 of them
 * (issue 20). Through the container edge (which streams) over the real gateway core, the
 * authorizer on dynalite and the limiter on a real redis-server, single node and 3-master
 * cluster, with a scripted session manager that streams each answer over 300 ms and reports its
 * usage last, as the real one does.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { createEdge, type Edge } from '../../services/gateway-edge/src/edge.ts';
import { bearer, type Fixture, startFixture } from '../lambda/gateway/support.ts';

const PARALLEL = 50;
const WORTH = 10;
const MAX_TOKENS = 100;
/** Nano-dollars per token: 2 and 8 USD per million. */
const IN = 2000;
const OUT = 8000;

const body = JSON.stringify({
  model: 'metered',
  stream: true,
  max_tokens: MAX_TOKENS,
  messages: [{ role: 'user', content: 'Tell me about token buckets, briefly.' }],
});
const promptEstimate = Math.ceil(Buffer.byteLength(body) / 4);
/** What admission reserves for one request: its prompt estimate and its completion cap. */
const reservation = promptEstimate * IN + MAX_TOKENS * OUT;
const budget = WORTH * reservation;

const config = parseConfig({
  plans: {
    capped: {
      requestsPerMinute: 60_000,
      burst: 10_000,
      tokensPerMinute: 10_000_000,
      dailyBudgetUsd: budget / 1e9,
    },
  },
  prices: { metered: { inputPerMillion: IN / 1000, outputPerMillion: OUT / 1000 } },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 1000 },
  auth: { cacheTtlSeconds: 30, failuresPerMinutePerAddress: 1000 },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['redis', 'cluster'] as const)('a budget under 50 parallel streams on %s', (kind) => {
  let f: Fixture;
  let edge: Edge;
  let url: string;
  let redis: Redis | Cluster;
  beforeAll(async () => {
    const node = inject('redisClusterNodes')[0];
    f = await startFixture({
      config,
      ...(kind === 'redis' ? { redisUrl: inject('redisUrl') } : { redisCluster: node }),
      upstreamTimeoutMs: 10_000,
    });
    redis =
      kind === 'redis' ? new Redis(inject('redisUrl')) : new Cluster(inject('redisClusterNodes'));
    let served = 0;
    f.upstream.script = async (_req, res) => {
      // Usage below the reservation, as a real model's: the prompt as estimated at most, the
      // completion anywhere up to its cap.
      const completion = 40 + ((served++ * 7) % (MAX_TOKENS - 39));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 3; i++) {
        res.write(`data: {"choices":[{"index":0,"delta":{"content":"chunk ${i}"}}]}\n\n`);
        await sleep(100);
      }
      const usage = {
        prompt_tokens: promptEstimate,
        completion_tokens: completion,
        total_tokens: promptEstimate + completion,
      };
      res.end(`data: {"choices":[],"usage":${JSON.stringify(usage)}}\n\ndata: [DONE]\n\n`);
    };
    edge = createEdge({ gateway: f.gateway, shutdownGraceMs: 5_000 });
    url = await edge.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await edge?.shutdown();
    await f?.close();
    redis?.disconnect();
  });

  it('spends at most the budget plus one reservation, and refuses the rest with 429 insufficient_quota', async () => {
    const { key, keyId } = await f.newKey('capped');
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        const response = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { ...bearer(key), 'content-type': 'application/json' },
          body,
        });
        return { status: response.status, headers: response.headers, text: await response.text() };
      }),
    );

    let spent = 0;
    const admitted = answers.filter((a) => a.status === 200);
    for (const answer of admitted) {
      expect(answer.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const line = answer.text.split('\n').find((l) => l.includes('"usage"')) ?? '';
      const { usage } = JSON.parse(line.slice(6)) as {
        usage: { prompt_tokens: number; completion_tokens: number };
      };
      spent += usage.prompt_tokens * IN + usage.completion_tokens * OUT;
    }
    for (const refused of answers.filter((a) => a.status !== 200)) {
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.text)).toMatchObject({
        error: { type: 'insufficient_quota', code: 'insufficient_quota' },
      });
      expect(refused.headers.get('x-should-retry')).toBe('false');
    }
    expect(admitted.length).toBeGreaterThanOrEqual(WORTH);
    expect(admitted.length).toBeLessThan(PARALLEL);
    expect(spent, `${admitted.length} admitted`).toBeLessThanOrEqual(budget + reservation);

    // The limiter's books agree with what the clients were told, to the nano-dollar: the
    // key's spend today (every reservation given back) and its usage ledger.
    const state = await redis.getBuffer(`axon:rl:{${keyId}}`);
    expect(state?.length).toBe(80);
    expect(state?.readDoubleLE(56)).toBe(spent);
    const ledger = await redis.hgetall(
      `axon:rl:{${keyId}}:u:${Math.floor(Date.now() / 3_600_000)}`,
    );
    expect(Number(ledger['cost:metered'])).toBe(spent);
    expect(Number(ledger['req:metered'])).toBe(admitted.length);
  });
});
