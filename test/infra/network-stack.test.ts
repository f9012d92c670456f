/** NetworkStack: VPC over the configured AZs, three subnet tiers, flow logs, gateway endpoints. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { normalised, parseDev, resources, stageConfig, synth } from './support.ts';

const dev = synth(stageConfig('dev'));
const prod = synth(stageConfig('prod'));
const t = dev.templates.network;

/** The one logical id of a resource type in a template. */
function logicalId(template: typeof t, type: string): string {
  const ids = resources(template, type).map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

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

describe('NetworkStack: alarm topic', () => {
  const topic = logicalId(t, 'AWS::SNS::Topic');

  it('is encrypted, TLS-only, and exported for the other stacks', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
    t.hasOutput('AlarmTopicArn', { Value: { Ref: topic } });
  });

  it('lets CloudWatch use the topic key', () => {
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('subscribes the configured email (prod) and nobody by default (dev)', () => {
    prod.templates.network.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    t.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('NetworkStack: NAT gateway alarms', () => {
  type AlarmProps = Record<string, unknown> & { AlarmActions: unknown[]; OKActions: unknown[] };
  const alarms = (template: typeof t) =>
    resources(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a as AlarmProps);
  const natIds = (template: typeof t) =>
    resources(template, 'AWS::EC2::NatGateway').map(([id]) => ({ Ref: id }));

  it.each([
    ['dev', t],
    ['prod', prod.templates.network],
  ] as const)(
    'watches ErrorPortAllocation and PacketsDropCount on each %s NAT gateway, by its id',
    (_stage, template) => {
      for (const metric of ['ErrorPortAllocation', 'PacketsDropCount']) {
        const onMetric = alarms(template).filter((a) => a.MetricName === metric);
        for (const a of onMetric) {
          expect(a).toMatchObject({ Namespace: 'AWS/NATGateway', Statistic: 'Sum', Period: 300 });
        }
        expect(
          onMetric.map((a) => a.Dimensions),
          metric,
        ).toEqual(natIds(template).map((id) => [{ Name: 'NatGatewayId', Value: id }]));
      }
    },
  );

  it('pages on the first port allocation error and at 100 dropped packets by default', () => {
    const threshold = (metric: string) => alarms(t).find((a) => a.MetricName === metric)?.Threshold;
    expect(threshold('ErrorPortAllocation')).toBe(1);
    expect(threshold('PacketsDropCount')).toBe(100);
  });

  it('takes the NAT thresholds from the stage config', () => {
    const custom = synth(
      parseDev({
        alarms: { natPortAllocationErrorsPerFiveMinutes: 3, natPacketsDroppedPerFiveMinutes: 250 },
      }),
    ).templates.network;
    const threshold = (metric: string) =>
      alarms(custom).find((a) => a.MetricName === metric)?.Threshold;
    expect(threshold('ErrorPortAllocation')).toBe(3);
    expect(threshold('PacketsDropCount')).toBe(250);
  });
});
