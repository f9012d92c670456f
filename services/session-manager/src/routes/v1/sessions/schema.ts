/** Schemas of the sessions API (docs/api.md#sessions). */
import { type Static, Type } from 'typebox';
import { Sampling } from '../chat/schema.ts';

export const SessionParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
export type SessionParams = Static<typeof SessionParams>;

/** OpenAI's metadata limits: 16 pairs, keys up to 64 characters, values up to 512. */
export const Metadata = Type.Record(Type.String(), Type.String({ maxLength: 512 }), {
  maxProperties: 16,
  propertyNames: { minLength: 1, maxLength: 64 },
});

export const CreateSessionBody = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    system: Type.Optional(Type.String({ maxLength: 1_000_000 })),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);
export type CreateSessionBody = Static<typeof CreateSessionBody>;

export const ListSessionsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type ListSessionsQuery = Static<typeof ListSessionsQuery>;

export const SendMessageBody = Type.Object(
  {
    content: Type.String({ minLength: 1, maxLength: 1_000_000 }),
    max_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
    ...Sampling,
  },
  { additionalProperties: false },
);
export type SendMessageBody = Static<typeof SendMessageBody>;

/**
 * A session as created and listed: the system prompt's size, never the prompt itself, so a
 * create reply or a page of 100 stays small whatever the prompts hold. `GET /v1/sessions/{id}`
 * returns the prompt (SessionWithMessages).
 */
export const SessionObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('session'),
  model: Type.String(),
  created_at: Type.Integer(),
  metadata: Type.Record(Type.String(), Type.String()),
  system_bytes: Type.Integer(),
});
export type SessionObject = Static<typeof SessionObject>;

export const SessionMessage = Type.Object({
  role: Type.Enum(['user', 'assistant']),
  content: Type.String(),
  created_at: Type.Integer(),
});

export const SessionWithMessages = Type.Intersect([
  SessionObject,
  Type.Object({
    system: Type.Union([Type.String(), Type.Null()]),
    messages: Type.Array(SessionMessage),
  }),
]);

export const SessionList = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(SessionObject),
  first_id: Type.Union([Type.String(), Type.Null()]),
  last_id: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean(),
});

export const Usage = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
});

export const TurnReply = Type.Object({
  message: SessionMessage,
  usage: Usage,
});
