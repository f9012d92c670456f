/**
 * One CloudWatch dashboard per stage that follows a request from the top down, one row per
 * layer: public ALB -> gateway Lambda (with its own EMF counters) -> limiter and Redis ->
 * session manager (internal ALB, pods) -> Triton -> GPU, with the ApiKeys table (DynamoDB) next
 * to the gateway that reads it. Each row starts with a text widget naming the layer, so a reader
 * scans down until the first row that looks wrong.
 *
 * Triton's own counters (queue time, request success and failure) live in Amazon Managed
 * Prometheus, which a CloudWatch dashboard cannot query. Copying them into CloudWatch would mean
 * a second scrape of Triton by the CloudWatch agent and paying for the same series twice; the
 * alerts on them already run in AMP and page through the same topic. So the Triton row charts
 * what CloudWatch has (pods running and pending, their CPU and memory, from Container Insights)
 * and its text widget links the workspace with the exact PromQL to run there.
 *
 * It lives in the Gateway stack, which already depends on the Data and Inference stacks, so it
 * takes their resources by props without a cross-stack cycle.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { GATEWAY_METRICS } from '#shared/names';
import { NAMESPACE, SESSION_MANAGER, TRITON } from '../k8s/versions.ts';
import { cacheNodeMetric } from './cache-node-metric.ts';

/** A cache the limiter or the sessions use: its nodes' member cluster ids. */
export interface DashboardCache {
  /** Shown in the widget titles, e.g. "sessions". */
  readonly label: string;
  readonly nodes: readonly string[];
}

export interface StageDashboardProps {
  /** Stage name: part of the dashboard name and its title. */
  readonly stage: string;
  readonly publicLoadBalancer: elbv2.ApplicationLoadBalancer;
  /** The gateway Lambda (`gateway.edge` "lambda"). @default - none: the container edge */
  readonly gatewayFunction?: lambda.IFunction;
  /** The container edge's target group (`gateway.edge` "container"). @default - none */
  readonly gatewayTargetGroup?: elbv2.IApplicationTargetGroup;
  readonly apiKeys: dynamodb.ITable;
  /** The ElastiCache replication groups the limiter and the session manager use. */
  readonly caches: readonly DashboardCache[];
  readonly internalLoadBalancer: elbv2.ApplicationLoadBalancer;
  readonly internalTargetGroup: elbv2.ApplicationTargetGroup;
  /** EKS cluster name: the ClusterName dimension of Container Insights. */
  readonly clusterName: string;
  /** Id of the Prometheus workspace that holds Triton's and the GPU's Prometheus metrics. */
  readonly prometheusWorkspaceId: string;
}

/** The layers of a request, top to bottom; each is one row of the dashboard. */
export const DASHBOARD_LAYERS = [
  'ALB',
  'Gateway',
  'ApiKeys',
  'Redis',
  'Session manager',
  'Triton',
  'GPU',
] as const;
export type DashboardLayer = (typeof DASHBOARD_LAYERS)[number];

const PERIOD = Duration.minutes(1);
const WIDTH = 24;

export class StageDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: StageDashboardProps) {
    super(scope, id);
    if (props.caches.length === 0 || props.caches.some((c) => c.nodes.length === 0)) {
      throw new Error(
        'StageDashboard needs at least one cache with at least one node (RedisReplicationGroup.memberClusterIds)',
      );
    }
    const region = Stack.of(this).region;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `Axon-${props.stage}`,
      defaultInterval: Duration.hours(3),
    });
    const row = (layer: DashboardLayer, note: string, widgets: cloudwatch.IWidget[]) => {
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `### ${layer}\n${note}`, width: WIDTH, height: 2 }),
      );
      this.dashboard.addWidgets(...widgets);
    };
    const graph = (layer: DashboardLayer, title: string, left: cloudwatch.IMetric[], width = 6) =>
      new cloudwatch.GraphWidget({ title: `${layer}: ${title}`, left, width, height: 6 });
    const insights = (metricName: string, dims: Record<string, string>, label: string) =>
      new cloudwatch.Metric({
        namespace: 'ContainerInsights',
        metricName,
        dimensionsMap: { ClusterName: props.clusterName, ...dims },
        statistic: cloudwatch.Stats.AVERAGE,
        period: PERIOD,
        label,
      });
    const sum = { statistic: cloudwatch.Stats.SUM, period: PERIOD };
    const p99 = { statistic: cloudwatch.Stats.p(99), period: PERIOD };

    const alb = props.publicLoadBalancer.metrics;
    row(
      'ALB',
      'Public entry: what clients see. 5xx here without gateway errors is the ALB itself.',
      [
        graph('ALB', 'requests', [alb.requestCount(sum)]),
        graph('ALB', '5xx (ALB, gateway)', [
          alb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, sum),
          alb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, sum),
        ]),
        graph('ALB', '4xx (auth, limits, bad input)', [
          alb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, sum),
        ]),
        graph('ALB', 'p99 target response time', [alb.targetResponseTime(p99)]),
      ],
    );

    const fn = props.gatewayFunction;
    const emf = (name: string) =>
      new cloudwatch.Metric({
        namespace: GATEWAY_METRICS.namespace,
        metricName: name,
        dimensionsMap: { service: GATEWAY_METRICS.service },
        ...sum,
      });
    const names = GATEWAY_METRICS.names;
    // The same core runs as a Lambda or as pods; only the platform's own metrics differ.
    const platform = fn
      ? [
          graph('Gateway', 'invocations, errors, throttles', [
            fn.metricInvocations(sum),
            fn.metricErrors(sum),
            fn.metricThrottles(sum),
          ]),
          graph('Gateway', 'p99 duration', [fn.metricDuration(p99)]),
        ]
      : [
          graph('Gateway', 'healthy pods, 5xx', [
            edgeTargets(props).metrics.healthyHostCount(),
            edgeTargets(props).metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, sum),
          ]),
          graph('Gateway', 'p99 response time', [
            edgeTargets(props).metrics.targetResponseTime(p99),
          ]),
        ];
    row('Gateway', 'Authorizer, token bucket, forward to the session manager.', [
      ...platform,
      graph('Gateway', 'limiter decisions', [
        emf(names.admitted),
        emf(names.denied),
        emf(names.degraded),
      ]),
      graph('Gateway', 'errors by cause', [
        emf(names.redisErrors),
        emf(names.authFailures),
        emf(names.upstreamErrors),
      ]),
    ]);

    const table = props.apiKeys;
    row(
      'ApiKeys',
      'DynamoDB beside the gateway: the authorizer reads a key here on a cache miss.',
      [
        graph('ApiKeys', 'consumed read capacity', [table.metricConsumedReadCapacityUnits(sum)], 8),
        graph(
          'ApiKeys',
          'GetItem latency',
          [
            table.metricSuccessfulRequestLatency({
              dimensionsMap: { TableName: table.tableName, Operation: 'GetItem' },
              ...p99,
            }),
          ],
          8,
        ),
        graph(
          'ApiKeys',
          'throttles and system errors',
          [
            table.metric('ReadThrottleEvents', sum),
            table.metric('WriteThrottleEvents', sum),
            table.metricSystemErrorsForOperations({ period: PERIOD }),
          ],
          8,
        ),
      ],
    );

    const cacheMetric = (metricName: string, statistic: string) =>
      props.caches.flatMap((cache) =>
        cache.nodes.map((node, index) =>
          cacheNodeMetric({
            node,
            metricName,
            statistic,
            period: PERIOD,
            label: `${cache.label} node ${index + 1}`,
          }),
        ),
      );
    row('Redis', 'Limiter buckets and sessions, one line per node.', [
      graph('Redis', 'EngineCPUUtilization', cacheMetric('EngineCPUUtilization', 'Maximum')),
      graph(
        'Redis',
        'DatabaseMemoryUsagePercentage',
        cacheMetric('DatabaseMemoryUsagePercentage', 'Maximum'),
      ),
      graph('Redis', 'CurrConnections', cacheMetric('CurrConnections', 'Maximum')),
      graph('Redis', 'Evictions and ReplicationLag', [
        ...cacheMetric('Evictions', 'Sum'),
        ...cacheMetric('ReplicationLag', 'Maximum'),
      ]),
    ]);

    const internal = props.internalLoadBalancer.metrics;
    const targets = props.internalTargetGroup.metrics;
    const sessionPods = { Namespace: NAMESPACE, PodName: SESSION_MANAGER.name };
    row('Session manager', 'Internal ALB targets and the pods behind them (Container Insights).', [
      graph('Session manager', 'requests and 5xx', [
        internal.requestCount(sum),
        internal.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, sum),
        internal.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, sum),
      ]),
      graph('Session manager', 'healthy and unhealthy targets', [
        targets.healthyHostCount({ period: PERIOD }),
        targets.unhealthyHostCount({ period: PERIOD }),
      ]),
      graph('Session manager', 'pod CPU and memory %', [
        insights('pod_cpu_utilization', sessionPods, 'CPU %'),
        insights('pod_memory_utilization', sessionPods, 'memory %'),
      ]),
      graph('Session manager', 'container restarts', [
        insights('pod_number_of_container_restarts', sessionPods, 'restarts'),
      ]),
    ]);

    const workspaceLink = `https://${region}.console.aws.amazon.com/prometheus/home?region=${region}#/workspaces/workspace/${props.prometheusWorkspaceId}`;
    const tritonPods = { Namespace: NAMESPACE, PodName: TRITON.name };
    row(
      'Triton',
      `Pods from Container Insights. Queue time and request outcomes are in the [Prometheus workspace](${workspaceLink}) (alerts there page the same topic): ` +
        '`sum by (model) (rate(nv_inference_queue_duration_us[5m])) / sum by (model) (rate(nv_inference_request_success[5m])) / 1000` (ms), ' +
        '`sum by (model) (rate(nv_inference_request_success[5m]))`, `sum by (model) (rate(nv_inference_request_failure[5m]))`.',
      [
        graph(
          'Triton',
          'pods running and pending',
          [
            insights('pod_status_running', tritonPods, 'running'),
            insights('pod_status_pending', tritonPods, 'pending'),
          ],
          8,
        ),
        graph(
          'Triton',
          'pod CPU and memory %',
          [
            insights('pod_cpu_utilization', tritonPods, 'CPU %'),
            insights('pod_memory_utilization', tritonPods, 'memory %'),
          ],
          8,
        ),
        graph(
          'Triton',
          'container restarts',
          [insights('pod_number_of_container_restarts', tritonPods, 'restarts')],
          8,
        ),
      ],
    );

    row('GPU', 'DCGM exporter through Container Insights: utilisation, memory, GPUs in the pool.', [
      graph(
        'GPU',
        'node_gpu_utilization %',
        [insights('node_gpu_utilization', {}, 'utilisation %')],
        8,
      ),
      graph(
        'GPU',
        'node_gpu_memory_utilization %',
        [insights('node_gpu_memory_utilization', {}, 'memory %')],
        8,
      ),
      graph(
        'GPU',
        'GPUs reporting (pool size)',
        [
          // Each GPU node reports once a minute, so the sample count of the cluster-wide series
          // follows the pool as Karpenter grows and shrinks it (zero when scaled to zero).
          new cloudwatch.Metric({
            namespace: 'ContainerInsights',
            metricName: 'node_gpu_utilization',
            dimensionsMap: { ClusterName: props.clusterName },
            statistic: cloudwatch.Stats.SAMPLE_COUNT,
            period: PERIOD,
            label: 'GPU reports per minute',
          }),
        ],
        8,
      ),
    ]);
  }
}

function edgeTargets(props: StageDashboardProps): elbv2.IApplicationTargetGroup {
  if (!props.gatewayTargetGroup) {
    throw new Error(
      'StageDashboard needs gatewayFunction or gatewayTargetGroup: the gateway to chart',
    );
  }
  return props.gatewayTargetGroup;
}
