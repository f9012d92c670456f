/**
 * `npm run preflight -- --stage <s>`: runs every check against the account the operator's
 * credentials (the SDK's default provider chain) belong to, prints one table, and exits 1 when a
 * check fails. The checks only read; nothing here creates or changes anything in the account.
 */

import { parseArgs } from 'node:util';
import { ACMClient } from '@aws-sdk/client-acm';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Route53Client } from '@aws-sdk/client-route-53';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { loadStageConfig, StageConfigError } from '../config.ts';
import { REPO_ROOT } from '../paths.ts';
import { checkBootstrap, checkIdentity } from './account.ts';
import type { BootstrapRequirement } from './bootstrap-version.ts';
import { checkCertificate, checkHostedZone, checkHttps } from './endpoint.ts';
import { type PreflightInputs, preflightInputs } from './inputs.ts';
import { checkGpuQuotas, checkLambdaConcurrency } from './quotas.ts';
import { fail, formatTable, type Row } from './report.ts';
import { checkAvailabilityZones, checkInstanceOfferings } from './zones.ts';

/** The checks need only `send`; `destroy` lets the CLI close the connections when done. */
export interface PreflightClients {
  readonly sts: Pick<STSClient, 'send' | 'destroy'>;
  readonly ssm: Pick<SSMClient, 'send' | 'destroy'>;
  readonly quotas: Pick<ServiceQuotasClient, 'send' | 'destroy'>;
  readonly lambda: Pick<LambdaClient, 'send' | 'destroy'>;
  readonly acm: Pick<ACMClient, 'send' | 'destroy'>;
  readonly route53: Pick<Route53Client, 'send' | 'destroy'>;
  readonly ec2: Pick<EC2Client, 'send' | 'destroy'>;
}

/**
 * Real clients in the stage's region with the default credential chain. Timeouts are set so an
 * unreachable endpoint becomes a FAIL row within seconds instead of a hang.
 */
export function createClients(region: string): PreflightClients {
  const common = {
    region,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000 },
  };
  return {
    sts: new STSClient(common),
    ssm: new SSMClient(common),
    quotas: new ServiceQuotasClient(common),
    lambda: new LambdaClient(common),
    acm: new ACMClient(common),
    // Route 53 is a global service; the SDK signs it for us-east-1 whatever region it is given.
    route53: new Route53Client(common),
    ec2: new EC2Client(common),
  };
}

export interface RunOptions {
  /** Asked for only once the credentials work: deriving it synthesizes a probe stack. */
  readonly bootstrapRequirement: () => Promise<BootstrapRequirement>;
  readonly now?: Date;
}

/**
 * Every check, in table order. STS GetCallerIdentity needs no permission, so when it fails the
 * credentials or the network are broken and every other call would fail the same way: the table
 * then holds the account row (and the config-only HTTPS row), not seven copies of one error.
 */
export async function runPreflight(
  inputs: PreflightInputs,
  clients: PreflightClients,
  options: RunOptions,
): Promise<Row[]> {
  const identity = await checkIdentity(clients.sts, inputs);
  const https = checkHttps(inputs);
  if (identity.error !== undefined) {
    return [identity.row, ...(https ? [https] : [])];
  }
  const now = options.now ?? new Date();
  const [bootstrap, quotas, lambda, certificate, zone, azs, offerings] = await Promise.all([
    bootstrapRow(clients, inputs, options, identity.account),
    checkGpuQuotas(clients.quotas, inputs),
    checkLambdaConcurrency(clients.lambda, inputs),
    checkCertificate(clients.acm, inputs, now),
    checkHostedZone(clients.route53, inputs),
    checkAvailabilityZones(clients.ec2, inputs),
    checkInstanceOfferings(clients.ec2, inputs),
  ]);
  const rows: (Row | undefined)[] = [
    identity.row,
    bootstrap,
    ...quotas,
    lambda,
    certificate,
    zone,
    https,
    azs,
    ...offerings,
  ];
  return rows.filter((r): r is Row => r !== undefined);
}

async function bootstrapRow(
  clients: PreflightClients,
  inputs: PreflightInputs,
  options: RunOptions,
  account: string | undefined,
): Promise<Row> {
  let required: BootstrapRequirement;
  try {
    required = await options.bootstrapRequirement();
  } catch (e) {
    return fail(
      'cdk bootstrap',
      `cannot tell which bootstrap version aws-cdk-lib needs: ${(e as Error).message}`,
      'check that npm ci succeeded (aws-cdk-lib must load), then rerun',
    );
  }
  return checkBootstrap(clients.ssm, inputs, required, account);
}

const USAGE = `Usage: npm run preflight -- --stage <stage> [--json]

Checks, before any deploy, that the AWS account of your credentials can take the stage
(config/stages/<stage>.json): account and region, CDK bootstrap version, GPU vCPU quotas,
Lambda concurrency, certificate and hosted zone, availability zones and instance offerings.
Reads only. Exit code: 0 when no check fails (warnings allowed), 1 on any FAIL, 2 on usage errors.

Options:
  --stage <name>  the stage to check (default dev)
  --json          print the rows as JSON instead of a table
  -h, --help      this text`;

export interface MainDeps {
  readonly createClients?: (region: string) => PreflightClients;
  readonly bootstrapRequirement?: () => Promise<BootstrapRequirement>;
  /** Where config/stages/ lives. @default the repository root */
  readonly rootDir?: string;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  readonly now?: Date;
}

/** The CLI, callable in-process so tests can pass stand-in clients and read the exit code. */
export async function main(argv: readonly string[], deps: MainDeps = {}): Promise<number> {
  const out = deps.stdout ?? ((t: string) => process.stdout.write(t));
  const err = deps.stderr ?? ((t: string) => process.stderr.write(t));
  let values: { stage?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        stage: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    err(`error: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out(`${USAGE}\n`);
    return 0;
  }
  let inputs: PreflightInputs;
  try {
    inputs = preflightInputs(loadStageConfig(values.stage ?? 'dev', deps.rootDir ?? REPO_ROOT));
  } catch (e) {
    if (!(e instanceof StageConfigError)) throw e;
    err(`error: ${e.message}\n`);
    return 1;
  }
  const clients = (deps.createClients ?? createClients)(inputs.region);
  // Loaded lazily: aws-cdk-lib takes seconds to import, and a run without credentials never needs it.
  const bootstrapRequirement =
    deps.bootstrapRequirement ??
    (async () => (await import('./bootstrap-version.ts')).requiredBootstrapVersion());
  let rows: Row[];
  try {
    rows = await runPreflight(inputs, clients, {
      bootstrapRequirement,
      ...(deps.now && { now: deps.now }),
    });
  } finally {
    // Idle keep-alive sockets would otherwise hold the process open after the table is printed.
    for (const client of Object.values(clients)) client.destroy();
  }
  out(
    values.json
      ? `${JSON.stringify(rows, null, 2)}\n`
      : `Preflight of stage ${inputs.stage} in ${inputs.region}\n\n${formatTable(rows)}\n`,
  );
  return rows.some((r) => r.status === 'FAIL') ? 1 : 0;
}
