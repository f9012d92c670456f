import { describe, expect, it } from 'vitest';
import { placeholder } from './intrinsics.ts';

describe('intrinsic placeholders', () => {
  it('joins parts and keeps literal strings', () => {
    expect(
      placeholder({ 'Fn::Join': ['', ['rediss://', { Ref: 'Redis1234ABCD' }, ':6379']] }),
    ).toBe('rediss://ref-redis1234abcd:6379');
  });

  it('shapes ports, subnets, security groups and VPCs so schemas and startup checks accept them', () => {
    expect(
      placeholder({
        'Fn::Join': [
          ':',
          [
            {
              'Fn::ImportValue':
                'Axon-prod-Data:ExportsOutputFnGetAttRedisConfigurationEndPointAddress5160B1EF',
            },
            {
              'Fn::ImportValue':
                'Axon-prod-Data:ExportsOutputFnGetAttRedisConfigurationEndPointPort3B3C47C5',
            },
          ],
        ],
      }),
    ).toMatch(/^import-exportsoutputfngetattredisconfigurationendpointaddress[0-9a-z]*:6379$/);
    expect(
      placeholder({
        'Fn::ImportValue':
          'Axon-dev-Network:ExportsOutputRefVpcprivateSubnet1SubnetCEAD37168693D373',
      }),
    ).toMatch(/^subnet-[0-9a-z]+$/);
    expect(placeholder({ 'Fn::GetAtt': ['EksClusterB2BDED5B', 'ClusterSecurityGroupId'] })).toMatch(
      /^sg-[0-9a-z]+$/,
    );
    expect(
      placeholder({ 'Fn::ImportValue': 'Axon-dev-Network:ExportsOutputRefVpc8378EB38272D6E3A' }),
    ).toMatch(/^vpc-[0-9a-z]+$/);
  });

  it('keeps every other placeholder a DNS-safe name of at most 63 characters', () => {
    const value = placeholder({
      'Fn::GetAtt': ['TritonServiceAccountRole4BDAD9A1ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'Arn'],
    });
    expect(value).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
  });
});
