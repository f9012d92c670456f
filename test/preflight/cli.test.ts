/**
 * The CLI end to end: `main` in-process with the AWS control plane stand-ins of support.ts
 * (aws-sdk-client-mock), and `bin/preflight.ts` as a child process where no AWS call can
 * succeed, which is real: no credentials, or an endpoint that refuses connections.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { GetAccountSettingsCommand } from '@aws-sdk/client-lambda';
import { GetServiceQuotaCommand } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import type { Row } from '../../lib/preflight/report.ts';
import { main } from '../../lib/preflight/run.ts';
import { ACCOUNT, awsError, healthyAccount, mockedClients, REQUIREMENT } from './support.ts';

async function run(argv: string[], setup: (m: ReturnType<typeof mockedClients>['mocks']) => void) {
  const { clients, mocks } = mockedClients();
  setup(mocks);
  let stdout = '';
  let stderr = '';
  let requirementAsked = 0;
  const code = await main(argv, {
    createClients: () => clients,
    bootstrapRequirement: async () => {
      requirementAsked += 1;
      return REQUIREMENT;
    },
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    now: new Date('2026-11-30T08:00:00Z'),
  });
  return { code, stdout, stderr, mocks, requirementAsked };
}

describe('preflight CLI (in-process, AWS stand-ins)', () => {
  it('exits 0 on a healthy account, with only the plain-HTTP warning for dev', async () => {
    const { code, stdout } = await run(['--stage', 'dev'], (m) => healthyAccount(m));
    expect(code).toBe(0);
    expect(stdout).toContain('Preflight of stage dev in us-east-1');
    expect(stdout).toMatch(/^https\s+WARN\s+/m);
    expect(stdout).not.toMatch(/\sFAIL\s/);
    expect(stdout).toContain('0 FAIL, 1 WARN, 7 PASS: the account is ready for npm run deploy');
  });

  it('exits 1 when one check fails, and prints its fix', async () => {
    const { code, stdout } = await run(['--stage', 'dev'], (m) => healthyAccount(m, { gQuota: 0 }));
    expect(code).toBe(1);
    expect(stdout).toMatch(/^GPU quota \(G and VT, on-demand\)\s+FAIL\s+/m);
    expect(stdout).toContain('--quota-code L-DB2E81BA --desired-value 8');
    expect(stdout).toContain('1 FAIL, 1 WARN, 6 PASS: fix every FAIL row before npm run deploy');
  });

  it('prints the rows as JSON with --json, the exit code unchanged', async () => {
    const { code, stdout } = await run(['--stage', 'dev', '--json'], (m) =>
      healthyAccount(m, { gQuota: 0 }),
    );
    expect(code).toBe(1);
    const rows = JSON.parse(stdout) as Row[];
    expect(rows.map((r) => r.check)).toEqual([
      'account',
      'cdk bootstrap',
      'GPU quota (G and VT, on-demand)',
      'lambda concurrency',
      'https',
      'availability zones',
      'offering m7i.large',
      'offering g6.xlarge',
    ]);
    expect(rows.find((r) => r.status === 'FAIL')?.fix).toContain('L-DB2E81BA');
  });

  it('checks the prod stage certificate and zone, and fails on the account it pins', async () => {
    const { code, stdout } = await run(['--stage', 'prod', '--json'], (m) => healthyAccount(m));
    const rows = JSON.parse(stdout) as Row[];
    expect(code).toBe(1);
    expect(rows[0]).toMatchObject({ check: 'account', status: 'FAIL' });
    expect(rows[0]?.detail).toContain(`credentials are for account ${ACCOUNT}`);
    expect(rows.map((r) => r.check)).toContain('certificate');
    expect(rows.map((r) => r.check)).toContain('hosted zone');
  });

  it('stops after a failed STS call: one row for the credentials, no derived version, no other calls', async () => {
    const { code, stdout, mocks, requirementAsked } = await run(['--stage', 'dev'], (m) =>
      m.sts
        .on(GetCallerIdentityCommand)
        .rejects(
          awsError('CredentialsProviderError', 'Could not load credentials from any providers'),
        ),
    );
    expect(code).toBe(1);
    expect(stdout).toMatch(/^account\s+FAIL\s+no AWS credentials found/m);
    expect(stdout).toContain('1 FAIL, 1 WARN, 0 PASS');
    expect(requirementAsked).toBe(0);
    expect(mocks.quotas.commandCalls(GetServiceQuotaCommand)).toHaveLength(0);
  });

  it('prints exactly the sample docs/operations-preflight.md shows for the made-up account', async () => {
    const { code, stdout } = await run(['--stage', 'dev'], (m) => {
      healthyAccount(m, { gQuota: 0 });
      m.lambda.on(GetAccountSettingsCommand).resolves({
        AccountLimit: { ConcurrentExecutions: 400, UnreservedConcurrentExecutions: 400 },
      });
    });
    const doc = readFileSync('docs/operations-preflight.md', 'utf8');
    const sample = /\n(Preflight of stage dev in us-east-1\n[\s\S]*?\n)\$ echo \$\?\n1\n/.exec(
      doc,
    )?.[1];
    expect(code).toBe(1);
    expect(sample).toBe(stdout);
  });

  it('exits 2 with the usage on an unknown option', async () => {
    const { code, stderr, stdout } = await run(['--stag', 'dev'], () => {});
    expect(code).toBe(2);
    expect(stderr).toContain("Unknown option '--stag'");
    expect(stderr).toContain('Usage: npm run preflight');
    expect(stdout).toBe('');
  });

  it('exits 1 with the config error for a stage that has no file', async () => {
    const { code, stderr } = await run(['--stage', 'nosuch'], () => {});
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: no config for stage "nosuch"/);
  });
});

const execFileAsync = promisify(execFile);

/** A port with nothing listening: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** bin/preflight.ts with an environment that cannot reach any real AWS account. */
async function runBin(env: Record<string, string>) {
  const isolated: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: '/nonexistent' };
  const child = execFileAsync(
    process.execPath,
    ['--import', 'tsx', 'bin/preflight.ts', '--stage', 'dev'],
    {
      env: {
        ...isolated,
        AWS_CONFIG_FILE: '/nonexistent/config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      timeout: 120_000,
    },
  );
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('bin/preflight.ts (child process, no AWS reachable)', () => {
  it('reports missing credentials as a FAIL row and exits 1, without a stack trace', async () => {
    const { code, stdout, stderr } = await runBin({});
    expect(code).toBe(1);
    expect(stdout).toMatch(/^account\s+FAIL\s+no AWS credentials found/m);
    expect(`${stdout}${stderr}`).not.toMatch(/^\s+at /m);
  });

  it('never prints the credentials it was given, even when the call fails', async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSTANDINKEY';
    const { code, stdout, stderr } = await runBin({
      AWS_ACCESS_KEY_ID: 'AKIASTANDIN00000000',
      AWS_SECRET_ACCESS_KEY: secret,
      AWS_SESSION_TOKEN: 'stand-in-session-token',
      AWS_ENDPOINT_URL: `http://127.0.0.1:${await closedPort()}`,
    });
    expect(code).toBe(1);
    expect(stdout).toMatch(
      /^account\s+FAIL\s+cannot reach AWS to call sts:GetCallerIdentity \(ECONNREFUSED\)/m,
    );
    for (const leaked of [secret, 'AKIASTANDIN00000000', 'stand-in-session-token']) {
      expect(`${stdout}${stderr}`).not.toContain(leaked);
    }
  });
});
