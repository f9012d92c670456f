/**
 * The admin API (docs/api.md#admin-api): OpenAI's `/v1/organization/...` routes for admin keys,
 * in the shapes of OpenAI's published OpenAPI document, answered by the gateway core on both
 * edges. Keys:
 *
 * - `/admin_api_keys`: OpenAI's admin key routes, as they are (list, create, retrieve, delete).
 * - `/projects/{project_id}/api_keys`: the keys that call models. OpenAI's project API key routes
 *   (list, retrieve, delete) with one project, `default` (a stage is one project), plus a create
 *   OpenAI does not have (its keys are made in the dashboard) that takes Axon's plan, models,
 *   budgets and expiry. Axon's own fields (`plan`, `models`, budgets, `expires_at`, `status`) are
 *   added to OpenAI's object; none of OpenAI's is missing or retyped.
 *
 * Delete revokes (every secret of the key; the record stays for the audit trail and its usage),
 * effective within `auth.cacheTtlSeconds` like any revocation. Usage and costs: usage-api.ts.
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AxonError, InvalidRequestError } from '@axon/runtime/errors';
import {
  AdminError,
  type CreatedKey,
  createAdminKey,
  createKey,
  type KeyView,
  listKeys,
  revokeKey,
  showKey,
} from '#authorizer/admin';
import type { Principal } from '#authorizer/authorizer';
import { KEY_ID_SHAPE } from '#authorizer/key-format';
import type { AxonConfig } from '#shared/config';
import { ADMIN_PATH, type AdminApi, PROJECT_ID } from './admin-api.ts';
import { NotFoundError, RequestTooLargeError } from './errors.ts';
import { type GatewayRequest, type GatewayResponse, jsonResponse } from './http.ts';
import { integer, oneOf } from './query.ts';
import { UsageApi, type UsageSource } from './usage-api.ts';

/** Admin bodies are small; anything larger is refused unread. */
const MAX_BODY_BYTES = 64 * 1024;
/** OpenAI's admin key create allows a year; Axon allows what the key CLI does. */
const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 86_400;

export interface OrganizationApiDeps {
  /** The key table (the gateway's role may put, update and scan it). */
  readonly keys: {
    readonly client: Pick<DynamoDBDocumentClient, 'send'>;
    readonly tableName: string;
  };
  readonly config: AxonConfig;
  /** Where the usage and costs routes read from; absent: they answer 503 `usage_unavailable`. */
  readonly usage?: UsageSource;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

type Handler = (
  request: GatewayRequest,
  params: string[],
  principal: Principal,
) => Promise<unknown>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
}

export class OrganizationApi implements AdminApi {
  readonly #deps: OrganizationApiDeps;
  readonly #now: () => Date;
  readonly #routes: Route[];
  readonly #usage: UsageApi;

  constructor(deps: OrganizationApiDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#usage = new UsageApi({ ...(deps.usage && { source: deps.usage }), now: this.#now });
    const id = '([^/]+)';
    this.#routes = [
      { method: 'GET', pattern: /^\/admin_api_keys$/, handler: (r) => this.#listAdmin(r) },
      {
        method: 'POST',
        pattern: /^\/admin_api_keys$/,
        handler: (r, _, p) => this.#createAdmin(r, p),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/admin_api_keys/${id}$`),
        handler: (_, [keyId]) => this.#retrieve('admin', keyId),
      },
      {
        method: 'DELETE',
        pattern: new RegExp(`^/admin_api_keys/${id}$`),
        handler: (_, [keyId]) => this.#delete('admin', keyId),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/projects/${id}/api_keys$`),
        handler: (r, [project]) => this.#listModel(r, project),
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/projects/${id}/api_keys$`),
        handler: (r, [project]) => this.#createModel(r, project),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/projects/${id}/api_keys/${id}$`),
        handler: (_, [project, keyId]) => this.#retrieve('model', keyId, project),
      },
      {
        method: 'DELETE',
        pattern: new RegExp(`^/projects/${id}/api_keys/${id}$`),
        handler: (_, [project, keyId]) => this.#delete('model', keyId, project),
      },
      {
        method: 'GET',
        pattern: /^\/usage\/completions$/,
        handler: (r) => this.#usage.completions(new URLSearchParams(r.query)),
      },
      {
        method: 'GET',
        pattern: /^\/costs$/,
        handler: (r) => this.#usage.costs(new URLSearchParams(r.query)),
      },
    ];
  }

  async handle(request: GatewayRequest, principal: Principal): Promise<GatewayResponse> {
    const rest = request.path.slice(ADMIN_PATH.length);
    for (const route of this.#routes) {
      const match = route.pattern.exec(rest);
      if (!match || route.method !== request.method) continue;
      const params = match.slice(1).map((part) => safeDecode(part));
      try {
        return jsonResponse(200, await route.handler(request, params, principal));
      } catch (err) {
        if (err instanceof AdminError) throw new InvalidRequestError('invalid_value', err.message);
        throw err;
      }
    }
    throw new NotFoundError(request.method, request.path);
  }

  async #listAdmin(request: GatewayRequest) {
    const query = new URLSearchParams(request.query);
    const order = oneOf(query, 'order', ['asc', 'desc'], 'asc');
    return this.#page(await this.#views('admin', order), query, adminKeyObject);
  }

  async #listModel(request: GatewayRequest, project: string | undefined) {
    checkProject(project);
    const query = new URLSearchParams(request.query);
    return this.#page(await this.#views('model', 'asc'), query, projectKeyObject);
  }

  /** Every key of one kind, by creation time. A Scan: admin traffic only, never per request. */
  async #views(kind: 'admin' | 'model', order: 'asc' | 'desc'): Promise<KeyView[]> {
    const { client, tableName } = this.#deps.keys;
    const views = (await listKeys(client, tableName)).filter(
      (view) => (view.kind === 'admin') === (kind === 'admin'),
    );
    // listKeys is newest first.
    return order === 'asc' ? views.reverse() : views;
  }

  /** OpenAI's cursor list: `after` an id of the previous page, `limit` 1 to 100 (default 20). */
  #page<T extends { id: string }>(
    views: KeyView[],
    query: URLSearchParams,
    shape: (v: KeyView) => T,
  ) {
    const limit = integer(query, 'limit', 1, 100) ?? 20;
    const after = query.get('after');
    let start = 0;
    if (after !== null && after !== '') {
      const index = views.findIndex((view) => view.keyId === after);
      if (index === -1) {
        throw new InvalidRequestError(
          'invalid_value',
          `after must be the id of a key from the previous page, got ${JSON.stringify(after.slice(0, 64))}`,
        );
      }
      start = index + 1;
    }
    const data = views.slice(start, start + limit).map(shape);
    return {
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: start + limit < views.length,
    };
  }

  async #retrieve(kind: 'admin' | 'model', keyId: string | undefined, project?: string) {
    if (kind === 'model') checkProject(project);
    const view = await this.#find(kind, keyId);
    return kind === 'admin' ? adminKeyObject(view) : projectKeyObject(view);
  }

  async #delete(kind: 'admin' | 'model', keyId: string | undefined, project?: string) {
    if (kind === 'model') checkProject(project);
    const view = await this.#find(kind, keyId);
    const { client, tableName } = this.#deps.keys;
    await revokeKey(client, tableName, view.keyId, this.#now());
    return {
      id: view.keyId,
      object:
        kind === 'admin'
          ? 'organization.admin_api_key.deleted'
          : 'organization.project.api_key.deleted',
      deleted: true,
    };
  }

  /** The key of that kind with that id, or 404 (a key of the other kind is not found either). */
  async #find(kind: 'admin' | 'model', keyId: string | undefined): Promise<KeyView> {
    const { client, tableName } = this.#deps.keys;
    if (keyId !== undefined && KEY_ID_SHAPE.test(keyId)) {
      try {
        const view = await showKey(client, tableName, keyId);
        if ((view.kind === 'admin') === (kind === 'admin')) return view;
      } catch (err) {
        if (!(err instanceof AdminError)) throw err;
      }
    }
    throw new AxonError(
      404,
      'not_found_error',
      'api_key_not_found',
      `No ${kind === 'admin' ? 'admin API key' : 'API key'} with id ${JSON.stringify((keyId ?? '').slice(0, 64))}.`,
    );
  }

  async #createAdmin(request: GatewayRequest, principal: Principal) {
    const body = readBody(request, ['name', 'expires_in_seconds', 'owner']);
    const name = requiredString(body, 'name');
    const owner = optionalString(body, 'owner');
    const expires = expiresInMs(body);
    const { client, tableName } = this.#deps.keys;
    const created = await createAdminKey(client, tableName, {
      name,
      // A new admin key belongs to the admin who made it unless the body says otherwise.
      owner: owner ?? principal.owner,
      ...(expires !== undefined && { expiresInMs: expires }),
      now: this.#now(),
    });
    return { ...adminKeyObject(created), value: created.key };
  }

  async #createModel(request: GatewayRequest, project: string | undefined) {
    checkProject(project);
    const body = readBody(request, [
      'plan',
      'name',
      'owner',
      'models',
      'expires_in_seconds',
      'daily_budget_usd',
      'monthly_budget_usd',
    ]);
    const plan = requiredString(body, 'plan');
    const name = optionalString(body, 'name');
    const owner = optionalString(body, 'owner');
    const models = optionalStrings(body, 'models');
    const expires = expiresInMs(body);
    const daily = optionalNumber(body, 'daily_budget_usd');
    const monthly = optionalNumber(body, 'monthly_budget_usd');
    const { client, tableName } = this.#deps.keys;
    let created: CreatedKey;
    try {
      created = await createKey(client, tableName, {
        config: this.#deps.config,
        plan,
        ...(name !== undefined && { name }),
        ...(owner !== undefined && { owner }),
        ...(models !== undefined && { models }),
        ...(expires !== undefined && { expiresInMs: expires }),
        ...((daily !== undefined || monthly !== undefined) && {
          budgets: {
            ...(daily !== undefined && { dailyBudgetUsd: daily }),
            ...(monthly !== undefined && { monthlyBudgetUsd: monthly }),
          },
        }),
        now: this.#now(),
      });
    } catch (err) {
      // The config's messages name its own fields; the caller sent the API's.
      if (err instanceof AdminError) throw new AdminError(apiFieldNames(err.message));
      throw err;
    }
    return { ...projectKeyObject(created), value: created.key };
  }
}

// --- OpenAI's objects -------------------------------------------------------------------------

const unix = (iso: string | undefined) =>
  iso === undefined ? null : Math.floor(Date.parse(iso) / 1000);

/** What OpenAI shows of a key: the display prefix, then an ellipsis. */
const redacted = (view: KeyView) => `${view.prefix}...`;

/** OpenAI's `AdminApiKey`, plus Axon's `status`. */
export function adminKeyObject(view: KeyView) {
  const createdAt = unix(view.createdAt) as number;
  return {
    object: 'organization.admin_api_key' as const,
    id: view.keyId,
    name: view.name ?? null,
    redacted_value: redacted(view),
    created_at: createdAt,
    expires_at: unix(view.expiresAt),
    last_used_at: unix(view.lastUsedAt),
    owner: {
      type: 'service_account',
      object: 'organization.service_account',
      id: view.owner,
      name: view.owner,
      created_at: createdAt,
      role: 'owner',
    },
    status: view.status,
  };
}

/** OpenAI's `ProjectApiKey`, plus Axon's plan, models, budgets, expiry and status. */
export function projectKeyObject(view: KeyView) {
  const createdAt = unix(view.createdAt) as number;
  const budget = (field: string) => {
    const value = view.limits?.[field];
    return typeof value === 'number' ? value : null;
  };
  return {
    object: 'organization.project.api_key' as const,
    id: view.keyId,
    name: view.name ?? '',
    redacted_value: redacted(view),
    created_at: createdAt,
    last_used_at: unix(view.lastUsedAt),
    owner_project_access: 'active' as const,
    owner: {
      type: 'service_account' as const,
      service_account: { id: view.owner, name: view.owner, created_at: createdAt, role: 'member' },
    },
    // Axon's own fields.
    plan: view.plan,
    models: view.models ?? null,
    daily_budget_usd: budget('dailyBudgetUsd'),
    monthly_budget_usd: budget('monthlyBudgetUsd'),
    expires_at: unix(view.expiresAt),
    status: view.status,
  };
}

// --- request parsing ----------------------------------------------------------------------------

function checkProject(project: string | undefined): void {
  if (project !== PROJECT_ID) {
    throw new AxonError(
      404,
      'not_found_error',
      'project_not_found',
      `No project ${JSON.stringify((project ?? '').slice(0, 64))}: every key of this stage is in project "${PROJECT_ID}".`,
    );
  }
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function readBody(request: GatewayRequest, fields: readonly string[]): Record<string, unknown> {
  if (request.body.length > MAX_BODY_BYTES) throw new RequestTooLargeError(MAX_BODY_BYTES);
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8') || 'null');
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('invalid_json', 'The body must be a JSON object.');
  }
  const record = body as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (!fields.includes(name)) {
      throw new InvalidRequestError(
        'unknown_parameter',
        `Unknown parameter ${JSON.stringify(name.slice(0, 64))}; this route takes ${fields.join(', ')}.`,
      );
    }
  }
  return record;
}

function requiredString(body: Record<string, unknown>, field: string): string {
  if (body[field] === undefined || body[field] === null) {
    throw new InvalidRequestError(
      'missing_required_parameter',
      `Missing required parameter: ${field}.`,
    );
  }
  return optionalString(body, field) as string;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new InvalidRequestError('invalid_type', `${field} must be a string.`);
  }
  return value;
}

function optionalStrings(body: Record<string, unknown>, field: string): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new InvalidRequestError('invalid_type', `${field} must be a list of strings.`);
  }
  return value;
}

function optionalNumber(body: Record<string, unknown>, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidRequestError('invalid_type', `${field} must be a number.`);
  }
  return value;
}

function expiresInMs(body: Record<string, unknown>): number | undefined {
  const value = body.expires_in_seconds;
  if (value === undefined || value === null) return undefined;
  if (
    !Number.isInteger(value) ||
    (value as number) < 1 ||
    (value as number) > MAX_EXPIRES_IN_SECONDS
  ) {
    throw new InvalidRequestError(
      'invalid_value',
      `expires_in_seconds must be a whole number from 1 to ${MAX_EXPIRES_IN_SECONDS} (10 years); omit it for a key that does not expire.`,
    );
  }
  return (value as number) * 1000;
}

/** The config's field names in a message, as the API spells them. */
function apiFieldNames(message: string): string {
  return message
    .replace(/budget\.dailyBudgetUsd/g, 'daily_budget_usd')
    .replace(/budget\.monthlyBudgetUsd/g, 'monthly_budget_usd')
    .replace(/--models/g, 'models')
    .replace(/--owner/g, 'owner')
    .replace(/--expires-in/g, 'expires_in_seconds');
}
