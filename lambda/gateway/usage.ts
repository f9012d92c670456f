/**
 * LLM tokens a response used, to settle the token bucket (docs/api.md#rate-limiting): the `usage`
 * object of a JSON reply, or of a buffered Server-Sent Events stream. In a stream, usage comes
 * either as an OpenAI usage chunk (`stream_options.include_usage`) or as the session manager's
 * `: usage {"prompt_tokens":..,"completion_tokens":..,"total_tokens":..}` comment line, which every SSE client ignores, so that the gateway can settle
 * streams whose client did not ask for usage. The Responses API's `usage` counts
 * `input_tokens`/`output_tokens`, and its streams end with a `response.completed` event that
 * carries the response and its usage (the session manager adds the `: usage` comment there too).
 *
 * Besides the total (the token bucket's figure) the parts are read for the usage ledger and the
 * cost: input (`prompt_tokens` or `input_tokens`), output (`completion_tokens` or
 * `output_tokens`) and the cached part of the input (`prompt_tokens_details.cached_tokens` or
 * `input_tokens_details.cached_tokens`), each exactly as the client receives it.
 */

interface Usage {
  total_tokens?: unknown;
  input_tokens?: unknown;
  output_tokens?: unknown;
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  prompt_tokens_details?: { cached_tokens?: unknown } | null;
  input_tokens_details?: { cached_tokens?: unknown } | null;
}

/** The usage an answer reports, read once: what the token bucket books and what is priced. */
export interface ReportedUsage {
  /** `total_tokens`, or input + output without it. */
  readonly total: number;
  readonly input: number;
  readonly output: number;
  /** Input tokens served from a prompt cache; 0 when not reported. */
  readonly cached: number;
}

const count = (value: unknown) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/**
 * Chat's `total_tokens`, or the Responses API's `input_tokens + output_tokens` without it, and
 * the parts. A usage that states only a total books it all as output, the dearer side of a price.
 */
function read(usage: Usage | undefined): ReportedUsage | undefined {
  const stated = count(usage?.total_tokens);
  const input = count(usage?.prompt_tokens) ?? count(usage?.input_tokens);
  const output = count(usage?.completion_tokens) ?? count(usage?.output_tokens);
  const total =
    stated ??
    (count(usage?.input_tokens) !== undefined && count(usage?.output_tokens) !== undefined
      ? (input ?? 0) + (output ?? 0)
      : undefined);
  if (total === undefined) return undefined;
  const cached =
    count(usage?.prompt_tokens_details?.cached_tokens) ??
    count(usage?.input_tokens_details?.cached_tokens) ??
    0;
  const inputs = input ?? Math.max(0, total - (output ?? total));
  return { total, input: inputs, output: output ?? total - inputs, cached };
}

/**
 * A Responses API stream carries its usage in the `response` of its last event
 * (`response.completed`, or `response.incomplete` / `response.failed` when cut short).
 */
const FINAL_RESPONSE_EVENTS = new Set([
  'response.completed',
  'response.incomplete',
  'response.failed',
]);

function responsesEventUsage(
  event: Record<string, unknown> | undefined,
): ReportedUsage | undefined {
  if (typeof event?.type !== 'string' || !FINAL_RESPONSE_EVENTS.has(event.type)) return undefined;
  const response = event.response as { usage?: Usage } | undefined;
  return read(response?.usage);
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The last usage a JSON answer or an event stream reports, if any. */
export function reportedUsage(
  contentType: string | undefined,
  body: Buffer,
): ReportedUsage | undefined {
  if (body.length === 0) return undefined;
  if (contentType?.startsWith('text/event-stream')) {
    let found: ReportedUsage | undefined;
    for (const line of body.toString('utf8').split('\n')) {
      if (!line.includes('_tokens')) continue;
      if (line.startsWith('data:')) {
        const event = parse(line.slice(5));
        found = read(event?.usage as Usage) ?? responsesEventUsage(event) ?? found;
      } else if (line.startsWith(': usage ')) found = read(parse(line.slice(8)) as Usage) ?? found;
    }
    return found;
  }
  if (contentType?.includes('json')) return read(parse(body.toString('utf8'))?.usage as Usage);
  return undefined;
}

/** The tokens the token bucket books: `reportedUsage`'s total. */
export function usedTokens(contentType: string | undefined, body: Buffer): number | undefined {
  return reportedUsage(contentType, body)?.total;
}
