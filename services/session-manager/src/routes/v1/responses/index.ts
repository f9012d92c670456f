/**
 * The Responses API: `POST /v1/responses` (streamed or not, continued by
 * `previous_response_id` or by a `conversation`), and retrieve, delete and `input_items` of
 * stored responses. A response that does not exist, has expired, or belongs to another key is
 * the same 404.
 */

import {
  AxonError,
  type ErrorBody,
  InvalidRequestError,
  NotFoundError,
} from '@axon/runtime/errors';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { openDeltas, prepareCompletion, runCompletion } from '../../../core/completion.ts';
import {
  conversationIdOf,
  isResponseId,
  newItemId,
  newResponseId,
  sessionIdOfConversation,
} from '../../../core/ids.ts';
import { itemPage } from '../../../core/item-list.ts';
import {
  keepWithin,
  outputItem,
  promptOf,
  type ResponseRequest,
  type ResponseState,
  type ResponseStatus,
  responseObject,
  responseSse,
  responseUsage,
  type StoredResponse,
  storedOf,
} from '../../../core/responses.ts';
import { isTurn, parseInputItems, refuseUnsupported } from '../../../core/responses-input.ts';
import { utf8Bytes } from '../../../core/session-quotas.ts';
import type { SessionRepository, StoredMessage } from '../../../core/session-store.ts';
import { countTokensSliced } from '../../../core/tokens.ts';
import { conversationNotFound, conversationQuotaError } from '../conversations/errors.ts';
import {
  clientGoneSignal,
  inferenceObserver,
  nowSeconds,
  sendSse,
  streamErrorBody,
} from '../respond.ts';
import { CreateResponseBody, ItemListQuery, ResponseParams } from './schema.ts';

const responseNotFound = (id: string) =>
  new NotFoundError(
    'response_not_found',
    `No stored response '${id.slice(0, 128)}' exists for this API key.`,
  );

/** A stored response of this key, or the 404. */
export async function loadResponse(
  sessions: Pick<SessionRepository, 'getResponse'>,
  keyId: string,
  id: string,
): Promise<StoredResponse> {
  const json = isResponseId(id) ? await sessions.getResponse(keyId, id) : undefined;
  if (json === undefined) throw responseNotFound(id);
  return JSON.parse(json) as StoredResponse;
}

const responseRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { sessions, catalog, triton, quotas } = fastify.services;

  fastify.post('/responses', { schema: { body: CreateResponseBody } }, async (request, reply) => {
    const body = request.body;
    const { keyId } = request.principal;
    const limits = quotas(request.principal.plan);
    refuseUnsupported(body as Record<string, unknown>);
    const conversationRef =
      typeof body.conversation === 'string' ? body.conversation : body.conversation?.id;
    const previousId = body.previous_response_id ?? undefined;
    if (previousId !== undefined && conversationRef !== undefined) {
      throw new InvalidRequestError(
        'conflicting_parameters',
        'previous_response_id, conversation: send one of them, not both.',
      );
    }
    const input = parseInputItems(body.input, 'input');
    const turns = input.filter(isTurn);

    let history: StoredMessage[] = [];
    let system: string | undefined;
    let sessionId: string | undefined;
    if (previousId !== undefined) {
      history = (await loadResponse(sessions, keyId, previousId)).context;
    } else if (conversationRef !== undefined) {
      sessionId = sessionIdOfConversation(conversationRef);
      const session = sessionId ? await sessions.get(keyId, sessionId) : undefined;
      if (!session) throw conversationNotFound(conversationRef);
      history = session.messages;
      system = session.system;
      // Refuse before generating what could not be kept; the store checks again, atomically.
      const asked = turns.reduce((n, t) => n + utf8Bytes(JSON.stringify(t)), 0);
      if (
        session.messages.length + turns.length + 1 > limits.maxSessionMessages ||
        session.usage.sessionBytes + asked > limits.maxSessionBytes
      ) {
        throw conversationQuotaError(limits);
      }
    }

    const req: ResponseRequest = {
      model: body.model,
      instructions: body.instructions ?? null,
      previousResponseId: previousId ?? null,
      conversationId: sessionId ? conversationIdOf(sessionId) : null,
      store: body.store !== false,
      maxOutputTokens: body.max_output_tokens ?? null,
      temperature: body.temperature ?? null,
      topP: body.top_p ?? null,
      metadata: body.metadata ?? {},
      truncation: body.truncation ?? 'disabled',
      parallelToolCalls: body.parallel_tool_calls ?? true,
      toolChoice: (body as { tool_choice?: unknown }).tool_choice === 'none' ? 'none' : 'auto',
    };
    const prepared = await prepareCompletion(catalog, {
      model: body.model,
      access: request.principal.models,
      messages: promptOf({ instructions: req.instructions, system, history, input }),
      ...(req.maxOutputTokens !== null ? { maxTokens: req.maxOutputTokens } : {}),
      ...(req.temperature !== null ? { temperature: req.temperature } : {}),
      ...(req.topP !== null ? { topP: req.topP } : {}),
      stop: [],
      // History is trimmed oldest-first as sessions are; a self-contained input only when the
      // caller asks for truncation, else it is a 400 as in OpenAI's API.
      allowTrimming: history.length > 0 || req.truncation === 'auto',
      messagesField: 'input',
      maxTokensField: 'max_output_tokens',
    });
    const id = newResponseId();
    const itemId = newItemId();
    const createdAt = nowSeconds();
    const askedAt = Date.now();

    /** Keeps the turn in the conversation and the response in the store; the final state. */
    const persist = async (
      text: string,
      status: ResponseStatus,
      usage: ResponseState['usage'],
      error?: { code: string; message: string },
    ): Promise<ResponseState> => {
      const item = outputItem(itemId, text, status === 'completed' ? 'completed' : 'incomplete');
      const state: ResponseState = {
        id,
        createdAt,
        status,
        outputItem: item,
        ...(usage ? { usage } : {}),
        ...(error ? { error } : {}),
      };
      const template = prepared.settings.template;
      const kept: StoredMessage[] = [];
      for (const turn of turns) kept.push(await storedOf(template, turn, askedAt));
      if (status !== 'failed') kept.push(await storedOf(template, item, Date.now()));
      if (sessionId !== undefined && status !== 'failed') {
        const appended = await sessions.append(keyId, sessionId, kept, limits).catch((e) => {
          throw e instanceof AxonError && e.code === 'session_too_large'
            ? conversationQuotaError(limits)
            : e;
        });
        if (!appended) throw conversationNotFound(conversationIdOf(sessionId));
      }
      if (req.store) {
        const record: StoredResponse = {
          response: responseObject(req, state),
          input,
          context: keepWithin([...history, ...kept], prepared.settings.contextWindow),
        };
        // Never fails the request: with no room left the response is just not kept.
        await sessions.storeResponse(keyId, id, JSON.stringify(record), limits);
      }
      return state;
    };

    const signal = clientGoneSignal(reply);
    const observe = inferenceObserver(request);
    if (body.stream) {
      const deltas = await openDeltas(triton, prepared, signal);
      const started = performance.now();
      const errorBody = streamErrorBody(request);
      const errorOf = (e: unknown) => {
        const { code, message } = (errorBody(e) as ErrorBody).error;
        return { code, message };
      };
      return sendSse(
        reply,
        responseSse({ id, createdAt, status: 'in_progress' }, itemId, deltas, {
          object: (state) => responseObject(req, state),
          errorOf,
          finish: async (text, failure) => {
            const outputTokens = await countTokensSliced(text);
            const usage = responseUsage(prepared.promptTokens, outputTokens);
            const failed = failure === undefined ? undefined : errorOf(failure);
            observe(
              { model: req.model, stream: 'true', outcome: failed?.code ?? 'ok' },
              (performance.now() - started) / 1000,
            );
            const status = failed
              ? 'failed'
              : outputTokens >= prepared.maxTokens
                ? 'incomplete'
                : 'completed';
            try {
              return await persist(text, status, usage, failed);
            } catch (error) {
              // The answer was generated but cannot be kept (conversation full, store down):
              // the stream says so, and still carries the usage the gateway charges.
              const item = outputItem(itemId, text, 'incomplete');
              return {
                id,
                createdAt,
                status: 'failed',
                outputItem: item,
                usage,
                error: errorOf(error),
              };
            }
          },
        }),
      );
    }
    const result = await runCompletion(triton, prepared, signal, observe);
    const state = await persist(
      result.text,
      result.finishReason === 'length' ? 'incomplete' : 'completed',
      responseUsage(result.usage.prompt_tokens, result.usage.completion_tokens),
    );
    return responseObject(req, state);
  });

  fastify.get(
    '/responses/:id',
    { schema: { params: ResponseParams } },
    async (request) =>
      (await loadResponse(sessions, request.principal.keyId, request.params.id)).response,
  );

  fastify.delete('/responses/:id', { schema: { params: ResponseParams } }, async (request) => {
    const { id } = request.params;
    if (!isResponseId(id) || !(await sessions.deleteResponse(request.principal.keyId, id))) {
      throw responseNotFound(id);
    }
    return { id, object: 'response' as const, deleted: true };
  });

  fastify.get(
    '/responses/:id/input_items',
    { schema: { params: ResponseParams, querystring: ItemListQuery } },
    async (request) => {
      const record = await loadResponse(sessions, request.principal.keyId, request.params.id);
      return itemPage(record.input, request.query);
    },
  );
};

export default responseRoutes;
