/**
 * The CLI end to end: `main` in-process with the AWS control plane stand-ins of support.ts
 * (aws-sdk-client-mock) and nvcr.io as recorded on a local HTTP server, and `bin/preflight.ts`
 * as a child process where no AWS call can succeed, which is real: no credentials, or an
 * endpoint that refuses connections.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetAccountSettingsCommand } from '@aws-sdk/client-lambda';
import { GetServiceQuotaCommand } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../lib/preflight/report.ts';
import { main, type Pins, REPO_PINS } from '../../lib/preflight/run.ts';
import {
  ACCOUNT,
  awsError,
  healthyAccount,
  type LocalRegistry,
  mockedClients,
  REQUIREMENT,
  startRegistry,
} from './support.ts';

let registry: LocalRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry.close();
});

async function run(
  argv: string[],
  setup: (m: ReturnType<typeof mockedClients>['mocks']) => void,
  extra: { pins?: Pins; rootDir?: string } = {},
) {
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
    registry: { baseUrl: () => registry.url },
    ...extra,
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
    expect(stdout).toMatch(
      /^add-on amazon-cloudwatch-observability\s+PASS\s+v5\.4\.0-eksbuild\.1 /m,
    );
    expect(stdout).toMatch(/^GPU AMI\s+PASS\s+al2023@v20260818: /m);
    expect(stdout).toMatch(/^triton image\s+PASS\s+nvcr\.io\/nvidia\/tritonserver:25\.10-vllm/m);
    expect(stdout).toContain('0 FAIL, 1 WARN, 15 PASS: the account is ready for npm run deploy');
  });

  it('exits 1 when one check fails, and prints its fix', async () => {
    const { code, stdout } = await run(['--stage', 'dev'], (m) => healthyAccount(m, { gQuota: 0 }));
    expect(code).toBe(1);
    expect(stdout).toMatch(/^GPU quota \(G and VT, on-demand\)\s+FAIL\s+/m);
    expect(stdout).toContain('--quota-code L-DB2E81BA --desired-value 8');
    expect(stdout).toContain('1 FAIL, 1 WARN, 14 PASS: fix every FAIL row before npm run deploy');
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
      'add-on vpc-cni',
      'add-on coredns',
      'add-on kube-proxy',
      'add-on eks-pod-identity-agent',
      'add-on metrics-server',
      'add-on amazon-cloudwatch-observability',
      'GPU AMI',
      'triton image',
    ]);
    expect(rows.find((r) => r.status === 'FAIL')?.fix).toContain('L-DB2E81BA');
  });

  it('checks the prod stage hosted zone (the stack makes the certificate), and fails on the account it pins', async () => {
    const { code, stdout } = await run(['--stage', 'prod', '--json'], (m) => healthyAccount(m));
    const rows = JSON.parse(stdout) as Row[];
    expect(code).toBe(1);
    expect(rows[0]).toMatchObject({ check: 'account', status: 'FAIL' });
    expect(rows[0]?.detail).toContain(`credentials are for account ${ACCOUNT}`);
    expect(rows.map((r) => r.check)).not.toContain('certificate');
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

  it('prints exactly the sample docs/operations.md shows for the made-up account', async () => {
    const { code, stdout } = await run(['--stage', 'dev'], (m) => {
      healthyAccount(m, { gQuota: 0 });
      m.lambda.on(GetAccountSettingsCommand).resolves({
        AccountLimit: { ConcurrentExecutions: 400, UnreservedConcurrentExecutions: 400 },
      });
    });
    const doc = readFileSync('docs/operations.md', 'utf8');
    const sample = /\n(Preflight of stage dev in us-east-1\n[\s\S]*?\n)\$ echo \$\?\n1\n/.exec(
      doc,
    )?.[1];
    expect(code).toBe(1);
    expect(sample).toBe(stdout);
  });

  it('fails each wrong pin with its fix: an add-on version, the AMI release and the image tag', async () => {
    // A copy of the repo's config with the dev stage's Triton tag changed to one nvcr.io lacks.
    const root = mkdtempSync(join(tmpdir(), 'preflight-'));
    try {
      mkdirSync(join(root, 'config', 'stages'), { recursive: true });
      copyFileSync('config/axon.json', join(root, 'config', 'axon.json'));
      const dev = readFileSync('config/stages/dev.json', 'utf8');
      writeFileSync(
        join(root, 'config', 'stages', 'dev.json'),
        dev.replace('tritonserver:25.10-vllm-python-py3', 'tritonserver:25.13-vllm-python-py3'),
      );
      const pins: Pins = {
        addons: {
          '1.35': {
            ...(REPO_PINS.addons['1.35'] ?? ({} as never)),
            'amazon-cloudwatch-observability': 'v4.5.0-eksbuild.1',
          },
        },
        gpuAmiAlias: 'al2023@v20260899',
      };
      const { code, stdout } = await run(['--stage', 'dev', '--json'], (m) => healthyAccount(m), {
        pins,
        rootDir: root,
      });
      expect(code).toBe(1);
      const failed = (JSON.parse(stdout) as Row[]).filter((r) => r.status === 'FAIL');
      expect(failed.map((r) => r.check)).toEqual([
        'add-on amazon-cloudwatch-observability',
        'GPU AMI',
        'triton image',
      ]);
      const [addon, ami, image] = failed;
      expect(addon?.detail).toContain('v4.5.0-eksbuild.1 is not offered for Kubernetes 1.35');
      expect(addon?.fix).toContain(
        "set EKS_ADDON_VERSIONS['1.35']['amazon-cloudwatch-observability'] in lib/k8s/versions.ts to v5.4.0-eksbuild.1",
      );
      expect(ami?.detail).toContain(
        'al2023@v20260899 has no EKS-optimized AL2023 NVIDIA x86_64 AMI',
      );
      expect(ami?.fix).toContain("set GPU_AMI_ALIAS in lib/k8s/versions.ts to 'al2023@v20260714'");
      expect(image?.detail).toContain('tag 25.13-vllm-python-py3 does not exist');
      expect(image?.fix).toContain(
        'set triton.image in config/stages/dev.json to nvcr.io/nvidia/tritonserver:26.05-vllm-python-py3',
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('lists the pinned-version checks in --help', async () => {
    const { code, stdout } = await run(['--help'], () => {});
    expect(code).toBe(0);
    expect(stdout).toContain('EKS add-on version in lib/k8s/versions.ts');
    expect(stdout).toContain('GPU AMI alias');
    expect(stdout).toContain('triton.image tag');
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
