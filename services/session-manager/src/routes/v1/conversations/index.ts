/**
 * The Conversations API over the sessions store: a conversation IS a session (`conv_<x>` is
 * `sess_<x>`), its items are the session's messages, under the same quotas and idle TTL. A
 * conversation or item that does not exist, has expired, or belongs to another key is a 404.
 */

import { AxonError, NotFoundError } from '@axon/runtime/errors';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { conversationIdOf, sessionIdOfConversation } from '../../../core/ids.ts';
import { itemPage } from '../../../core/item-list.ts';
import { storedOf } from '../../../core/responses.ts';
import {
  isTurn,
  itemOfStored,
  type MessageItem,
  parseInputItems,
  UnsupportedParameterError,
} from '../../../core/responses-input.ts';
import type { SessionQuotas } from '../../../core/session-quotas.ts';
import type { Session, SessionMeta, StoredMessage } from '../../../core/session-store.ts';
import type { Principal } from '../../../plugins/principal.ts';
import { ItemListQuery } from '../responses/schema.ts';
import { conversationNotFound, conversationQuotaError } from './errors.ts';
import {
  AddItemsBody,
  type ConversationObject,
  ConversationParams,
  CreateConversationBody,
  ItemParams,
  UpdateConversationBody,
} from './schema.ts';

const toConversation = (meta: SessionMeta): ConversationObject => ({
  id: conversationIdOf(meta.id),
  object: 'conversation',
  created_at: Math.floor(meta.createdAt / 1000),
  metadata: meta.metadata,
});

/**
 * Items a conversation can keep: user and assistant messages, what a session stores. System and
 * developer items are refused rather than dropped; instructions go on each response instead.
 */
function turnItems(raw: unknown, field: string): (MessageItem & { role: 'user' | 'assistant' })[] {
  const items = parseInputItems(raw, field);
  return items.map((item, i) => {
    if (!isTurn(item)) {
      throw new UnsupportedParameterError(
        `${field}[${i}].role`,
        `a conversation keeps user and assistant messages; send '${item.role}' text as instructions on each response.`,
      );
    }
    return item;
  });
}

const conversationRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { sessions, catalog, quotas } = fastify.services;

  /** The session behind a conversation id of this key, or the 404. */
  async function sessionOf(keyId: string, conversationId: string): Promise<Session> {
    const sessionId = sessionIdOfConversation(conversationId);
    const session = sessionId ? await sessions.get(keyId, sessionId) : undefined;
    if (!session) throw conversationNotFound(conversationId);
    return session;
  }

  /** Stores items (counted under the conversation's model template) within the caps. */
  async function append(
    principal: Principal,
    session: SessionMeta,
    items: readonly (MessageItem & { role: 'user' | 'assistant' })[],
    limits: SessionQuotas,
  ): Promise<void> {
    const { keyId } = principal;
    // Items are counted under the conversation's model, which the key must still be able to use.
    const { template } = await catalog.resolve(session.model, principal.models);
    const now = Date.now();
    const messages: StoredMessage[] = [];
    for (const item of items) messages.push(await storedOf(template, item, now));
    const stored = await sessions.append(keyId, session.id, messages, limits).catch((e) => {
      throw e instanceof AxonError && e.code === 'session_too_large'
        ? conversationQuotaError(limits)
        : e;
    });
    if (!stored) throw conversationNotFound(conversationIdOf(session.id));
  }

  fastify.post(
    '/conversations',
    {
      schema: { body: CreateConversationBody },
      // Every field is optional, so a POST without any body is a plain create, as in OpenAI's API.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request) => {
      const body = request.body;
      const { keyId } = request.principal;
      const limits = quotas(request.principal.plan);
      const items =
        body.items === undefined || body.items === null ? [] : turnItems(body.items, 'items');
      // A conversation is a session, which needs a model: the default one, until a response
      // names its own (each response's model is its own choice).
      const model = await catalog.defaultModel(request.principal.models);
      const meta = await sessions.create(
        keyId,
        { model, ...(body.metadata ? { metadata: body.metadata } : {}) },
        limits,
      );
      if (items.length > 0) {
        try {
          await append(request.principal, meta, items, limits);
        } catch (error) {
          await sessions.delete(keyId, meta.id);
          throw error;
        }
      }
      return toConversation(meta);
    },
  );

  fastify.get('/conversations/:id', { schema: { params: ConversationParams } }, async (request) =>
    toConversation(await sessionOf(request.principal.keyId, request.params.id)),
  );

  fastify.post(
    '/conversations/:id',
    { schema: { params: ConversationParams, body: UpdateConversationBody } },
    async (request) => {
      const { keyId } = request.principal;
      const session = await sessionOf(keyId, request.params.id);
      const metadata = request.body.metadata ?? {};
      const limits = quotas(request.principal.plan);
      const updated = await sessions.setMetadata(keyId, session.id, metadata, limits).catch((e) => {
        throw e instanceof AxonError && e.code === 'session_too_large'
          ? conversationQuotaError(limits)
          : e;
      });
      if (!updated) throw conversationNotFound(request.params.id);
      return toConversation({ ...session, metadata });
    },
  );

  fastify.delete(
    '/conversations/:id',
    { schema: { params: ConversationParams } },
    async (request) => {
      const { id } = request.params;
      const sessionId = sessionIdOfConversation(id);
      if (!sessionId || !(await sessions.delete(request.principal.keyId, sessionId))) {
        throw conversationNotFound(id);
      }
      return { id, object: 'conversation.deleted' as const, deleted: true };
    },
  );

  fastify.get(
    '/conversations/:id/items',
    { schema: { params: ConversationParams, querystring: ItemListQuery } },
    async (request) => {
      const session = await sessionOf(request.principal.keyId, request.params.id);
      return itemPage(session.messages.map(itemOfStored), request.query);
    },
  );

  fastify.post(
    '/conversations/:id/items',
    { schema: { params: ConversationParams, body: AddItemsBody } },
    async (request) => {
      const { keyId } = request.principal;
      const session = await sessionOf(keyId, request.params.id);
      const items = turnItems(request.body.items, 'items');
      await append(request.principal, session, items, quotas(request.principal.plan));
      return itemPage(items, { order: 'asc', limit: items.length });
    },
  );

  const itemNotFound = (id: string) =>
    new NotFoundError(
      'item_not_found',
      `No item '${id.slice(0, 128)}' exists in this conversation.`,
    );

  fastify.get(
    '/conversations/:id/items/:item_id',
    { schema: { params: ItemParams } },
    async (request) => {
      const session = await sessionOf(request.principal.keyId, request.params.id);
      const item = session.messages
        .map(itemOfStored)
        .find((candidate) => candidate.id === request.params.item_id);
      if (!item) throw itemNotFound(request.params.item_id);
      return item;
    },
  );

  fastify.delete(
    '/conversations/:id/items/:item_id',
    { schema: { params: ItemParams } },
    async (request) => {
      const { keyId } = request.principal;
      const session = await sessionOf(keyId, request.params.id);
      const removed = await sessions.deleteMessage(keyId, session.id, request.params.item_id);
      if (removed === undefined) throw conversationNotFound(request.params.id);
      if (!removed) throw itemNotFound(request.params.item_id);
      return toConversation(session);
    },
  );
};

export default conversationRoutes;
