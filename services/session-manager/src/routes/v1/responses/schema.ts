/**
 * Schemas of the Responses API. `input`, and the fields that may ask for unsupported features,
 * are checked in code (core/responses-input.ts), whose errors name the exact part; other
 * OpenAI fields (user, service_tier, prompt_cache_key, ...) are accepted and ignored, as
 * compatible clients expect.
 */
import { type Static, Type } from 'typebox';
import { Metadata } from '../sessions/schema.ts';

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Optional(Type.Union([schema, Type.Null()]));

export const ResponseParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
export type ResponseParams = Static<typeof ResponseParams>;

export const CreateResponseBody = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 256 }),
    input: Type.Unknown(),
    instructions: nullable(Type.String({ maxLength: 1_000_000 })),
    previous_response_id: nullable(Type.String({ minLength: 1, maxLength: 128 })),
    conversation: nullable(
      Type.Union([
        Type.String({ minLength: 1, maxLength: 128 }),
        Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
      ]),
    ),
    store: nullable(Type.Boolean()),
    stream: nullable(Type.Boolean()),
    max_output_tokens: nullable(Type.Integer({ minimum: 1 })),
    temperature: nullable(Type.Number({ minimum: 0, maximum: 2 })),
    top_p: nullable(Type.Number({ minimum: 0, maximum: 1 })),
    metadata: nullable(Metadata),
    truncation: nullable(Type.Enum(['auto', 'disabled'])),
    parallel_tool_calls: nullable(Type.Boolean()),
  },
  { additionalProperties: true },
);
export type CreateResponseBody = Static<typeof CreateResponseBody>;

/** Cursor pagination of item lists, as the SDK's CursorPage sends it. */
export const ItemListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    order: Type.Optional(Type.Enum(['asc', 'desc'])),
    include: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type ItemListQuery = Static<typeof ItemListQuery>;
