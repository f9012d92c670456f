/** Schemas of the Conversations API; `items` are checked in code (core/responses-input.ts). */
import { type Static, Type } from 'typebox';
import { Metadata } from '../sessions/schema.ts';

export const ConversationParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
export type ConversationParams = Static<typeof ConversationParams>;

export const ItemParams = Type.Object({
  id: Type.String({ maxLength: 128 }),
  item_id: Type.String({ maxLength: 128 }),
});
export type ItemParams = Static<typeof ItemParams>;

export const CreateConversationBody = Type.Object(
  {
    items: Type.Optional(Type.Union([Type.Unknown(), Type.Null()])),
    metadata: Type.Optional(Type.Union([Metadata, Type.Null()])),
  },
  { additionalProperties: false },
);

export const UpdateConversationBody = Type.Object(
  { metadata: Type.Union([Metadata, Type.Null()]) },
  { additionalProperties: false },
);

export const AddItemsBody = Type.Object({ items: Type.Unknown() }, { additionalProperties: false });

export const ConversationObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('conversation'),
  created_at: Type.Integer(),
  metadata: Type.Record(Type.String(), Type.String()),
});
export type ConversationObject = Static<typeof ConversationObject>;
