/**
 * The usage exporter (lambda/usage-export): a Lambda run on a schedule that moves the usage
 * ledger's closed hours from the limiter's Redis to the Usage table. It connects to Redis as the
 * gateway's ACL user (the limiter's cache has one; the exporter reads and deletes only ledger
 * hashes, by name, and needs no SCAN since it lists key ids from the ApiKeys table). Its errors
 * alarm: the ledger's hashes live a week in Redis, so an exporter failing for days loses usage.
 */
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV } from '#shared/names';
import { addAlarm } from './alarm-topic.ts';
import type { ApiKeysTable } from './api-keys-table.ts';
import { AxonFunction } from './axon-function.ts';
import type { RedisReplicationGroup } from './redis-replication-group.ts';
import type { UsageTable } from './usage-table.ts';

export interface UsageExporterProps {
  readonly vpc: ec2.IVpc;
  /** The limiter's cache, where the gateway books the ledger. */
  readonly redis: RedisReplicationGroup;
  /** Where the key ids come from. */
  readonly apiKeys: ApiKeysTable;
  readonly usage: UsageTable;
  readonly alarmTopic: sns.ITopic;
  /** How often it runs; each run exports every hour closed since the last. @default 10 minutes */
  readonly every?: Duration;
}

export class UsageExporter extends Construct {
  readonly function: AxonFunction;
  readonly errors: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: UsageExporterProps) {
    super(scope, id);
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Usage exporter Lambda: the limiter Redis and HTTPS to AWS APIs only',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'DynamoDB, Secrets Manager');

    this.function = new AxonFunction(this, 'Function', {
      entry: 'lambda/usage-export/handler.ts',
      description: 'Exports the usage ledger from the limiter Redis to the Usage table',
      vpc: props.vpc,
      securityGroup,
      memoryMiB: 256,
      timeout: Duration.minutes(5),
      environment: {
        [ENV.usageTable]: props.usage.tableName,
        [ENV.keysTable]: props.apiKeys.tableName,
        [ENV.serviceName]: 'usage-export',
      },
    });
    props.redis.bind(this.function, 'Usage exporter to the limiter Redis');
    // The key ids (a scan of one attribute), and the Usage table's items and checkpoint: no
    // delete, no other table.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Scan'],
        resources: [props.apiKeys.table.tableArn],
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resources: [props.usage.table.tableArn],
      }),
    );

    new events.Rule(this, 'Schedule', {
      description: 'Runs the usage exporter',
      schedule: events.Schedule.rate(props.every ?? Duration.minutes(10)),
      // A missed run is made up by the next one, which starts from the checkpoint.
      targets: [new targets.LambdaFunction(this.function.function, { retryAttempts: 2 })],
    });

    this.errors = addAlarm(this, 'Errors', props.alarmTopic, {
      metric: this.function.function.metricErrors({ period: Duration.hours(1) }),
      threshold: 3,
      description:
        'The usage exporter failed 3 times in an hour: closed hours stay in the limiter Redis (a week at most) until it succeeds. Check its log group.',
    });
  }
}
