/**
 * The account and bootstrap checks, against the AWS control plane stand-in of support.ts
 * (aws-sdk-client-mock: STS and SSM cannot run here).
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { checkBootstrap, checkIdentity } from '../../lib/preflight/account.ts';
import {
  ACCOUNT,
  awsError,
  devInputs,
  healthyAccount,
  mockedClients,
  REQUIREMENT,
} from './support.ts';

describe('account check', () => {
  it('passes and names the account, region and principal the credentials resolve to', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const { row, account } = await checkIdentity(clients.sts, devInputs());
    expect(account).toBe(ACCOUNT);
    expect(row).toEqual({
      check: 'account',
      status: 'PASS',
      detail: `account ${ACCOUNT}, region us-east-1, as arn:aws:iam::${ACCOUNT}:user/operator`,
    });
  });

  it('passes when the stage pins the same account', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const { row } = await checkIdentity(clients.sts, devInputs({ account: ACCOUNT }));
    expect(row.status).toBe('PASS');
  });

  it('fails when the credentials belong to another account than the stage pins', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const { row } = await checkIdentity(clients.sts, devInputs({ account: '444455556666' }));
    expect(row.status).toBe('FAIL');
    expect(row.detail).toContain(`credentials are for account ${ACCOUNT}`);
    expect(row.fix).toContain('use credentials for 444455556666');
    expect(row.fix).toContain('config/stages/dev.json');
  });

  it('fails with a refresh hint when AWS rejects expired credentials', async () => {
    const { clients, mocks } = mockedClients();
    mocks.sts.on(GetCallerIdentityCommand).rejects(awsError('ExpiredTokenException'));
    const { row, error } = await checkIdentity(clients.sts, devInputs());
    expect(error).toBeInstanceOf(Error);
    expect(row).toMatchObject({ status: 'FAIL', fix: expect.stringContaining('refresh') });
    expect(row.detail).toContain('ExpiredTokenException');
  });
});

describe('cdk bootstrap check', () => {
  it('passes with a version at or above what aws-cdk-lib needs, reading the synthesizer parameter', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { bootstrapVersion: '8' });
    const row = await checkBootstrap(clients.ssm, devInputs(), REQUIREMENT, ACCOUNT);
    expect(row.status).toBe('PASS');
    expect(row.detail).toContain('bootstrap version 8');
    expect(mocks.ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: '/cdk-bootstrap/hnb659fds/version',
    });
  });

  it('fails with the bootstrap command when the region was never bootstrapped', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ssm.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
    const row = await checkBootstrap(clients.ssm, devInputs(), REQUIREMENT, ACCOUNT);
    expect(row.status).toBe('FAIL');
    expect(row.detail).toContain('us-east-1 is not bootstrapped');
    expect(row.fix).toBe(`run npx cdk bootstrap aws://${ACCOUNT}/us-east-1`);
  });

  it('fails when the bootstrap stack is older than deploys need', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { bootstrapVersion: '5' });
    const row = await checkBootstrap(clients.ssm, devInputs(), REQUIREMENT, ACCOUNT);
    expect(row.status).toBe('FAIL');
    expect(row.detail).toContain('bootstrap version 5 is too old');
    expect(row.detail).toContain('>= 6 to deploy');
    expect(row.fix).toContain(`npx cdk bootstrap aws://${ACCOUNT}/us-east-1`);
  });

  it('warns when deploys work but the lookup role is missing', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { bootstrapVersion: '7' });
    const row = await checkBootstrap(clients.ssm, devInputs(), REQUIREMENT, ACCOUNT);
    expect(row.status).toBe('WARN');
    expect(row.detail).toContain('>= 8 for the lookup role');
  });

  it('fails when the parameter holds no number', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks, { bootstrapVersion: 'latest' });
    const row = await checkBootstrap(clients.ssm, devInputs(), REQUIREMENT, ACCOUNT);
    expect(row.status).toBe('FAIL');
    expect(row.detail).toContain('"latest"');
  });

  it('fails naming ssm:GetParameter when the role may not read the parameter', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ssm.on(GetParameterCommand).rejects(awsError('AccessDeniedException'));
    const row = await checkBootstrap(clients.ssm, devInputs(), REQUIREMENT, ACCOUNT);
    expect(row.status).toBe('FAIL');
    expect(row.detail).toBe('access denied: the credentials may not call ssm:GetParameter');
    expect(row.fix).toContain('grant ssm:GetParameter');
  });
});
