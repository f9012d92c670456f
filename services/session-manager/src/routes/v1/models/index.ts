/**
 * `GET /v1/models`: the READY models of Triton's repository index, in OpenAI's list shape.
 * Triton does not report when a model was loaded, so `created` is 0.
 */

import { NotFoundError } from '@axon/runtime/errors';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ModelList, ModelObject, ModelParams } from './schema.ts';

const toModel = (name: string): ModelObject => ({
  id: name,
  object: 'model',
  created: 0,
  owned_by: 'axon',
});

const modelRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/models', { schema: { response: { 200: ModelList } } }, async () => {
    const ready = await fastify.services.catalog.ready();
    return { object: 'list' as const, data: ready.map((m) => toModel(m.name)) };
  });

  fastify.get(
    '/models/:model',
    { schema: { params: ModelParams, response: { 200: ModelObject } } },
    async (request) => {
      const ready = await fastify.services.catalog.ready();
      if (!ready.some((m) => m.name === request.params.model)) {
        throw new NotFoundError(
          'model_not_found',
          `The model '${request.params.model}' does not exist.`,
        );
      }
      return toModel(request.params.model);
    },
  );
};

export default modelRoutes;
