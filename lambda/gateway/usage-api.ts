/**
 * OpenAI's Usage API for the admin API (docs/api.md#usage-and-costs):
 * `GET /v1/organization/usage/completions` and `GET /v1/organization/costs`, answered from the
 * durable usage records: the Usage table the usage exporter fills from the limiter's hourly
 * ledger (lambda/usage-export), one item per key, UTC hour and model. The shapes are OpenAI's
 * (`UsageResponse` of `UsageTimeBucket`s of `UsageCompletionsResult` or `CostsResult`).
 *
 * The ledger keeps hours, so buckets are whole UTC hours or days (`start_time` is rounded down to
 * the bucket width) and `bucket_width=1m` is refused. With the limiter's Redis at hand the hours
 * the exporter has not reached yet, the current one included, are read from the ledger itself
 * (live-usage.ts); without it only exported hours show.
 */
import { type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { AxonError, InvalidRequestError } from '@axon/runtime/errors';
import { USAGE_TABLE } from '#shared/names';
import { PROJECT_ID } from './admin-api.ts';
import { integer, list, oneOf } from './query.ts';

const HOUR_S = 3600;
const DAY_S = 86_400;

/** One (key, UTC hour, model) of the usage ledger, as the exporter wrote it. */
export interface UsageRow {
  readonly keyId: string;
  /** Hours since the epoch (the ledger's own numbering). */
  readonly hour: number;
  readonly model: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Part of `inputTokens`. */
  readonly cachedTokens: number;
  readonly costNanoUsd: number;
}

export interface UsageQuery {
  /** First hour wanted (hours since the epoch). */
  readonly fromHour: number;
  /** First hour not wanted. */
  readonly toHour: number;
  /** Only these keys; absent: every key. */
  readonly keyIds?: readonly string[];
}

/** Where usage is read from: the narrow interface the routes and the CLI need. */
export interface UsageSource {
  read(query: UsageQuery): Promise<UsageRow[]>;
}

/** Usage kept in memory: tests, and anything that already holds rows. */
export class MemoryUsageSource implements UsageSource {
  constructor(readonly rows: UsageRow[] = []) {}

  add(...rows: UsageRow[]): this {
    this.rows.push(...rows);
    return this;
  }

  async read(query: UsageQuery): Promise<UsageRow[]> {
    return this.rows.filter(
      (row) =>
        row.hour >= query.fromHour &&
        row.hour < query.toHour &&
        (query.keyIds === undefined || query.keyIds.includes(row.keyId)),
    );
  }
}

/** The ISO-8601 hour the Usage table's sort key starts with: `2026-11-30T08`. */
export function isoHour(hour: number): string {
  return new Date(hour * HOUR_S * 1000).toISOString().slice(0, 13);
}

export interface DynamoUsageSourceOptions {
  /** A low-level client: the table's numbers are read as the exact decimal strings stored. */
  readonly client: Pick<DynamoDBClient, 'send'>;
  readonly usageTable: string;
  /** Where every key id comes from when a query names none. */
  readonly keyIds: () => AsyncIterable<string> | Iterable<string>;
  /** Queries in flight at once. @default 8 */
  readonly concurrency?: number;
}

/**
 * The Usage table: one Query per key for the hours wanted (its sort key is `<ISO hour>#<model>`,
 * so a range of hours is one key condition). Every key when the query names none, from the key
 * table: the admin path only, never a model request's.
 */
export class DynamoUsageSource implements UsageSource {
  constructor(private readonly options: DynamoUsageSourceOptions) {}

  async read(query: UsageQuery): Promise<UsageRow[]> {
    const keyIds = query.keyIds ?? (await distinct(this.options.keyIds()));
    const rows: UsageRow[] = [];
    await eachAtMost(keyIds, this.options.concurrency ?? 8, async (keyId) => {
      rows.push(...(await this.readKey(keyId, query)));
    });
    return rows;
  }

  private async readKey(keyId: string, query: UsageQuery): Promise<UsageRow[]> {
    const { partitionKey: PK, sortKey: SK } = USAGE_TABLE;
    const rows: UsageRow[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.usageTable,
          KeyConditionExpression: '#pk = :key AND #sk BETWEEN :first AND :last',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: {
            ':key': { S: keyId },
            ':first': { S: isoHour(query.fromHour) },
            // Every model of the last hour wanted: `#` and any name sort below U+FFFF.
            ':last': { S: `${isoHour(query.toHour - 1)}#\uffff` },
          },
          ...(start && { ExclusiveStartKey: start as never }),
        }),
      );
      for (const item of page.Items ?? []) {
        const hour = Date.parse(`${item.hour?.S}:00:00Z`) / (HOUR_S * 1000);
        const number = (name: string) => Number(item[name]?.N ?? '0');
        if (!Number.isInteger(hour) || item.model?.S === undefined) continue;
        rows.push({
          keyId,
          hour,
          model: item.model.S,
          requests: number('requests'),
          inputTokens: number('inputTokens'),
          outputTokens: number('outputTokens'),
          cachedTokens: number('cachedTokens'),
          costNanoUsd: number('costNanoUsd'),
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return rows;
  }
}

/** 503: this gateway was given no usage source (no Usage table on the stage, or locally). */
export class UsageUnavailableError extends AxonError {
  constructor() {
    super(
      503,
      'api_error',
      'usage_unavailable',
      'Usage is not available here: this gateway has no usage table (AXON_USAGE_TABLE).',
      { 'retry-after': '1' },
    );
  }
}

// --- the two routes -----------------------------------------------------------------------------

type Width = '1h' | '1d';
const WIDTH_S: Record<Width, number> = { '1h': HOUR_S, '1d': DAY_S };

/** What both routes ask: the buckets, their filters and groups. */
interface BucketQuery {
  readonly widthS: number;
  /** The first bucket's start (Unix seconds, a multiple of the width). */
  readonly firstS: number;
  /** Buckets start before this (Unix seconds). */
  readonly endS: number;
  readonly limit: number;
  readonly keyIds: readonly string[] | undefined;
  readonly models: readonly string[] | undefined;
  /** `project_ids` that exclude `default`, or `batch=true`: nothing matches. */
  readonly none: boolean;
}

const USAGE_GROUPS = ['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier'];
const COST_GROUPS = ['project_id', 'line_item', 'api_key_id'];
/** What Axon can group by: it knows keys and models, has one project and no users or batches. */
const SUPPORTED_USAGE_GROUPS = ['project_id', 'api_key_id', 'model'];

export interface UsageApiOptions {
  readonly source?: UsageSource;
  readonly now?: () => Date;
}

export class UsageApi {
  readonly #source: UsageSource | undefined;
  readonly #now: () => Date;

  constructor(options: UsageApiOptions) {
    this.#source = options.source;
    this.#now = options.now ?? (() => new Date());
  }

  /** `GET /v1/organization/usage/completions`. */
  async completions(query: URLSearchParams) {
    rejectUnsupported(query, ['user_ids']);
    const width = oneOf(query, 'bucket_width', ['1m', '1h', '1d'] as const, '1d');
    if (width === '1m') {
      throw new InvalidRequestError(
        'invalid_value',
        'bucket_width must be 1h or 1d here: the usage ledger keeps whole hours, not minutes.',
      );
    }
    const groups = groupBy(query, USAGE_GROUPS, SUPPORTED_USAGE_GROUPS);
    const buckets = this.#buckets(query, width, width === '1d' ? [7, 31] : [24, 168]);
    const byKey = groups.includes('api_key_id');
    const byModel = groups.includes('model');
    return this.#answer(buckets, async (rows) =>
      groupRows(rows, byKey, byModel).map(([group, totals]) => ({
        object: 'organization.usage.completions.result',
        input_tokens: totals.inputTokens,
        output_tokens: totals.outputTokens,
        input_cached_tokens: totals.cachedTokens,
        input_uncached_tokens: totals.inputTokens - totals.cachedTokens,
        // Axon serves text: every token is a text token.
        input_text_tokens: totals.inputTokens - totals.cachedTokens,
        output_text_tokens: totals.outputTokens,
        input_cached_text_tokens: totals.cachedTokens,
        num_model_requests: totals.requests,
        project_id: groups.includes('project_id') ? PROJECT_ID : null,
        user_id: null,
        api_key_id: group.api_key_id ?? null,
        model: group.model ?? null,
        batch: null,
        service_tier: null,
      })),
    );
  }

  /** `GET /v1/organization/costs`. Line items are the ledger's models. */
  async costs(query: URLSearchParams) {
    oneOf(query, 'bucket_width', ['1d'] as const, '1d');
    const groups = groupBy(query, COST_GROUPS, COST_GROUPS);
    const buckets = this.#buckets(query, '1d', [7, 180]);
    const byKey = groups.includes('api_key_id');
    const byItem = groups.includes('line_item');
    return this.#answer(buckets, async (rows) =>
      groupRows(rows, byKey, byItem).map(([group, totals]) => ({
        object: 'organization.costs.result',
        amount: { value: usd(totals.costNanoUsd), currency: 'usd' },
        line_item: group.model ?? null,
        project_id: groups.includes('project_id') ? PROJECT_ID : null,
        api_key_id: group.api_key_id ?? null,
        quantity: byItem ? totals.inputTokens + totals.outputTokens : null,
        quantity_unit: byItem ? 'tokens' : null,
      })),
    );
  }

  #buckets(query: URLSearchParams, width: Width, [fallback, max]: [number, number]): BucketQuery {
    const widthS = WIDTH_S[width];
    const nowS = Math.floor(this.#now().getTime() / 1000);
    const startTime = integer(query, 'start_time', 0, 1e11);
    if (startTime === undefined) {
      throw new InvalidRequestError(
        'missing_required_parameter',
        'Missing required parameter: start_time (Unix seconds, inclusive).',
      );
    }
    const endS = integer(query, 'end_time', 1, 1e11) ?? nowS;
    if (endS <= startTime) {
      throw new InvalidRequestError('invalid_value', 'end_time must be after start_time.');
    }
    let firstS = Math.floor(startTime / widthS) * widthS;
    const page = query.get('page');
    if (page !== null && page !== '') {
      const at = decodePage(page);
      if (at === undefined || at < firstS || at % widthS !== 0) {
        throw new InvalidRequestError(
          'invalid_value',
          'page must be the next_page of an earlier answer to the same query.',
        );
      }
      firstS = at;
    }
    const projects = list(query, 'project_ids');
    const batch = query.get('batch');
    const keyIds = list(query, 'api_key_ids');
    const models = list(query, 'models');
    return {
      widthS,
      firstS,
      endS,
      limit: integer(query, 'limit', 1, max) ?? fallback,
      keyIds: keyIds.length > 0 ? keyIds : undefined,
      models: models.length > 0 ? models : undefined,
      none: (projects.length > 0 && !projects.includes(PROJECT_ID)) || batch === 'true',
    };
  }

  /** The page of buckets, each with the results `summarize` makes of its rows. */
  async #answer(
    q: BucketQuery,
    summarize: (rows: UsageRow[]) => Promise<Record<string, unknown>[]>,
  ) {
    if (!this.#source) throw new UsageUnavailableError();
    const starts: number[] = [];
    for (let s = q.firstS; s < q.endS && starts.length < q.limit; s += q.widthS) starts.push(s);
    const next = q.firstS + starts.length * q.widthS;
    const hasMore = next < q.endS;
    const toS = Math.min(next, Math.ceil(q.endS / HOUR_S) * HOUR_S);
    const rows = q.none
      ? []
      : (
          await this.#source.read({
            fromHour: q.firstS / HOUR_S,
            toHour: Math.max(q.firstS / HOUR_S, toS / HOUR_S),
            ...(q.keyIds && { keyIds: q.keyIds }),
          })
        ).filter((row) => q.models === undefined || q.models.includes(row.model));
    const data = [];
    for (const startS of starts) {
      const inside = rows.filter(
        (row) => row.hour * HOUR_S >= startS && row.hour * HOUR_S < startS + q.widthS,
      );
      data.push({
        object: 'bucket',
        start_time: startS,
        end_time: startS + q.widthS,
        results: inside.length > 0 ? await summarize(inside) : [],
      });
    }
    return {
      object: 'page',
      data,
      has_more: hasMore,
      next_page: hasMore ? encodePage(next) : null,
    };
  }
}

// --- helpers ------------------------------------------------------------------------------------

/** Every id once, in the order first seen. */
export async function distinct(ids: AsyncIterable<string> | Iterable<string>): Promise<string[]> {
  const all = new Set<string>();
  for await (const id of ids) all.add(id);
  return [...all];
}

/** Runs `work` on every item, at most `concurrency` at a time. */
export async function eachAtMost<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export interface Totals {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  costNanoUsd: number;
}

/**
 * Sums rows per group: by key id, by model (a cost's line item), both, or all together. Groups
 * sort by key id, then model.
 */
export function groupRows(
  rows: readonly UsageRow[],
  byKey: boolean,
  byModel: boolean,
): [{ api_key_id?: string; model?: string }, Totals][] {
  const sums = new Map<string, [{ api_key_id?: string; model?: string }, Totals]>();
  for (const row of rows) {
    const group = {
      ...(byKey && { api_key_id: row.keyId }),
      ...(byModel && { model: row.model }),
    };
    const id = JSON.stringify([group.api_key_id ?? '', group.model ?? '']);
    let entry = sums.get(id);
    if (!entry) {
      entry = [
        group,
        { requests: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costNanoUsd: 0 },
      ];
      sums.set(id, entry);
    }
    const totals = entry[1];
    totals.requests += row.requests;
    totals.inputTokens += row.inputTokens;
    totals.outputTokens += row.outputTokens;
    totals.cachedTokens += row.cachedTokens;
    totals.costNanoUsd += row.costNanoUsd;
  }
  return [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, entry]) => entry);
}

/** Nano-dollars as USD, without binary noise past the ninth decimal. */
export function usd(nanoUsd: number): number {
  return Number((nanoUsd / 1e9).toFixed(9));
}

function groupBy(
  query: URLSearchParams,
  known: readonly string[],
  supported: readonly string[],
): string[] {
  const groups = list(query, 'group_by');
  for (const group of groups) {
    if (!known.includes(group)) {
      throw new InvalidRequestError(
        'invalid_value',
        `group_by must name fields from ${known.join(', ')}, got ${JSON.stringify(group.slice(0, 64))}.`,
      );
    }
    if (!supported.includes(group)) {
      throw new InvalidRequestError(
        'invalid_value',
        `group_by=${group} is not available here: Axon groups usage by ${supported.join(', ')}.`,
      );
    }
  }
  return groups;
}

function rejectUnsupported(query: URLSearchParams, names: readonly string[]): void {
  for (const name of names) {
    if (list(query, name).length > 0) {
      throw new InvalidRequestError(
        'invalid_value',
        `${name} is not available here: Axon has API keys, not users.`,
      );
    }
  }
}

const PAGE_PREFIX = 'page_';

function encodePage(startS: number): string {
  return PAGE_PREFIX + Buffer.from(String(startS)).toString('base64url');
}

function decodePage(page: string): number | undefined {
  if (!page.startsWith(PAGE_PREFIX)) return undefined;
  const text = Buffer.from(page.slice(PAGE_PREFIX.length), 'base64url').toString('utf8');
  return /^\d{1,11}$/.test(text) ? Number(text) : undefined;
}
