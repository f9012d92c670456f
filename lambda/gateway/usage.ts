/**
 * LLM tokens a response used, to settle the token bucket (docs/api.md#rate-limiting): the `usage`
 * object of a JSON reply, or of a buffered Server-Sent Events stream. In a stream, usage comes
 * either as an OpenAI usage chunk (`stream_options.include_usage`) or as the session manager's
 * `: usage {"prompt_tokens":..,"completion_tokens":..,"total_tokens":..}` comment line, which every SSE client ignores, so that the gateway can settle
 * streams whose client did not ask for usage.
 */

interface Usage {
  total_tokens?: unknown;
}

function total(usage: Usage | undefined): number | undefined {
  const value = usage?.total_tokens;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
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
      if (!line.includes('total_tokens')) continue;
      if (line.startsWith('data:')) found = total(parse(line.slice(5))?.usage as Usage) ?? found;
      else if (line.startsWith(': usage ')) found = total(parse(line.slice(8)) as Usage) ?? found;
    }
    return found;
  }
  if (contentType?.includes('json')) return total(parse(body.toString('utf8'))?.usage as Usage);
  return undefined;
}
