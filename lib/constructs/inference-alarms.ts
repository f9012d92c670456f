/**
 * Alarms on the inference plane, all to the stage's alarm topic:
 * - CloudWatch alarms on what CloudWatch measures: the internal ALB (unhealthy session manager
 *   targets, its own 5xx, the session manager's 5xx rate) and Container Insights (session
 *   manager restarts, GPU utilisation pinned high, Triton pods Pending too long);
 * - Amazon Managed Prometheus alert rules on what only Prometheus has, Triton's own counters
 *   (queue time, failed requests), routed by the workspace's alert manager to the same topic.
 *
 * "Triton pods Pending too long" watches `pod_status_pending` of the Triton workload, not the GPU
 * node count: a pod is Pending only while Kubernetes wants it to run, so the alarm is quiet when
 * the GPU pool is at zero because Triton is scaled to zero on purpose, and fires when a wanted
 * replica finds no GPU (no quota, no capacity, a node class that cannot launch) for longer than
 * a node takes to boot and pull the image.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as aps from 'aws-cdk-lib/aws-aps';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { NAMESPACE, SESSION_MANAGER, TRITON } from '../k8s/versions.ts';
import { resolveThresholds } from './alarm-thresholds.ts';
import { addAlarm } from './alarm-topic.ts';

export interface InferenceAlarmsProps {
  /** The stage's alarm topic (its policy must let aps.amazonaws.com publish: AlarmTopic does). */
  readonly topic: sns.ITopic;
  /** EKS cluster name: the ClusterName dimension of Container Insights. */
  readonly clusterName: string;
  /** The session manager's internal ALB and its target group. */
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The Prometheus workspace that scrapes Triton; its alert manager gets the SNS route. */
  readonly workspace: aps.CfnWorkspace;
  /** Unhealthy targets for 3 minutes in a row. @default 1 */
  readonly unhealthyHosts?: number;
  /** 5xx the internal ALB answers itself, per 5 minutes. @default 10 */
  readonly albFiveXxPerFiveMinutes?: number;
  /** Percent of requests the session manager answers 5xx, over 5 minutes. @default 5 */
  readonly sessionManager5xxPercent?: number;
  /** Session manager container restarts per 5 minutes. @default 3 */
  readonly podRestartsPerFiveMinutes?: number;
  /** Average Triton queue time per request, milliseconds, for 10 minutes. @default 2000 */
  readonly tritonQueueMs?: number;
  /** Failed Triton inference requests per 5 minutes. @default 1 */
  readonly tritonFailuresPerFiveMinutes?: number;
  /** Average GPU utilisation of the GPU nodes, percent... @default 95 */
  readonly gpuUtilizationPercent?: number;
  /** ...held this long, minutes (rounded up to 5). @default 30 */
  readonly gpuHighMinutes?: number;
  /** Minutes a Triton pod may stay Pending. @default 20 */
  readonly tritonPendingMinutes?: number;
}

/** Each threshold's default, as its prop's JSDoc states; also the order they are checked in. */
const DEFAULTS = {
  unhealthyHosts: 1,
  albFiveXxPerFiveMinutes: 10,
  sessionManager5xxPercent: 5,
  podRestartsPerFiveMinutes: 3,
  tritonQueueMs: 2000,
  tritonFailuresPerFiveMinutes: 1,
  gpuUtilizationPercent: 95,
  gpuHighMinutes: 30,
  tritonPendingMinutes: 20,
};

const FIVE_MINUTES = Duration.minutes(5);
const ONE_MINUTE = Duration.minutes(1);

/**
 * Below this many requests in 5 minutes the 5xx rate is not judged: one failed request out of
 * two is 50%, which says nothing about the service. The ALB's own 5xx alarm still counts them.
 */
export const MIN_REQUESTS_FOR_RATE = 20;

/** Name of the Prometheus rule group namespace, and the alerts it defines. */
export const TRITON_ALERTS = {
  namespace: 'axon-inference',
  queueTime: 'TritonQueueTimeHigh',
  failures: 'TritonRequestFailures',
} as const;

export class InferenceAlarms extends Construct {
  readonly alarms: Record<string, cloudwatch.Alarm> = {};
  /** The Prometheus alert rules (Triton queue time and failures). */
  readonly rules: aps.CfnRuleGroupsNamespace;

  constructor(scope: Construct, id: string, props: InferenceAlarmsProps) {
    super(scope, id);
    const t = resolveThresholds('inference alarm', props, DEFAULTS, (name) =>
      name.endsWith('Percent') ? 100 : name.endsWith('Minutes') ? 1440 : 1e9,
    );
    const add = (alarmId: string, spec: Parameters<typeof addAlarm>[3]) => {
      this.alarms[alarmId] = addAlarm(this, alarmId, props.topic, spec);
    };
    const insights = (metricName: string, dimensions: Record<string, string>, period: Duration) =>
      new cloudwatch.Metric({
        namespace: 'ContainerInsights',
        metricName,
        dimensionsMap: { ClusterName: props.clusterName, ...dimensions },
        statistic: cloudwatch.Stats.MAXIMUM,
        period,
      });

    add('InternalAlbUnhealthyHosts', {
      metric: props.targetGroup.metrics.unhealthyHostCount({
        statistic: cloudwatch.Stats.MAXIMUM,
        period: ONE_MINUTE,
      }),
      threshold: t.unhealthyHosts,
      evaluationPeriods: 3,
      description:
        'Internal ALB: session manager pods fail the health check (crash loop, Redis unreachable, rollout stuck)',
    });
    add('InternalAlb5xx', {
      metric: props.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, {
        period: FIVE_MINUTES,
      }),
      threshold: t.albFiveXxPerFiveMinutes,
      description:
        'Internal ALB answered 5xx itself: no healthy session manager, or pods closed connections',
    });
    add('SessionManager5xxRate', {
      metric: new cloudwatch.MathExpression({
        expression: `IF(requests >= ${MIN_REQUESTS_FOR_RATE}, 100 * FILL(errors, 0) / requests, 0)`,
        usingMetrics: {
          requests: props.loadBalancer.metrics.requestCount({ period: FIVE_MINUTES }),
          errors: props.loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, {
            period: FIVE_MINUTES,
          }),
        },
        label: 'Session manager 5xx, % of requests',
        period: FIVE_MINUTES,
      }),
      threshold: t.sessionManager5xxPercent,
      description:
        'Session manager answers 5xx to a share of requests (Triton unavailable, Redis errors, bugs)',
    });
    // Container Insights reports the restart count since each pod started; DIFF turns it into
    // restarts within the period (a replaced pod lowers it, which never fires).
    add('SessionManagerRestarts', {
      metric: new cloudwatch.MathExpression({
        expression: 'DIFF(restarts)',
        usingMetrics: {
          restarts: insights(
            'pod_number_of_container_restarts',
            { Namespace: NAMESPACE, PodName: SESSION_MANAGER.name },
            FIVE_MINUTES,
          ),
        },
        label: 'Session manager container restarts',
        period: FIVE_MINUTES,
      }),
      threshold: t.podRestartsPerFiveMinutes,
      description:
        'Session manager containers restart (liveness failures, out of memory, crash on start)',
    });
    add('GpuUtilizationPinned', {
      metric: new cloudwatch.Metric({
        namespace: 'ContainerInsights',
        metricName: 'node_gpu_utilization',
        dimensionsMap: { ClusterName: props.clusterName },
        statistic: cloudwatch.Stats.AVERAGE,
        period: FIVE_MINUTES,
      }),
      threshold: t.gpuUtilizationPercent,
      evaluationPeriods: Math.ceil(t.gpuHighMinutes / 5),
      description:
        'GPUs have been pinned near 100% for a long time: Triton is saturated and cannot scale out (maxReplicas or eks.gpuNodes.maxGpus reached)',
    });
    // Missing data (no Triton pods at all) does not breach: see the file comment.
    add('TritonPodsPending', {
      metric: insights(
        'pod_status_pending',
        { Namespace: NAMESPACE, PodName: TRITON.name },
        ONE_MINUTE,
      ),
      threshold: 1,
      evaluationPeriods: t.tritonPendingMinutes,
      description:
        'Triton pods wanted but Pending: no GPU node can be launched (quota, capacity, node class) or it cannot pull the image',
    });

    this.rules = this.prometheusAlerts(props, t);
  }

  /**
   * Triton's queue time and failures exist only as Prometheus counters in the workspace, which
   * CloudWatch alarms cannot read; AMP evaluates the rules and its alert manager publishes to
   * the alarm topic (with SigV4, as the AMP service principal the topic policy admits).
   */
  private prometheusAlerts(
    props: InferenceAlarmsProps,
    t: { tritonQueueMs: number; tritonFailuresPerFiveMinutes: number },
  ): aps.CfnRuleGroupsNamespace {
    // Queue time is a counter of microseconds over all requests; per-request average = rate of
    // the time / rate of the requests, in ms.
    const queueMs =
      'sum by (model) (rate(nv_inference_queue_duration_us[5m])) / sum by (model) (rate(nv_inference_request_success[5m]) + rate(nv_inference_request_failure[5m])) / 1000';
    const rules = {
      groups: [
        {
          name: 'triton',
          rules: [
            {
              alert: TRITON_ALERTS.queueTime,
              expr: `${queueMs} > ${t.tritonQueueMs}`,
              for: '10m',
              labels: { severity: 'page' },
              annotations: {
                summary: `Triton model {{ $labels.model }}: requests wait over ${t.tritonQueueMs} ms in the queue`,
                description:
                  'More load than the replicas serve: check KEDA scaling, Triton maxReplicas and the GPU pool limit (docs/operations.md).',
              },
            },
            {
              alert: TRITON_ALERTS.failures,
              expr: `sum by (model) (increase(nv_inference_request_failure[5m])) >= ${t.tritonFailuresPerFiveMinutes}`,
              labels: { severity: 'page' },
              annotations: {
                summary: 'Triton model {{ $labels.model }}: inference requests failed',
                description:
                  'Triton answered errors: check the Triton pod logs (vLLM out of memory, bad request shapes) in Container Insights.',
              },
            },
          ],
        },
      ],
    };
    const namespace = new aps.CfnRuleGroupsNamespace(this, 'TritonRules', {
      name: TRITON_ALERTS.namespace,
      workspace: props.workspace.attrArn,
      // JSON is YAML, which is what AMP reads.
      data: JSON.stringify(rules, null, 2),
    });

    props.workspace.alertManagerDefinition = [
      'alertmanager_config: |',
      '  route:',
      '    receiver: alarm-topic',
      '    group_by: [alertname, model]',
      '    repeat_interval: 4h',
      '  receivers:',
      '    - name: alarm-topic',
      '      sns_configs:',
      `        - topic_arn: ${props.topic.topicArn}`,
      '          sigv4:',
      `            region: ${Stack.of(this).region}`,
      '          attributes:',
      '            source: amazon-managed-prometheus',
      '',
    ].join('\n');
    return namespace;
  }
}
