/**
 * The Responses API over this service's chat turns, independent of HTTP: the `response` object
 * as the openai SDK types describe it, the record a stored response keeps, the history a
 * continuation starts from, and the Responses event stream.
 *
 * A stored response keeps its own context (history plus this turn, trimmed to the model's
 * window by tokens), not a pointer to the response before it. Continuing is then one read, and
 * dropping an old response to make room never breaks the chain of a newer one.
 */
import type { ChatTemplate } from './chat-template.ts';
import type { CountedMessage } from './context.ts';
import { isTurn, itemText, type MessageItem, textPart } from './responses-input.ts';
import type { StoredMessage } from './session-store.ts';
import { countTokensSliced } from './tokens.ts';

export type ResponseStatus = 'completed' | 'incomplete' | 'failed' | 'in_progress';

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export function responseUsage(inputTokens: number, outputTokens: number): ResponseUsage {
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  };
}

/** What the request asked for, echoed in the response object as OpenAI does. */
export interface ResponseRequest {
  model: string;
  instructions: string | null;
  previousResponseId: string | null;
  conversationId: string | null;
  store: boolean;
  maxOutputTokens: number | null;
  temperature: number | null;
  topP: number | null;
  metadata: Record<string, string>;
  truncation: 'auto' | 'disabled';
  parallelToolCalls: boolean;
  toolChoice: 'none' | 'auto';
}

export interface ResponseState {
  id: string;
  /** Unix seconds. */
  createdAt: number;
  status: ResponseStatus;
  outputItem?: MessageItem;
  usage?: ResponseUsage;
  error?: { code: string; message: string };
}

/** The `response` object (every field of the SDK's `Response` type, defaults where unused). */
export function responseObject(request: ResponseRequest, state: ResponseState) {
  return {
    id: state.id,
    object: 'response' as const,
    created_at: state.createdAt,
    status: state.status,
    background: false,
    completed_at: state.status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    error: state.error ?? null,
    incomplete_details:
      state.status === 'incomplete' ? { reason: 'max_output_tokens' as const } : null,
    instructions: request.instructions,
    max_output_tokens: request.maxOutputTokens,
    metadata: request.metadata,
    model: request.model,
    output: state.outputItem ? [state.outputItem] : [],
    parallel_tool_calls: request.parallelToolCalls,
    previous_response_id: request.previousResponseId,
    conversation: request.conversationId ? { id: request.conversationId } : null,
    reasoning: null,
    service_tier: 'default' as const,
    store: request.store,
    temperature: request.temperature,
    text: { format: { type: 'text' as const } },
    tool_choice: request.toolChoice,
    tools: [],
    top_p: request.topP,
    truncation: request.truncation,
    usage: state.usage ?? null,
  };
}

export type ResponseObject = ReturnType<typeof responseObject>;

/** What a stored response keeps: the object, this request's input items, and its context. */
export interface StoredResponse {
  response: ResponseObject;
  input: MessageItem[];
  /** History a continuation starts from, oldest first, each message with its token count. */
  context: StoredMessage[];
}

export function outputItem(
  id: string,
  text: string,
  status: MessageItem['status'] = 'completed',
): MessageItem & { role: 'assistant' } {
  return { type: 'message', id, status, role: 'assistant', content: [textPart('assistant', text)] };
}

/** A turn item (user or assistant) as a stored message, counted under the model's template. */
export async function storedOf(
  template: ChatTemplate,
  item: MessageItem & { role: 'user' | 'assistant' },
  createdAt: number,
): Promise<StoredMessage> {
  const content = itemText(item);
  return {
    id: item.id,
    role: item.role,
    content,
    createdAt,
    tokens: await countTokensSliced(template.renderMessage({ role: item.role, content })),
  };
}

/**
 * The messages the model sees, system ones first (leading system messages are pinned by the
 * trimming rules): the request's instructions, a conversation's system prompt, system and
 * developer items of the input, then the kept history and the input's user and assistant turns.
 */
export function promptOf(parts: {
  instructions: string | null;
  system?: string;
  history: readonly StoredMessage[];
  input: readonly MessageItem[];
}): CountedMessage[] {
  const systems: CountedMessage[] = [];
  if (parts.instructions) systems.push({ role: 'system', content: parts.instructions });
  if (parts.system !== undefined) systems.push({ role: 'system', content: parts.system });
  for (const item of parts.input) {
    if (!isTurn(item)) systems.push({ role: 'system', content: itemText(item) });
  }
  return [
    ...systems,
    ...parts.history.map(({ role, content, tokens }) => ({
      role,
      content,
      ...(tokens ? { tokens } : {}),
    })),
    ...parts.input.filter(isTurn).map((item) => ({ role: item.role, content: itemText(item) })),
  ];
}

/** The newest messages whose tokens fit `window`; older ones could never reach the model. */
export function keepWithin(messages: readonly StoredMessage[], window: number): StoredMessage[] {
  let used = 0;
  let first = messages.length;
  while (first > 0) {
    const tokens = messages[first - 1]?.tokens ?? 0;
    if (used + tokens > window && first < messages.length) break;
    used += tokens;
    first--;
  }
  return messages.slice(first);
}

/** One Responses stream event: the `event:` line names its type, as OpenAI sends it. */
export function responseEvent(type: string, sequence: number, fields: Record<string, unknown>) {
  const payload = { type, sequence_number: sequence, ...fields };
  return `event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`;
}

export interface StreamHandlers {
  /** Counts usage and stores what must be kept; returns the final state to announce. */
  finish(text: string, failure?: unknown): Promise<ResponseState>;
  object(state: ResponseState): ResponseObject;
  /** The error as the response's `error` field (and logs it). */
  errorOf(error: unknown): { code: string; message: string };
}

/**
 * The Responses event sequence over a delta stream: created, in_progress, the output item and
 * its part, text deltas, then the done events and response.completed (or response.incomplete
 * when max_output_tokens cut the answer). A failure once streaming has begun ends it with
 * response.failed carrying the error. A `: usage` comment closes every stream, which the gateway
 * settles from (clients ignore comments).
 */
export async function* responseSse(
  initial: ResponseState,
  itemId: string,
  deltas: AsyncGenerator<string>,
  handlers: StreamHandlers,
): AsyncGenerator<string> {
  let sequence = 0;
  const emit = (type: string, fields: Record<string, unknown>) =>
    responseEvent(type, sequence++, fields);
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  let text = '';
  let failure: unknown;
  try {
    yield emit('response.created', { response: handlers.object(initial) });
    yield emit('response.in_progress', { response: handlers.object(initial) });
    yield emit('response.output_item.added', {
      output_index: 0,
      item: { ...outputItem(itemId, '', 'in_progress'), content: [] },
    });
    yield emit('response.content_part.added', { ...at, part: textPart('assistant', '') });
    try {
      for await (const delta of deltas) {
        if (!delta) continue;
        text += delta;
        yield emit('response.output_text.delta', { ...at, delta, logprobs: [] });
      }
    } catch (error) {
      failure = error;
    }
    const final = await handlers.finish(text, failure);
    if (final.status !== 'failed') {
      const item = final.outputItem ?? outputItem(itemId, text);
      yield emit('response.output_text.done', { ...at, text, logprobs: [] });
      yield emit('response.content_part.done', { ...at, part: item.content[0] });
      yield emit('response.output_item.done', { output_index: 0, item });
    }
    const type =
      final.status === 'failed'
        ? 'response.failed'
        : final.status === 'incomplete'
          ? 'response.incomplete'
          : 'response.completed';
    yield emit(type, { response: handlers.object(final) });
    if (final.usage) yield `: usage ${JSON.stringify(final.usage)}\n\n`;
  } catch (error) {
    // finish itself failed (the store is down): the answer was generated but cannot be kept.
    yield emit('response.failed', {
      response: handlers.object({ ...initial, status: 'failed', error: handlers.errorOf(error) }),
    });
  } finally {
    await deltas.return(undefined);
  }
}
