/**
 * Everything under /v1: the principal check first, then the OpenAI, sessions, Responses and
 * Conversations routes.
 */
import type { FastifyInstance } from 'fastify';
import type { GatewaySecret } from '../../core/gateway-secret.ts';
import principal from '../../plugins/principal.ts';
import chatRoutes from './chat/completions.ts';
import conversationRoutes from './conversations/index.ts';
import modelRoutes from './models/index.ts';
import responseRoutes from './responses/index.ts';
import sessionRoutes from './sessions/index.ts';

export default async function v1Routes(fastify: FastifyInstance, opts: { secret: GatewaySecret }) {
  await fastify.register(principal, { secret: opts.secret });
  await fastify.register(modelRoutes);
  await fastify.register(chatRoutes);
  await fastify.register(sessionRoutes);
  await fastify.register(responseRoutes);
  await fastify.register(conversationRoutes);
}
