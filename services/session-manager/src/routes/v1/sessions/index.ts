/**
 * The sessions API: conversations kept in Redis for the calling API key. A session that does
 * not exist, has expired, or belongs to another key is the same 404.
 */

import { InvalidRequestError, NotFoundError } from '@axon/runtime/errors';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  type CompletionResult,
  completionSse,
  openDeltas,
  prepareCompletion,
  runCompletion,
} from '../../../core/completion.ts';
import { turnPrompt, turnToStore } from '../../../core/conversation.ts';
import { isSessionId, newCompletionId } from '../../../core/ids.ts';
import { quotaError } from '../../../core/session-quotas.ts';
import { type SessionMeta, type StoredMessage, storedBytes } from '../../../core/session-store.ts';
import { stopList } from '../chat/completions.ts';
import {
  clientGoneSignal,
  inferenceObserver,
  nowSeconds,
  sendSse,
  streamErrorBody,
} from '../respond.ts';
import {
  CreateSessionBody,
  ListSessionsQuery,
  SendMessageBody,
  SessionList,
  SessionObject,
  SessionParams,
  SessionWithMessages,
  TurnReply,
} from './schema.ts';

const sessionNotFound = (id: string) =>
  new NotFoundError(
    'session_not_found',
    `No session '${id.slice(0, 128)}' exists for this API key.`,
  );

const seconds = (ms: number) => Math.floor(ms / 1000);

function toSessionObject(meta: SessionMeta): SessionObject {
  return {
    id: meta.id,
    object: 'session',
    model: meta.model,
    created_at: seconds(meta.createdAt),
    metadata: meta.metadata,
    system_bytes: meta.systemBytes,
  };
}

const toMessage = (m: StoredMessage) => ({
  role: m.role,
  content: m.content,
  created_at: seconds(m.createdAt),
});

const sessionRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { sessions, catalog, triton, quotas } = fastify.services;

  fastify.post(
    '/sessions',
    { schema: { body: CreateSessionBody, response: { 201: SessionObject } } },
    async (request, reply) => {
      const body = request.body;
      const access = request.principal.models;
      const model = body.model ?? (await catalog.defaultModel(access));
      await catalog.resolve(model, access);
      const meta = await sessions.create(
        request.principal.keyId,
        {
          model,
          ...(body.system !== undefined ? { system: body.system } : {}),
          ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
        },
        quotas(request.principal.plan),
      );
      return reply.code(201).send(toSessionObject(meta));
    },
  );

  fastify.get(
    '/sessions',
    { schema: { querystring: ListSessionsQuery, response: { 200: SessionList } } },
    async (request) => {
      const limit = request.query.limit ?? 20;
      const after = request.query.after;
      if (after !== undefined && !isSessionId(after)) {
        // A garbled cursor must not silently restart the listing at the first page.
        throw new InvalidRequestError(
          'invalid_value',
          'after: must be the id of a session from a previous page.',
        );
      }
      const page = await sessions.list(request.principal.keyId, {
        limit,
        ...(after !== undefined ? { after } : {}),
      });
      const data = page.sessions.map(toSessionObject);
      return {
        object: 'list' as const,
        data,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
        has_more: page.hasMore,
      };
    },
  );

  fastify.get(
    '/sessions/:id',
    { schema: { params: SessionParams, response: { 200: SessionWithMessages } } },
    async (request) => {
      const { id } = request.params;
      const session = isSessionId(id) ? await sessions.get(request.principal.keyId, id) : undefined;
      if (!session) throw sessionNotFound(id);
      return {
        ...toSessionObject(session),
        system: session.system ?? null,
        messages: session.messages.map(toMessage),
      };
    },
  );

  fastify.delete('/sessions/:id', { schema: { params: SessionParams } }, async (request, reply) => {
    const { id } = request.params;
    if (!isSessionId(id) || !(await sessions.delete(request.principal.keyId, id))) {
      throw sessionNotFound(id);
    }
    return reply.code(204).send();
  });

  fastify.post(
    '/sessions/:id/messages',
    { schema: { params: SessionParams, body: SendMessageBody, response: { 200: TurnReply } } },
    async (request, reply) => {
      const { id } = request.params;
      const { keyId } = request.principal;
      const body = request.body;
      const session = isSessionId(id) ? await sessions.get(keyId, id) : undefined;
      if (!session) throw sessionNotFound(id);
      const limits = quotas(request.principal.plan);
      // Refuse before generating what could not be stored anyway; the store checks again,
      // atomically, with the answer's real size.
      const asked = storedBytes({ role: 'user', content: body.content, createdAt: Date.now() });
      if (
        session.messages.length + 2 > limits.maxSessionMessages ||
        session.usage.sessionBytes + asked > limits.maxSessionBytes
      ) {
        throw quotaError('session_too_large', limits);
      }
      // Stored responses give way to a session's turn (their oldest are dropped first).
      if (
        session.usage.keyBytes + asked > limits.maxStoredBytes &&
        !(await sessions.makeRoom(keyId, asked, limits))
      ) {
        throw quotaError('storage_quota_exceeded', limits);
      }

      // The key may have lost the session's model since the session was made: 404 then.
      const prepared = await prepareCompletion(catalog, {
        model: session.model,
        access: request.principal.models,
        messages: turnPrompt(session, body.content),
        ...(body.max_tokens !== undefined ? { maxTokens: body.max_tokens } : {}),
        ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
        ...(typeof body.top_p === 'number' ? { topP: body.top_p } : {}),
        stop: stopList(body.stop),
        allowTrimming: true,
        messagesField: 'content',
        maxTokensField: 'max_tokens',
      });
      const askedAt = Date.now();
      // The turn names no model; the gateway prices its usage at this one (and never passes the
      // header on: lambda/gateway/upstream.ts SERVED_MODEL_HEADER).
      reply.header('x-axon-model', session.model);

      /** Stores the user turn and the answer together; the session may be gone by now. */
      const store = async (result: CompletionResult): Promise<StoredMessage> => {
        const pair = await turnToStore(prepared.settings.template, {
          content: body.content,
          askedAt,
          answer: result.text,
          answeredAt: Date.now(),
        });
        if (!(await sessions.append(keyId, id, pair, limits))) throw sessionNotFound(id);
        return pair[1];
      };

      const signal = clientGoneSignal(reply);
      const observe = inferenceObserver(request);
      if (body.stream) {
        const deltas = await openDeltas(triton, prepared, signal);
        return sendSse(
          reply,
          completionSse({
            meta: { id: newCompletionId(), created: nowSeconds(), model: session.model },
            prepared,
            deltas,
            includeUsage: body.stream_options?.include_usage === true,
            onComplete: async (result) => {
              await store(result);
            },
            onError: streamErrorBody(request),
            observe,
          }),
        );
      }
      const result = await runCompletion(triton, prepared, signal, observe);
      const answer = await store(result);
      return { message: toMessage(answer), usage: result.usage };
    },
  );
};

export default sessionRoutes;
