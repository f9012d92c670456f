/**
 * The usage ledger end to end (issue 20): a load of mixed models and keys, streamed through the
 * container edge and buffered through the Lambda edge's path, over the real gateway core and a
 * real Redis; then the exporter writes the ledger to a Usage table on dynalite. What the table
 * holds must equal, to the token and the nano-dollar, the sum of the `usage` fields the clients
 * received, including when the exporter is SIGKILLed mid-run and started again, and when the
 * limiter's primary fails over (manually, CLUSTER FAILOVER on its replica) in the middle of
 * the load.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { exportUsage } from '../../lambda/usage-export/export.ts';
import { HOUR_MS } from '../../lambda/usage-export/ledger.ts';
import { keyIdsOf } from '../../lambda/usage-export/usage-table.ts';
import { REPO_ROOT } from '../../lib/paths.ts';
import { createEdge, type Edge } from '../../services/gateway-edge/src/edge.ts';
import {
  bearer,
  type Fixture,
  type FixtureOptions,
  request,
  startFixture,
} from '../lambda/gateway/support.ts';
import { exported, freshUsageTable } from '../lambda/usage-export/support.ts';
import { poll } from '../support/poll.ts';
import { RedisCluster } from '../support/redis.ts';

/** Nano-dollars per token by ledger model; `gamma` is unpriced, so `other` at the dearest. */
const PRICES = { alpha: { in: 1000, out: 2000 }, beta: { in: 3000, out: 15_000 } } as const;
const OTHER = { in: 3000, out: 15_000 };
const MODELS = ['alpha', 'beta', 'gamma'] as const;
const ledgerModel = (model: string) => (model in PRICES ? model : 'other');

const config = parseConfig({
  plans: { open: { requestsPerMinute: 600_000, burst: 100_000, tokensPerMinute: 100_000_000 } },
  prices: {
    alpha: { inputPerMillion: 1, outputPerMillion: 2 },
    beta: { inputPerMillion: 3, outputPerMillion: 15 },
  },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 1000 },
  auth: { cacheTtlSeconds: 300, failuresPerMinutePerAddress: 100_000 },
});

type Totals = Record<
  'requests' | 'inputTokens' | 'outputTokens' | 'cachedTokens' | 'costNanoUsd',
  bigint
>;
const zero = (): Totals => ({
  requests: 0n,
  inputTokens: 0n,
  outputTokens: 0n,
  cachedTokens: 0n,
  costNanoUsd: 0n,
});

/** The session manager's stand-in: each answer's usage differs, in JSON or as a stream. */
function scriptUpstream(f: Fixture): void {
  let n = 0;
  f.upstream.script = async (req, res) => {
    const { stream } = JSON.parse(req.body) as { stream?: boolean };
    const i = n++;
    const usage = {
      prompt_tokens: 10 + (i % 17),
      completion_tokens: 5 + ((i * 7) % 23),
      total_tokens: 10 + (i % 17) + 5 + ((i * 7) % 23),
      prompt_tokens_details: { cached_tokens: i % 3 === 0 ? 4 : 0 },
    };
    if (!stream) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ object: 'chat.completion', choices: [], usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n');
    await new Promise((r) => setTimeout(r, 5));
    res.end(`data: {"choices":[],"usage":${JSON.stringify(usage)}}\n\ndata: [DONE]\n\n`);
  };
}

/**
 * `count` requests over `keys`, `parallel` at a time, half streamed through the edge and half
 * buffered; returns what the clients were told, summed per key and ledger model.
 */
async function load(
  f: Fixture,
  edgeUrl: string,
  keys: { key: string; keyId: string }[],
  count: number,
  parallel = 16,
  during?: (done: number) => Promise<void>,
): Promise<Map<string, Totals>> {
  const told = new Map<string, Totals>();
  let next = 0;
  let done = 0;
  const one = async (i: number) => {
    const { key, keyId } = keys[i % keys.length] as { key: string; keyId: string };
    // Every key asks for every model, in turn.
    const model = MODELS[Math.floor(i / keys.length) % MODELS.length] as string;
    const stream = i % 2 === 0;
    const body = JSON.stringify({ model, stream, messages: [{ role: 'user', content: `q${i}` }] });
    const headers = { ...bearer(key), 'content-type': 'application/json' };
    let status: number;
    let text: string;
    if (stream) {
      const response = await fetch(`${edgeUrl}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body,
      });
      status = response.status;
      text = await response.text();
    } else {
      const response = await f.gateway.handle(
        request('POST', '/v1/chat/completions', headers, body),
      );
      status = response.status;
      text = response.body.toString();
    }
    expect(status, text).toBe(200);
    const line = stream
      ? (text.split('\n').find((l) => l.includes('"usage"')) ?? '').slice(6)
      : text;
    const { usage } = JSON.parse(line) as {
      usage: {
        prompt_tokens: number;
        completion_tokens: number;
        prompt_tokens_details: { cached_tokens: number };
      };
    };
    const booked = ledgerModel(model);
    const price = PRICES[booked as keyof typeof PRICES] ?? OTHER;
    const totals = told.get(`${keyId} ${booked}`) ?? zero();
    totals.requests += 1n;
    totals.inputTokens += BigInt(usage.prompt_tokens);
    totals.outputTokens += BigInt(usage.completion_tokens);
    totals.cachedTokens += BigInt(usage.prompt_tokens_details.cached_tokens);
    totals.costNanoUsd += BigInt(
      usage.prompt_tokens * price.in + usage.completion_tokens * price.out,
    );
    told.set(`${keyId} ${booked}`, totals);
    done++;
  };
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        await one(i);
        if (during) await during(done);
      }
    }),
  );
  return told;
}

/** The exported items summed over hours, per key and model, as `load` sums what clients saw. */
async function exportedTotals(usage: Awaited<ReturnType<typeof freshUsageTable>>) {
  const sums = new Map<string, Totals>();
  for (const [id, item] of await exported(usage.client, usage.table.tableName)) {
    const [keyId, hourModel = ''] = id.split(' ');
    const key = `${keyId} ${hourModel.slice(hourModel.indexOf('#') + 1)}`;
    const totals = sums.get(key) ?? zero();
    for (const measure of Object.keys(totals) as (keyof Totals)[]) {
      totals[measure] += item[measure] ?? 0n;
    }
    sums.set(key, totals);
  }
  return sums;
}

/** The gateway on a scripted session manager, behind a container edge of its own. */
async function startScriptedEdge(
  redis: Pick<FixtureOptions, 'redisUrl' | 'redisCluster'>,
): Promise<{ f: Fixture; edge: Edge; url: string }> {
  const f = await startFixture({ ...redis, config, upstreamTimeoutMs: 10_000 });
  scriptUpstream(f);
  const edge = createEdge({ gateway: f.gateway, shutdownGraceMs: 5_000 });
  return { f, edge, url: await edge.listen(0, '127.0.0.1') };
}

function runExporterProcess(env: Record<string, string>, options: object): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', 'test/lambda/usage-export/run-exporter.ts', JSON.stringify(options)],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
      stdio: 'pipe',
    },
  );
}

describe('the usage ledger, exported', () => {
  let f: Fixture;
  let edge: Edge;
  let url: string;
  beforeAll(async () => {
    ({ f, edge, url } = await startScriptedEdge({ redisUrl: inject('redisUrl') }));
  });
  afterAll(async () => {
    await edge?.shutdown();
    await f?.close();
  });

  it('equals what the clients were told, to the token, with the exporter killed mid-run and restarted', async () => {
    const fromHour = Math.floor(Date.now() / HOUR_MS);
    const keys = await Promise.all(Array.from({ length: 30 }, () => f.newKey('open')));
    const told = await load(f, url, keys, 600);
    const usage = await freshUsageTable(f.dynalite.endpoint);
    const now = Date.now() + 2 * HOUR_MS;
    const env = {
      AXON_USAGE_TABLE: usage.table.tableName,
      AXON_KEYS_TABLE: f.table.tableName,
      AXON_DYNAMODB_ENDPOINT: f.dynalite.endpoint,
      AXON_REDIS_URL: inject('redisUrl'),
    };

    // Killed as soon as it has written something, long before it has written everything.
    const child = runExporterProcess(env, { now, fromHour, concurrency: 1 });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    const firstWrites = await poll(
      async () => (await exported(usage.client, usage.table.tableName)).size,
      (n) => n > 0,
      30_000,
    );
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const afterKill = (await exported(usage.client, usage.table.tableName)).size;
    expect(firstWrites).toBeGreaterThan(0);
    expect(afterKill, 'the kill came before the run was over').toBeLessThan(told.size);

    // Started again (in this process), it finishes the hour: nothing lost, nothing twice.
    const report = await exportUsage(
      {
        redis: (f.redis as NonNullable<Fixture['redis']>).client,
        sink: usage.table,
        keyIds: () => keyIdsOf(usage.client, f.table.tableName),
      },
      { now, fromHour },
    );
    // It writes exactly what the killed run had not; a hash the killed run wrote but had not
    // deleted yet is read again and refused by the table as already there.
    expect(report.written).toBe(told.size - afterKill);
    expect(await exportedTotals(usage)).toEqual(told);
  });
});

describe('the usage ledger through a failover of the limiter primary', () => {
  let cluster: RedisCluster;
  let f: Fixture;
  let edge: Edge;
  let url: string;
  beforeAll(async () => {
    cluster = await RedisCluster.start(3, { replicas: 1 });
    ({ f, edge, url } = await startScriptedEdge({ redisCluster: cluster.nodes[0] }));
  });
  afterAll(async () => {
    await edge?.shutdown();
    await f?.close();
    await cluster?.stop();
  });

  it('loses nothing to a manual failover in the middle of the load', async () => {
    const fromHour = Math.floor(Date.now() / HOUR_MS);
    const keys = await Promise.all(Array.from({ length: 12 }, () => f.newKey('open')));
    const slots = await Promise.all(keys.map((k) => cluster.slotOf(`axon:rl:{${k.keyId}}`)));
    let failedOver: Promise<unknown> | undefined;
    const told = await load(f, url, keys, 400, 16, async (done) => {
      // Once, a third of the way in: every master that holds one of the keys hands over.
      if (done < 130 || failedOver) return;
      failedOver = (async () => {
        const owners = await Promise.all(slots.map((s) => cluster.ownerOf(s)));
        const oneSlotEach = new Map(owners.map((owner, i) => [owner, slots[i] as number]));
        for (const slot of oneSlotEach.values()) await cluster.failover(slot);
      })();
    });
    await failedOver;
    const usage = await freshUsageTable(f.dynalite.endpoint);
    await exportUsage(
      {
        redis: (f.redis as NonNullable<Fixture['redis']>).client,
        sink: usage.table,
        keyIds: () => keyIdsOf(usage.client, f.table.tableName),
      },
      { now: Date.now() + 2 * HOUR_MS, fromHour },
    );
    expect(await exportedTotals(usage)).toEqual(told);
  });
});
