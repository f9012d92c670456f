/**
 * Fitting a conversation into a model's context window. The window must hold the prompt plus
 * the completion (`max_tokens`), so the prompt budget is `contextWindow - maxTokens`. Leading
 * system messages are pinned; the rest is dropped oldest-first until the prompt fits, and the
 * newest message must always survive (else the request is too long: 400).
 */

import { InvalidRequestError } from '@axon/runtime/errors';
import type { ChatMessage, ChatTemplate } from './chat-template.ts';
import { countTokens } from './tokens.ts';

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

function tokensOf(template: ChatTemplate, message: CountedMessage): number {
  return message.tokens ?? countTokens(template.renderMessage(message));
}

export function fitToContext(all: readonly CountedMessage[], options: FitOptions): FittedPrompt {
  const { template, contextWindow, maxTokens } = options;
  const budget = contextWindow - maxTokens;
  let pinnedCount = 0;
  while (pinnedCount < all.length && all[pinnedCount]?.role === 'system') pinnedCount++;
  const pinned = all.slice(0, pinnedCount);
  const rest = all.slice(pinnedCount);

  let used = countTokens(template.begin) + countTokens(template.generationPrompt);
  for (const m of pinned) used += tokensOf(template, m);

  let firstKept = rest.length;
  while (firstKept > 0) {
    const candidate = rest[firstKept - 1] as CountedMessage;
    const cost = tokensOf(template, candidate);
    if (used + cost > budget) break;
    used += cost;
    firstKept--;
  }

  const newestDropped = rest.length > 0 && firstKept === rest.length;
  if (newestDropped || used > budget || (!options.allowTrimming && firstKept > 0)) {
    throw new InvalidRequestError(
      'context_length_exceeded',
      `${options.field}: the prompt needs more than the ${budget} tokens this model leaves for it ` +
        `(context window ${contextWindow} minus max_tokens ${maxTokens}); shorten the messages or lower max_tokens.`,
    );
  }
  const strip = ({ role, content }: CountedMessage): ChatMessage => ({ role, content });
  return {
    messages: [...pinned, ...rest.slice(firstKept)].map(strip),
    promptTokens: used,
    dropped: firstKept,
  };
}
