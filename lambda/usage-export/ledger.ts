/**
 * The usage ledger as the limiter's script writes it (lambda/token-bucket/lua.ts): one Redis
 * hash per API key and UTC hour, `<prefix>:{<keyId>}:u:<hour>` (hour = ms since the epoch /
 * 3,600,000, floored, on Redis's clock), whose fields are `<counter>:<model>` -> a whole number.
 * Read here into one record per model, the numbers kept as the decimal strings Redis gives, so
 * nothing is rounded on the way to DynamoDB.
 */

export const HOUR_MS = 3_600_000;

/** The script's counters, and the Usage table attribute each one becomes. */
export const COUNTERS = {
  req: 'requests',
  in: 'inputTokens',
  out: 'outputTokens',
  cached: 'cachedTokens',
  cost: 'costNanoUsd',
} as const;
type Counter = keyof typeof COUNTERS;
export type Measure = (typeof COUNTERS)[Counter];

/** One (key, hour, model): the hour's absolute totals. `requests` is also its version. */
export type UsageRecord = {
  readonly keyId: string;
  readonly hour: number;
  readonly model: string;
} & { readonly [M in Measure]: string };

/** A hash this exporter cannot read: left in Redis, never deleted, so nothing is lost. */
export class LedgerFormatError extends Error {
  constructor(key: string, detail: string) {
    super(`usage ledger ${key}: ${detail}`);
    this.name = 'LedgerFormatError';
  }
}

export function ledgerKey(prefix: string, keyId: string, hour: number): string {
  return `${prefix}:{${keyId}}:u:${hour}`;
}

/** The ISO-8601 form of an hour, as the Usage table's sort key holds it: `2026-11-30T08`. */
export function isoHour(hour: number): string {
  return new Date(hour * HOUR_MS).toISOString().slice(0, 13);
}

const WHOLE = /^\d{1,20}$/;

/**
 * The records of one ledger hash, one per model it names (`req:<model>` is written for every
 * booked request, so every model has one). Throws `LedgerFormatError` for anything else.
 */
export function recordsOf(
  key: string,
  keyId: string,
  hour: number,
  hash: Readonly<Record<string, string>>,
): UsageRecord[] {
  const models = new Map<string, Record<Measure, string>>();
  for (const [field, value] of Object.entries(hash)) {
    const colon = field.indexOf(':');
    const counter = field.slice(0, colon) as Counter;
    const model = field.slice(colon + 1);
    if (colon < 1 || !Object.hasOwn(COUNTERS, counter) || model === '' || !WHOLE.test(value)) {
      throw new LedgerFormatError(key, `unknown field ${JSON.stringify(field)} = ${value}`);
    }
    let totals = models.get(model);
    if (!totals) {
      totals = {
        requests: '0',
        inputTokens: '0',
        outputTokens: '0',
        cachedTokens: '0',
        costNanoUsd: '0',
      };
      models.set(model, totals);
    }
    totals[COUNTERS[counter]] = value;
  }
  return [...models].map(([model, totals]) => {
    if (totals.requests === '0') throw new LedgerFormatError(key, `no requests for ${model}`);
    return { keyId, hour, model, ...totals };
  });
}
