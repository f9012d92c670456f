/**
 * GPU vCPU quotas and Lambda concurrency, against the Service Quotas and Lambda stand-ins of
 * support.ts (aws-sdk-client-mock: the AWS control plane cannot run here). The stand-ins answer
 * only the exact quota code asked for, so a wrong code fails these tests.
 */
import { GetAccountSettingsCommand } from '@aws-sdk/client-lambda';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
} from '@aws-sdk/client-service-quotas';
import { describe, expect, it } from 'vitest';
import { checkGpuQuotas, checkLambdaConcurrency } from '../../lib/preflight/quotas.ts';
import { awsError, devInputs, healthyAccount, mockedClients } from './support.ts';

function quota(code: string, value: number) {
  return [
    { ServiceCode: 'ec2', QuotaCode: code },
    { Quota: { QuotaCode: code, Value: value } },
  ] as const;
}

describe('GPU quota check', () => {
  it('passes when the on-demand G and VT quota covers every GPU node of the largest type', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { gQuota: 8 });
    const rows = await checkGpuQuotas(clients.quotas, devInputs());
    expect(rows).toEqual([
      {
        check: 'GPU quota (G and VT, on-demand)',
        status: 'PASS',
        detail:
          'L-DB2E81BA "Running On-Demand G and VT instances" is 8 vCPUs; the stage may launch 2 x g6.xlarge = 8 vCPUs',
      },
    ]);
  });

  it('fails on a new account with 0 G quota and gives the exact increase request', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { gQuota: 0 });
    const [row] = await checkGpuQuotas(clients.quotas, devInputs());
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('is 0 vCPUs');
    expect(row?.fix).toContain(
      'aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA --desired-value 8 --region us-east-1',
    );
  });

  it('sizes the need by the largest allowed type, not the first', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { gQuota: 16 });
    const inputs = devInputs({ gpuInstanceTypes: ['g6.xlarge', 'g6.2xlarge'], maxGpuNodes: 3 });
    const [row] = await checkGpuQuotas(clients.quotas, inputs);
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('3 x g6.2xlarge = 24 vCPUs');
  });

  it('checks the spot quota, not the on-demand one, for a spot pool', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { gQuota: 64 });
    mocks.quotas
      .on(GetServiceQuotaCommand, quota('L-3819A6DF', 0)[0])
      .resolves(quota('L-3819A6DF', 0)[1]);
    const [row] = await checkGpuQuotas(clients.quotas, devInputs({ capacityType: 'SPOT' }));
    expect(row?.check).toBe('GPU quota (G and VT, spot)');
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('L-3819A6DF "All G and VT Spot Instance Requests" is 0 vCPUs');
  });

  it('checks the P quota for P types, on demand and spot', async () => {
    const { clients, mocks } = mockedClients();
    mocks.quotas
      .on(GetServiceQuotaCommand, quota('L-417A185B', 96)[0])
      .resolves(quota('L-417A185B', 96)[1]);
    mocks.quotas
      .on(GetServiceQuotaCommand, quota('L-7212CCBC', 96)[0])
      .resolves(quota('L-7212CCBC', 96)[1]);
    const p = { gpuInstanceTypes: ['p4d.24xlarge'], maxGpuNodes: 2 };
    const [onDemand] = await checkGpuQuotas(clients.quotas, devInputs(p));
    const [spot] = await checkGpuQuotas(clients.quotas, devInputs({ ...p, capacityType: 'SPOT' }));
    expect(onDemand).toMatchObject({ check: 'GPU quota (P, on-demand)', status: 'FAIL' });
    expect(onDemand?.detail).toContain('L-417A185B');
    expect(onDemand?.fix).toContain('--quota-code L-417A185B --desired-value 192');
    expect(spot).toMatchObject({ check: 'GPU quota (P, spot)', status: 'FAIL' });
    expect(spot?.fix).toContain('--quota-code L-7212CCBC --desired-value 192');
  });

  it('gives one row per quota when a pool mixes G and P types', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { gQuota: 64 });
    mocks.quotas
      .on(GetServiceQuotaCommand, quota('L-417A185B', 0)[0])
      .resolves(quota('L-417A185B', 0)[1]);
    const inputs = devInputs({ gpuInstanceTypes: ['g6.xlarge', 'p4d.24xlarge'] });
    const rows = await checkGpuQuotas(clients.quotas, inputs);
    expect(rows.map((r) => [r.check, r.status])).toEqual([
      ['GPU quota (G and VT, on-demand)', 'PASS'],
      ['GPU quota (P, on-demand)', 'FAIL'],
    ]);
  });

  it('falls back to the AWS default when the quota was never applied', async () => {
    const { clients, mocks } = mockedClients();
    mocks.quotas.on(GetServiceQuotaCommand).rejects(awsError('NoSuchResourceException'));
    mocks.quotas
      .on(GetAWSDefaultServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: 'L-DB2E81BA' })
      .resolves({ Quota: { QuotaCode: 'L-DB2E81BA', Value: 0 } });
    const [row] = await checkGpuQuotas(clients.quotas, devInputs());
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('is 0 vCPUs');
  });

  it('fails asking for the type to be added when its vCPU count is unknown', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const [row] = await checkGpuQuotas(
      clients.quotas,
      devInputs({ gpuInstanceTypes: ['g6.48xlarge'] }),
    );
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('no vCPU count for g6.48xlarge');
    expect(row?.fix).toContain('add the type');
  });

  it('fails a GPU type that falls under no quota it knows', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const [row] = await checkGpuQuotas(
      clients.quotas,
      devInputs({ gpuInstanceTypes: ['inf2.xlarge'] }),
    );
    expect(row).toMatchObject({ check: 'GPU quota (inf2.xlarge)', status: 'FAIL' });
    expect(row?.fix).toContain('GPU_QUOTAS');
  });

  it('fails naming servicequotas:GetServiceQuota when the role may not read quotas', async () => {
    const { clients, mocks } = mockedClients();
    mocks.quotas.on(GetServiceQuotaCommand).rejects(awsError('AccessDeniedException'));
    const [row] = await checkGpuQuotas(clients.quotas, devInputs());
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('servicequotas:GetServiceQuota');
  });
});

describe('lambda concurrency check', () => {
  function settings(total: number, unreserved: number) {
    return {
      AccountLimit: { ConcurrentExecutions: total, UnreservedConcurrentExecutions: unreserved },
    };
  }

  it('passes with the default 1000 and no reservation', async () => {
    const { clients, mocks } = mockedClients();
    mocks.lambda.on(GetAccountSettingsCommand).resolves(settings(1000, 1000));
    const row = await checkLambdaConcurrency(clients.lambda, devInputs());
    expect(row).toMatchObject({ status: 'PASS', detail: expect.stringContaining('1000') });
  });

  it('warns when a new account starts below the 1000 default', async () => {
    const { clients, mocks } = mockedClients();
    mocks.lambda.on(GetAccountSettingsCommand).resolves(settings(10, 10));
    const row = await checkLambdaConcurrency(clients.lambda, devInputs());
    expect(row.status).toBe('WARN');
    expect(row.fix).toContain('--service-code lambda --quota-code L-B99A9384 --desired-value 1000');
  });

  it('passes a reservation that leaves at least 100 unreserved', async () => {
    const { clients, mocks } = mockedClients();
    mocks.lambda.on(GetAccountSettingsCommand).resolves(settings(1000, 900));
    const row = await checkLambdaConcurrency(
      clients.lambda,
      devInputs({ reservedConcurrency: 800 }),
    );
    expect(row).toMatchObject({ status: 'PASS', detail: expect.stringContaining('leaves 100') });
  });

  it('fails a reservation that would leave fewer than 100 unreserved, with the quota to ask for', async () => {
    const { clients, mocks } = mockedClients();
    mocks.lambda.on(GetAccountSettingsCommand).resolves(settings(1000, 900));
    const row = await checkLambdaConcurrency(
      clients.lambda,
      devInputs({ reservedConcurrency: 850 }),
    );
    expect(row.status).toBe('FAIL');
    expect(row.detail).toContain('would leave 50');
    expect(row.fix).toContain('--quota-code L-B99A9384 --desired-value 1050');
  });

  it('fails naming lambda:GetAccountSettings when access is denied', async () => {
    const { clients, mocks } = mockedClients();
    mocks.lambda.on(GetAccountSettingsCommand).rejects(awsError('AccessDeniedException'));
    const row = await checkLambdaConcurrency(clients.lambda, devInputs());
    expect(row).toMatchObject({
      status: 'FAIL',
      fix: expect.stringContaining('lambda:GetAccountSettings'),
    });
  });
});
