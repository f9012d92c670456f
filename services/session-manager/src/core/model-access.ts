/**
 * Which models a key may use (the gateway's `x-axon-models`, docs/api.md#model-access) and the
 * one answer for a model it cannot use. Apart from models.ts so the Triton client can answer
 * the same 404 without importing the catalog.
 */

import { AxonError } from '@axon/runtime/errors';

/** The models one key may use: a set of names, or undefined for every model of the stage. */
export type ModelAccess = ReadonlySet<string> | undefined;

/**
 * 404 `model_not_found`, as OpenAI answers for a model the key cannot see (status, type, code
 * and message), for a model that does not exist and for one the key may not use alike.
 */
export class ModelNotFoundError extends AxonError {
  constructor(model: string) {
    super(
      404,
      'invalid_request_error',
      'model_not_found',
      `The model \`${model}\` does not exist or you do not have access to it.`,
    );
  }
}

export const allows = (access: ModelAccess, model: string) =>
  access === undefined || access.has(model);
