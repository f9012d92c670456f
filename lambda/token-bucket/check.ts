/**
 * "May this key make this call?" for internal services, through the same limiter the gateway
 * uses. Input is untrusted JSON from a Lambda invoke, so it is validated field by field.
 */

import { type ErrorBody, toErrorBody } from '@axon/runtime/errors';
import { type AxonConfig, ConfigError, type PlanLimits, planLimits } from '#shared/config';
import { InvalidChargeError } from './decision.ts';
import { rateLimitHeaders, retryAfterSeconds } from './http.ts';
import type { BucketStore, Decision } from './types.ts';

export interface CheckRequest {
  keyId: string;
  plan: string;
  /** Requests to charge. @default 1 */
  cost?: number;
  /** LLM tokens to charge at admission. @default 0 */
  tokenCost?: number;
}

export interface CheckResult {
  allowed: boolean;
  degraded: boolean;
  limitedBy?: string;
  /** Whole seconds until the call would be admitted; present when denied. */
  retryAfterSeconds?: number;
  /** The response headers of docs/api.md#rate-limiting for this decision. */
  headers: Record<string, string>;
  decision: Decision;
}

function invalid(message: string): ErrorBody {
  return toErrorBody('invalid_request_error', 'invalid_request', message);
}

function optionalCount(value: unknown, field: string): number | string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return `${field} must be a whole number >= 0`;
  }
  return value;
}

export async function checkLimit(
  limiter: BucketStore,
  config: AxonConfig,
  request: unknown,
): Promise<CheckResult | ErrorBody> {
  if (typeof request !== 'object' || request === null) {
    return invalid('the event must be an object like {"keyId": "key_...", "plan": "free"}');
  }
  const { keyId, plan, cost, tokenCost } = request as Record<string, unknown>;
  if (typeof keyId !== 'string' || keyId.length === 0)
    return invalid('keyId must be a non-empty string');
  if (typeof plan !== 'string') return invalid('plan must be a string naming a configured plan');
  const costValue = optionalCount(cost, 'cost');
  if (typeof costValue === 'string') return invalid(costValue);
  const tokenCostValue = optionalCount(tokenCost, 'tokenCost');
  if (typeof tokenCostValue === 'string') return invalid(tokenCostValue);

  let limits: PlanLimits;
  try {
    limits = planLimits(config, plan);
  } catch (err) {
    if (err instanceof ConfigError) return invalid(err.message);
    throw err;
  }
  try {
    const decision = await limiter.decide({
      id: keyId,
      limits,
      ...(costValue !== undefined && { cost: costValue }),
      ...(tokenCostValue !== undefined && { tokenCost: tokenCostValue }),
    });
    return {
      allowed: decision.allowed,
      degraded: decision.degraded,
      ...(decision.limitedBy && { limitedBy: decision.limitedBy }),
      ...(!decision.allowed && { retryAfterSeconds: retryAfterSeconds(decision.retryAfterMs) }),
      headers: rateLimitHeaders(decision, limits),
      decision,
    };
  } catch (err) {
    if (err instanceof InvalidChargeError) return invalid(err.message);
    throw err;
  }
}
