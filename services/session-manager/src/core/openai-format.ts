/** OpenAI's response shapes for chat completions and their stream chunks. */

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type FinishReason = 'stop' | 'length';

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

export interface CompletionMeta {
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
}

export function chatCompletion(
  meta: CompletionMeta,
  text: string,
  finish: FinishReason,
  usage: Usage,
) {
  return {
    id: meta.id,
    object: 'chat.completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: text, refusal: null },
        logprobs: null,
        finish_reason: finish,
      },
    ],
    usage,
  };
}

export function chatChunk(
  meta: CompletionMeta,
  delta: { role?: 'assistant'; content?: string },
  finish: FinishReason | null = null,
) {
  return {
    id: meta.id,
    object: 'chat.completion.chunk' as const,
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

/** The extra last chunk of `stream_options.include_usage`: no choices, only usage. */
export function usageChunk(meta: CompletionMeta, usage: Usage) {
  return {
    id: meta.id,
    object: 'chat.completion.chunk' as const,
    created: meta.created,
    model: meta.model,
    choices: [],
    usage,
  };
}

/**
 * `: usage {...}`: an SSE comment, which every SSE client (the OpenAI SDKs included) ignores,
 * closing every stream with its token usage. The gateway reads it to settle the key's token
 * bucket even when the client did not ask for the usage chunk; ALB Lambda targets buffer
 * streams, so the gateway sees the whole body.
 */
export function sseUsageComment(usage: Usage): string {
  return `: usage ${JSON.stringify(usage)}\n\n`;
}

export function sseData(payload: unknown): string {
  return `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;
}
