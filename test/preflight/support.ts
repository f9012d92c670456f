/**
 * Stand-ins for the AWS control plane, which cannot run here: real SDK v3 clients whose `send` is
 * replaced by aws-sdk-client-mock, answering with the shapes the AWS API references document.
 * Each handler matches on the request input, so a check that asks for the wrong quota code,
 * parameter or certificate gets no answer and fails its test.
 */
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { loadStageConfig } from '../../lib/config.ts';
import { REPO_ROOT } from '../../lib/paths.ts';
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
  };
  const mocks = {
    sts: mockClient(clients.sts),
    ssm: mockClient(clients.ssm),
    quotas: mockClient(clients.quotas),
    lambda: mockClient(clients.lambda),
    acm: mockClient(clients.acm),
    route53: mockClient(clients.route53),
    ec2: mockClient(clients.ec2),
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
