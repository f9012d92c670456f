/**
 * Turns a stored key record into the principal the gateway limits and forwards, or says why the
 * record does not authenticate. Done once per cache fill, so a cache hit costs no work at all.
 */
import {
  type AxonConfig,
  ConfigError,
  type PlanLimits,
  parseModelList,
  parsePlanLimits,
  planLimits,
} from '#shared/config';
import type { KeyRecord } from './key-store.ts';

/** Who is calling: what the token bucket charges and what the session manager scopes by. */
export interface Principal {
  readonly keyId: string;
  /** The key's plan; `''` for an admin key. */
  readonly plan: string;
  /**
   * `admin`: an admin key, which may call the admin routes only (never a model: the gateway
   * answers 403 before admission); absent: a key that calls models, never the admin routes.
   */
  readonly kind?: 'admin';
  readonly owner: string;
  /** The plan's numbers with the key's own overrides applied. */
  readonly limits: PlanLimits;
  /**
   * The models the key may call: the record's own list, else its plan's; absent means every
   * model of the stage. The gateway forwards it as `x-axon-models`.
   */
  readonly models?: readonly string[];
}

/** Why a key did not authenticate. Logged, never told to the caller. */
export type RejectReason =
  | 'unknown'
  | 'revoked'
  | 'expired'
  | 'unknown_plan'
  | 'bad_record'
  | 'prefix'
  | 'length'
  | 'characters'
  | 'checksum'
  | 'multiple-headers'
  | 'too-long'
  | 'scheme'
  | 'whitespace';

export type Resolution =
  | { readonly ok: true; readonly principal: Principal; readonly expiresAtMs?: number }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail?: string };

/**
 * A key's limits: the plan's numbers, field by field replaced by the record's `limits`, then
 * validated as a whole with the config's own rules. Overriding `tokensPerMinute` without
 * `tokenBurst` also resets the burst to the new rate (the config's default), so an override
 * never inherits a burst sized for another rate.
 */
export function mergeLimits(
  plan: PlanLimits,
  overrides: Readonly<Record<string, unknown>> | undefined,
  where: string,
): PlanLimits {
  if (!overrides) return plan;
  if (overrides.models !== undefined) {
    // One place for a key's models: the record's own attribute, which the CLI writes.
    throw new ConfigError(
      `${where}.models is not a limit; put the key's models in the record's models attribute`,
    );
  }
  const merged: Record<string, unknown> = { ...plan, ...overrides };
  if (overrides.tokensPerMinute !== undefined && overrides.tokenBurst === undefined) {
    delete merged.tokenBurst;
  }
  return parsePlanLimits(merged, where);
}

/**
 * What an admin key's own requests are limited to (a bucket apart from every model key's, under
 * the identity `admin:<keyId>`): enough for scripts that page through keys and usage, little
 * enough that a leaked admin key cannot hammer the key table.
 */
export const ADMIN_LIMITS: PlanLimits = { requestsPerMinute: 120, burst: 30 };

export function resolveRecord(record: KeyRecord, config: AxonConfig, nowMs: number): Resolution {
  if (record.status === 'revoked') return { ok: false, reason: 'revoked' };
  let expiresAtMs: number | undefined;
  if (record.expiresAt !== undefined) {
    expiresAtMs = Date.parse(record.expiresAt);
    if (Number.isNaN(expiresAtMs)) {
      return { ok: false, reason: 'bad_record', detail: 'expiresAt is not an ISO-8601 time' };
    }
    if (expiresAtMs <= nowMs) return { ok: false, reason: 'expired' };
  }
  if (record.kind === 'admin') {
    // No plan, no models: an admin key never reaches a model.
    const principal: Principal = {
      keyId: record.keyId,
      plan: '',
      owner: record.owner,
      limits: ADMIN_LIMITS,
      kind: 'admin',
    };
    return { ok: true, principal, ...(expiresAtMs !== undefined && { expiresAtMs }) };
  }
  let limits: PlanLimits;
  let models: readonly string[] | undefined;
  try {
    limits = mergeLimits(planLimits(config, record.plan), record.limits, 'key record limits');
    models =
      record.models === undefined
        ? limits.models
        : parseModelList(record.models, 'key record models');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const reason = Object.hasOwn(config.plans, record.plan) ? 'bad_record' : 'unknown_plan';
    return { ok: false, reason, detail: err.message };
  }
  const principal: Principal = {
    keyId: record.keyId,
    plan: record.plan,
    owner: record.owner,
    limits,
    ...(models !== undefined && { models }),
  };
  return { ok: true, principal, ...(expiresAtMs !== undefined && { expiresAtMs }) };
}
