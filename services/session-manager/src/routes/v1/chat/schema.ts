/** Request schema of `POST /v1/chat/completions`: OpenAI's fields this service honours. */
import { type Static, Type } from 'typebox';

const MAX_CONTENT_CHARS = 1_000_000;

const TextPart = Type.Object({
  type: Type.Literal('text'),
  text: Type.String({ maxLength: MAX_CONTENT_CHARS }),
});

export const MessageContent = Type.Union([
  Type.String({ maxLength: MAX_CONTENT_CHARS }),
  Type.Array(TextPart, { minItems: 1, maxItems: 256 }),
]);

export const ChatMessageSchema = Type.Object({
  role: Type.Enum(['system', 'developer', 'user', 'assistant']),
  content: MessageContent,
  name: Type.Optional(Type.String({ maxLength: 64 })),
});

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Optional(Type.Union([schema, Type.Null()]));

export const Sampling = {
  temperature: nullable(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: nullable(Type.Number({ minimum: 0, maximum: 1 })),
  stop: nullable(
    Type.Union([
      Type.String({ minLength: 1, maxLength: 256 }),
      Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 4 }),
    ]),
  ),
  stream: nullable(Type.Boolean()),
  stream_options: nullable(Type.Object({ include_usage: Type.Optional(Type.Boolean()) })),
};

export const ChatCompletionBody = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 256 }),
    messages: Type.Array(ChatMessageSchema, { minItems: 1, maxItems: 4096 }),
    max_tokens: nullable(Type.Integer({ minimum: 1 })),
    max_completion_tokens: nullable(Type.Integer({ minimum: 1 })),
    n: nullable(Type.Integer({ minimum: 1, maximum: 1 })),
    user: Type.Optional(Type.String({ maxLength: 256 })),
    ...Sampling,
  },
  // Other OpenAI fields (seed, logit_bias, ...) are accepted and ignored, as compatible clients expect.
  { additionalProperties: true },
);

export type ChatCompletionBody = Static<typeof ChatCompletionBody>;
export type ChatMessageInput = Static<typeof ChatMessageSchema>;

/** The non-streamed reply (a stream is sent as is and not checked against this). */
export const ChatCompletionObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      message: Type.Object({
        role: Type.Literal('assistant'),
        content: Type.String(),
        refusal: Type.Null(),
      }),
      logprobs: Type.Null(),
      finish_reason: Type.Enum(['stop', 'length']),
    }),
  ),
  usage: Type.Object({
    prompt_tokens: Type.Integer(),
    completion_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
  }),
});
