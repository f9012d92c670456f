/**
 * Quotas a new account usually has too little of: EC2 vCPUs for GPU instances (often 0) and
 * Lambda concurrency. Both are checked against what the stage may ask for, so a deploy does not
 * fail an hour in, or serve with a quota that throttles the gateway.
 */
import { GetAccountSettingsCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  type ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';
import type { CapacityType } from '../config.ts';
import { type PreflightInputs, vcpusOf } from './inputs.ts';
import { errorRow, fail, pass, type Row, warn } from './report.ts';

interface Quota {
  readonly code: string;
  readonly name: string;
}

interface QuotaGroup {
  /** Which instance families the quota covers, e.g. g6 and vt1 share one. */
  readonly matches: RegExp;
  readonly label: string;
  readonly quotas: Readonly<Record<CapacityType, Quota>>;
}

/**
 * EC2's vCPU quotas for GPU families, by capacity type. Codes as the Service Quotas console and
 * the EC2 On-Demand and Spot quota pages list them.
 */
export const GPU_QUOTAS: readonly QuotaGroup[] = [
  {
    matches: /^(g|vt)\d/,
    label: 'G and VT',
    quotas: {
      ON_DEMAND: { code: 'L-DB2E81BA', name: 'Running On-Demand G and VT instances' },
      SPOT: { code: 'L-3819A6DF', name: 'All G and VT Spot Instance Requests' },
    },
  },
  {
    matches: /^p\d/,
    label: 'P',
    quotas: {
      ON_DEMAND: { code: 'L-417A185B', name: 'Running On-Demand P instances' },
      SPOT: { code: 'L-7212CCBC', name: 'All P Spot Instance Requests' },
    },
  },
];

/** Lambda's regional "Concurrent executions" quota, which GetAccountSettings reports. */
export const LAMBDA_CONCURRENCY_QUOTA = 'L-B99A9384';
/** AWS keeps at least this much concurrency unreserved in every account and region. */
export const MIN_UNRESERVED_CONCURRENCY = 100;
/** The regional default AWS documents; new accounts often start below it. */
export const DEFAULT_CONCURRENCY = 1000;

function increaseCommand(service: string, code: string, value: number, region: string): string {
  return `aws service-quotas request-service-quota-increase --service-code ${service} --quota-code ${code} --desired-value ${value} --region ${region}`;
}

/** The applied value; quotas never raised have none, so fall back to the AWS default. */
async function quotaValue(
  client: Pick<ServiceQuotasClient, 'send'>,
  code: string,
): Promise<number | undefined> {
  const request = { ServiceCode: 'ec2', QuotaCode: code };
  try {
    const { Quota } = await client.send(new GetServiceQuotaCommand(request));
    return Quota?.Value;
  } catch (err) {
    if (!(err instanceof Error && err.name === 'NoSuchResourceException')) throw err;
    const { Quota } = await client.send(new GetAWSDefaultServiceQuotaCommand(request));
    return Quota?.Value;
  }
}

/**
 * One row per quota the stage's GPU types fall under. What the stage may launch is every GPU
 * node at once, each of the largest type the pool allows: the autoscaler may pick any of them.
 */
export async function checkGpuQuotas(
  client: Pick<ServiceQuotasClient, 'send'>,
  inputs: PreflightInputs,
): Promise<Row[]> {
  const capacity = inputs.capacityType === 'SPOT' ? 'spot' : 'on-demand';
  const unmatched = inputs.gpuInstanceTypes.filter(
    (type) => !GPU_QUOTAS.some((g) => g.matches.test(type)),
  );
  const rows: Row[] = unmatched.map((type) =>
    fail(
      `GPU quota (${type})`,
      `${type} belongs to no GPU quota this preflight knows (G and VT, P)`,
      'use a G or P instance type in eks.gpuNodes.instanceTypes, or add its quota to GPU_QUOTAS in lib/preflight/quotas.ts',
    ),
  );
  for (const group of GPU_QUOTAS) {
    const types = inputs.gpuInstanceTypes.filter((type) => group.matches.test(type));
    if (types.length === 0) continue;
    const check = `GPU quota (${group.label}, ${capacity})`;
    const unknown = types.filter((type) => vcpusOf(type) === undefined);
    if (unknown.length > 0) {
      rows.push(
        fail(
          check,
          `no vCPU count for ${unknown.join(', ')}, so the need cannot be computed`,
          'add the type to the instance facts table with its vCPUs from the EC2 instance type specifications',
        ),
      );
      continue;
    }
    const largest = types.reduce((a, b) => ((vcpusOf(b) ?? 0) > (vcpusOf(a) ?? 0) ? b : a));
    const need = inputs.maxGpuNodes * (vcpusOf(largest) ?? 0);
    const quota = group.quotas[inputs.capacityType];
    let value: number | undefined;
    try {
      value = await quotaValue(client, quota.code);
    } catch (err) {
      rows.push(errorRow(check, 'servicequotas:GetServiceQuota', err));
      continue;
    }
    const mayLaunch = `the stage may launch ${inputs.maxGpuNodes} x ${largest} = ${need} vCPUs`;
    if (value === undefined) {
      rows.push(
        fail(
          check,
          `Service Quotas returned no value for ${quota.code}`,
          `check ${quota.name} in the Service Quotas console for ${inputs.region}`,
        ),
      );
    } else if (value < need) {
      rows.push(
        fail(
          check,
          `${quota.code} "${quota.name}" is ${value} vCPUs; ${mayLaunch}`,
          `${increaseCommand('ec2', quota.code, need, inputs.region)} (approval takes hours to days; other instances of these families in the account count too)`,
        ),
      );
    } else {
      rows.push(pass(check, `${quota.code} "${quota.name}" is ${value} vCPUs; ${mayLaunch}`));
    }
  }
  return rows;
}

/**
 * Reserved concurrency must leave 100 unreserved (AWS refuses the reservation otherwise). Without
 * a reservation the gateway's functions share the account's pool, so a pool below the default
 * caps concurrent requests; that is a warning, since a small stage may live with it.
 */
export async function checkLambdaConcurrency(
  client: Pick<LambdaClient, 'send'>,
  inputs: PreflightInputs,
): Promise<Row> {
  const check = 'lambda concurrency';
  let total: number | undefined;
  let unreserved: number | undefined;
  try {
    const { AccountLimit } = await client.send(new GetAccountSettingsCommand({}));
    total = AccountLimit?.ConcurrentExecutions;
    unreserved = AccountLimit?.UnreservedConcurrentExecutions;
  } catch (err) {
    return errorRow(check, 'lambda:GetAccountSettings', err);
  }
  if (total === undefined || unreserved === undefined) {
    return fail(
      check,
      'GetAccountSettings returned no concurrency limits',
      'rerun; check with aws lambda get-account-settings',
    );
  }
  const limits = `account concurrency ${total}, ${unreserved} unreserved`;
  const reserved = inputs.reservedConcurrency;
  if (reserved !== undefined) {
    const left = unreserved - reserved;
    if (left < MIN_UNRESERVED_CONCURRENCY) {
      const desired = total + (MIN_UNRESERVED_CONCURRENCY - left);
      return fail(
        check,
        `${limits}; reserving ${reserved} would leave ${left}, below the ${MIN_UNRESERVED_CONCURRENCY} AWS keeps unreserved`,
        `${increaseCommand('lambda', LAMBDA_CONCURRENCY_QUOTA, desired, inputs.region)}, or reserve less`,
      );
    }
    return pass(check, `${limits}; reserving ${reserved} leaves ${left}`);
  }
  if (total < DEFAULT_CONCURRENCY) {
    return warn(
      check,
      `${limits}: below the ${DEFAULT_CONCURRENCY} default, and every gateway request is one concurrent Lambda invocation`,
      increaseCommand('lambda', LAMBDA_CONCURRENCY_QUOTA, DEFAULT_CONCURRENCY, inputs.region),
    );
  }
  return pass(check, `${limits}; the stage reserves none`);
}
