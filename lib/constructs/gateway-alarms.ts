/**
 * Alarms on what an on-call engineer must act on: 5xx from the ALB and from the gateway, Lambda
 * errors, a burst of rate-limit denials, degraded (in-memory) limiter decisions and Redis errors.
 * The last three are EMF metrics the gateway publishes (namespace Axon, dimension service=gateway).
 * All alarms notify one encrypted SNS topic.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { StageConfig } from '../config.ts';
import { GATEWAY_METRICS } from './gateway-function.ts';

export interface GatewayAlarmsProps {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly function: lambda.IFunction;
  readonly thresholds: StageConfig['alarms'];
}

const PERIOD = Duration.minutes(5);

export class GatewayAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: GatewayAlarmsProps) {
    super(scope, id);
    const t = props.thresholds;

    const key = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the Axon alarm topic',
      enableKeyRotation: true,
    });
    // CloudWatch must be able to publish to the encrypted topic.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { masterKey: key, enforceSSL: true });
    if (t.email) this.topic.addSubscription(new subscriptions.EmailSubscription(t.email));

    const gatewayMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: GATEWAY_METRICS.namespace,
        metricName,
        dimensionsMap: { service: GATEWAY_METRICS.service },
        statistic: cloudwatch.Stats.SUM,
        period: PERIOD,
      });
    const lb = props.loadBalancer.metrics;

    this.add(
      'Alb5xx',
      lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: PERIOD }),
      t.fiveXxPerFiveMinutes,
      'The public ALB answered 5xx itself (gateway unreachable, timed out or failed)',
    );
    this.add(
      'Target5xx',
      lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: PERIOD }),
      t.fiveXxPerFiveMinutes,
      'The gateway answered 5xx (upstream down, limiter closed, internal error)',
    );
    this.add(
      'LambdaErrors',
      props.function.metricErrors({ period: PERIOD }),
      t.fiveXxPerFiveMinutes,
      'The gateway Lambda failed (unhandled error, timeout, out of memory)',
    );
    this.add(
      'Denied',
      gatewayMetric('Denied'),
      t.deniedPerFiveMinutes,
      'Many requests were denied by the rate limiter: abuse, or plans too tight',
    );
    this.add(
      'Degraded',
      gatewayMetric('Degraded'),
      t.degradedPerFiveMinutes,
      'Rate-limit decisions fell back to the in-memory bucket: Redis is slow or unreachable',
    );
    this.add(
      'RedisErrors',
      gatewayMetric('RedisErrors'),
      t.redisErrorsPerFiveMinutes,
      'The gateway got errors from Redis',
    );
  }

  private add(
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    description: string,
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms[id] = alarm;
  }
}
