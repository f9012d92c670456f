/**
 * The input side of the Responses and Conversations APIs: message items in every shape the SDKs
 * send, turned into this service's items and chat messages, and the checks that refuse what it
 * cannot do. A field asking for something unsupported is a 400 naming it; it is never ignored,
 * since a client that asked for a tool or an image would otherwise get a plausible wrong answer.
 */

import { type ErrorBody, InvalidRequestError } from '@axon/runtime/errors';
import type { ChatMessage } from './chat-template.ts';
import { newItemId } from './ids.ts';
import { itemIdOf, type StoredMessage } from './session-store.ts';

/** 400 `unsupported_parameter` with OpenAI's `param`, so SDKs show which field to drop. */
export class UnsupportedParameterError extends InvalidRequestError {
  constructor(
    readonly param: string,
    why: string,
  ) {
    super('unsupported_parameter', `${param}: ${why}`);
  }

  override toBody(): ErrorBody {
    const body = super.toBody();
    return { error: { ...body.error, param: this.param } } as ErrorBody;
  }
}

export type ItemRole = 'user' | 'assistant' | 'system' | 'developer';

export type ContentPart =
  | { type: 'input_text'; text: string }
  | { type: 'output_text'; text: string; annotations: never[] };

/** A message item as the Responses and Conversations APIs show it. */
export interface MessageItem {
  type: 'message';
  id: string;
  status: 'completed' | 'in_progress' | 'incomplete';
  role: ItemRole;
  content: ContentPart[];
}

const ROLES = new Set<string>(['user', 'assistant', 'system', 'developer']);
const MAX_ITEMS = 4096;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A part for `role`: assistants speak output_text, everyone else input_text. */
export function textPart(role: ItemRole, text: string): ContentPart {
  return role === 'assistant'
    ? { type: 'output_text', text, annotations: [] }
    : { type: 'input_text', text };
}

export function itemText(item: MessageItem): string {
  return item.content.map((part) => part.text).join('');
}

function contentOf(role: ItemRole, content: unknown, where: string): ContentPart[] {
  if (typeof content === 'string') return [textPart(role, content)];
  if (!Array.isArray(content) || content.length === 0) {
    throw new InvalidRequestError(
      'invalid_type',
      `${where}.content: must be a string or a non-empty array of text parts.`,
    );
  }
  return content.map((part, j) => {
    const at = `${where}.content[${j}]`;
    if (!isObject(part) || typeof part.type !== 'string') {
      throw new InvalidRequestError('invalid_type', `${at}: must be an object with a type.`);
    }
    const textType = role === 'assistant' ? 'output_text' : 'input_text';
    if (part.type !== 'input_text' && part.type !== 'output_text') {
      throw new UnsupportedParameterError(
        `${at}.type`,
        `'${String(part.type).slice(0, 64)}' parts are not supported here; send ${textType} parts.`,
      );
    }
    // A refusal or an assistant reply quoted as user input would be read as the wrong speaker.
    if (part.type !== textType) {
      throw new InvalidRequestError(
        'invalid_value',
        `${at}.type: a ${role} message takes ${textType} parts.`,
      );
    }
    if (typeof part.text !== 'string') {
      throw new InvalidRequestError('invalid_type', `${at}.text: must be a string.`);
    }
    return textPart(role, part.text);
  });
}

/**
 * The items of `input` (a string, or an array of message items with `type: "message"` or no
 * type); `field` names it in errors (`input`, `items`).
 */
export function parseInputItems(input: unknown, field: string): MessageItem[] {
  if (typeof input === 'string') {
    return [{ type: 'message', id: newItemId(), status: 'completed', ...userText(input) }];
  }
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_ITEMS) {
    throw new InvalidRequestError(
      'invalid_type',
      `${field}: must be a string or an array of 1 to ${MAX_ITEMS} message items.`,
    );
  }
  return input.map((raw, i) => {
    const where = `${field}[${i}]`;
    if (!isObject(raw))
      throw new InvalidRequestError('invalid_type', `${where}: must be an object.`);
    if (raw.type !== undefined && raw.type !== 'message') {
      throw new UnsupportedParameterError(
        `${where}.type`,
        `'${String(raw.type).slice(0, 64)}' items are not supported; only message items are.`,
      );
    }
    if (typeof raw.role !== 'string' || !ROLES.has(raw.role)) {
      throw new InvalidRequestError(
        'invalid_value',
        `${where}.role: must be one of 'user', 'assistant', 'system', 'developer'.`,
      );
    }
    const role = raw.role as ItemRole;
    return {
      type: 'message' as const,
      id: newItemId(),
      status: 'completed' as const,
      role,
      content: contentOf(role, raw.content, where),
    };
  });
}

function userText(text: string): { role: 'user'; content: ContentPart[] } {
  return { role: 'user', content: [textPart('user', text)] };
}

/** The chat message an item becomes; `developer` is the newer name of `system`. */
export function toChatMessage(item: MessageItem): ChatMessage {
  return { role: item.role === 'developer' ? 'system' : item.role, content: itemText(item) };
}

/** Whether an item is a turn of the kept history (user and assistant), not an instruction. */
export const isTurn = (item: MessageItem): item is MessageItem & { role: 'user' | 'assistant' } =>
  item.role === 'user' || item.role === 'assistant';

/** A stored message (a session's) as an item; messages stored before item ids get a stable one. */
export function itemOfStored(message: StoredMessage, index: number): MessageItem {
  return {
    type: 'message',
    id: itemIdOf(message, index),
    status: 'completed',
    role: message.role,
    content: [textPart(message.role, message.content)],
  };
}

/**
 * Top-level request fields that ask for what this service does not do, and the values of them
 * that ask for nothing (those are accepted). Checked before any work.
 */
export function refuseUnsupported(body: Record<string, unknown>): void {
  const absent = (v: unknown) => v === undefined || v === null;
  const refuse = (param: string, why: string) => {
    throw new UnsupportedParameterError(param, why);
  };
  if (!absent(body.tools) && !(Array.isArray(body.tools) && body.tools.length === 0)) {
    refuse('tools', 'tools are not supported; send an empty list or leave it out.');
  }
  if (!absent(body.tool_choice) && body.tool_choice !== 'none' && body.tool_choice !== 'auto') {
    refuse('tool_choice', "only 'none' or 'auto' (with no tools) is supported.");
  }
  if (!absent(body.background) && body.background !== false) {
    refuse('background', 'background responses are not supported; leave it out or send false.');
  }
  if (!absent(body.reasoning)) refuse('reasoning', 'reasoning options are not supported.');
  if (!absent(body.include) && !(Array.isArray(body.include) && body.include.length === 0)) {
    refuse('include', 'no extra output can be included; send an empty list or leave it out.');
  }
  if (!absent(body.prompt)) refuse('prompt', 'prompt templates are not supported.');
  if (!absent(body.top_logprobs) && body.top_logprobs !== 0) {
    refuse('top_logprobs', 'log probabilities are not supported.');
  }
  if (!absent(body.max_tool_calls)) refuse('max_tool_calls', 'tools are not supported.');
  if (!absent(body.text)) {
    const text = body.text;
    const format = isObject(text) ? text.format : undefined;
    if (!isObject(text) || Object.keys(text).some((k) => k !== 'format' && k !== 'verbosity')) {
      refuse('text', "only {format: {type: 'text'}} is supported.");
    }
    if (!absent(format) && !(isObject(format) && format.type === 'text')) {
      refuse('text.format', "only plain text output ({type: 'text'}) is supported.");
    }
    const verbosity = isObject(text) ? text.verbosity : undefined;
    if (!absent(verbosity) && verbosity !== 'medium') {
      refuse('text.verbosity', "only the default verbosity ('medium') is supported.");
    }
  }
}
