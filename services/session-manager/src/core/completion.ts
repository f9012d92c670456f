/**
 * One chat turn against Triton, independent of HTTP: pick the model's settings, fit the messages
 * into its context window, render the prompt, generate (whole or streamed), apply `stop`, count
 * usage. Routes call these; tests can too.
 */

import {
  InferenceStreamError,
  InferenceUnavailableError,
  InvalidRequestError,
} from '@axon/runtime/errors';
import { renderPrompt } from './chat-template.ts';
import { type CountedMessage, fitToContext } from './context.ts';
import type { ModelAccess, ModelCatalog, ModelSettings } from './models.ts';
import {
  type CompletionMeta,
  chatChunk,
  type FinishReason,
  sseData,
  sseUsageComment,
  type Usage,
  usageChunk,
  usageOf,
} from './openai-format.ts';
import { cutAtStop, StopScanner } from './stop.ts';
import { countTokensSliced } from './tokens.ts';
import type { GenerateRequest, TritonClient } from './triton-client.ts';

export interface CompletionRequest {
  model: string;
  /** The models the calling key may use (its principal's); `model` outside them is a 404. */
  access: ModelAccess;
  messages: readonly CountedMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: readonly string[];
  /** Sessions trim old turns to fit; stateless completions answer 400 instead (as OpenAI). */
  allowTrimming: boolean;
  /** The request field that carries the messages, for error messages. */
  messagesField: string;
  /** The request field that carries max_tokens, for error messages. */
  maxTokensField: string;
}

export interface PreparedCompletion {
  model: string;
  settings: ModelSettings;
  promptTokens: number;
  maxTokens: number;
  stop: readonly string[];
  generate: GenerateRequest;
}

export interface CompletionResult {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
}

export type InferenceObserver = (
  labels: { model: string; stream: string; outcome: string },
  seconds: number,
) => void;

export async function prepareCompletion(
  catalog: Pick<ModelCatalog, 'resolve'>,
  request: CompletionRequest,
): Promise<PreparedCompletion> {
  const settings = await catalog.resolve(request.model, request.access);
  const maxTokens = request.maxTokens ?? settings.defaultMaxTokens;
  if (maxTokens >= settings.contextWindow) {
    throw new InvalidRequestError(
      'invalid_value',
      `${request.maxTokensField}: must be below the model's context window of ${settings.contextWindow} tokens.`,
    );
  }
  const fitted = await fitToContext(request.messages, {
    template: settings.template,
    contextWindow: settings.contextWindow,
    maxTokens,
    allowTrimming: request.allowTrimming,
    field: request.messagesField,
  });
  return {
    model: request.model,
    settings,
    promptTokens: fitted.promptTokens,
    maxTokens,
    stop: request.stop ?? [],
    generate: {
      textInput: renderPrompt(settings.template, fitted.messages),
      maxTokens,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.topP !== undefined ? { topP: request.topP } : {}),
    },
  };
}

async function finish(
  prepared: PreparedCompletion,
  text: string,
  stopped: boolean,
): Promise<CompletionResult> {
  const completionTokens = await countTokensSliced(text);
  return {
    text,
    // Triton does not say why it stopped; reaching max_tokens (by our count) is taken as 'length'.
    finishReason: !stopped && completionTokens >= prepared.maxTokens ? 'length' : 'stop',
    usage: usageOf(prepared.promptTokens, completionTokens),
  };
}

function outcomeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'error';
}

export async function runCompletion(
  triton: Pick<TritonClient, 'generate'>,
  prepared: PreparedCompletion,
  signal?: AbortSignal,
  observe?: InferenceObserver,
): Promise<CompletionResult> {
  const started = performance.now();
  const labels = { model: prepared.model, stream: 'false' };
  try {
    const raw = await triton.generate(prepared.model, prepared.generate, signal);
    observe?.({ ...labels, outcome: 'ok' }, (performance.now() - started) / 1000);
    const cut = cutAtStop(raw, prepared.stop);
    return await finish(prepared, cut.text, cut.stopped);
  } catch (error) {
    observe?.({ ...labels, outcome: outcomeOf(error) }, (performance.now() - started) / 1000);
    throw error;
  }
}

/**
 * Opens the upstream stream and waits for its first event, so that a refused, failing or silent
 * upstream is still reported as a plain HTTP error before any SSE byte has been sent.
 */
export async function openDeltas(
  triton: Pick<TritonClient, 'generateStream'>,
  prepared: PreparedCompletion,
  signal?: AbortSignal,
): Promise<AsyncGenerator<string>> {
  const upstream = await triton.generateStream(prepared.model, prepared.generate, signal);
  let first: IteratorResult<string>;
  try {
    first = await upstream.next();
  } catch (error) {
    await upstream.return(undefined);
    // Nothing was sent yet: an error event first thing is Triton failing, like its 5xx.
    if (error instanceof InferenceStreamError) {
      throw Object.assign(new InferenceUnavailableError(error), {
        upstream: error.upstreamMessage,
      });
    }
    throw error;
  }
  return (async function* () {
    try {
      if (first.done) return;
      yield first.value;
      yield* upstream;
    } finally {
      await upstream.return(undefined);
    }
  })();
}

export interface SseOptions {
  meta: CompletionMeta;
  prepared: PreparedCompletion;
  deltas: AsyncGenerator<string>;
  includeUsage: boolean;
  /** Runs after the last delta and before the final chunk (sessions store the turn here). */
  onComplete?: (result: CompletionResult) => Promise<void>;
  /** Renders a failure as the terminating `{"error": ...}` event (and logs it). */
  onError: (error: unknown) => unknown;
  observe?: InferenceObserver;
}

/**
 * The OpenAI chunk stream: a role chunk, content chunks, a chunk with finish_reason, the usage
 * chunk when asked for, the `: usage` comment the gateway settles from, then `[DONE]`. A failure once streaming has begun ends the stream with
 * one `data: {"error": {...}}` event (the OpenAI SDK raises it as APIError) and no `[DONE]`.
 */
export async function* completionSse(options: SseOptions): AsyncGenerator<string> {
  const { meta, prepared, deltas } = options;
  const started = performance.now();
  const labels = { model: prepared.model, stream: 'true' };
  const scanner = new StopScanner(prepared.stop);
  let text = '';
  try {
    yield sseData(chatChunk(meta, { role: 'assistant', content: '' }));
    for await (const delta of deltas) {
      const out = scanner.push(delta);
      if (out) {
        text += out;
        yield sseData(chatChunk(meta, { content: out }));
      }
      if (scanner.stopped) break;
    }
    const rest = scanner.flush();
    if (rest) {
      text += rest;
      yield sseData(chatChunk(meta, { content: rest }));
    }
    options.observe?.({ ...labels, outcome: 'ok' }, (performance.now() - started) / 1000);
    const result = await finish(prepared, text, scanner.stopped);
    await options.onComplete?.(result);
    yield sseData(chatChunk(meta, {}, result.finishReason));
    if (options.includeUsage) yield sseData(usageChunk(meta, result.usage));
    yield sseUsageComment(result.usage);
    yield sseData('[DONE]');
  } catch (error) {
    options.observe?.(
      { ...labels, outcome: outcomeOf(error) },
      (performance.now() - started) / 1000,
    );
    yield sseData(options.onError(error));
  } finally {
    await deltas.return(undefined);
  }
}
