/** StageDashboard alone on a bare Stack: its name, its default time range, its one refusal. */
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { type DashboardCache, StageDashboard } from '../../../lib/constructs/stage-dashboard.ts';
import { bareStack, template } from './support.ts';

function build(caches: readonly DashboardCache[]) {
  const { stack, vpc } = bareStack();
  const alb = (id: string) => new elbv2.ApplicationLoadBalancer(stack, id, { vpc });
  const internalTargetGroup = new elbv2.ApplicationTargetGroup(stack, 'Targets', {
    vpc,
    port: 8080,
    targetType: elbv2.TargetType.IP,
  });
  const internalLoadBalancer = alb('Internal');
  internalLoadBalancer.addListener('Http', {
    port: 80,
    defaultTargetGroups: [internalTargetGroup],
  });
  new StageDashboard(stack, 'Dashboard', {
    stage: 'test',
    publicLoadBalancer: alb('Public'),
    gatewayFunction: new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {}'),
    }),
    apiKeys: new dynamodb.Table(stack, 'Keys', {
      partitionKey: { name: 'keyHash', type: dynamodb.AttributeType.STRING },
    }),
    caches,
    internalLoadBalancer,
    internalTargetGroup,
    clusterName: 'axon',
    prometheusWorkspaceId: 'ws-123',
  });
  return stack;
}

describe('StageDashboard defaults', () => {
  it('is named Axon-<stage> and opens on the last 3 hours', () => {
    const t = template(build([{ label: 'redis', nodes: ['r-001', 'r-002'] }]));
    const [dashboard] = Object.values(t.findResources('AWS::CloudWatch::Dashboard')) as [
      { Properties: { DashboardName: string; DashboardBody: unknown } },
    ];
    expect(dashboard.Properties.DashboardName).toBe('Axon-test');
    expect(JSON.stringify(dashboard.Properties.DashboardBody)).toContain('\\"start\\":\\"-PT3H\\"');
  });

  it('draws every node of every cache, labelled by cache', () => {
    const t = template(
      build([
        { label: 'sessions', nodes: ['s-001'] },
        { label: 'limiter', nodes: ['l-001', 'l-002'] },
      ]),
    );
    const body = JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'));
    for (const label of ['sessions node 1', 'limiter node 1', 'limiter node 2']) {
      expect(body).toContain(label);
    }
  });
});

describe('StageDashboard validation', () => {
  it('refuses no caches, or a cache without nodes', () => {
    expect(() => build([])).toThrow(/needs at least one cache with at least one node/);
    expect(() => build([{ label: 'redis', nodes: [] }])).toThrow(/at least one node/);
  });
});
