/**
 * State: the ElastiCache replication group (token buckets, sessions) with its rotated AUTH
 * token, and the DynamoDB ApiKeys table.
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { OUTPUTS } from '#shared/names';
import { AxonStack, type AxonStackProps } from './axon-stack.ts';
import { ApiKeysTable } from './constructs/api-keys-table.ts';
import { RedisAuthRotation } from './constructs/redis-auth-rotation.ts';
import { RedisReplicationGroup } from './constructs/redis-replication-group.ts';

export interface DataStackProps extends AxonStackProps {
  readonly vpc: ec2.IVpc;
}

export class DataStack extends AxonStack {
  readonly redis: RedisReplicationGroup;
  readonly apiKeys: ApiKeysTable;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { redis } = props.config;

    this.redis = new RedisReplicationGroup(this, 'Redis', {
      vpc: props.vpc,
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

    this.apiKeys = new ApiKeysTable(this, 'ApiKeys');

    new CfnOutput(this, OUTPUTS.apiKeysTableName, {
      value: this.apiKeys.tableName,
      description: 'DynamoDB table of API keys (read by `npm run keys -- … --stage`)',
    });
    new CfnOutput(this, 'RedisEndpoint', { value: this.redis.endpoint });
    new CfnOutput(this, 'RedisAuthSecretArn', { value: this.redis.authToken.secretArn });
  }
}
