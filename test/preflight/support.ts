/**
 * Stand-ins for the AWS control plane, which cannot run here: real SDK v3 clients whose `send` is
 * replaced by aws-sdk-client-mock, answering with the shapes the AWS API references document.
 * Each handler matches on the request input, so a check that asks for the wrong quota code,
 * parameter or certificate gets no answer and fails its test. The answers about pinned versions
 * (EKS add-ons, the AMI release, the Triton image) are response bodies kept as files under
 * recorded/ (see recorded/README.md); the registry ones are served by a real local HTTP server.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeAddonVersionsCommand,
  type DescribeAddonVersionsResponse,
  EKSClient,
} from '@aws-sdk/client-eks';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import {
  GetParameterCommand,
  type GetParameterResult,
  ParameterNotFound,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { loadStageConfig } from '../../lib/config.ts';
import { REPO_ROOT } from '../../lib/paths.ts';
import { al2023ParameterPrefix, al2023ReleaseParameter } from '../../lib/preflight/ami.ts';
import type { BootstrapRequirement } from '../../lib/preflight/bootstrap-version.ts';
import { type PreflightInputs, preflightInputs } from '../../lib/preflight/inputs.ts';
import type { PreflightClients } from '../../lib/preflight/run.ts';

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const CERT_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555`;
export const ZONE_ID = 'Z0123456789EXAMPLE';

/** The dev stage as the repo ships it, with fields overridden per test. */
export function devInputs(overrides: Partial<PreflightInputs> = {}): PreflightInputs {
  return { ...preflightInputs(loadStageConfig('dev', REPO_ROOT)), ...overrides };
}

/** A stage with HTTPS on a custom domain, for the certificate and zone checks. */
export function httpsInputs(overrides: Partial<PreflightInputs> = {}): PreflightInputs {
  return devInputs({
    certificateArn: CERT_ARN,
    domainName: 'api.example.com',
    hostedZoneId: ZONE_ID,
    allowPlainHttp: false,
    ...overrides,
  });
}

/** What the probe derives from aws-cdk-lib 2.276 (bootstrap-version.test.ts checks the real one). */
export const REQUIREMENT: BootstrapRequirement = {
  deploy: 6,
  lookup: 8,
  parameterName: '/cdk-bootstrap/hnb659fds/version',
  cdkLibVersion: '2.276.0',
};

/** An SDK service error as the clients throw it: the error code is the name. */
export function awsError(name: string, message = `${name} (stand-in)`): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

export function mockedClients() {
  const clients = {
    sts: new STSClient({ region: REGION }),
    ssm: new SSMClient({ region: REGION }),
    quotas: new ServiceQuotasClient({ region: REGION }),
    lambda: new LambdaClient({ region: REGION }),
    acm: new ACMClient({ region: REGION }),
    route53: new Route53Client({ region: REGION }),
    ec2: new EC2Client({ region: REGION }),
    eks: new EKSClient({ region: REGION }),
  };
  const mocks = {
    sts: mockClient(clients.sts),
    ssm: mockClient(clients.ssm),
    quotas: mockClient(clients.quotas),
    lambda: mockClient(clients.lambda),
    acm: mockClient(clients.acm),
    route53: mockClient(clients.route53),
    ec2: mockClient(clients.ec2),
    eks: mockClient(clients.eks),
  };
  return { clients: clients satisfies PreflightClients, mocks };
}

export type Mocks = ReturnType<typeof mockedClients>['mocks'];

export interface AccountState {
  readonly gQuota?: number;
  readonly bootstrapVersion?: string;
  readonly concurrency?: number;
}

/** A healthy account: every check of the dev (or HTTPS) stage passes. */
export function healthyAccount(mocks: Mocks, state: AccountState = {}): void {
  // What SSM answers for any parameter not set up below (the more specific handlers win).
  mocks.ssm.on(GetParameterCommand).rejects(parameterNotFound());
  mocks.sts.on(GetCallerIdentityCommand).resolves({
    Account: ACCOUNT,
    Arn: `arn:aws:iam::${ACCOUNT}:user/operator`,
    UserId: 'AIDAEXAMPLEUSERID',
  });
  mocks.ssm.on(GetParameterCommand, { Name: REQUIREMENT.parameterName }).resolves({
    Parameter: { Name: REQUIREMENT.parameterName, Value: state.bootstrapVersion ?? '30' },
  });
  mocks.quotas
    .on(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: 'L-DB2E81BA' })
    .resolves({ Quota: { QuotaCode: 'L-DB2E81BA', Value: state.gQuota ?? 64 } });
  const concurrency = state.concurrency ?? 1000;
  mocks.lambda.on(GetAccountSettingsCommand).resolves({
    AccountLimit: {
      ConcurrentExecutions: concurrency,
      UnreservedConcurrentExecutions: concurrency,
    },
  });
  mocks.acm.on(DescribeCertificateCommand, { CertificateArn: CERT_ARN }).resolves({
    Certificate: {
      CertificateArn: CERT_ARN,
      DomainName: 'example.com',
      SubjectAlternativeNames: ['example.com', '*.example.com'],
      Status: 'ISSUED',
      Type: 'AMAZON_ISSUED',
    },
  });
  mocks.route53.on(GetHostedZoneCommand, { Id: ZONE_ID }).resolves({
    HostedZone: {
      Id: `/hostedzone/${ZONE_ID}`,
      Name: 'example.com.',
      CallerReference: 'stand-in',
      Config: { PrivateZone: false },
    },
  });
  mocks.ec2.on(DescribeAvailabilityZonesCommand).resolves({
    AvailabilityZones: ['a', 'b', 'c', 'd', 'e', 'f'].map((s, i) => ({
      ZoneName: `${REGION}${s}`,
      ZoneId: `use1-az${i + 1}`,
      State: 'available',
      RegionName: REGION,
      ZoneType: 'availability-zone',
    })),
  });
  mocks.ec2.on(DescribeInstanceTypeOfferingsCommand).callsFake(offeringsOf(everywhere));
  recordedPins(mocks);
}

/** The recorded answers about the pinned versions: EKS add-ons and the GPU AMI release. */
export function recordedPins(mocks: Mocks): void {
  mocks.eks
    .on(DescribeAddonVersionsCommand)
    .callsFake((input: { addonName?: string; kubernetesVersion?: string }) =>
      recordedAddonVersions(input.addonName ?? '', input.kubernetesVersion ?? ''),
    );
  mocks.ssm
    .on(GetParameterCommand, { Name: al2023ReleaseParameter('1.35', 'v20260818') })
    .resolves(recordedParameter('al2023-x86_64-nvidia-1.35-v20260818.image_id.json'));
  mocks.ssm
    .on(GetParameterCommand, {
      Name: `${al2023ParameterPrefix('1.35')}/recommended/release_version`,
    })
    .resolves(recordedParameter('al2023-x86_64-nvidia-1.35.recommended.release_version.json'));
}

export const RECORDED_DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'recorded');

/** A recorded response body, parsed. */
export function recorded<T>(path: string): T {
  return JSON.parse(readFileSync(join(RECORDED_DIR, path), 'utf8')) as T;
}

/**
 * DescribeAddonVersions as recorded for one add-on and Kubernetes version; an add-on or version
 * with no recording gets what EKS answers for an add-on it does not offer there: no add-ons.
 */
export function recordedAddonVersions(
  addonName: string,
  kubernetesVersion: string,
): DescribeAddonVersionsResponse {
  try {
    return recorded(`eks/describe-addon-versions/${addonName}.${kubernetesVersion}.json`);
  } catch {
    return { addons: [] };
  }
}

/**
 * A recorded SSM GetParameter body as the SDK returns it: the wire's LastModifiedDate is epoch
 * seconds, which the SDK's deserializer turns into a Date.
 */
export function recordedParameter(file: string): GetParameterResult {
  const body = recorded<{ Parameter: Record<string, unknown> & { LastModifiedDate: number } }>(
    `ssm/get-parameter/${file}`,
  );
  return {
    Parameter: {
      ...body.Parameter,
      LastModifiedDate: new Date(body.Parameter.LastModifiedDate * 1000),
    },
  };
}

/** One recorded HTTP exchange of the registry: status, response headers, JSON body. */
export interface RecordedExchange {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

export interface RegistryRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface LocalRegistry {
  /** http://127.0.0.1:<ephemeral port> */
  readonly url: string;
  readonly requests: RegistryRequest[];
  close(): Promise<void>;
}

/**
 * nvcr.io as recorded, served by a real HTTP server on an ephemeral loopback port: a manifest
 * request without the token gets the recorded 401 challenge, /proxy_auth hands out the recorded
 * anonymous token for a pull scope of nvidia/tritonserver, the recorded tag's manifest is found
 * only when the Accept header admits its media type, any other tag gets the recorded 404, and
 * tags/list the recorded tags. `overrides` replaces the answer for a path (for failure cases).
 */
export async function startRegistry(
  overrides: Readonly<Record<string, RecordedExchange>> = {},
): Promise<LocalRegistry> {
  const exchange = (name: string) => recorded<RecordedExchange>(`registry/nvcr.io/${name}.json`);
  const token = (exchange('proxy_auth').body as { token: string }).token;
  const repo = '/v2/nvidia/tritonserver';
  const requests: RegistryRequest[] = [];
  const answer = (method: string, url: URL, headers: IncomingHttpHeaders): RecordedExchange => {
    const override = overrides[url.pathname];
    if (override !== undefined) return override;
    if (url.pathname === '/proxy_auth') {
      return url.searchParams.get('scope') === 'repository:nvidia/tritonserver:pull'
        ? exchange('proxy_auth')
        : { status: 401, headers: {}, body: { details: 'incorrect scope' } };
    }
    if (!url.pathname.startsWith(`${repo}/`)) {
      return {
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: { errors: [{ code: 'NAME_UNKNOWN', message: 'repository unknown' }] },
      };
    }
    if (headers.authorization !== `Bearer ${token}`) return exchange('manifest.anonymous');
    if (method === 'GET' && url.pathname === `${repo}/tags/list`) return exchange('tags-list');
    const tag = url.pathname.slice(`${repo}/manifests/`.length);
    const found = exchange(`manifest.25.10-vllm-python-py3`);
    const accepts = (headers.accept ?? '').includes(found.headers['content-type'] ?? '');
    if (tag === '25.10-vllm-python-py3' && accepts) return found;
    const unknown = exchange('manifest.unknown');
    return { ...unknown, body: JSON.parse(JSON.stringify(unknown.body).replace('<tag>', tag)) };
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://registry.invalid');
    requests.push({
      method: req.method ?? '',
      url: url.pathname + url.search,
      headers: req.headers,
    });
    const { status, headers, body } = answer(req.method ?? 'GET', url, req.headers);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' || body === null ? undefined : JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** SSM's error for a parameter that does not exist, as the SDK throws it (no message on the wire). */
export function parameterNotFound(): ParameterNotFound {
  return new ParameterNotFound({ $metadata: { httpStatusCode: 400 }, message: '' });
}

/** Offerings of every requested type in every requested AZ. */
export function everywhere(_type: string, _az: string): boolean {
  return true;
}

/** A DescribeInstanceTypeOfferings stand-in that honours the request's filters. */
export function offeringsOf(offered: (type: string, az: string) => boolean) {
  return (input: { Filters?: { Name?: string; Values?: string[] }[] }) => {
    const values = (name: string) => input.Filters?.find((f) => f.Name === name)?.Values ?? [];
    const rows = values('instance-type').flatMap((type) =>
      values('location')
        .filter((az) => offered(type, az))
        .map((az) => ({ InstanceType: type, Location: az, LocationType: 'availability-zone' })),
    );
    return { InstanceTypeOfferings: rows };
  };
}
