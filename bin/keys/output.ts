/**
 * What `npm run keys` prints: short human text by default, one JSON value with `--json`, and a
 * one-line message for every failure (never a stack trace, never the key).
 */

import type { CreatedKey, KeyView, RevokedKey, RotatedKey } from '#authorizer/admin';
import { AdminError } from '#authorizer/admin';
import { ConfigError } from '#shared/config';

function expiry(view: KeyView): string {
  return view.expiresAt ? `expires ${view.expiresAt}` : 'never expires';
}

/** The key's own models, or what it gets without them. */
function models(view: KeyView): string {
  return view.models ? view.models.join(', ') : "its plan's (every model if the plan lists none)";
}

/** The key's own budgets, in words; `undefined` when it has none. */
function budgets(view: KeyView): string | undefined {
  const parts = [
    ['dailyBudgetUsd', 'a day'],
    ['monthlyBudgetUsd', 'a month'],
  ]
    .filter(([field]) => typeof view.limits?.[field as string] === 'number')
    .map(([field, per]) => `$${view.limits?.[field as string]} ${per}`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

export function formatCreated(created: CreatedKey): string {
  if (created.kind === 'admin') {
    return [
      `Created admin key ${created.keyId} (owner ${created.owner}, ${expiry(created)}).`,
      'It manages keys and reads usage on /v1/organization; it can never call a model.',
      '',
      `  ${created.key}`,
      '',
      'Store this key now: it is shown only once. Send it as "Authorization: Bearer <key>".',
    ].join('\n');
  }
  return [
    `Created ${created.keyId} (plan ${created.plan}, owner ${created.owner}, ${expiry(created)}).`,
    ...(created.models ? [`It may call only: ${created.models.join(', ')}.`] : []),
    ...(budgets(created) ? [`Budgets: ${budgets(created)}.`] : []),
    '',
    `  ${created.key}`,
    '',
    'Store this key now: it is shown only once. Send it as "Authorization: Bearer <key>".',
  ].join('\n');
}

/** The PLAN column: an admin key has none. */
const planOf = (view: KeyView) => (view.kind === 'admin' ? '(admin)' : view.plan);

const COLUMNS = [
  'KEY ID',
  'PREFIX',
  'OWNER',
  'PLAN',
  'STATUS',
  'CREATED',
  'EXPIRES',
  'LAST USED',
  'MODELS',
] as const;

export function formatList(views: readonly KeyView[]): string {
  if (views.length === 0) return 'No keys.';
  const rows = views.map((view) => [
    view.keyId,
    view.prefix,
    view.owner,
    planOf(view),
    view.status,
    view.createdAt,
    view.expiresAt ?? '-',
    view.lastUsedAt ?? '-',
    view.models?.join(',') ?? '-',
  ]);
  const widths = COLUMNS.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)].join('\n');
}

export function formatShown(view: KeyView): string {
  const fields: [string, string | undefined][] = [
    ['key id', view.keyId],
    ['prefix', view.prefix],
    ['owner', view.owner],
    ['name', view.name],
    [
      'kind',
      view.kind === 'admin' ? 'admin (manages keys and usage, never calls a model)' : undefined,
    ],
    ['plan', view.kind === 'admin' ? undefined : view.plan],
    ['status', view.status],
    ['created', view.createdAt],
    ['expires', view.expiresAt ?? 'never'],
    ['revoked', view.revokedAt],
    ['limits', view.limits ? JSON.stringify(view.limits) : undefined],
    ['models', view.kind === 'admin' ? undefined : models(view)],
    ['rotated', view.rotatedAt],
    ['last used', view.lastUsedAt ?? 'never (recorded at most every 15 minutes)'],
    ...(view.previous ?? []).map((old): [string, string] => [
      'previous',
      `${old.prefix} works until ${old.expiresAt}, last used ${old.lastUsedAt ?? 'never'}`,
    ]),
  ];
  return fields
    .filter((field): field is [string, string] => field[1] !== undefined)
    .map(([name, value]) => `${`${name}:`.padEnd(11)}${value}`)
    .join('\n');
}

function cacheBound(cacheTtlSeconds: number | undefined): string {
  return cacheTtlSeconds === undefined
    ? 'auth.cacheTtlSeconds'
    : `${cacheTtlSeconds} s (auth.cacheTtlSeconds)`;
}

export function formatRotated(rotated: RotatedKey, cacheTtlSeconds?: number): string {
  return [
    `Rotated ${rotated.keyId}: a new secret for the same key (plan ${planOf(rotated)}, owner ${rotated.owner}, ${expiry(rotated)}).`,
    '',
    `  ${rotated.key}`,
    '',
    'Store this key now: it is shown only once. Send it as "Authorization: Bearer <key>".',
    `The old secret ${rotated.replaced.prefix}... works until ${rotated.replaced.expiresAt} (plus up to ${cacheBound(cacheTtlSeconds)} on gateways that cached it).`,
  ].join('\n');
}

export function formatUpdated(view: KeyView, cacheTtlSeconds?: number): string {
  const what =
    view.kind === 'admin'
      ? `admin key, ${expiry(view)}`
      : `plan ${view.plan}, ${expiry(view)}, models: ${models(view)}`;
  return `Updated ${view.keyId} (${what}). Gateways apply it within ${cacheBound(cacheTtlSeconds)}.`;
}

export function formatRevoked(revoked: RevokedKey, cacheTtlSeconds?: number): string {
  if (revoked.alreadyRevoked)
    return `${revoked.keyId} was already revoked at ${revoked.revokedAt}.`;
  return `Revoked ${revoked.keyId}. Gateways reject it within ${cacheBound(cacheTtlSeconds)}, as they cache keys that long.`;
}

/** One line for stderr. `where` names the table's location for connection problems. */
export function describeError(err: unknown, where: string): string {
  if (err instanceof AdminError || err instanceof ConfigError) return err.message;
  const name = err instanceof Error ? err.name : '';
  const code = (err as { code?: string } | null)?.code;
  if (name === 'ResourceNotFoundException') {
    return `the key table does not exist at ${where}; check --table, or create it (npm start does locally)`;
  }
  if (name === 'CredentialsProviderError') {
    return 'no AWS credentials found: set AWS_PROFILE or AWS credentials, or use --local/--endpoint';
  }
  if (code === 'ECONNREFUSED' || name === 'TimeoutError' || code === 'ETIMEDOUT') {
    return `cannot reach DynamoDB at ${where}; is it running?`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `${name || 'error'}: ${message.split('\n')[0]}`;
}
