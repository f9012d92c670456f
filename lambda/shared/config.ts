/**
 * The runtime config document (docs/api.md#runtime-config): plans, rate limiter and auth settings.
 * `parseConfig` validates it once at load; every message names the field and the fix, so a
 * bad config fails `cdk synth` or `npm start` instead of a request at 3 a.m.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_SESSION_QUOTAS, type SessionQuotas } from '@axon/runtime/session-quotas';

/** One plan's numbers; the session-quota fields are optional (defaults in DEFAULT_SESSION_QUOTAS). */
export interface PlanLimits extends Partial<SessionQuotas> {
  /** Refill rate of the request bucket. */
  readonly requestsPerMinute: number;
  /** Capacity of the request bucket. */
  readonly burst: number;
  /** Refill rate of the LLM-token bucket; absent means tokens are not limited. */
  readonly tokensPerMinute?: number;
  /** Capacity of the LLM-token bucket; defaults to `tokensPerMinute`. */
  readonly tokenBurst?: number;
  /** Requests per UTC day; absent means no daily quota. */
  readonly requestsPerDay?: number;
  /** USD a key may spend per UTC day, at the `prices` of the config (`parseBudgets`). */
  readonly dailyBudgetUsd?: number;
  /** USD a key may spend per UTC calendar month. */
  readonly monthlyBudgetUsd?: number;
  // --- admission limits (reservation and concurrency; see parseAdmissionLimits) ---
  /** Requests of one key in flight at once; absent means no cap. */
  readonly maxConcurrentRequests?: number;
  /**
   * Completion tokens reserved for a request that names no `max_tokens` (or
   * `max_completion_tokens`, `max_output_tokens`). @default DEFAULT_COMPLETION_TOKENS
   */
  readonly defaultCompletionTokens?: number;
  /**
   * The models a key of this plan may call (`parseModelList`); absent means every model of the
   * stage. A key record's own `models` replaces it.
   */
  readonly models?: readonly string[];
}

export type FailureMode = 'open' | 'closed';

export interface AxonConfig {
  readonly plans: Readonly<Record<string, PlanLimits>>;
  /** What each model costs (`parsePrices`); absent: every request costs 0 and budgets are refused. */
  readonly prices?: Readonly<Record<string, ModelPrice>>;
  readonly rateLimiter: {
    /** `open`: decide with a per-instance in-memory bucket when Redis fails; `closed`: 503. */
    readonly failureMode: FailureMode;
    /** Longest a Redis decision may take before the failure mode applies. */
    readonly redisTimeoutMs: number;
    /**
     * Lifetime of a concurrency lease: renewed every half of it while its request runs, so it
     * only bounds how long a gateway that died mid-request keeps its slots.
     * @default - the gateway's `DEFAULT_LEASE_TTL_MS` (30 s), at least 4 x `redisTimeoutMs`
     */
    readonly leaseTtlMs?: number;
  };
  readonly auth: {
    /** Lifetime of a cached principal; bounds how long a revoked key keeps working. */
    readonly cacheTtlSeconds: number;
    /** Failed authentications per client address per minute before 429. */
    readonly failuresPerMinutePerAddress: number;
    /**
     * The same for admin routes and admin keys, counted in a bucket of their own, so guessing at
     * admin keys has a smaller budget and failed model keys cannot lock an admin out.
     */
    readonly adminFailuresPerMinutePerAddress: number;
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// --- Admission limits: what the gateway reserves per request and how many may run at once ---

const ADMISSION_FIELDS = ['maxConcurrentRequests', 'defaultCompletionTokens'] as const;

/**
 * The completion reserved for a request without `max_tokens` when the plan sets no
 * `defaultCompletionTokens`: the session manager's own default is 512, and a model may set
 * more, so twice that. A reservation is capped at the token bucket's capacity anyway, so no
 * plan is made unusable by it; settlement books the real use.
 */
export const DEFAULT_COMPLETION_TOKENS = 1024;

/**
 * The reservation and concurrency fields of a plan. Kept apart from the bucket numbers so that
 * the admission rules (gateway) and the bucket rules (Lua script) each have one place.
 */
function parseAdmissionLimits(value: Record<string, unknown>, where: string) {
  const maxConcurrentRequests = optionalInteger(value, 'maxConcurrentRequests', where, 1e6);
  const defaultCompletionTokens = optionalInteger(value, 'defaultCompletionTokens', where, 1e7);
  return {
    ...(maxConcurrentRequests !== undefined && { maxConcurrentRequests }),
    ...(defaultCompletionTokens !== undefined && { defaultCompletionTokens }),
  };
}

// --- end of admission limits ---

// --- Model access (issue 20): which models a plan's keys may call ---

/** Most models one plan or key may list. */
export const MAX_MODELS = 64;
/** Longest model name a list may hold. */
export const MAX_MODEL_NAME_LENGTH = 128;
/**
 * A model name as a list may hold it: a letter or digit first, then letters, digits, `.`, `_`,
 * `:`, `/` or `-`. Never a comma, a space or a control character, so the gateway can forward a
 * list as one comma-separated header (`x-axon-models`) that cannot be split another way.
 */
const MODEL_NAME = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,${MAX_MODEL_NAME_LENGTH - 1}}$`);

/**
 * Validates a list of model names (a plan's `models`, a key record's `models`, the key CLI's
 * `--models`): 1 to MAX_MODELS distinct names. `field` names the list in every message.
 */
export function parseModelList(value: unknown, field: string): readonly string[] {
  const fix = 'or leave it out to allow every model of the stage';
  if (!Array.isArray(value)) {
    throw new ConfigError(
      `${field} must be a list of model names such as ["stub-echo-chatml"], ${fix}; got ${JSON.stringify(value)}`,
    );
  }
  if (value.length === 0) throw new ConfigError(`${field} must name at least one model, ${fix}`);
  if (value.length > MAX_MODELS) {
    throw new ConfigError(
      `${field} names ${value.length} models, more than ${MAX_MODELS}; list at most ${MAX_MODELS}, ${fix}`,
    );
  }
  const seen = new Set<string>();
  value.forEach((name, i) => {
    if (typeof name !== 'string' || !MODEL_NAME.test(name)) {
      throw new ConfigError(
        `${field}[${i}] must be a model name of 1 to ${MAX_MODEL_NAME_LENGTH} letters, digits, '.', '_', ':', '/' or '-' starting with a letter or digit, got ${JSON.stringify(name)}`,
      );
    }
    if (seen.has(name)) {
      throw new ConfigError(`${field} names ${JSON.stringify(name)} twice; list each model once`);
    }
    seen.add(name);
  });
  return [...seen];
}

// --- end of model access ---

const PLAN_FIELDS = [
  'requestsPerMinute',
  'burst',
  'tokensPerMinute',
  'tokenBurst',
  'requestsPerDay',
  ...ADMISSION_FIELDS,
  'models',
];
const PLAN_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export const DEFAULT_RATE_LIMITER = { failureMode: 'open', redisTimeoutMs: 50 } as const;
export const DEFAULT_AUTH = {
  cacheTtlSeconds: 30,
  failuresPerMinutePerAddress: 30,
  adminFailuresPerMinutePerAddress: 10,
} as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rejectUnknown(obj: Record<string, unknown>, known: readonly string[], where: string) {
  for (const field of Object.keys(obj)) {
    if (!known.includes(field)) {
      throw new ConfigError(
        `${where}.${field} is not a known field; use one of: ${known.join(', ')}`,
      );
    }
  }
}

function positiveInteger(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigError(
      `${field} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function optionalInteger(obj: Record<string, unknown>, name: string, where: string, max: number) {
  return obj[name] === undefined ? undefined : positiveInteger(obj[name], `${where}.${name}`, max);
}

// ---------------------------------------------------------------------------------------------
// Session quotas (issue 11): what one API key may store in the session manager. Plain plan
// fields beside the limiter's; the session manager gets them resolved, per plan, in the
// AXON_SESSION_QUOTAS environment variable (see sessionQuotasEnv).

export { DEFAULT_SESSION_QUOTAS, type SessionQuotas };

const SESSION_QUOTA_FIELDS = Object.keys(DEFAULT_SESSION_QUOTAS) as (keyof SessionQuotas)[];
const SESSION_QUOTA_MAX: Record<keyof SessionQuotas, number> = {
  maxSessions: 100_000,
  maxSessionMessages: 1_000_000,
  maxSessionBytes: 1024 * 1024 * 1024,
  maxSystemPromptBytes: 1024 * 1024 * 1024,
  maxStoredBytes: 1024 * 1024 * 1024,
};

/** The session-quota fields a plan sets, validated; checks their order once defaults apply. */
function parsePlanSessionQuotas(
  plan: Record<string, unknown>,
  where: string,
): Partial<SessionQuotas> | undefined {
  const set: Partial<Record<keyof SessionQuotas, number>> = {};
  for (const field of SESSION_QUOTA_FIELDS) {
    const value = optionalInteger(plan, field, where, SESSION_QUOTA_MAX[field]);
    if (value !== undefined) set[field] = value;
  }
  if (Object.keys(set).length === 0) return undefined;
  const q = { ...DEFAULT_SESSION_QUOTAS, ...set };
  if (q.maxSystemPromptBytes > q.maxSessionBytes || q.maxSessionBytes > q.maxStoredBytes) {
    throw new ConfigError(
      `${where}: session quotas must satisfy maxSystemPromptBytes <= maxSessionBytes <= maxStoredBytes ` +
        `(defaults fill unset ones), got ${q.maxSystemPromptBytes} / ${q.maxSessionBytes} / ${q.maxStoredBytes}`,
    );
  }
  return set;
}

/** A plan's session quotas with the defaults filled in. */
export function sessionQuotas(plan: PlanLimits): SessionQuotas {
  const set = SESSION_QUOTA_FIELDS.filter((f) => plan[f] !== undefined).map((f) => [f, plan[f]]);
  return { ...DEFAULT_SESSION_QUOTAS, ...Object.fromEntries(set) };
}

/**
 * The value of the session manager's AXON_SESSION_QUOTAS: JSON of every plan's resolved quotas,
 * `{"<plan>": {"maxSessions": 100, ...}, ...}`.
 */
export function sessionQuotasEnv(config: AxonConfig): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(config.plans).map(([name, p]) => [name, sessionQuotas(p)])),
  );
}
// ---------------------------------------------------------------------------------------------
// Prices and budgets (issue 20): what a model's tokens cost, and how much one key may spend per
// UTC day and month. Money is kept as whole nano-dollars (`nanoUsd`), so sums stay exact in the
// doubles of the limiter's script and in the usage ledger's integers.

/** One model's price, in USD per million tokens. Cached input tokens are priced as input. */
export interface ModelPrice {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
}

/**
 * The usage ledger's name for every model the price table does not list: the ledger's fields
 * come from the table only, so no request can grow a key's ledger hash (docs/limiter.md).
 */
export const OTHER_MODEL = 'other';

const BUDGET_FIELDS = ['dailyBudgetUsd', 'monthlyBudgetUsd'] as const;
/** Most models one price table may list: it bounds every key's usage ledger hash. */
const MAX_PRICED_MODELS = 64;
/** A priced model's name: what a request's `model` may be, and a ledger field may hold. */
const PRICED_MODEL = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
/** Largest budget, in USD: its nano-dollars plus any reservation stay exact in a double. */
const MAX_BUDGET_USD = 1_000_000;
/** Largest price, in USD per million tokens. */
const MAX_PRICE_USD = 10_000;

/** Whole nano-dollars of a USD amount that `usd` has validated (at most 6 decimals). */
export function nanoUsd(usd: number): number {
  return Math.round(usd * 1e6) * 1000;
}

/**
 * A USD amount with at most `decimals` decimals: a price in USD per million tokens has at most 3
 * (so a token costs whole nano-dollars), a budget at most 6 (whole micro-dollars).
 */
function usd(value: unknown, field: string, decimals: number, min: number, max: number): number {
  const scaled = typeof value === 'number' ? value * 10 ** decimals : Number.NaN;
  if (
    typeof value !== 'number' ||
    !(value >= min && value <= max) ||
    Math.abs(scaled - Math.round(scaled)) > 1e-6
  ) {
    throw new ConfigError(
      `${field} must be a number of US dollars from ${min} to ${max} with at most ${decimals} decimals, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A plan's (or a key record's) budgets; they take effect only with a price table. */
function parseBudgets(value: Record<string, unknown>, where: string) {
  const budgets: { dailyBudgetUsd?: number; monthlyBudgetUsd?: number } = {};
  for (const field of BUDGET_FIELDS) {
    if (value[field] !== undefined) {
      // A budget of 0 would refuse every priced request: leave the key without the route instead.
      budgets[field] = usd(value[field], `${where}.${field}`, 6, 0.000001, MAX_BUDGET_USD);
    }
  }
  return budgets;
}

/**
 * The price table: at most MAX_PRICED_MODELS models by name, each with both prices (0 for a free
 * model). It also bounds the usage ledger: a model it does not name is booked as OTHER_MODEL.
 */
function parsePrices(value: unknown, where: string): Record<string, ModelPrice> {
  const example = '{"stub-echo-chatml": {"inputPerMillion": 0.15, "outputPerMillion": 0.6}}';
  if (!isObject(value)) throw new ConfigError(`${where} must be an object like ${example}`);
  const names = Object.keys(value);
  if (names.length > MAX_PRICED_MODELS) {
    throw new ConfigError(
      `${where} prices ${names.length} models, more than ${MAX_PRICED_MODELS}; price at most ${MAX_PRICED_MODELS} (the rest are booked as "${OTHER_MODEL}")`,
    );
  }
  const prices: Record<string, ModelPrice> = {};
  for (const name of names) {
    if (!PRICED_MODEL.test(name)) {
      throw new ConfigError(
        `${where}: ${JSON.stringify(name)} is not a model name (1 to 128 letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit)`,
      );
    }
    if (name === OTHER_MODEL) {
      throw new ConfigError(
        `${where}.${name}: "${OTHER_MODEL}" is the usage ledger's name for unpriced models; rename the model`,
      );
    }
    const price = value[name];
    if (!isObject(price))
      throw new ConfigError(`${where}.${name} must be an object like ${example}`);
    rejectUnknown(price, ['inputPerMillion', 'outputPerMillion'], `${where}.${name}`);
    prices[name] = {
      inputPerMillion: usd(
        price.inputPerMillion,
        `${where}.${name}.inputPerMillion`,
        3,
        0,
        MAX_PRICE_USD,
      ),
      outputPerMillion: usd(
        price.outputPerMillion,
        `${where}.${name}.outputPerMillion`,
        3,
        0,
        MAX_PRICE_USD,
      ),
    };
  }
  return prices;
}

// --- end of prices and budgets ---

/** Validates one plan's numbers; also used for a key record's overrides. */
export function parsePlanLimits(value: unknown, where: string): PlanLimits {
  if (!isObject(value)) {
    throw new ConfigError(`${where} must be an object like {"requestsPerMinute": 60, "burst": 10}`);
  }
  rejectUnknown(value, [...PLAN_FIELDS, ...SESSION_QUOTA_FIELDS, ...BUDGET_FIELDS], where);
  const sessions = parsePlanSessionQuotas(value, where);
  const requestsPerMinute = positiveInteger(
    value.requestsPerMinute,
    `${where}.requestsPerMinute`,
    1e9,
  );
  const burst = positiveInteger(value.burst, `${where}.burst`, 1e9);
  const tokensPerMinute = optionalInteger(value, 'tokensPerMinute', where, 1e12);
  const tokenBurst = optionalInteger(value, 'tokenBurst', where, 1e12);
  const requestsPerDay = optionalInteger(value, 'requestsPerDay', where, 1e12);
  if (tokenBurst !== undefined && tokensPerMinute === undefined) {
    throw new ConfigError(
      `${where}.tokenBurst needs ${where}.tokensPerMinute; set both or remove tokenBurst`,
    );
  }
  return {
    requestsPerMinute,
    burst,
    ...parseBudgets(value, where),
    ...(tokensPerMinute !== undefined && {
      tokensPerMinute,
      tokenBurst: tokenBurst ?? tokensPerMinute,
    }),
    ...(requestsPerDay !== undefined && { requestsPerDay }),
    ...sessions,
    ...parseAdmissionLimits(value, where),
    ...(value.models !== undefined && { models: parseModelList(value.models, `${where}.models`) }),
  };
}

export function parseConfig(doc: unknown, source = 'config'): AxonConfig {
  if (!isObject(doc)) throw new ConfigError(`${source} must be a JSON object with a "plans" field`);
  rejectUnknown(doc, ['plans', 'rateLimiter', 'auth', 'prices'], source);

  if (!isObject(doc.plans) || Object.keys(doc.plans).length === 0) {
    throw new ConfigError(
      `${source}.plans must name at least one plan, e.g. {"free": {"requestsPerMinute": 60, "burst": 10}}`,
    );
  }
  const plans: Record<string, PlanLimits> = {};
  for (const [name, plan] of Object.entries(doc.plans)) {
    if (!PLAN_NAME.test(name)) {
      throw new ConfigError(
        `${source}.plans: plan name ${JSON.stringify(name)} must be lowercase letters, digits, - or _ (at most 32)`,
      );
    }
    plans[name] = parsePlanLimits(plan, `${source}.plans.${name}`);
  }
  const prices = doc.prices === undefined ? undefined : parsePrices(doc.prices, `${source}.prices`);
  for (const [name, plan] of Object.entries(plans)) {
    if ((plan.dailyBudgetUsd || plan.monthlyBudgetUsd) && !prices) {
      throw new ConfigError(
        `${source}.plans.${name} has a budget but the config has no prices; add ${source}.prices`,
      );
    }
  }

  const limiterDoc = doc.rateLimiter ?? {};
  if (!isObject(limiterDoc)) throw new ConfigError(`${source}.rateLimiter must be an object`);
  rejectUnknown(
    limiterDoc,
    ['failureMode', 'redisTimeoutMs', 'leaseTtlMs'],
    `${source}.rateLimiter`,
  );
  const failureMode = limiterDoc.failureMode ?? DEFAULT_RATE_LIMITER.failureMode;
  if (failureMode !== 'open' && failureMode !== 'closed') {
    throw new ConfigError(
      `${source}.rateLimiter.failureMode must be "open" or "closed", got ${JSON.stringify(failureMode)}`,
    );
  }
  const redisTimeoutMs = positiveInteger(
    limiterDoc.redisTimeoutMs ?? DEFAULT_RATE_LIMITER.redisTimeoutMs,
    `${source}.rateLimiter.redisTimeoutMs`,
    10_000,
  );
  const leaseTtlMs =
    limiterDoc.leaseTtlMs === undefined
      ? undefined
      : positiveInteger(limiterDoc.leaseTtlMs, `${source}.rateLimiter.leaseTtlMs`, 3_600_000);
  if (leaseTtlMs !== undefined && leaseTtlMs < redisTimeoutMs * 4) {
    throw new ConfigError(
      `${source}.rateLimiter.leaseTtlMs (${leaseTtlMs}) must be at least 4 times redisTimeoutMs (${redisTimeoutMs}), so a renewal every half lease lands in time; raise leaseTtlMs`,
    );
  }

  const authDoc = doc.auth ?? {};
  if (!isObject(authDoc)) throw new ConfigError(`${source}.auth must be an object`);
  rejectUnknown(
    authDoc,
    ['cacheTtlSeconds', 'failuresPerMinutePerAddress', 'adminFailuresPerMinutePerAddress'],
    `${source}.auth`,
  );
  const cacheTtlSeconds = positiveInteger(
    authDoc.cacheTtlSeconds ?? DEFAULT_AUTH.cacheTtlSeconds,
    `${source}.auth.cacheTtlSeconds`,
    3600,
  );
  const failuresPerMinutePerAddress = positiveInteger(
    authDoc.failuresPerMinutePerAddress ?? DEFAULT_AUTH.failuresPerMinutePerAddress,
    `${source}.auth.failuresPerMinutePerAddress`,
    1e6,
  );
  const adminFailuresPerMinutePerAddress = positiveInteger(
    authDoc.adminFailuresPerMinutePerAddress ?? DEFAULT_AUTH.adminFailuresPerMinutePerAddress,
    `${source}.auth.adminFailuresPerMinutePerAddress`,
    1e6,
  );

  return {
    plans,
    ...(prices && { prices }),
    rateLimiter: { failureMode, redisTimeoutMs, ...(leaseTtlMs !== undefined && { leaseTtlMs }) },
    auth: { cacheTtlSeconds, failuresPerMinutePerAddress, adminFailuresPerMinutePerAddress },
  };
}

/** Reads and validates a config file; JSON syntax errors name the file. */
export function loadConfigFile(path: string): AxonConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(doc, path);
}

/** Looks a plan up by name; the error lists the plans that exist. */
export function planLimits(config: AxonConfig, plan: string): PlanLimits {
  const limits = Object.hasOwn(config.plans, plan) ? config.plans[plan] : undefined;
  if (!limits) {
    throw new ConfigError(
      `unknown plan ${JSON.stringify(plan)}; valid plans: ${Object.keys(config.plans).join(', ')}`,
    );
  }
  return limits;
}

/**
 * The config of a running process: `AXON_CONFIG` holds either the JSON document itself (how the
 * CDK app hands it to the Lambda) or the path of a file (how the local stack is pointed at one).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): AxonConfig {
  const value = env.AXON_CONFIG?.trim();
  if (!value)
    throw new ConfigError(
      'AXON_CONFIG is not set: give it the config JSON or the path of a config file',
    );
  if (!value.startsWith('{')) return loadConfigFile(value);
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch (err) {
    throw new ConfigError(`AXON_CONFIG is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(doc, 'AXON_CONFIG');
}
