/** Schemas of `GET /v1/models` and `GET /v1/models/{model}` (OpenAI's list and model shapes). */
import { type Static, Type } from 'typebox';

export const ModelParams = Type.Object({ model: Type.String({ minLength: 1, maxLength: 256 }) });
export type ModelParams = Static<typeof ModelParams>;

export const ModelObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String(),
});
export type ModelObject = Static<typeof ModelObject>;

export const ModelList = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(ModelObject),
});
export type ModelList = Static<typeof ModelList>;
