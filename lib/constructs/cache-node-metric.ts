/**
 * ElastiCache publishes its Redis metrics per node: namespace AWS/ElastiCache, dimension
 * CacheClusterId, one member cluster per node (`RedisReplicationGroup.memberClusterIds`). The
 * Data stack's alarms and the stage dashboard both read them; this is the one place that names
 * the namespace and the dimension.
 */
import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** Where a node metric is read and how: its node, name, statistic and period, and a label. */
export interface CacheNodeMetricProps {
  /** The node's member cluster id. */
  readonly node: string;
  readonly metricName: string;
  readonly statistic: string;
  readonly period: Duration;
  /** Shown on a graph. @default - CloudWatch's own label */
  readonly label?: string;
}

/**
 * One metric of one ElastiCache node, as the alarms and the dashboard read it, so a node in
 * trouble shows as itself rather than folded into its replication group.
 */
export function cacheNodeMetric(props: CacheNodeMetricProps): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/ElastiCache',
    metricName: props.metricName,
    dimensionsMap: { CacheClusterId: props.node },
    statistic: props.statistic,
    period: props.period,
    label: props.label,
  });
}
