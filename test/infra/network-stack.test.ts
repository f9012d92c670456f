/** NetworkStack: VPC over the configured AZs, three subnet tiers, flow logs, gateway endpoints. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { normalised, resources, stageConfig, synth } from './support.ts';

const dev = synth(stageConfig('dev'));
const prod = synth(stageConfig('prod'));
const t = dev.templates.network;

describe('NetworkStack', () => {
  it('creates the VPC with the configured CIDR', () => {
    t.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.40.0.0/16' });
  });

  it('spreads public, private and isolated subnets over exactly the configured AZs', () => {
    const subnets = resources(t, 'AWS::EC2::Subnet').map(([, p]) => p);
    expect(subnets).toHaveLength(2 * 3);
    expect(new Set(subnets.map((s) => s.AvailabilityZone))).toEqual(
      new Set(['us-east-1a', 'us-east-1b']),
    );
    const prodSubnets = resources(prod.templates.network, 'AWS::EC2::Subnet');
    expect(prodSubnets).toHaveLength(3 * 3);
  });

  it('gives isolated subnets no route to a NAT or internet gateway', () => {
    const isolated = dev.stacks.network.vpc.isolatedSubnets.map((s) => s.node.path);
    expect(isolated).toHaveLength(2);
    const routes = resources(t, 'AWS::EC2::Route').map(([id]) => id);
    expect(routes.some((id) => id.includes('isolated'))).toBe(false);
  });

  it('creates as many NAT gateways as configured', () => {
    t.resourceCountIs('AWS::EC2::NatGateway', 1);
    prod.templates.network.resourceCountIs('AWS::EC2::NatGateway', 3);
  });

  it('logs all VPC traffic to CloudWatch Logs', () => {
    t.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
  });

  it('adds S3 and DynamoDB gateway endpoints', () => {
    for (const service of ['s3', 'dynamodb']) {
      t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([`.${service}`])] }),
      });
    }
  });

  it('needs no AWS lookup at synth, with a fixed account (prod) or without (dev)', () => {
    for (const stage of [dev, prod]) {
      expect(stage.app.synth().manifest.missing ?? []).toEqual([]);
      expect(stage.stacks.network.availabilityZones).toEqual(
        stage.config.network.availabilityZones,
      );
    }
  });

  it('matches the snapshot', () => {
    expect(normalised(t)).toMatchSnapshot();
  });
});
