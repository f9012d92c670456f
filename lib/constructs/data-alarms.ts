/**
 * Alarms on the Data stack: every node of the Redis replication group (engine CPU, memory use,
 * evictions, replication lag, connections) and the ApiKeys table (throttles, DynamoDB's own
 * errors), all to the stage's alarm topic. Each threshold is a flat prop with its default.
 *
 * Redis metrics are per node (CloudWatch dimension CacheClusterId, one member cluster per node),
 * so each node gets its own alarms under a scope named after it and the alarm says which node.
 * ReplicationLag is published only by replicas; which node is a replica changes with a failover,
 * so every node has the lag alarm and a missing value (the primary's) does not breach.
 *
 * DynamoDB's UserErrors is not watched: CloudWatch publishes it per account and region, not per
 * table, so it would page on any client's bad request anywhere in the account.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { resolveThresholds } from './alarm-thresholds.ts';
import { addAlarm } from './alarm-topic.ts';
import { cacheNodeMetric } from './cache-node-metric.ts';

export interface DataAlarmsProps {
  readonly topic: sns.ITopic;
  /** Member cluster ids of the replication group, one per node (`RedisReplicationGroup`). */
  readonly redisNodes: readonly string[];
  /**
   * Member cluster ids of the limiter's own cache, watched with the same thresholds.
   * @default - no limiter cache
   */
  readonly limiterRedisNodes?: readonly string[];
  readonly apiKeys: dynamodb.ITable;
  /** 5-minute average EngineCPUUtilization, percent. @default 80 */
  readonly redisEngineCpuPercent?: number;
  /** DatabaseMemoryUsagePercentage, percent of maxmemory. @default 80 */
  readonly redisMemoryPercent?: number;
  /** Keys evicted per 5 minutes. @default 1 */
  readonly redisEvictionsPerFiveMinutes?: number;
  /** Seconds a replica is behind. @default 10 */
  readonly redisReplicationLagSeconds?: number;
  /** Open client connections per node. @default 5000 */
  readonly redisConnections?: number;
  /** Throttled reads, writes or requests per 5 minutes. @default 1 */
  readonly dynamoThrottlesPerFiveMinutes?: number;
  /** SystemErrors per 5 minutes. @default 1 */
  readonly dynamoSystemErrorsPerFiveMinutes?: number;
}

const PERIOD = Duration.minutes(5);

/** Each threshold's default, as its prop's JSDoc states; also the order they are checked in. */
const DEFAULTS = {
  redisEngineCpuPercent: 80,
  redisMemoryPercent: 80,
  redisEvictionsPerFiveMinutes: 1,
  redisReplicationLagSeconds: 10,
  redisConnections: 5000,
  dynamoThrottlesPerFiveMinutes: 1,
  dynamoSystemErrorsPerFiveMinutes: 1,
};

/**
 * Five alarms per node: 40 nodes make 200 alarms, well inside CloudFormation's 500 resources per
 * stack next to the rest of the Data stack. Past that, alarms should aggregate across nodes.
 */
export const MAX_REDIS_NODES = 40;

/** The operations the authorizer and the key CLI call on the ApiKeys table. */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.SCAN,
];

export class DataAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: DataAlarmsProps) {
    super(scope, id);
    const t = resolveThresholds('data alarm', props, DEFAULTS, (name) =>
      name.endsWith('Percent') ? 100 : undefined,
    );
    const limiterNodes = props.limiterRedisNodes ?? [];
    checkNodeCount(props.redisNodes.length, limiterNodes.length);
    const alarm = (where: Construct, alarmId: string, spec: Parameters<typeof addAlarm>[3]) =>
      this.alarms.push(addAlarm(where, alarmId, props.topic, spec));

    const watchNode = (node: string, n: Construct, what: string) => {
      const redis = (metricName: string, statistic: string) =>
        cacheNodeMetric({ node, metricName, statistic, period: PERIOD });
      alarm(n, 'EngineCpu', {
        metric: redis('EngineCPUUtilization', cloudwatch.Stats.AVERAGE),
        threshold: t.redisEngineCpuPercent,
        description: `${what} ${node}: the engine thread is busy; limiter calls queue and time out`,
      });
      alarm(n, 'Memory', {
        metric: redis('DatabaseMemoryUsagePercentage', cloudwatch.Stats.MAXIMUM),
        threshold: t.redisMemoryPercent,
        description: `${what} ${node}: memory use is near maxmemory; evictions or OOM errors come next`,
      });
      alarm(n, 'Evictions', {
        metric: redis('Evictions', cloudwatch.Stats.SUM),
        threshold: t.redisEvictionsPerFiveMinutes,
        description: `${what} ${node}: keys were evicted (token buckets or sessions lost)`,
      });
      alarm(n, 'ReplicationLag', {
        metric: redis('ReplicationLag', cloudwatch.Stats.MAXIMUM),
        threshold: t.redisReplicationLagSeconds,
        description: `${what} ${node}: this replica is behind its primary; a failover now would lose recent writes`,
      });
      alarm(n, 'Connections', {
        metric: redis('CurrConnections', cloudwatch.Stats.MAXIMUM),
        threshold: t.redisConnections,
        description: `${what} ${node}: many open client connections (connection leak or a Lambda scale-out)`,
      });
    };
    // Scope ids follow the node's position, so they stay stable while the ids are tokens.
    props.redisNodes.forEach((node, index) => {
      watchNode(node, new Construct(this, `RedisNode${index + 1}`), 'Redis node');
    });
    limiterNodes.forEach((node, index) => {
      watchNode(node, new Construct(this, `LimiterRedisNode${index + 1}`), 'Limiter Redis node');
    });

    const table = props.apiKeys;
    alarm(this, 'ApiKeysReadThrottles', {
      metric: table.metric('ReadThrottleEvents', {
        statistic: cloudwatch.Stats.SUM,
        period: PERIOD,
      }),
      threshold: t.dynamoThrottlesPerFiveMinutes,
      description: 'ApiKeys table: reads were throttled; key checks fail or slow down',
    });
    alarm(this, 'ApiKeysWriteThrottles', {
      metric: table.metric('WriteThrottleEvents', {
        statistic: cloudwatch.Stats.SUM,
        period: PERIOD,
      }),
      threshold: t.dynamoThrottlesPerFiveMinutes,
      description: 'ApiKeys table: writes were throttled; key creation or revocation failed',
    });
    alarm(this, 'ApiKeysThrottledRequests', {
      metric: table.metricThrottledRequestsForOperations({
        operations: TABLE_OPERATIONS,
        period: PERIOD,
      }),
      threshold: t.dynamoThrottlesPerFiveMinutes,
      description: 'ApiKeys table: requests were throttled (any operation, indexes included)',
    });
    alarm(this, 'ApiKeysSystemErrors', {
      metric: table.metricSystemErrorsForOperations({
        operations: TABLE_OPERATIONS,
        period: PERIOD,
      }),
      threshold: t.dynamoSystemErrorsPerFiveMinutes,
      description: 'ApiKeys table: DynamoDB answered 500s; key checks fail',
    });
  }
}

function checkNodeCount(nodes: number, limiterNodes: number): void {
  if (nodes < 1 || nodes + limiterNodes > MAX_REDIS_NODES) {
    throw new Error(
      `data alarms watch 1 to ${MAX_REDIS_NODES} Redis nodes one by one, got ${nodes} (sessions) + ${limiterNodes} (limiter); fewer shards or replicas, or aggregate alarms across nodes`,
    );
  }
}
