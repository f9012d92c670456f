/**
 * What one API key may store in sessions, per plan. The plans live in the gateway's config
 * document; the deployment hands their resolved quotas to this service as AXON_SESSION_QUOTAS,
 * `{"<plan>": {"maxSessions": 100, ...}}`. The quota fields and their defaults are defined once,
 * in @axon/runtime, for the gateway's config and this service alike. A plan this service was not
 * told about, or a request without a plan, gets the defaults: no key is unbounded by omission.
 */

import { InvalidRequestError } from '@axon/runtime/errors';
import { DEFAULT_SESSION_QUOTAS, type SessionQuotas } from '@axon/runtime/session-quotas';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';

export { DEFAULT_SESSION_QUOTAS, type SessionQuotas };

const Quota = Type.Integer({ minimum: 1 });
const PlanQuotas = Type.Object(
  {
    maxSessions: Type.Optional(Quota),
    maxSessionMessages: Type.Optional(Quota),
    maxSessionBytes: Type.Optional(Quota),
    maxSystemPromptBytes: Type.Optional(Quota),
    maxStoredBytes: Type.Optional(Quota),
  },
  { additionalProperties: false },
);
const QuotasByPlan = Type.Record(Type.String({ minLength: 1 }), PlanQuotas);
export type QuotasByPlan = Static<typeof QuotasByPlan>;

const checkQuotas = Compile(QuotasByPlan);

/** Parses AXON_SESSION_QUOTAS; the error names the plan and field. */
export function parseSessionQuotas(json: string): QuotasByPlan {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('AXON_SESSION_QUOTAS must be JSON such as {"free":{"maxSessions":100}}');
  }
  const first = [...checkQuotas.Errors(value)][0];
  if (first) {
    throw new Error(
      `AXON_SESSION_QUOTAS${first.instancePath || ''}: ${first.message} (per plan: ` +
        `${Object.keys(DEFAULT_SESSION_QUOTAS).join(', ')}, whole numbers >= 1)`,
    );
  }
  return value as QuotasByPlan;
}

/** The quotas of `plan`: its own numbers, the defaults for any it leaves out. */
export function quotasFor(byPlan: QuotasByPlan, plan: string): SessionQuotas {
  const own = Object.hasOwn(byPlan, plan) ? byPlan[plan] : undefined;
  return { ...DEFAULT_SESSION_QUOTAS, ...own };
}

export const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** Codes a store reports when a write would pass a quota; the write stored nothing. */
export type QuotaBreach =
  | 'session_limit_exceeded'
  | 'session_too_large'
  | 'storage_quota_exceeded'
  | 'system_prompt_too_large';

/**
 * 400, not 429 or 409: waiting or retrying does not help (the OpenAI SDK would retry those),
 * deleting sessions or sending less does.
 */
export function quotaError(breach: QuotaBreach, quotas: SessionQuotas): InvalidRequestError {
  const messages: Record<QuotaBreach, string> = {
    session_limit_exceeded: `This API key already has ${quotas.maxSessions} sessions, its plan's maximum; delete one (DELETE /v1/sessions/{id}) or let idle ones expire.`,
    session_too_large: `The session would pass its plan's limit of ${quotas.maxSessionMessages} messages or ${quotas.maxSessionBytes} bytes; start a new session.`,
    storage_quota_exceeded: `This API key's sessions would store more than its plan's ${quotas.maxStoredBytes} bytes; delete sessions it no longer needs.`,
    system_prompt_too_large: `system: longer than this plan's limit of ${quotas.maxSystemPromptBytes} bytes (UTF-8); shorten it.`,
  };
  return new InvalidRequestError(breach, messages[breach]);
}
