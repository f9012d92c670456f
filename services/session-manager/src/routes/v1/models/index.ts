/**
 * `GET /v1/models`: the READY models of Triton's repository index that the calling key may use,
 * in OpenAI's list shape. Triton does not report when a model was loaded, so `created` is 0.
 * A model the key may not use is not listed, and `GET /v1/models/{model}` answers it exactly as
 * a model that does not exist.
 */

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ModelNotFoundError } from '../../../core/models.ts';
import { ModelList, ModelObject, ModelParams } from './schema.ts';

const toModel = (name: string): ModelObject => ({
  id: name,
  object: 'model',
  created: 0,
  owned_by: 'axon',
});

const modelRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/models', { schema: { response: { 200: ModelList } } }, async (request) => {
    const ready = await fastify.services.catalog.ready(request.principal.models);
    return { object: 'list' as const, data: ready.map((m) => toModel(m.name)) };
  });

  fastify.get(
    '/models/:model',
    { schema: { params: ModelParams, response: { 200: ModelObject } } },
    async (request) => {
      const { model } = request.params;
      const ready = await fastify.services.catalog.ready(request.principal.models);
      if (!ready.some((m) => m.name === model)) throw new ModelNotFoundError(model);
      return toModel(model);
    },
  );
};

export default modelRoutes;
