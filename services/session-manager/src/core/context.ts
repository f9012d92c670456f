/**
 * Fitting a conversation into a model's context window. The window must hold the prompt plus
 * the completion (`max_tokens`), so the prompt budget is `contextWindow - maxTokens`. Leading
 * system messages are pinned; the rest is dropped oldest-first until the prompt fits, and the
 * newest message must always survive (else the request is too long: 400).
 *
 * The work is bounded by the budget, not by the input: a message that must be kept (pinned, the
 * newest, or any of a stateless request) and is longer than `budget x MAX_CHARS_PER_TOKEN`
 * characters cannot fit, so it is refused before any tokenizer call; every count stops once it
 * passes what is left of the budget, so a long message costs at most a budget's worth of tokens.
 */

import { InvalidRequestError } from '@axon/runtime/errors';
import type { ChatMessage, ChatTemplate } from './chat-template.ts';
import { countTokens, countTokensSliced, MAX_CHARS_PER_TOKEN } from './tokens.ts';

export interface CountedMessage extends ChatMessage {
  /** Tokens of this message as rendered by the template; computed when absent. */
  tokens?: number;
}

export interface FittedPrompt {
  messages: ChatMessage[];
  /** Tokens of the whole rendered prompt (sum of its parts; see tokens.ts for the accuracy). */
  promptTokens: number;
  /** How many old messages were left out. */
  dropped: number;
}

export interface FitOptions {
  template: ChatTemplate;
  contextWindow: number;
  maxTokens: number;
  /** false: any overflow is a 400 (stateless chat completions, as OpenAI does). */
  allowTrimming: boolean;
  /** Which request field to name in the error. */
  field: string;
}

/** Tokens of the rendered message; past `limit` it stops counting and returns more than `limit`. */
async function tokensOf(
  template: ChatTemplate,
  message: CountedMessage,
  limit: number,
): Promise<number> {
  return message.tokens ?? countTokensSliced(template.renderMessage(message), Math.max(limit, 0));
}

function tooLong(options: FitOptions, budget: number): InvalidRequestError {
  return new InvalidRequestError(
    'context_length_exceeded',
    `${options.field}: the prompt needs more than the ${budget} tokens this model leaves for it ` +
      `(context window ${options.contextWindow} minus max_tokens ${options.maxTokens}); shorten the messages or lower max_tokens.`,
  );
}

export async function fitToContext(
  all: readonly CountedMessage[],
  options: FitOptions,
): Promise<FittedPrompt> {
  const { template, contextWindow, maxTokens } = options;
  const budget = contextWindow - maxTokens;
  let pinnedCount = 0;
  while (pinnedCount < all.length && all[pinnedCount]?.role === 'system') pinnedCount++;
  const pinned = all.slice(0, pinnedCount);
  const rest = all.slice(pinnedCount);

  // Size check before tokenizing: no text of more than budget x MAX_CHARS_PER_TOKEN characters
  // fits, so one that must be kept is refused without counting it.
  const maxChars = budget * MAX_CHARS_PER_TOKEN;
  const mustKeep = options.allowTrimming ? [...pinned, ...rest.slice(-1)] : all;
  let keptChars = 0;
  for (const m of mustKeep) keptChars += m.tokens === undefined ? m.content.length : 0;
  if (keptChars > maxChars) throw tooLong(options, budget);

  let used = countTokens(template.begin) + countTokens(template.generationPrompt);
  for (const m of pinned) {
    used += await tokensOf(template, m, budget - used);
    if (used > budget) throw tooLong(options, budget);
  }

  let firstKept = rest.length;
  while (firstKept > 0) {
    const candidate = rest[firstKept - 1] as CountedMessage;
    const cost = await tokensOf(template, candidate, budget - used);
    if (used + cost > budget) break;
    used += cost;
    firstKept--;
  }

  const newestDropped = rest.length > 0 && firstKept === rest.length;
  if (newestDropped || used > budget || (!options.allowTrimming && firstKept > 0)) {
    throw tooLong(options, budget);
  }
  const strip = ({ role, content }: CountedMessage): ChatMessage => ({ role, content });
  return {
    messages: [...pinned, ...rest.slice(firstKept)].map(strip),
    promptTokens: used,
    dropped: firstKept,
  };
}
