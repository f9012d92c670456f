/** `POST /v1/chat/completions`: OpenAI's endpoint, stateless, streamed or not. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ChatMessage } from '../../../core/chat-template.ts';
import {
  completionSse,
  openDeltas,
  prepareCompletion,
  runCompletion,
} from '../../../core/completion.ts';
import { newCompletionId } from '../../../core/ids.ts';
import { chatCompletion } from '../../../core/openai-format.ts';
import {
  clientGoneSignal,
  inferenceObserver,
  nowSeconds,
  sendSse,
  streamErrorBody,
} from '../respond.ts';
import { ChatCompletionBody, ChatCompletionObject, type ChatMessageInput } from './schema.ts';

/** OpenAI's `developer` role is the newer name of `system`; text parts are joined. */
export function toChatMessage(message: ChatMessageInput): ChatMessage {
  const content =
    typeof message.content === 'string'
      ? message.content
      : message.content.map((part) => part.text).join('');
  return { role: message.role === 'developer' ? 'system' : message.role, content };
}

export function stopList(stop: string | string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return typeof stop === 'string' ? [stop] : stop;
}

const chatRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post(
    '/chat/completions',
    { schema: { body: ChatCompletionBody, response: { 200: ChatCompletionObject } } },
    async (request, reply) => {
      const body = request.body;
      const { catalog, triton } = fastify.services;
      const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
      const prepared = await prepareCompletion(catalog, {
        model: body.model,
        access: request.principal.models,
        messages: body.messages.map(toChatMessage),
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
        ...(typeof body.top_p === 'number' ? { topP: body.top_p } : {}),
        stop: stopList(body.stop),
        allowTrimming: false,
        messagesField: 'messages',
        maxTokensField: body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
      });
      const meta = { id: newCompletionId(), created: nowSeconds(), model: body.model };
      const signal = clientGoneSignal(reply);
      const observe = inferenceObserver(request);

      if (body.stream) {
        const deltas = await openDeltas(triton, prepared, signal);
        return sendSse(
          reply,
          completionSse({
            meta,
            prepared,
            deltas,
            includeUsage: body.stream_options?.include_usage === true,
            onError: streamErrorBody(request),
            observe,
          }),
        );
      }
      const result = await runCompletion(triton, prepared, signal, observe);
      return chatCompletion(meta, result.text, result.finishReason, result.usage);
    },
  );
};

export default chatRoutes;
