/**
 * GatewayAlarms alone: flat thresholds with their defaults, their validation, and the metric
 * names it watches being the ones the gateway publishes.
 */
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { GATEWAY_METRICS } from '#shared/names';
import { GatewayAlarms, type GatewayAlarmsProps } from '../../../lib/constructs/gateway-alarms.ts';
import { bareStack, template } from './support.ts';

const ALARM = 'AWS::CloudWatch::Alarm';

function build(overrides: Partial<GatewayAlarmsProps> = {}) {
  const { stack, vpc } = bareStack();
  const loadBalancer = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc });
  const fn = lambda.Function.fromFunctionName(stack, 'Fn', 'gateway');
  const topic = new sns.Topic(stack, 'Topic');
  const alarms = new GatewayAlarms(stack, 'Alarms', {
    loadBalancer,
    function: fn,
    topic,
    ...overrides,
  });
  return { stack, alarms };
}

/** The threshold of the alarm on a metric name (EMF or AWS). */
function threshold(stack: ReturnType<typeof build>['stack'], metricName: string): unknown[] {
  return Object.values(
    template(stack).findResources(ALARM, { Properties: { MetricName: metricName } }),
  ).map((a) => (a as { Properties: { Threshold: unknown } }).Properties.Threshold);
}

describe('GatewayAlarms defaults', () => {
  const { stack } = build();

  it('alarms on 10 5xx answers or Lambda errors in 5 minutes', () => {
    expect(threshold(stack, 'HTTPCode_ELB_5XX_Count')).toEqual([10]);
    expect(threshold(stack, 'HTTPCode_Target_5XX_Count')).toEqual([10]);
    expect(threshold(stack, 'Errors')).toEqual([10]);
  });

  it('alarms on 1000 denials in 5 minutes', () => {
    expect(threshold(stack, GATEWAY_METRICS.names.denied)).toEqual([1000]);
  });

  it('alarms on the first degraded decision', () => {
    expect(threshold(stack, GATEWAY_METRICS.names.degraded)).toEqual([1]);
  });

  it('alarms on the first Redis error', () => {
    expect(threshold(stack, GATEWAY_METRICS.names.redisErrors)).toEqual([1]);
  });

  it('notifies the given topic when each alarm fires and when it clears', () => {
    const alarms = Object.values(template(stack).findResources(ALARM)) as {
      Properties: { AlarmActions: unknown[]; OKActions: unknown[] };
    }[];
    expect(alarms).toHaveLength(6);
    for (const { Properties } of alarms) {
      expect(Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
      expect(Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    }
  });
});

describe('GatewayAlarms props', () => {
  it('applies each threshold', () => {
    const { stack } = build({
      fiveXxPerFiveMinutes: 3,
      deniedPerFiveMinutes: 50,
      degradedPerFiveMinutes: 4,
      redisErrorsPerFiveMinutes: 5,
    });
    expect(threshold(stack, 'Errors')).toEqual([3]);
    expect(threshold(stack, GATEWAY_METRICS.names.denied)).toEqual([50]);
    expect(threshold(stack, GATEWAY_METRICS.names.degraded)).toEqual([4]);
    expect(threshold(stack, GATEWAY_METRICS.names.redisErrors)).toEqual([5]);
  });

  it('watches the gateway metrics in the namespace and service the gateway publishes to', () => {
    const { stack } = build();
    template(stack).hasResourceProperties(ALARM, {
      MetricName: GATEWAY_METRICS.names.denied,
      Namespace: GATEWAY_METRICS.namespace,
      Dimensions: [{ Name: 'service', Value: GATEWAY_METRICS.service }],
    });
  });
});

describe('GatewayAlarms validation', () => {
  it('refuses a threshold below 1', () => {
    expect(() => build({ deniedPerFiveMinutes: 0 })).toThrow(
      /deniedPerFiveMinutes must be a whole number of at least 1, got 0/,
    );
  });
});

describe('GatewayAlarms for the container edge', () => {
  function container(extra: Partial<GatewayAlarmsProps> = {}) {
    const { stack, vpc } = bareStack();
    const loadBalancer = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc });
    const targetGroup = new elbv2.ApplicationTargetGroup(stack, 'Pods', {
      vpc,
      port: 8080,
      targetType: elbv2.TargetType.IP,
    });
    // Target group metrics need the group attached to the load balancer, as in the stack.
    loadBalancer.addListener('Http', { port: 80, defaultTargetGroups: [targetGroup] });
    new GatewayAlarms(stack, 'Alarms', {
      loadBalancer,
      targetGroup,
      topic: new sns.Topic(stack, 'Topic'),
      ...extra,
    });
    return stack;
  }

  it('alarms on no healthy pod and on a p99 response start over 10 s, not on Lambda errors', () => {
    const stack = container();
    expect(threshold(stack, 'HealthyHostCount')).toEqual([1]);
    expect(threshold(stack, 'TargetResponseTime')).toEqual([10]);
    expect(threshold(stack, 'Errors')).toEqual([]);
  });

  it('refuses both a function and a target group', () => {
    const { stack, vpc } = bareStack();
    expect(
      () =>
        new GatewayAlarms(stack, 'Alarms', {
          loadBalancer: new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc }),
          function: lambda.Function.fromFunctionName(stack, 'Fn', 'gateway'),
          targetGroup: new elbv2.ApplicationTargetGroup(stack, 'Pods', {
            vpc,
            port: 8080,
            targetType: elbv2.TargetType.IP,
          }),
          topic: new sns.Topic(stack, 'Topic'),
        }),
    ).toThrow(/exactly one of function \(Lambda edge\) and targetGroup \(container edge\)/);
  });
});
