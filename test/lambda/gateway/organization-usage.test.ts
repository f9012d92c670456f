/**
 * The admin API's usage and costs routes through both edges over real HTTP, read from a real
 * Usage table (dynalite) written by the usage exporter's own code (`UsageTable.put`), driven with
 * the `openai` SDK's admin client, and every answer validated against OpenAI's published schema
 * for the route (openai-schemas.ts).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createAdminKey } from '#authorizer/admin';
import { createDynamoClient } from '#authorizer/key-store';
import { DynamoUsageSource } from '#gateway/usage-api';
import { parseConfig } from '#shared/config';
import type { UsageRecord } from '../../../lambda/usage-export/ledger.ts';
import {
  createUsageTable,
  keyIdsOf,
  UsageTable,
} from '../../../lambda/usage-export/usage-table.ts';
import { type RunningEdge, startEdges } from './edges.ts';
import { extraProperties, routeErrors } from './openai-schemas.ts';
import { type Fixture, startFixture } from './support.ts';

const config = parseConfig({
  plans: { free: { requestsPerMinute: 600, burst: 100 } },
  auth: { cacheTtlSeconds: 30, failuresPerMinutePerAddress: 1000 },
});

/** Monday 2026-01-05 00:00 UTC, in Unix seconds, and hours since the epoch. */
const BASE = Date.UTC(2026, 0, 5) / 1000;
const HOUR = BASE / 3600;
const DAY = 86_400;

let f: Fixture;
let edges: RunningEdge[];
let close: () => Promise<void>;
let a: string;
let b: string;
let adminKey: string;

function record(keyId: string, hour: number, model: string, n: number[]): UsageRecord {
  const [requests, inputTokens, outputTokens, cachedTokens, costNanoUsd] = n.map(String);
  return {
    keyId,
    hour,
    model,
    requests: requests ?? '0',
    inputTokens: inputTokens ?? '0',
    outputTokens: outputTokens ?? '0',
    cachedTokens: cachedTokens ?? '0',
    costNanoUsd: costNanoUsd ?? '0',
  };
}

beforeAll(async () => {
  // The fixture needs its usage source before it starts; its key table comes with it.
  let source: DynamoUsageSource | undefined;
  const usage = {
    read: (query: Parameters<DynamoUsageSource['read']>[0]) =>
      source?.read(query) ?? Promise.resolve([]),
  };
  f = await startFixture({ redisUrl: inject('redisUrl'), config, usage });
  const client = createDynamoClient({ endpoint: f.dynalite.endpoint, maxAttempts: 1 });
  await createUsageTable(client, 'usage-test');
  source = new DynamoUsageSource({
    client,
    usageTable: 'usage-test',
    keyIds: () => keyIdsOf(client, f.table.tableName),
  });
  ({ edges, close } = await startEdges(f.gateway));
  a = (await f.newKey()).keyId;
  b = (await f.newKey()).keyId;
  // As the exporter writes them: one item per key, hour and model, exact totals.
  const table = new UsageTable(client, 'usage-test');
  for (const item of [
    record(a, HOUR + 1, 'small', [2, 100, 50, 10, 1_500_000_000]),
    record(a, HOUR + 2, 'other', [1, 10, 5, 0, 0]),
    record(b, HOUR + 25, 'small', [5, 500, 100, 0, 250_000_000]),
    record(a, HOUR + 26, 'small', [1, 40, 20, 40, 100_000_000]),
    // Outside every range asked below.
    record(a, HOUR - 1, 'small', [9, 9, 9, 0, 9]),
  ]) {
    expect(await table.put(item)).toBe(true);
  }
});
// Each test its own admin key: an admin key's requests have a bucket of their own (burst 30).
beforeEach(async () => {
  adminKey = (await createAdminKey(f.table.client, f.table.tableName)).key;
});
afterAll(async () => {
  await close?.();
  await f?.close();
});

interface Result extends Record<string, unknown> {
  api_key_id?: string | null;
  project_id?: string | null;
}
interface Page extends Record<string, unknown> {
  data: { start_time: number; results: Result[] }[];
  next_page: string | null;
  error?: Record<string, unknown>;
}

async function get(url: string, path: string, key = adminKey) {
  const response = await fetch(`${url}/v1/organization${path}`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { status: response.status, body: (await response.json()) as Page };
}

const completion = (fields: Record<string, unknown>) => ({
  object: 'organization.usage.completions.result',
  project_id: null,
  user_id: null,
  api_key_id: null,
  model: null,
  batch: null,
  service_tier: null,
  ...fields,
});

describe.each(['lambda', 'container'] as const)('usage and costs on the %s edge', (name) => {
  const url = () => edges.find((edge) => edge.name === name)?.url ?? '';
  const sdk = () => new OpenAI({ baseURL: `${url()}/v1`, adminAPIKey: adminKey, maxRetries: 0 });
  const range = `start_time=${BASE}&end_time=${BASE + 3 * DAY}`;

  it('answers usage an admin key only: a model key gets 403, no key 401', async () => {
    const { key: modelKey } = await f.newKey();
    expect((await get(url(), `/usage/completions?${range}`)).status).toBe(200);
    expect((await get(url(), `/costs?${range}`)).status).toBe(200);
    for (const path of [`/usage/completions?${range}`, `/costs?${range}`]) {
      const refused = await get(url(), path, modelKey);
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'insufficient_permissions' });
      expect((await get(url(), path, '')).status).toBe(401);
    }
  });

  it('sums usage into daily buckets in OpenAI’s shape, empty buckets included', async () => {
    const answer = await get(url(), `/usage/completions?${range}`);
    expect(routeErrors('GET /organization/usage/completions', answer.body)).toEqual([]);
    expect(answer.body).toEqual({
      object: 'page',
      has_more: false,
      next_page: null,
      data: [
        {
          object: 'bucket',
          start_time: BASE,
          end_time: BASE + DAY,
          results: [
            completion({
              input_tokens: 110,
              output_tokens: 55,
              input_cached_tokens: 10,
              input_uncached_tokens: 100,
              input_text_tokens: 100,
              output_text_tokens: 55,
              input_cached_text_tokens: 10,
              num_model_requests: 3,
            }),
          ],
        },
        {
          object: 'bucket',
          start_time: BASE + DAY,
          end_time: BASE + 2 * DAY,
          results: [
            completion({
              input_tokens: 540,
              output_tokens: 120,
              input_cached_tokens: 40,
              input_uncached_tokens: 500,
              input_text_tokens: 500,
              output_text_tokens: 120,
              input_cached_text_tokens: 40,
              num_model_requests: 6,
            }),
          ],
        },
        { object: 'bucket', start_time: BASE + 2 * DAY, end_time: BASE + 3 * DAY, results: [] },
      ],
    });
    for (const bucket of answer.body.data) {
      for (const result of bucket.results) {
        expect(extraProperties('UsageCompletionsResult', result)).toEqual([]);
      }
    }
  });

  it('groups by model and api_key_id through the SDK, and filters by key and model', async () => {
    const usage = await sdk().admin.organization.usage.completions({
      start_time: BASE,
      end_time: BASE + 2 * DAY,
      group_by: ['model', 'api_key_id'],
    });
    const flat = usage.data.flatMap((bucket) =>
      bucket.results.map((r) => {
        const result = r as { api_key_id: string; model: string; num_model_requests: number };
        return [bucket.start_time, result.api_key_id, result.model, result.num_model_requests];
      }),
    );
    expect(flat).toEqual(
      [
        [BASE, a, 'other', 1],
        [BASE, a, 'small', 2],
        [BASE + DAY, a, 'small', 1],
        [BASE + DAY, b, 'small', 5],
      ].sort(
        // The route orders groups by key id, then model, in code-unit order (not the locale's:
        // `key_T…` comes before `key_o…`).
        (x, y) =>
          (x[0] as number) - (y[0] as number) ||
          codeUnitOrder(String(x[1]), String(y[1])) ||
          codeUnitOrder(String(x[2]), String(y[2])),
      ),
    );

    const onlyB = await get(
      url(),
      `/usage/completions?${range}&api_key_ids[]=${b}&group_by[]=api_key_id`,
    );
    expect(routeErrors('GET /organization/usage/completions', onlyB.body)).toEqual([]);
    expect(onlyB.body.data.flatMap((bucket) => bucket.results.map((r) => r.api_key_id))).toEqual([
      b,
    ]);
    const other = await get(url(), `/usage/completions?${range}&models=other&group_by=model`);
    expect(other.body.data[0]?.results).toEqual([
      completion({
        model: 'other',
        input_tokens: 10,
        output_tokens: 5,
        input_cached_tokens: 0,
        input_uncached_tokens: 10,
        input_text_tokens: 10,
        output_text_tokens: 5,
        input_cached_text_tokens: 0,
        num_model_requests: 1,
      }),
    ]);
    const elsewhere = await get(url(), `/usage/completions?${range}&project_ids[]=proj_abc`);
    expect(elsewhere.body.data.every((bucket) => bucket.results.length === 0)).toBe(true);
    const project = await get(url(), `/usage/completions?${range}&group_by[]=project_id`);
    expect(project.body.data[0]?.results[0]?.project_id).toBe('default');
  });

  it('pages hourly buckets with next_page, as the SDK reads them', async () => {
    const client = sdk();
    const first = await client.admin.organization.usage.completions({
      start_time: BASE + 1800, // rounded down to its hour
      end_time: BASE + 5 * 3600,
      bucket_width: '1h',
      limit: 2,
    });
    expect(first.data.map((bucket) => bucket.start_time)).toEqual([BASE, BASE + 3600]);
    expect(first.has_more).toBe(true);
    expect(first.next_page).toMatch(/^page_/);
    expect(first.data[1]?.results).toHaveLength(1);
    const second = await client.admin.organization.usage.completions({
      start_time: BASE + 1800,
      end_time: BASE + 5 * 3600,
      bucket_width: '1h',
      limit: 2,
      page: first.next_page as string,
    });
    expect(second.data.map((bucket) => bucket.start_time)).toEqual([BASE + 7200, BASE + 10_800]);
    expect(second.data[0]?.results[0]).toMatchObject({ num_model_requests: 1 });
    const last = await get(
      url(),
      `/usage/completions?start_time=${BASE + 1800}&end_time=${BASE + 5 * 3600}&bucket_width=1h&limit=2&page=${second.next_page}`,
    );
    expect(last.body).toMatchObject({ has_more: false, next_page: null });
    expect(last.body.data.map((bucket) => bucket.start_time)).toEqual([BASE + 14_400]);
  });

  it('answers costs in OpenAI’s shape: per day, per key, per line item (the model)', async () => {
    const daily = await get(url(), `/costs?${range}`);
    expect(routeErrors('GET /organization/costs', daily.body)).toEqual([]);
    expect(daily.body.data.map((bucket) => bucket.results)).toEqual([
      [
        {
          object: 'organization.costs.result',
          amount: { value: 1.5, currency: 'usd' },
          line_item: null,
          project_id: null,
          api_key_id: null,
          quantity: null,
          quantity_unit: null,
        },
      ],
      [
        {
          object: 'organization.costs.result',
          amount: { value: 0.35, currency: 'usd' },
          line_item: null,
          project_id: null,
          api_key_id: null,
          quantity: null,
          quantity_unit: null,
        },
      ],
      [],
    ]);
    const costs = await sdk().admin.organization.usage.costs({
      start_time: BASE,
      end_time: BASE + DAY,
      group_by: ['line_item', 'api_key_id'],
    });
    expect(costs.data[0]?.results).toEqual([
      expect.objectContaining({
        api_key_id: a,
        line_item: 'other',
        amount: { value: 0, currency: 'usd' },
        quantity: 15,
        quantity_unit: 'tokens',
      }),
      expect.objectContaining({
        api_key_id: a,
        line_item: 'small',
        amount: { value: 1.5, currency: 'usd' },
        quantity: 150,
        quantity_unit: 'tokens',
      }),
    ]);
    const raw = await get(
      url(),
      `/costs?start_time=${BASE}&end_time=${BASE + DAY}&group_by[]=line_item&group_by[]=api_key_id`,
    );
    expect(routeErrors('GET /organization/costs', raw.body)).toEqual([]);
    expect(extraProperties('CostsResult', raw.body.data[0]?.results[0] ?? {})).toEqual([]);
  });

  it('names the parameter of every mistake', async () => {
    const cases: [string, RegExp][] = [
      ['/usage/completions', /Missing required parameter: start_time/],
      [
        `/usage/completions?start_time=${BASE}&bucket_width=1m`,
        /bucket_width must be 1h or 1d here/,
      ],
      [
        `/usage/completions?start_time=${BASE}&bucket_width=1w`,
        /bucket_width must be one of 1m, 1h, 1d/,
      ],
      [
        `/usage/completions?start_time=${BASE}&group_by[]=user_id`,
        /group_by=user_id is not available here/,
      ],
      [`/usage/completions?start_time=${BASE}&group_by[]=colour`, /group_by must name fields from/],
      [`/usage/completions?start_time=${BASE}&user_ids[]=u`, /user_ids is not available here/],
      [
        `/usage/completions?start_time=${BASE}&limit=32`,
        /limit must be a whole number from 1 to 31/,
      ],
      [
        `/usage/completions?start_time=${BASE}&bucket_width=1h&limit=169`,
        /limit must be a whole number from 1 to 168/,
      ],
      [
        `/usage/completions?start_time=${BASE}&end_time=${BASE}`,
        /end_time must be after start_time/,
      ],
      [`/usage/completions?start_time=${BASE}&page=page_bm9wZQ`, /page must be the next_page/],
      [`/costs?start_time=${BASE}&bucket_width=1h`, /bucket_width must be one of 1d/],
      [
        `/costs?start_time=${BASE}&group_by[]=model`,
        /group_by must name fields from project_id, line_item, api_key_id/,
      ],
      [`/costs?start_time=${BASE}&limit=181`, /limit must be a whole number from 1 to 180/],
      ['/costs?start_time=soon', /start_time must be a whole number/],
    ];
    for (const [path, message] of cases) {
      const answer = await get(url(), path);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error, path).toMatchObject({
        type: 'invalid_request_error',
        message: expect.stringMatching(message),
      });
    }
  });
});

function codeUnitOrder(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
