/**
 * Alarms on what an on-call engineer must act on: 5xx from the ALB and from the gateway, Lambda
 * errors, a burst of rate-limit denials, degraded (in-memory) limiter decisions and Redis errors.
 * The last three are EMF metrics the gateway publishes; their names come from `GATEWAY_METRICS`
 * in lambda/shared/names.ts, the same constant the gateway counts with. All alarms notify one
 * encrypted SNS topic. Every threshold is a count per 5-minute period.
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
import { GATEWAY_METRICS, type GatewayMetric } from '#shared/names';

export interface GatewayAlarmsProps {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly function: lambda.IFunction;
  /** Address subscribed to the topic. @default - no subscription; subscribe by hand */
  readonly email?: string;
  /** 5xx answers (ALB's own, the gateway's) and Lambda errors per 5 minutes. @default 10 */
  readonly fiveXxPerFiveMinutes?: number;
  /** Rate-limit denials per 5 minutes. @default 1000 */
  readonly deniedPerFiveMinutes?: number;
  /** Decisions taken by the in-memory fallback per 5 minutes. @default 1 */
  readonly degradedPerFiveMinutes?: number;
  /** Redis errors seen by the gateway per 5 minutes. @default 1 */
  readonly redisErrorsPerFiveMinutes?: number;
}

const PERIOD = Duration.minutes(5);
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export class GatewayAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: GatewayAlarmsProps) {
    super(scope, id);
    const t = {
      fiveXxPerFiveMinutes: props.fiveXxPerFiveMinutes ?? 10,
      deniedPerFiveMinutes: props.deniedPerFiveMinutes ?? 1000,
      degradedPerFiveMinutes: props.degradedPerFiveMinutes ?? 1,
      redisErrorsPerFiveMinutes: props.redisErrorsPerFiveMinutes ?? 1,
    };
    for (const [name, value] of Object.entries(t)) {
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`gateway alarm ${name} must be a whole number of at least 1, got ${value}`);
      }
    }
    if (props.email !== undefined && !EMAIL.test(props.email)) {
      throw new Error(
        `gateway alarm email must be an email address such as oncall@example.com, got ${JSON.stringify(props.email)}`,
      );
    }

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
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));

    const gatewayMetric = (metricName: GatewayMetric) =>
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
      gatewayMetric(GATEWAY_METRICS.names.denied),
      t.deniedPerFiveMinutes,
      'Many requests were denied by the rate limiter: abuse, or plans too tight',
    );
    this.add(
      'Degraded',
      gatewayMetric(GATEWAY_METRICS.names.degraded),
      t.degradedPerFiveMinutes,
      'Rate-limit decisions fell back to the in-memory bucket: Redis is slow or unreachable',
    );
    this.add(
      'RedisErrors',
      gatewayMetric(GATEWAY_METRICS.names.redisErrors),
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
