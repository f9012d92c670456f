/**
 * Availability zones and instance type offerings, against the EC2 stand-in of support.ts
 * (aws-sdk-client-mock: the AWS control plane cannot run here). The offerings stand-in honours
 * the request's filters, as EC2 does, and pages when asked to.
 */
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { checkAvailabilityZones, checkInstanceOfferings } from '../../lib/preflight/zones.ts';
import { awsError, devInputs, healthyAccount, mockedClients, offeringsOf } from './support.ts';

describe('availability zone check', () => {
  it('passes when every AZ of the stage is available, naming the zone ids', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const row = await checkAvailabilityZones(clients.ec2, devInputs());
    expect(row).toEqual({
      check: 'availability zones',
      status: 'PASS',
      detail: 'us-east-1a (use1-az1), us-east-1b (use1-az2) available',
    });
  });

  it('fails an AZ the account does not have, listing the ones it does', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ec2.on(DescribeAvailabilityZonesCommand).resolves({
      AvailabilityZones: [
        { ZoneName: 'us-east-1a', ZoneId: 'use1-az1', State: 'available' },
        { ZoneName: 'us-east-1c', ZoneId: 'use1-az3', State: 'available' },
      ],
    });
    const row = await checkAvailabilityZones(clients.ec2, devInputs());
    expect(row.status).toBe('FAIL');
    expect(row.detail).toBe('us-east-1b does not exist for this account');
    expect(row.fix).toContain('this account has us-east-1a, us-east-1c in us-east-1');
  });

  it('fails an AZ that exists but is impaired', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ec2.on(DescribeAvailabilityZonesCommand).resolves({
      AvailabilityZones: [
        { ZoneName: 'us-east-1a', ZoneId: 'use1-az1', State: 'available' },
        { ZoneName: 'us-east-1b', ZoneId: 'use1-az2', State: 'impaired' },
      ],
    });
    const row = await checkAvailabilityZones(clients.ec2, devInputs());
    expect(row.status).toBe('FAIL');
    expect(row.detail).toBe('us-east-1b (use1-az2) is impaired');
  });

  it('fails naming ec2:DescribeAvailabilityZones when EC2 says UnauthorizedOperation', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ec2.on(DescribeAvailabilityZonesCommand).rejects(awsError('UnauthorizedOperation'));
    const row = await checkAvailabilityZones(clients.ec2, devInputs());
    expect(row.status).toBe('FAIL');
    expect(row.fix).toContain('grant ec2:DescribeAvailabilityZones');
  });
});

describe('instance offering check', () => {
  it('passes when the system and GPU types are offered in every AZ', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const rows = await checkInstanceOfferings(clients.ec2, devInputs());
    expect(rows).toEqual([
      {
        check: 'offering m7i.large',
        status: 'PASS',
        detail: 'system type offered in us-east-1a, us-east-1b',
      },
      {
        check: 'offering g6.xlarge',
        status: 'PASS',
        detail: 'GPU type offered in us-east-1a, us-east-1b',
      },
    ]);
    const input = mocks.ec2.commandCalls(DescribeInstanceTypeOfferingsCommand)[0]?.args[0].input;
    expect(input?.LocationType).toBe('availability-zone');
  });

  it('passes a GPU type offered in one AZ and says which AZs lack it', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ec2
      .on(DescribeInstanceTypeOfferingsCommand)
      .callsFake(offeringsOf((type, az) => type !== 'g6.xlarge' || az === 'us-east-1b'));
    const rows = await checkInstanceOfferings(clients.ec2, devInputs());
    expect(rows[1]).toEqual({
      check: 'offering g6.xlarge',
      status: 'PASS',
      detail: 'GPU type offered in us-east-1b (not in us-east-1a)',
    });
  });

  it('fails a GPU type offered in none of the AZs', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ec2
      .on(DescribeInstanceTypeOfferingsCommand)
      .callsFake(offeringsOf((type) => type !== 'g6.xlarge'));
    const rows = await checkInstanceOfferings(clients.ec2, devInputs());
    expect(rows[1]?.status).toBe('FAIL');
    expect(rows[1]?.detail).toBe('GPU type offered in none of us-east-1a, us-east-1b');
    expect(rows[1]?.fix).toContain('eks.gpuNodes.instanceTypes');
  });

  it('fails a system type missing from any one AZ, since the node group spans them all', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ec2
      .on(DescribeInstanceTypeOfferingsCommand)
      .callsFake(offeringsOf((type, az) => type !== 'm7i.large' || az === 'us-east-1a'));
    const rows = await checkInstanceOfferings(clients.ec2, devInputs());
    expect(rows[0]?.status).toBe('FAIL');
    expect(rows[0]?.detail).toContain('not offered in us-east-1b');
    expect(rows[0]?.fix).toContain('describe-instance-type-offerings');
  });

  it('reads every page of offerings', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ec2
      .on(DescribeInstanceTypeOfferingsCommand)
      .resolvesOnce({
        InstanceTypeOfferings: [
          { InstanceType: 'm7i.large', Location: 'us-east-1a' },
          { InstanceType: 'm7i.large', Location: 'us-east-1b' },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        InstanceTypeOfferings: [{ InstanceType: 'g6.xlarge', Location: 'us-east-1a' }],
      });
    const rows = await checkInstanceOfferings(clients.ec2, devInputs());
    expect(rows.map((r) => r.status)).toEqual(['PASS', 'PASS']);
    const calls = mocks.ec2.commandCalls(DescribeInstanceTypeOfferingsCommand);
    expect(calls[1]?.args[0].input.NextToken).toBe('page-2');
  });
});
