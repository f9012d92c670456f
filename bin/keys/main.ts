/**
 * The key CLI behind `npm run keys -- <command>`: argument parsing and dispatch. The work on keys
 * is in lambda/authorizer/admin.ts (shared with the local stack's demo key), where the table is in
 * ./target.ts, what is printed in ./output.ts. Exit codes: 0 ok, 1 error (one line on stderr),
 * 2 usage error (usage on stderr).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  AdminError,
  checkKeyId,
  checkModels,
  createAdminKey,
  createKey,
  DEFAULT_OVERLAP,
  listKeys,
  parseOverlap,
  revokeKey,
  rotateKey,
  showKey,
  updateKey,
} from '#authorizer/admin';
import { type AxonConfig, configFromEnv, loadConfigFile, planLimits } from '#shared/config';
import {
  describeError,
  formatCreated,
  formatList,
  formatRevoked,
  formatRotated,
  formatShown,
  formatUpdated,
} from './output.ts';
import { resolveTarget, type Target, usageTableOf } from './target.ts';
import { formatUsage, parseWhen, usageReport } from './usage.ts';

const USAGE = `Usage: npm run keys -- <command> [options]

Commands:
  create --plan <plan> [--owner <name>] [--expires-in <30d|12h|90m>] [--models <m1,m2>]
         [--daily-budget-usd <usd>] [--monthly-budget-usd <usd>]
                         create a key and print it (the only time it is shown);
                         --models: the only models it may call (default: its plan's list,
                         else every model); budgets over its plan's (need the config's prices)
  create-admin [--owner <name>] [--name <label>] [--expires-in <30d|12h|90m>]
                         create an admin key (axon_admin_...): it manages keys and reads usage
                         on the gateway's /v1/organization routes and never calls a model
  list [--owner <name>]  list keys, newest first
  show <keyId>           show one key
  revoke <keyId>         revoke a key, every secret of it (gateways reject it within the cache TTL)
  rotate <keyId> [--overlap <24h|90m|0>]
                         a new secret for the same key id (limits, usage and budgets carry on),
                         printed once; the old one works until the overlap ends (default 24h)
  update <keyId> [--plan <plan>] [--models <m1,m2> | --all-models]
                 [--expires-in <30d|12h|90m> | --never-expires]
                         change a key's plan, models or expiry (within the cache TTL)
  usage [--key <keyId>] [--since <2026-11-01|30d>] [--until <date|duration>] [--by-hour]
                         what keys used, per UTC day (or hour), key and model, from the Usage
                         table the usage exporter fills (default: the last 7 days); --local
                         also reads the hours not exported yet from the stack's Redis

Where the key table is:
  --local                the running local stack (npm start)
  --endpoint <url>       any DynamoDB endpoint, e.g. dynalite (table: --table, default axon-local-api-keys)
  --stage <name>         a deployed stage (default dev): table from stack Axon-<stage>-Data
  --region <region>      AWS region of the stage
  --table <name>         the table name, skipping the lookup
  --usage-table <name>   usage: the Usage table (default: the local stack's or the stage's;
                         needed with --endpoint)

Other options:
  --config <file>        config whose plans create accepts (default: AXON_CONFIG, else config/axon.json)
  --json                 print one JSON value instead of text
  -h, --help             this text`;

const OPTIONS = {
  plan: { type: 'string' },
  owner: { type: 'string' },
  name: { type: 'string' },
  'expires-in': { type: 'string' },
  models: { type: 'string' },
  'all-models': { type: 'boolean' },
  'daily-budget-usd': { type: 'string' },
  'monthly-budget-usd': { type: 'string' },
  'never-expires': { type: 'boolean' },
  overlap: { type: 'string' },
  key: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  'by-hour': { type: 'boolean' },
  'usage-table': { type: 'string' },
  local: { type: 'boolean' },
  endpoint: { type: 'string' },
  stage: { type: 'string' },
  region: { type: 'string' },
  table: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/axon.json', import.meta.url));

function loadConfig(path: string | undefined): AxonConfig {
  if (path !== undefined) return loadConfigFile(path);
  if (process.env.AXON_CONFIG?.trim()) return configFromEnv(process.env);
  return loadConfigFile(DEFAULT_CONFIG);
}

/** The cache TTL for messages; a missing or bad config only makes the message vaguer. */
function cacheTtl(path: string | undefined): number | undefined {
  try {
    return loadConfig(path).auth.cacheTtlSeconds;
  } catch {
    return undefined;
  }
}

function parse(argv: string[]) {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  const arity: Record<string, number> = {
    create: 0,
    'create-admin': 0,
    list: 0,
    show: 1,
    revoke: 1,
    rotate: 1,
    update: 1,
    usage: 0,
  };
  if (values.help) return { help: true as const };
  if (command === undefined) throw new UsageError('missing command');
  const wanted = arity[command];
  if (wanted === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  if (rest.length !== wanted) {
    throw new UsageError(
      wanted === 1 ? `${command} needs exactly one <keyId>` : `${command} takes no arguments`,
    );
  }
  if (command === 'create' && values.plan === undefined)
    throw new UsageError('create needs --plan <plan>');
  const changing = command === 'create' || command === 'update';
  if (!changing && (values.plan ?? values.models) !== undefined) {
    throw new UsageError('--plan and --models only apply to create and update');
  }
  if (!changing && command !== 'create-admin' && values['expires-in'] !== undefined) {
    throw new UsageError('--expires-in only applies to create, create-admin and update');
  }
  if (
    command !== 'create' &&
    (values['daily-budget-usd'] ?? values['monthly-budget-usd']) !== undefined
  ) {
    throw new UsageError('--daily-budget-usd and --monthly-budget-usd only apply to create');
  }
  if (command !== 'create-admin' && values.name !== undefined) {
    throw new UsageError('--name only applies to create-admin');
  }
  if (command !== 'update' && (values['all-models'] || values['never-expires'])) {
    throw new UsageError('--all-models and --never-expires only apply to update');
  }
  if (values['all-models'] && values.models !== undefined) {
    throw new UsageError('use either --models or --all-models, not both');
  }
  if (values['never-expires'] && values['expires-in'] !== undefined) {
    throw new UsageError('use either --expires-in or --never-expires, not both');
  }
  const usageOnly = [values.key, values.since, values.until, values['usage-table']];
  if (command !== 'usage' && (usageOnly.some((v) => v !== undefined) || values['by-hour'])) {
    throw new UsageError(
      '--key, --since, --until, --by-hour and --usage-table only apply to usage',
    );
  }
  if (command !== 'rotate' && values.overlap !== undefined) {
    throw new UsageError('--overlap only applies to rotate');
  }
  if (values.local && values.endpoint !== undefined) {
    throw new UsageError('use either --local or --endpoint, not both');
  }
  return { help: false as const, command, keyId: rest[0] ?? '', values };
}

type Args = Exclude<ReturnType<typeof parse>, { help: true }>;

/** `--daily-budget-usd` and `--monthly-budget-usd` as numbers (the config's rules check them). */
function budgetsOption(values: { 'daily-budget-usd'?: string; 'monthly-budget-usd'?: string }) {
  const usd = (text: string | undefined, flag: string) => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) {
      throw new AdminError(`${flag} must be a number of US dollars such as 5 or 0.25`);
    }
    return value;
  };
  const daily = usd(values['daily-budget-usd'], '--daily-budget-usd');
  const monthly = usd(values['monthly-budget-usd'], '--monthly-budget-usd');
  if (daily === undefined && monthly === undefined) return undefined;
  return {
    ...(daily !== undefined && { dailyBudgetUsd: daily }),
    ...(monthly !== undefined && { monthlyBudgetUsd: monthly }),
  };
}

/** `--models a,b` as a checked list (spaces around names ignored); absent stays absent. */
function modelsOption(value: string | undefined): readonly string[] | undefined {
  return value === undefined ? undefined : checkModels(value.split(',').map((name) => name.trim()));
}

async function execute(
  args: Args,
  target: Target,
  config: AxonConfig | undefined,
): Promise<{ json: unknown; text: string }> {
  const { command, keyId, values } = args;
  const { client, tableName } = target;
  switch (command) {
    case 'create': {
      const created = await createKey(client, tableName, {
        config: config ?? loadConfig(values.config),
        plan: values.plan ?? '',
        ...(values.owner !== undefined && { owner: values.owner }),
        ...(values['expires-in'] !== undefined && { expiresIn: values['expires-in'] }),
        ...(values.models !== undefined && { models: modelsOption(values.models) }),
        ...(budgetsOption(values) && { budgets: budgetsOption(values) }),
      });
      return { json: created, text: formatCreated(created) };
    }
    case 'create-admin': {
      const created = await createAdminKey(client, tableName, {
        ...(values.owner !== undefined && { owner: values.owner }),
        ...(values.name !== undefined && { name: values.name }),
        ...(values['expires-in'] !== undefined && { expiresIn: values['expires-in'] }),
      });
      return { json: created, text: formatCreated(created) };
    }
    case 'list': {
      const views = await listKeys(client, tableName, values.owner);
      return { json: views, text: formatList(views) };
    }
    case 'show': {
      const view = await showKey(client, tableName, keyId);
      return { json: view, text: formatShown(view) };
    }
    case 'usage': {
      const now = new Date();
      const usage = await usageTableOf(target, values['usage-table']);
      const redisUrl = target.local?.limiterRedisUrl;
      const ledger = redisUrl
        ? new (await import('ioredis')).Redis(redisUrl, {
            lazyConnect: true,
            maxRetriesPerRequest: 1,
          })
        : undefined;
      try {
        const report = await usageReport({
          ...(ledger && { ledger }),
          client: usage.client,
          usageTable: usage.tableName,
          keysTable: tableName,
          ...(values.key !== undefined && { keyId: checkKeyId(values.key) }),
          since: parseWhen(values.since ?? '7d', '--since', now),
          until: values.until === undefined ? now : parseWhen(values.until, '--until', now),
          hourly: values['by-hour'] === true,
        });
        return { json: report, text: formatUsage(report) };
      } finally {
        usage.client.destroy();
        ledger?.disconnect();
      }
    }
    case 'rotate': {
      const rotated = await rotateKey(client, tableName, keyId, {
        overlapMs: parseOverlap(values.overlap ?? DEFAULT_OVERLAP),
      });
      return { json: rotated, text: formatRotated(rotated, cacheTtl(values.config)) };
    }
    case 'update': {
      const updated = await updateKey(client, tableName, keyId, {
        config: config ?? loadConfig(values.config),
        ...(values.plan !== undefined && { plan: values.plan }),
        ...(values.models !== undefined && { models: modelsOption(values.models) }),
        ...(values['all-models'] && { models: null }),
        ...(values['expires-in'] !== undefined && { expiresIn: values['expires-in'] }),
        ...(values['never-expires'] && { expiresIn: null }),
      });
      return { json: updated, text: formatUpdated(updated, cacheTtl(values.config)) };
    }
    default: {
      const revoked = await revokeKey(client, tableName, keyId);
      return { json: revoked, text: formatRevoked(revoked, cacheTtl(values.config)) };
    }
  }
}

/** Runs one CLI command; resolves to the process exit code, so the entry point stays one line. */
export async function main(argv: string[]): Promise<number> {
  // The SDK's Node 20 end-of-support notice would break "one line on stderr"; engines covers it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let target: Target | undefined;
  try {
    // A create's or update's plan and models, and a rotation's overlap, are checked before any
    // network call, so a typo fails fast and offline.
    const { command, values } = args;
    const config =
      command === 'create' || command === 'update' ? loadConfig(values.config) : undefined;
    if (config && values.plan !== undefined) planLimits(config, values.plan);
    modelsOption(values.models);
    if (values.overlap !== undefined) parseOverlap(values.overlap);
    target = await resolveTarget(args.values);
    const { json, text } = await execute(args, target, config);
    process.stdout.write(`${args.values.json ? JSON.stringify(json) : text}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${describeError(err, target?.where ?? 'the key table')}\n`);
    return 1;
  } finally {
    target?.client.destroy();
  }
}
