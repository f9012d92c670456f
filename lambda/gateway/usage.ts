/**
 * LLM tokens a response used, to settle the token bucket (docs/api.md#rate-limiting): the `usage`
 * object of a JSON reply, or of a buffered Server-Sent Events stream. In a stream, usage comes
 * either as an OpenAI usage chunk (`stream_options.include_usage`) or as the session manager's
 * `: usage {"prompt_tokens":..,"completion_tokens":..,"total_tokens":..}` comment line, which every SSE client ignores, so that the gateway can settle
 * streams whose client did not ask for usage. The Responses API's `usage` counts
 * `input_tokens`/`output_tokens`, and its streams end with a `response.completed` event that
 * carries the response and its usage (the session manager adds the `: usage` comment there too).
 */

interface Usage {
  total_tokens?: unknown;
  input_tokens?: unknown;
  output_tokens?: unknown;
}

const count = (value: unknown) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/** Chat's `total_tokens`, or the Responses API's `input_tokens + output_tokens` without it. */
function total(usage: Usage | undefined): number | undefined {
  const stated = count(usage?.total_tokens);
  if (stated !== undefined) return stated;
  const input = count(usage?.input_tokens);
  const output = count(usage?.output_tokens);
  return input !== undefined && output !== undefined ? input + output : undefined;
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

function responsesEventUsage(event: Record<string, unknown> | undefined): number | undefined {
  if (typeof event?.type !== 'string' || !FINAL_RESPONSE_EVENTS.has(event.type)) return undefined;
  const response = event.response as { usage?: Usage } | undefined;
  return total(response?.usage);
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

export function usedTokens(contentType: string | undefined, body: Buffer): number | undefined {
  if (body.length === 0) return undefined;
  if (contentType?.startsWith('text/event-stream')) {
    let found: number | undefined;
    for (const line of body.toString('utf8').split('\n')) {
      if (!line.includes('_tokens')) continue;
      if (line.startsWith('data:')) {
        const event = parse(line.slice(5));
        found = total(event?.usage as Usage) ?? responsesEventUsage(event) ?? found;
      } else if (line.startsWith(': usage ')) found = total(parse(line.slice(8)) as Usage) ?? found;
    }
    return found;
  }
  if (contentType?.includes('json')) return total(parse(body.toString('utf8'))?.usage as Usage);
  return undefined;
}
