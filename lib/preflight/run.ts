/**
 * `npm run preflight -- --stage <s>`: runs every check against the account the operator's
 * credentials (the SDK's default provider chain) belong to, prints one table, and exits 1 when a
 * check fails. The checks only read; nothing here creates or changes anything in the account.
 */

import { parseArgs } from 'node:util';
import { ACMClient } from '@aws-sdk/client-acm';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Route53Client } from '@aws-sdk/client-route-53';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { loadStageConfig, StageConfigError } from '../config.ts';
import { EKS_ADDON_VERSIONS, GPU_AMI_ALIAS } from '../k8s/versions.ts';
import { REPO_ROOT } from '../paths.ts';
import { checkBootstrap, checkIdentity } from './account.ts';
import { type AddonPins, checkAddonVersions } from './addons.ts';
import { checkGpuAmi } from './ami.ts';
import type { BootstrapRequirement } from './bootstrap-version.ts';
import { checkCertificate, checkHostedZone, checkHttps } from './endpoint.ts';
import { checkTritonImage, type RegistryOptions } from './image.ts';
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
  readonly eks: Pick<EKSClient, 'send' | 'destroy'>;
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
    eks: new EKSClient(common),
  };
}

/** The pinned facts of lib/k8s/versions.ts the deploy depends on; tests pass others. */
export interface Pins {
  readonly addons: AddonPins;
  readonly gpuAmiAlias: string;
}

export const REPO_PINS: Pins = { addons: EKS_ADDON_VERSIONS, gpuAmiAlias: GPU_AMI_ALIAS };

export interface RunOptions {
  /** Asked for only once the credentials work: deriving it synthesizes a probe stack. */
  readonly bootstrapRequirement: () => Promise<BootstrapRequirement>;
  readonly now?: Date;
  /** @default REPO_PINS */
  readonly pins?: Pins;
  /** How the image check reaches the registry (tests: a local server). @default the registry */
  readonly registry?: RegistryOptions;
}

/**
 * Every check, in table order. STS GetCallerIdentity needs no permission, so when it fails the
 * credentials or the network are broken and every other call would fail the same way: the table
 * then holds the account row (and the config-only HTTPS row), not copies of one error. The
 * pinned-version checks (add-ons, GPU AMI, Triton image) come last; the image check needs no AWS
 * credentials but waits for them too, so a run without credentials never reaches the internet.
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
  const pins = options.pins ?? REPO_PINS;
  const [bootstrap, quotas, lambda, certificate, zone, azs, offerings, addons, ami, image] =
    await Promise.all([
      bootstrapRow(clients, inputs, options, identity.account),
      checkGpuQuotas(clients.quotas, inputs),
      checkLambdaConcurrency(clients.lambda, inputs),
      checkCertificate(clients.acm, inputs, now),
      checkHostedZone(clients.route53, inputs),
      checkAvailabilityZones(clients.ec2, inputs),
      checkInstanceOfferings(clients.ec2, inputs),
      checkAddonVersions(clients.eks, inputs, pins.addons),
      checkGpuAmi(clients.ssm, inputs, pins.gpuAmiAlias),
      checkTritonImage(inputs, options.registry),
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
    ...addons,
    ami,
    image,
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
Lambda concurrency, certificate and hosted zone, availability zones and instance offerings;
and that the versions the stack pins exist: each EKS add-on version in lib/k8s/versions.ts is
offered for eks.version (EKS DescribeAddonVersions), the GPU AMI alias is a published AL2023
NVIDIA release for it (SSM public parameter), and the triton.image tag is in its registry
(registry API, anonymous). Reads only.
Exit code: 0 when no check fails (warnings allowed), 1 on any FAIL, 2 on usage errors.

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
  readonly pins?: Pins;
  readonly registry?: RegistryOptions;
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
      ...(deps.pins && { pins: deps.pins }),
      ...(deps.registry && { registry: deps.registry }),
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
