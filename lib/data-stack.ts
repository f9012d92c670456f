/**
 * State: two ElastiCache replication groups, each with its rotated AUTH token (the sessions'
 * cache, and the limiter's own small `noeviction` one, so no tenant's data can evict a token
 * bucket), the DynamoDB ApiKeys and Usage tables, and their alarms, which notify the stage's
 * alarm topic (the Network stack's). The usage exporter, a client of the limiter's cache like the
 * gateway, lives with the gateway (GatewayStack), so this stack opens no door into a cache.
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { OUTPUTS } from '#shared/names';
import { GATEWAY_REDIS_USER, SESSION_MANAGER_REDIS_USER } from '#shared/redis-acl';
import { AxonStack, type AxonStackProps } from './axon-stack.ts';
import { ApiKeysTable } from './constructs/api-keys-table.ts';
import { DataAlarms } from './constructs/data-alarms.ts';
import { RedisAuthRotation } from './constructs/redis-auth-rotation.ts';
import { RedisReplicationGroup } from './constructs/redis-replication-group.ts';
import { UsageTable } from './constructs/usage-table.ts';

export interface DataStackProps extends AxonStackProps {
  readonly vpc: ec2.IVpc;
  /** The stage's alarm topic (the Network stack's). */
  readonly alarmTopic: sns.ITopic;
}

export class DataStack extends AxonStack {
  /** The sessions' cache (the session manager's). */
  readonly redis: RedisReplicationGroup;
  /** The limiter's cache (the gateway function's): token buckets only, never evicted. */
  readonly limiterRedis: RedisReplicationGroup;
  readonly apiKeys: ApiKeysTable;
  /** The usage ledger, per key, hour and model, as the exporter writes it. */
  readonly usage: UsageTable;
  readonly alarms: DataAlarms;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { redis, alarms } = props.config;

    // The construct id, and so every logical id, stays what it was when this cache held the
    // buckets too: a deploy updates it in place. Its security group keeps its description for
    // the same reason (a new description would replace a group the Inference stack imports).
    this.redis = new RedisReplicationGroup(this, 'Redis', {
      vpc: props.vpc,
      description: 'Axon session store',
      // Least privilege inside Redis: the session manager's own user, its keys only.
      user: SESSION_MANAGER_REDIS_USER,
      engine: redis.engine,
      engineVersion: redis.engineVersion,
      nodeType: redis.nodeType,
      replicasPerShard: redis.replicasPerShard,
      clusterMode: redis.clusterMode,
      shards: redis.shards,
      port: redis.port,
      snapshotRetentionDays: redis.snapshotRetentionDays,
    });
    new RedisAuthRotation(this, 'RedisAuthRotation', {
      vpc: props.vpc,
      redis: this.redis,
      rotateEvery: Duration.days(redis.authRotationDays),
    });

    this.limiterRedis = new RedisReplicationGroup(this, 'LimiterRedis', {
      vpc: props.vpc,
      description: 'Axon rate limiter: token buckets only',
      securityGroupDescription: 'ElastiCache (limiter): ingress only from the gateway Lambda',
      engine: redis.engine,
      engineVersion: redis.engineVersion,
      nodeType: redis.limiter.nodeType,
      replicasPerShard: redis.limiter.replicasPerShard,
      port: redis.port,
      snapshotRetentionDays: redis.snapshotRetentionDays,
      // A full cache refuses writes instead of dropping a bucket: a missing bucket reads as a
      // full one and a fresh day. Only buckets live here, so it does not fill.
      maxmemoryPolicy: 'noeviction',
      user: GATEWAY_REDIS_USER,
    });
    new RedisAuthRotation(this, 'LimiterRedisAuthRotation', {
      vpc: props.vpc,
      redis: this.limiterRedis,
      rotateEvery: Duration.days(redis.authRotationDays),
    });

    this.apiKeys = new ApiKeysTable(this, 'ApiKeys');

    this.usage = new UsageTable(this, 'Usage');

    this.alarms = new DataAlarms(this, 'Alarms', {
      topic: props.alarmTopic,
      redisNodes: this.redis.memberClusterIds,
      limiterRedisNodes: this.limiterRedis.memberClusterIds,
      apiKeys: this.apiKeys.table,
      redisEngineCpuPercent: alarms.redisEngineCpuPercent,
      redisMemoryPercent: alarms.redisMemoryPercent,
      redisEvictionsPerFiveMinutes: alarms.redisEvictionsPerFiveMinutes,
      redisReplicationLagSeconds: alarms.redisReplicationLagSeconds,
      redisConnections: alarms.redisConnections,
      dynamoThrottlesPerFiveMinutes: alarms.dynamoThrottlesPerFiveMinutes,
      dynamoSystemErrorsPerFiveMinutes: alarms.dynamoSystemErrorsPerFiveMinutes,
    });

    new CfnOutput(this, OUTPUTS.apiKeysTableName, {
      value: this.apiKeys.tableName,
      description: 'DynamoDB table of API keys (read by `npm run keys -- … --stage`)',
    });
    new CfnOutput(this, OUTPUTS.usageTableName, {
      value: this.usage.tableName,
      description: 'DynamoDB table of the usage ledger (per key, UTC hour and model)',
    });
    new CfnOutput(this, 'RedisEndpoint', { value: this.redis.endpoint });
    new CfnOutput(this, 'RedisAuthSecretArn', { value: this.redis.authToken.secretArn });
    new CfnOutput(this, 'LimiterRedisEndpoint', { value: this.limiterRedis.endpoint });
    new CfnOutput(this, 'LimiterRedisAuthSecretArn', {
      value: this.limiterRedis.authToken.secretArn,
    });
  }
}
