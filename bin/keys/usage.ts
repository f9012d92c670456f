/**
 * `npm run keys -- usage`: what keys used, per UTC day (or hour), key and model, read from the
 * Usage table the usage exporter fills (lambda/usage-export), with the same reader and sums as the
 * admin API's usage route (lambda/gateway/usage-api.ts). Against a deployed stage only hours the
 * exporter has written show (the limiter's Redis is inside the VPC; the admin route reads it);
 * against the local stack its Redis ledger is read too, so the current hour shows at once.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AdminError, parseDuration } from '#authorizer/admin';
import { type LedgerReader, usageSourceOf } from '#gateway/live-usage';
import { groupRows, type UsageRow, usd } from '#gateway/usage-api';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?Z?)?$/;

/** `--since`/`--until`: a UTC date or time (`2026-11-01`, `2026-11-01T08Z`), or `30d`/`12h` ago. */
export function parseWhen(text: string, flag: string, now: Date): Date {
  const trimmed = text.trim();
  if (DATE.test(trimmed)) {
    const iso = trimmed.length === 10 ? `${trimmed}T00:00:00Z` : trimmed.replace(/Z?$/, 'Z');
    const at = Date.parse(iso.length === 14 ? iso.replace('Z', ':00:00Z') : iso);
    if (!Number.isNaN(at)) return new Date(at);
  }
  try {
    return new Date(now.getTime() - parseDuration(trimmed, flag));
  } catch {
    throw new AdminError(
      `${flag} must be a UTC date such as 2026-11-01 or a duration ago such as 30d, 12h or 90m, got ${JSON.stringify(text)}`,
    );
  }
}

export interface UsageLine {
  /** The bucket's start: `2026-11-30` (days) or `2026-11-30T08` (hours), UTC. */
  readonly period: string;
  readonly keyId: string;
  readonly model: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly cachedTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
}

export interface UsageReport {
  readonly since: string;
  readonly until: string;
  readonly by: 'day' | 'hour';
  /** The limiter's ledger was read too: the hours not exported yet are in. */
  readonly live: boolean;
  readonly lines: UsageLine[];
  readonly total: Omit<UsageLine, 'period' | 'keyId' | 'model'>;
}

export interface UsageOptions {
  readonly client: Pick<DynamoDBClient, 'send'>;
  readonly usageTable: string;
  readonly keysTable: string;
  readonly keyId?: string;
  readonly since: Date;
  readonly until: Date;
  readonly hourly: boolean;
  /** The limiter's Redis, for the hours not exported yet (the local stack's). */
  readonly ledger?: LedgerReader;
}

export async function usageReport(options: UsageOptions): Promise<UsageReport> {
  const { client, since, until } = options;
  if (until.getTime() <= since.getTime()) throw new AdminError('--until must be after --since');
  const widthMs = options.hourly ? HOUR_MS : DAY_MS;
  const first = Math.floor(since.getTime() / widthMs) * widthMs;
  const source = usageSourceOf({
    client,
    usageTable: options.usageTable,
    keysTable: options.keysTable,
    ...(options.ledger && { ledger: options.ledger }),
  });
  const rows = await source.read({
    fromHour: first / HOUR_MS,
    toHour: Math.ceil(until.getTime() / HOUR_MS),
    ...(options.keyId !== undefined && { keyIds: [options.keyId] }),
  });
  const byPeriod = new Map<number, UsageRow[]>();
  for (const row of rows) {
    const start = Math.floor((row.hour * HOUR_MS) / widthMs) * widthMs;
    byPeriod.set(start, [...(byPeriod.get(start) ?? []), row]);
  }
  const lines: UsageLine[] = [];
  for (const start of [...byPeriod.keys()].sort((a, b) => a - b)) {
    const period = new Date(start).toISOString().slice(0, options.hourly ? 13 : 10);
    for (const [group, totals] of groupRows(byPeriod.get(start) ?? [], true, true)) {
      lines.push({
        period,
        keyId: group.api_key_id ?? '',
        model: group.model ?? '',
        requests: totals.requests,
        inputTokens: totals.inputTokens,
        cachedTokens: totals.cachedTokens,
        outputTokens: totals.outputTokens,
        costUsd: usd(totals.costNanoUsd),
      });
    }
  }
  const [, all] = groupRows(rows, false, false)[0] ?? [
    {},
    { requests: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costNanoUsd: 0 },
  ];
  return {
    since: new Date(first).toISOString(),
    until: until.toISOString(),
    by: options.hourly ? 'hour' : 'day',
    live: options.ledger !== undefined,
    lines,
    total: {
      requests: all.requests,
      inputTokens: all.inputTokens,
      cachedTokens: all.cachedTokens,
      outputTokens: all.outputTokens,
      costUsd: usd(all.costNanoUsd),
    },
  };
}

const COLUMNS = ['KEY ID', 'MODEL', 'REQUESTS', 'INPUT', 'CACHED', 'OUTPUT', 'COST USD'] as const;

export function formatUsage(report: UsageReport): string {
  const from = report.live
    ? 'exported hours and the live ledger'
    : 'hours the usage exporter has written';
  const head = `Usage from ${report.since} to ${report.until}, per UTC ${report.by}, key and model (${from}):`;
  if (report.lines.length === 0) return `${head}\nNo usage.`;
  const title = [report.by === 'day' ? 'DAY' : 'HOUR', ...COLUMNS];
  const numbers = (line: Omit<UsageLine, 'period' | 'keyId' | 'model'>) => [
    String(line.requests),
    String(line.inputTokens),
    String(line.cachedTokens),
    String(line.outputTokens),
    line.costUsd.toFixed(6),
  ];
  const rows = [
    ...report.lines.map((line) => [line.period, line.keyId, line.model, ...numbers(line)]),
    ['TOTAL', '', '', ...numbers(report.total)],
  ];
  const widths = title.map((name, i) =>
    Math.max(name.length, ...rows.map((r) => r[i]?.length ?? 0)),
  );
  // Text left, numbers right.
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [head, line(title), ...rows.map(line)].join('\n');
}
