/**
 * InferenceAlarms alone on a bare Stack: the documented defaults, the Prometheus rules and their
 * route to the topic, and one refusal per kind of bad threshold.
 */
import type { Stack } from 'aws-cdk-lib';
import * as aps from 'aws-cdk-lib/aws-aps';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import {
  InferenceAlarms,
  type InferenceAlarmsProps,
  MIN_REQUESTS_FOR_RATE,
} from '../../../lib/constructs/inference-alarms.ts';
import type { Json } from '../support.ts';
import { bareStack, template } from './support.ts';

function build(extra: Partial<InferenceAlarmsProps> = {}): {
  stack: Stack;
  alarms: InferenceAlarms;
} {
  const { stack, vpc } = bareStack();
  const loadBalancer = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc });
  const targetGroup = new elbv2.ApplicationTargetGroup(stack, 'Targets', {
    vpc,
    port: 8080,
    targetType: elbv2.TargetType.IP,
  });
  loadBalancer.addListener('Http', { port: 80, defaultTargetGroups: [targetGroup] });
  const alarms = new InferenceAlarms(stack, 'Alarms', {
    topic: new sns.Topic(stack, 'Topic'),
    clusterName: 'axon-cluster',
    loadBalancer,
    targetGroup,
    workspace: new aps.CfnWorkspace(stack, 'Workspace'),
    ...extra,
  });
  return { stack, alarms };
}

function alarm(stack: Stack, idPrefix: string): Json {
  const found = Object.entries(template(stack).findResources('AWS::CloudWatch::Alarm')).find(
    ([id]) => id.startsWith(idPrefix),
  );
  if (!found) throw new Error(`no alarm ${idPrefix}`);
  return (found[1] as Json).Properties;
}

describe('InferenceAlarms defaults', () => {
  const { stack } = build();
  const t = template(stack);

  it.each([
    ['AlarmsInternalAlbUnhealthyHosts', 1, 3],
    ['AlarmsInternalAlb5xx', 10, 1],
    ['AlarmsSessionManager5xxRate', 5, 1],
    ['AlarmsSessionManagerRestarts', 3, 1],
    ['AlarmsGpuUtilizationPinned', 95, 6],
    ['AlarmsTritonPodsPending', 1, 20],
  ])(
    '%s fires at %d over %d period(s) and notifies the topic both ways',
    (id, threshold, periods) => {
      const p = alarm(stack, id);
      expect([p.Threshold, p.EvaluationPeriods]).toEqual([threshold, periods]);
      expect(p.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(p.AlarmActions).toHaveLength(1);
      expect(p.AlarmActions[0].Ref).toMatch(/^Topic/);
      expect(p.OKActions).toEqual(p.AlarmActions);
    },
  );

  it('watches Triton pods Pending minute by minute, and no pods at all is not a breach', () => {
    const p = alarm(stack, 'AlarmsTritonPodsPending');
    expect(p).toMatchObject({
      MetricName: 'pod_status_pending',
      Namespace: 'ContainerInsights',
      Period: 60,
      TreatMissingData: 'notBreaching',
    });
    expect(p.Dimensions).toEqual(
      expect.arrayContaining([
        { Name: 'ClusterName', Value: 'axon-cluster' },
        { Name: 'Namespace', Value: 'axon' },
        { Name: 'PodName', Value: 'triton' },
      ]),
    );
  });

  it('judges the 5xx rate only with enough requests to mean something', () => {
    const p = alarm(stack, 'AlarmsSessionManager5xxRate');
    const expression = p.Metrics.find((m: Json) => m.Expression)?.Expression;
    expect(expression).toBe(
      `IF(requests >= ${MIN_REQUESTS_FOR_RATE}, 100 * FILL(errors, 0) / requests, 0)`,
    );
    const names = p.Metrics.filter((m: Json) => m.MetricStat).map(
      (m: Json) => m.MetricStat.Metric.MetricName,
    );
    expect(names.sort()).toEqual(['HTTPCode_Target_5XX_Count', 'RequestCount']);
  });

  it('counts session manager restarts within the period, not since the pod started', () => {
    const p = alarm(stack, 'AlarmsSessionManagerRestarts');
    expect(p.Metrics.find((m: Json) => m.Expression)?.Expression).toBe('DIFF(restarts)');
    expect(JSON.stringify(p.Metrics)).toContain('pod_number_of_container_restarts');
    expect(JSON.stringify(p.Metrics)).toContain('session-manager');
  });

  it('averages GPU utilisation over the cluster from Container Insights', () => {
    expect(alarm(stack, 'AlarmsGpuUtilizationPinned')).toMatchObject({
      MetricName: 'node_gpu_utilization',
      Statistic: 'Average',
      Period: 300,
      Dimensions: [{ Name: 'ClusterName', Value: 'axon-cluster' }],
    });
  });

  it('alerts on Triton queue time and failures through Prometheus rules', () => {
    const [rules] = Object.values(t.findResources('AWS::APS::RuleGroupsNamespace')) as [Json];
    const groups = JSON.parse(rules.Properties.Data).groups;
    const byName = Object.fromEntries(groups[0].rules.map((r: Json) => [r.alert, r]));
    expect(byName.TritonQueueTimeHigh.expr).toMatch(/nv_inference_queue_duration_us.* > 2000$/);
    expect(byName.TritonQueueTimeHigh.for).toBe('10m');
    expect(byName.TritonRequestFailures.expr).toMatch(
      /increase\(nv_inference_request_failure\[5m\]\)\) >= 1$/,
    );
  });

  it('routes every Prometheus alert to the topic with SigV4 in the stack region', () => {
    const [workspace] = Object.values(t.findResources('AWS::APS::Workspace')) as [Json];
    const definition = JSON.stringify(workspace.Properties.AlertManagerDefinition);
    expect(definition).toContain('sns_configs');
    expect(definition).toContain('region: us-east-1');
    expect(definition).toMatch(/topic_arn: ",\{"Ref":"Topic/);
  });
});

describe('InferenceAlarms props', () => {
  it('takes every threshold from its prop', () => {
    const { stack } = build({
      unhealthyHosts: 2,
      sessionManager5xxPercent: 20,
      gpuUtilizationPercent: 90,
      gpuHighMinutes: 60,
      tritonPendingMinutes: 45,
      tritonQueueMs: 500,
    });
    expect(alarm(stack, 'AlarmsInternalAlbUnhealthyHosts').Threshold).toBe(2);
    expect(alarm(stack, 'AlarmsSessionManager5xxRate').Threshold).toBe(20);
    expect(alarm(stack, 'AlarmsGpuUtilizationPinned')).toMatchObject({
      Threshold: 90,
      EvaluationPeriods: 12,
    });
    expect(alarm(stack, 'AlarmsTritonPodsPending').EvaluationPeriods).toBe(45);
    const [rules] = Object.values(
      template(stack).findResources('AWS::APS::RuleGroupsNamespace'),
    ) as [Json];
    expect(rules.Properties.Data).toContain('> 500');
  });
});

describe('InferenceAlarms validation', () => {
  it.each([
    [
      { sessionManager5xxPercent: 0 },
      /sessionManager5xxPercent must be a whole number from 1 to 100, got 0/,
    ],
    [
      { gpuUtilizationPercent: 101 },
      /gpuUtilizationPercent must be a whole number from 1 to 100, got 101/,
    ],
    [
      { tritonPendingMinutes: 2000 },
      /tritonPendingMinutes must be a whole number from 1 to 1440, got 2000/,
    ],
    [{ tritonQueueMs: 0.5 }, /tritonQueueMs must be a whole number from 1 to 1000000000, got 0.5/],
  ])('refuses %o', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
