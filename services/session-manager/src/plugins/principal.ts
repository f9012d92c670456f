/**
 * Who is calling: the gateway has authenticated the API key and passes the principal in
 * `x-axon-key-id`, `x-axon-plan` and, for a key limited to some models, `x-axon-models`. Those
 * headers are believed only next to the right `x-axon-gateway-secret`; without it, or without a
 * key id, the answer is 401.
 * Registered inside the /v1 scope only: health, readiness and metrics need no principal.
 */

import { AuthenticationError } from '@axon/runtime/errors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewaySecret } from '../core/gateway-secret.ts';
import type { ModelAccess } from '../core/model-access.ts';

export interface Principal {
  keyId: string;
  plan: string;
  /** The models the key may call; undefined means every model (no `x-axon-models`). */
  models: ModelAccess;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/** Key ids become part of Redis key names, so only a plain charset is accepted. */
const KEY_ID = /^[A-Za-z0-9_-]{1,128}$/;
const PLAN = /^[A-Za-z0-9_.-]{1,64}$/;
/** The gateway's model names (the runtime config's rule); anything else matches no model. */
const MODEL = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/**
 * `x-axon-models`, comma-separated, as the gateway sends it. Absent: every model. Present, it
 * fails closed: a name of the wrong shape is dropped, so a garbled header allows fewer models,
 * never more (an empty list allows none).
 */
export function parseModelsHeader(value: string | undefined): ModelAccess {
  if (value === undefined) return undefined;
  return new Set(
    value
      .split(',')
      .map((name) => name.trim())
      .filter((name) => MODEL.test(name)),
  );
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

export default fp(
  async function principalPlugin(fastify: FastifyInstance, opts: { secret: GatewaySecret }) {
    fastify.decorateRequest('principal', null as unknown as Principal);
    fastify.addHook('onRequest', async (request) => {
      if (!(await opts.secret.verify(header(request, 'x-axon-gateway-secret')))) {
        throw new AuthenticationError(
          'untrusted_caller',
          'This service only accepts requests forwarded by the Axon gateway.',
        );
      }
      const keyId = header(request, 'x-axon-key-id');
      if (keyId === undefined || !KEY_ID.test(keyId)) {
        throw new AuthenticationError(
          'missing_principal',
          'The request carries no valid API key id.',
        );
      }
      const plan = header(request, 'x-axon-plan');
      // Node joins a repeated header with ", "; an array is joined too, never read as absent.
      const models = request.headers['x-axon-models'];
      request.principal = {
        keyId,
        plan: plan !== undefined && PLAN.test(plan) ? plan : 'unknown',
        models: parseModelsHeader(Array.isArray(models) ? models.join(',') : models),
      };
      // Every later log line of this request names the key id (never the key itself).
      request.log = request.log.child({ keyId });
    });
  },
  { name: 'axon-principal' },
);
