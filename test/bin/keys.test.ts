/**
 * `npm run keys` run for real, as a subprocess (tsx), against dynalite on a free port. The keys
 * it prints are then presented to a real Authorizer over the same table.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { AxonError } from '@axon/runtime/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '#authorizer/admin';
import { Authorizer } from '#authorizer/authorizer';
import {
  createDynamoClient,
  createKeyTable,
  KeyStore,
  LOCAL_KEYS_TABLE,
} from '#authorizer/key-store';
import { PrincipalCache } from '#authorizer/principal-cache';
import { loadConfigFile } from '#shared/config';
import { MemoryStore } from '#token-bucket/memory-store';
import { createUsageTable, UsageTable } from '../../lambda/usage-export/usage-table.ts';
import {
  createTestTable,
  type Dynalite,
  LogCapture,
  startDynalite,
} from '../lambda/authorizer/support.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = join(ROOT, 'bin', 'keys.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from `cwd` (a scratch directory, as `.axon/local.json` is looked up there). */
function keys(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      [CLI, ...args],
      { cwd: scratch, env: { ...process.env, AXON_CONFIG: '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let db: Dynalite;
let scratch: string;
let table: Awaited<ReturnType<typeof createTestTable>>;
let at: string[];
const logs = new LogCapture();

beforeAll(async () => {
  db = await startDynalite();
  table = await createTestTable(db.endpoint);
  at = ['--endpoint', db.endpoint, '--table', table.tableName];
  scratch = mkdtempSync(join(tmpdir(), 'axon-keys-cli-'));
});
afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await db.stop();
});

async function authenticate(key: string) {
  const config = loadConfigFile(join(ROOT, 'config', 'axon.json'));
  const authorizer = new Authorizer({
    keys: new KeyStore(table.client, table.tableName),
    cache: new PrincipalCache({ ttlSeconds: 30 }),
    failures: new MemoryStore(),
    config,
    log: logs.logger,
  });
  logs.start();
  try {
    return await authorizer.authenticate({ authorization: `Bearer ${key}` });
  } catch (err) {
    if (err instanceof AxonError) return err;
    throw err;
  } finally {
    logs.stop();
  }
}

describe('npm run keys', () => {
  it('creates, lists, shows and revokes a key end to end with --json', async () => {
    const create = await keys([
      'create',
      '--plan',
      'pro',
      '--owner',
      'alice',
      '--expires-in',
      '30d',
      '--json',
      ...at,
    ]);
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);
    const created = JSON.parse(create.stdout);
    expect(created).toMatchObject({ plan: 'pro', owner: 'alice', status: 'active' });
    expect(created.key).toMatch(/^axon_[0-9A-Za-z]{36}$/);
    expect(created.keyId).toMatch(/^key_[0-9A-Za-z]{16}$/);
    expect(created.prefix).toBe(created.key.slice(0, 12));
    expect(Date.parse(created.expiresAt) - Date.parse(created.createdAt)).toBe(30 * 86_400_000);
    expect(await authenticate(created.key)).toMatchObject({
      keyId: created.keyId,
      plan: 'pro',
      owner: 'alice',
    });

    const list = await keys(['list', '--owner', 'alice', '--json', ...at]);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.map((k: { keyId: string }) => k.keyId)).toEqual([created.keyId]);
    expect(list.stdout).not.toContain(created.key.slice(12));

    const show = await keys(['show', created.keyId, '--json', ...at]);
    expect(JSON.parse(show.stdout)).toMatchObject({
      keyId: created.keyId,
      status: 'active',
      owner: 'alice',
    });

    const revoke = await keys(['revoke', created.keyId, '--json', ...at]);
    expect(revoke.code).toBe(0);
    expect(JSON.parse(revoke.stdout)).toMatchObject({
      keyId: created.keyId,
      status: 'revoked',
      alreadyRevoked: false,
    });
    expect(await authenticate(created.key)).toMatchObject({ status: 401, code: 'invalid_api_key' });

    const again = await keys(['revoke', created.keyId, ...at]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/was already revoked at /);
  });

  it('prints a new key once in text mode, never in listings, and says when a revoke takes effect', async () => {
    const create = await keys(['create', '--plan', 'free', '--owner', 'bob', ...at]);
    expect(create.code).toBe(0);
    const key = /axon_[0-9A-Za-z]{36}/.exec(create.stdout)?.[0] ?? '';
    expect(create.stdout.split(key)).toHaveLength(2);
    expect(create.stdout).toMatch(/shown only once/);
    const { items } = {
      items: (await table.client.send(new ScanCommand({ TableName: table.tableName }))).Items,
    };
    expect(JSON.stringify(items)).not.toContain(key.slice(12));

    const list = await keys(['list', ...at]);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(
      /^KEY ID\s+PREFIX\s+OWNER\s+PLAN\s+STATUS\s+CREATED\s+EXPIRES\s+LAST USED\s+MODELS$/,
    );
    expect(list.stdout).toContain(key.slice(0, 12));
    expect(list.stdout).not.toContain(key.slice(12));

    const keyId = /key_[0-9A-Za-z]{16}/.exec(create.stdout)?.[0] ?? '';
    const revoke = await keys(['revoke', keyId, ...at]);
    expect(revoke).toEqual({
      code: 0,
      stdout: `Revoked ${keyId}. Gateways reject it within 30 s (auth.cacheTtlSeconds), as they cache keys that long.\n`,
      stderr: '',
    });
  });

  it('creates a key limited to --models, shows its list, and its principal carries it', async () => {
    const create = await keys([
      'create',
      '--plan',
      'free',
      '--owner',
      'models-cli',
      '--models',
      'stub-echo-chatml, stub-echo-llama3',
      ...at,
    ]);
    expect(create.code).toBe(0);
    expect(create.stdout).toContain('It may call only: stub-echo-chatml, stub-echo-llama3.');
    const key = /axon_[0-9A-Za-z]{36}/.exec(create.stdout)?.[0] ?? '';
    const keyId = /key_[0-9A-Za-z]{16}/.exec(create.stdout)?.[0] ?? '';
    expect(await authenticate(key)).toMatchObject({
      keyId,
      models: ['stub-echo-chatml', 'stub-echo-llama3'],
    });

    const show = await keys(['show', keyId, ...at]);
    expect(show.stdout).toContain('models:    stub-echo-chatml, stub-echo-llama3');
    const shown = JSON.parse((await keys(['show', keyId, '--json', ...at])).stdout);
    expect(shown.models).toEqual(['stub-echo-chatml', 'stub-echo-llama3']);
    const list = await keys(['list', '--owner', 'models-cli', ...at]);
    expect(list.stdout.split('\n')[1]).toMatch(/\sstub-echo-chatml,stub-echo-llama3$/);

    // Without --models the key follows its plan, and says so.
    const plain = await keys(['create', '--plan', 'free', '--owner', 'models-cli', ...at]);
    const plainId = /key_[0-9A-Za-z]{16}/.exec(plain.stdout)?.[0] ?? '';
    expect(plain.stdout).not.toContain('It may call only');
    expect((await keys(['show', plainId, ...at])).stdout).toContain(
      "models:    its plan's (every model if the plan lists none)",
    );
  });

  it('rotates a key: the new secret printed once, both working until the overlap ends, one key id', async () => {
    const create = await keys(['create', '--plan', 'free', '--owner', 'rotor', '--json', ...at]);
    const created = JSON.parse(create.stdout);
    const rotate = await keys(['rotate', created.keyId, '--overlap', '2h', ...at]);
    expect(rotate.code).toBe(0);
    expect(rotate.stderr).toBe('');
    const key = /axon_[0-9A-Za-z]{36}/.exec(rotate.stdout)?.[0] ?? '';
    expect(key).not.toBe(created.key);
    expect(rotate.stdout.split(key)).toHaveLength(2);
    expect(rotate.stdout).toContain(`Rotated ${created.keyId}: a new secret for the same key`);
    expect(rotate.stdout).toMatch(
      new RegExp(
        `The old secret ${created.prefix}\\.\\.\\. works until \\S+ \\(plus up to 30 s \\(auth\\.cacheTtlSeconds\\)`,
      ),
    );
    expect(await authenticate(created.key)).toMatchObject({ keyId: created.keyId });
    expect(await authenticate(key)).toMatchObject({ keyId: created.keyId });

    const shown = JSON.parse((await keys(['show', created.keyId, '--json', ...at])).stdout);
    expect(shown.prefix).toBe(key.slice(0, 12));
    expect(shown.previous).toEqual([
      expect.objectContaining({ prefix: created.prefix, expiresAt: expect.any(String) }),
    ]);
    expect(Date.parse(shown.previous[0].expiresAt) - Date.parse(shown.rotatedAt)).toBe(
      2 * 3_600_000,
    );
    const text = (await keys(['show', created.keyId, ...at])).stdout;
    expect(text).toMatch(new RegExp(`previous:\\s+${created.prefix} works until `));
    expect(text).toMatch(/last used:\s+\S+/);
    const list = await keys(['list', '--owner', 'rotor', '--json', ...at]);
    expect(JSON.parse(list.stdout).map((k: { prefix: string }) => k.prefix)).toEqual([
      key.slice(0, 12),
    ]);

    // --overlap 0: the old secret stops now (a fresh authorizer has nothing cached).
    const again = await keys(['rotate', created.keyId, '--overlap', '0', '--json', ...at]);
    expect(again.code).toBe(0);
    expect(await authenticate(key)).toMatchObject({ status: 401 });
    expect(await authenticate(JSON.parse(again.stdout).key)).toMatchObject({
      keyId: created.keyId,
    });

    const revoke = await keys(['revoke', created.keyId, ...at]);
    expect(revoke.code).toBe(0);
    expect(await authenticate(created.key)).toMatchObject({ status: 401 });
    expect(await authenticate(JSON.parse(again.stdout).key)).toMatchObject({ status: 401 });
  });

  it('updates a key’s plan, models and expiry, and refuses a bad value before any network call', async () => {
    const create = await keys(['create', '--plan', 'free', '--json', ...at]);
    const created = JSON.parse(create.stdout);
    const update = await keys([
      'update',
      created.keyId,
      '--plan',
      'pro',
      '--models',
      'stub-echo-chatml',
      '--expires-in',
      '12h',
      ...at,
    ]);
    expect(update.code).toBe(0);
    expect(update.stdout).toMatch(
      new RegExp(
        `^Updated ${created.keyId} \\(plan pro, expires \\S+, models: stub-echo-chatml\\)\\. Gateways apply it within 30 s`,
      ),
    );
    expect(await authenticate(created.key)).toMatchObject({
      plan: 'pro',
      models: ['stub-echo-chatml'],
    });
    const back = await keys([
      'update',
      created.keyId,
      '--all-models',
      '--never-expires',
      '--json',
      ...at,
    ]);
    const view = JSON.parse(back.stdout);
    expect(view.plan).toBe('pro');
    expect(view).not.toHaveProperty('models');
    expect(view).not.toHaveProperty('expiresAt');

    const offline = ['--endpoint', 'http://127.0.0.1:1'];
    for (const [args, message] of [
      [['--plan', 'gold'], 'unknown plan "gold"'],
      [['--models', 'a,a'], '--models names "a" twice'],
    ] as const) {
      const run = await keys(['update', created.keyId, ...args, ...offline]);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr, args.join(' ')).toContain(message);
    }
    const overlap = await keys(['rotate', created.keyId, '--overlap', '1w', ...offline]);
    expect(overlap).toMatchObject({ code: 1, stdout: '' });
    expect(overlap.stderr).toContain('--overlap must be a positive duration');
  });

  it('creates an admin key with create-admin: shown once, listed as (admin), authenticates as an admin', async () => {
    const create = await keys(['create-admin', '--owner', 'ops', '--name', 'CI', ...at]);
    expect(create.code).toBe(0);
    const key = /axon_admin_[0-9A-Za-z]{36}/.exec(create.stdout)?.[0] ?? '';
    expect(create.stdout.split(key)).toHaveLength(2);
    expect(create.stdout).toMatch(
      /^Created admin key key_[0-9A-Za-z]{16} \(owner ops, never expires\)\./,
    );
    expect(create.stdout).toContain('it can never call a model');
    const keyId = /key_[0-9A-Za-z]{16}/.exec(create.stdout)?.[0] ?? '';
    expect(await authenticate(key)).toMatchObject({ keyId, kind: 'admin', plan: '' });

    const list = await keys(['list', '--owner', 'ops', ...at]);
    expect(list.stdout.split('\n')[1]).toMatch(
      new RegExp(`^${keyId}\\s+${key.slice(0, 18)}\\s+ops\\s+\\(admin\\)\\s+active`),
    );
    const show = await keys(['show', keyId, ...at]);
    expect(show.stdout).toContain('kind:      admin (manages keys and usage, never calls a model)');
    expect(show.stdout).toContain('name:      CI');
    expect(show.stdout).not.toMatch(/^(plan|models):/m);
    const json = JSON.parse((await keys(['show', keyId, '--json', ...at])).stdout);
    expect(json).toMatchObject({ keyId, kind: 'admin', name: 'CI', plan: '' });

    const update = await keys(['update', keyId, '--plan', 'pro', ...at]);
    expect(update).toMatchObject({ code: 1, stdout: '' });
    expect(update.stderr).toContain('is an admin key: it has no plan or models, only an expiry');
  });

  it('creates a key with its own budgets, which need the config’s prices', async () => {
    const unpriced = join(scratch, 'unpriced.json');
    writeFileSync(
      unpriced,
      JSON.stringify({ plans: { free: { requestsPerMinute: 10, burst: 5 } } }),
    );
    const noPrices = await keys([
      'create',
      '--plan',
      'free',
      '--daily-budget-usd',
      '5',
      '--config',
      unpriced,
      ...at,
    ]);
    expect(noPrices).toMatchObject({
      code: 1,
      stderr: "error: budgets need the config's prices: this stage prices no model\n",
    });
    const file = join(scratch, 'priced.json');
    writeFileSync(
      file,
      JSON.stringify({
        plans: { team: { requestsPerMinute: 10, burst: 5 } },
        prices: { small: { inputPerMillion: 1, outputPerMillion: 2 } },
      }),
    );
    const create = await keys([
      'create',
      '--plan',
      'team',
      '--daily-budget-usd',
      '5',
      '--monthly-budget-usd',
      '0.25',
      '--config',
      file,
      ...at,
    ]);
    expect(create.code).toBe(0);
    expect(create.stdout).toContain('Budgets: $5 a day, $0.25 a month.');
    const keyId = /key_[0-9A-Za-z]{16}/.exec(create.stdout)?.[0] ?? '';
    expect(JSON.parse((await keys(['show', keyId, '--json', ...at])).stdout).limits).toEqual({
      dailyBudgetUsd: 5,
      monthlyBudgetUsd: 0.25,
    });
    const bad = await keys([
      'create',
      '--plan',
      'team',
      '--daily-budget-usd',
      'lots',
      '--config',
      file,
      ...at,
    ]);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toContain('--daily-budget-usd must be a number of US dollars');
  });

  it('reports usage per day, key and model from the Usage table the exporter fills', async () => {
    const base = createDynamoClient({ endpoint: db.endpoint, maxAttempts: 1 });
    await createUsageTable(base, 'usage-cli');
    const usage = new UsageTable(base, 'usage-cli');
    const config = loadConfigFile(join(ROOT, 'config', 'axon.json'));
    const a = await createKey(table.client, table.tableName, { config, plan: 'free' });
    const b = await createKey(table.client, table.tableName, { config, plan: 'pro' });
    const hour = Date.UTC(2026, 0, 5) / 3_600_000;
    const put = (
      keyId: string,
      h: number,
      model: string,
      n: [number, number, number, number, number],
    ) =>
      usage.put({
        keyId,
        hour: h,
        model,
        requests: String(n[0]),
        inputTokens: String(n[1]),
        outputTokens: String(n[2]),
        cachedTokens: String(n[3]),
        costNanoUsd: String(n[4]),
      });
    await put(a.keyId, hour + 1, 'small', [2, 100, 50, 10, 1_500_000_000]);
    await put(a.keyId, hour + 3, 'small', [1, 10, 5, 0, 250_000_000]);
    await put(b.keyId, hour + 25, 'other', [4, 400, 40, 0, 0]);
    await put(b.keyId, hour + 80, 'other', [1, 1, 1, 0, 0]); // after --until
    base.destroy();
    const range = ['--since', '2026-01-05', '--until', '2026-01-07', '--usage-table', 'usage-cli'];

    const json = await keys(['usage', ...range, '--json', ...at]);
    expect(json.stderr).toBe('');
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      since: '2026-01-05T00:00:00.000Z',
      until: '2026-01-07T00:00:00.000Z',
      by: 'day',
      // --endpoint, not --local: no Redis to read the open hours from.
      live: false,
    });
    expect(report.lines).toEqual([
      {
        period: '2026-01-05',
        keyId: a.keyId,
        model: 'small',
        requests: 3,
        inputTokens: 110,
        cachedTokens: 10,
        outputTokens: 55,
        costUsd: 1.75,
      },
      {
        period: '2026-01-06',
        keyId: b.keyId,
        model: 'other',
        requests: 4,
        inputTokens: 400,
        cachedTokens: 0,
        outputTokens: 40,
        costUsd: 0,
      },
    ]);
    expect(report.total).toEqual({
      requests: 7,
      inputTokens: 510,
      cachedTokens: 10,
      outputTokens: 95,
      costUsd: 1.75,
    });

    const text = await keys(['usage', ...range, ...at]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'Usage from 2026-01-05T00:00:00.000Z to 2026-01-07T00:00:00.000Z, per UTC day, key and model (hours the usage exporter has written):',
    );
    expect(lines[1]).toMatch(
      /^DAY\s+KEY ID\s+MODEL\s+REQUESTS\s+INPUT\s+CACHED\s+OUTPUT\s+COST USD$/,
    );
    expect(lines[2]).toMatch(
      new RegExp(`^2026-01-05\\s+${a.keyId}\\s+small\\s+3\\s+110\\s+10\\s+55\\s+1\\.750000$`),
    );
    expect(lines.at(-1)).toMatch(/^TOTAL\s+7\s+510\s+10\s+95\s+1\.750000$/);

    const hourly = JSON.parse(
      (await keys(['usage', ...range, '--key', a.keyId, '--by-hour', '--json', ...at])).stdout,
    );
    expect(
      hourly.lines.map((l: { period: string; requests: number }) => [l.period, l.requests]),
    ).toEqual([
      ['2026-01-05T01', 2],
      ['2026-01-05T03', 1],
    ]);

    const noTable = await keys(['usage', ...at]);
    expect(noTable).toMatchObject({ code: 1, stdout: '' });
    expect(noTable.stderr).toContain(
      'pass --usage-table <name>, or use --local or a deployed --stage',
    );
    const badSince = await keys([
      'usage',
      '--since',
      'yesterday',
      '--usage-table',
      'usage-cli',
      ...at,
    ]);
    expect(badSince.stderr).toContain(
      '--since must be a UTC date such as 2026-11-01 or a duration ago',
    );
  });

  it('refuses a bad --models with exit 1 and one line, before any network call', async () => {
    const offline = ['--endpoint', 'http://127.0.0.1:1'];
    const cases: [string, string][] = [
      ['', '--models[0] must be a model name'],
      ['a,,b', '--models[1] must be a model name'],
      ['a,a', '--models names "a" twice; list each model once'],
      ['a b', '--models[0] must be a model name'],
    ];
    for (const [models, message] of cases) {
      const run = await keys(['create', '--plan', 'free', '--models', models, ...offline]);
      expect(run.code, models).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr, models).toContain(message);
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('fails with exit 1 and one line naming the valid plans for an unknown plan', async () => {
    const run = await keys(['create', '--plan', 'gold', ...at]);
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: unknown plan "gold"; valid plans: free, pro\n',
    });
  });

  it('validates plans against --config, or the file AXON_CONFIG names', async () => {
    const file = join(scratch, 'plans.json');
    writeFileSync(file, JSON.stringify({ plans: { team: { requestsPerMinute: 10, burst: 5 } } }));
    const viaFlag = await keys(['create', '--plan', 'team', '--config', file, '--json', ...at]);
    expect(viaFlag.code).toBe(0);
    expect(JSON.parse(viaFlag.stdout).plan).toBe('team');
    const viaEnv = await keys(['create', '--plan', 'free', ...at], { AXON_CONFIG: file });
    expect(viaEnv).toMatchObject({
      code: 1,
      stderr: 'error: unknown plan "free"; valid plans: team\n',
    });
  });

  it('fails with exit 2 and the usage text on usage errors', async () => {
    const cases = [
      [],
      ['rotate'],
      ['create'],
      ['show'],
      ['list', '--bogus'],
      ['revoke', 'a', 'b'],
      ['list', '--plan', 'free'],
      ['list', '--models', 'a'],
      ['list', '--local', '--endpoint', 'http://x'],
      ['rotate', 'a', 'b'],
      ['show', 'a', '--overlap', '1h'],
      ['create', '--plan', 'free', '--all-models'],
      ['update', 'a', '--models', 'x', '--all-models'],
      ['update', 'a', '--expires-in', '1d', '--never-expires'],
      ['create-admin', '--plan', 'free'],
      ['create-admin', '--models', 'a'],
      ['create', '--plan', 'free', '--name', 'x'],
      ['create-admin', 'extra'],
      ['update', 'a', '--daily-budget-usd', '1'],
      ['list', '--since', '1d'],
      ['usage', 'key_0000000000000000'],
    ];
    // One process per case, four at a time (each is a tsx start-up).
    const runs: Run[] = [];
    for (let i = 0; i < cases.length; i += 4) {
      runs.push(...(await Promise.all(cases.slice(i, i + 4).map((args) => keys(args)))));
    }
    cases.forEach((args, i) => {
      expect(runs[i]?.code, args.join(' ')).toBe(2);
      expect(runs[i]?.stderr, args.join(' ')).toMatch(/^error: .+\n\nUsage: npm run keys/);
    });
    const help = await keys(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run keys/);
  }, 120_000);

  it('fails with one clear line for an unknown key id, a pasted key, or an unreachable endpoint', async () => {
    const missing = await keys(['show', 'key_0000000000000000', ...at]);
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: no key with id key_0000000000000000\n',
    });
    const pastedKey = `axon_${'A'.repeat(36)}`;
    const pasted = await keys(['revoke', pastedKey, ...at]);
    expect(pasted.code).toBe(1);
    expect(pasted.stderr).not.toContain('A'.repeat(10));
    const down = await keys(['list', '--endpoint', 'http://127.0.0.1:1']);
    expect(down).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: cannot reach DynamoDB at http://127.0.0.1:1; is it running?\n',
    });
  });

  it('with --local, says how to start a stack when none runs, and uses the one .axon/local.json names', async () => {
    const none = await keys(['list', '--local']);
    expect(none).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: no local stack is running: start one with npm start, or pass --endpoint\n',
    });

    const local = await createTestTable(db.endpoint);
    mkdirSync(join(scratch, '.axon'), { recursive: true });
    writeFileSync(
      join(scratch, '.axon', 'local.json'),
      JSON.stringify({
        dynamodbEndpoint: db.endpoint,
        keysTable: local.tableName,
        region: 'us-east-1',
      }),
    );
    const create = await keys(['create', '--plan', 'free', '--local', '--json']);
    expect(create.code).toBe(0);
    const { keyId } = JSON.parse(create.stdout);
    const listed = await new KeyStore(local.client, local.tableName).getByKeyId(keyId);
    expect(listed?.plan).toBe('free');
    rmSync(join(scratch, '.axon'), { recursive: true });
  });

  it('with --endpoint alone, uses the local table name', async () => {
    const before = await keys(['list', '--endpoint', db.endpoint]);
    expect(before).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: the key table does not exist at ${db.endpoint}; check --table, or create it (npm start does locally)\n`,
    });
    const base = createDynamoClient({ endpoint: db.endpoint, maxAttempts: 1 });
    await createKeyTable(base, LOCAL_KEYS_TABLE);
    base.destroy();
    expect(await keys(['list', '--endpoint', db.endpoint])).toEqual({
      code: 0,
      stdout: 'No keys.\n',
      stderr: '',
    });
  });

  it('without --local or --endpoint, fails on missing AWS credentials with one line (no AWS here)', async () => {
    const run = await keys(['list', '--stage', 'prod', '--region', 'eu-west-1'], {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(scratch, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'none'),
    });
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: no AWS credentials found: set AWS_PROFILE or AWS credentials, or use --local/--endpoint\n',
    });
  });
});
