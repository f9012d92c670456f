/**
 * Alarms on what an on-call engineer must act on: 5xx from the ALB and from the gateway, Lambda
 * errors, a burst of rate-limit denials, degraded (in-memory) limiter decisions and Redis errors.
 * The last three are EMF metrics the gateway publishes; their names come from `GATEWAY_METRICS`
 * in lambda/shared/names.ts, the same constant the gateway counts with. All alarms notify the
 * stage's alarm topic (see alarm-topic.ts). Every threshold is a count per 5-minute period.
 *
 * With the container edge there is no function to fail: its alarms watch the pods' target group
 * instead (no healthy pod, and the p99 time until a pod starts answering). The EMF counters
 * reach CloudWatch from a pod only when its logs are shipped there (the cluster's log agent).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { GATEWAY_METRICS, type GatewayMetric } from '#shared/names';
import { addAlarm } from './alarm-topic.ts';

export interface GatewayAlarmsProps {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The Lambda edge. Exactly one of `function` and `targetGroup`. @default - none */
  readonly function?: lambda.IFunction;
  /** The container edge's target group. @default - none */
  readonly targetGroup?: elbv2.ApplicationTargetGroup;
  /**
   * Container edge: p99 seconds until a pod starts its answer (ALB TargetResponseTime; for a
   * stream that is its headers, sent before the first token). @default 10
   */
  readonly targetResponseP99Seconds?: number;
  /** The stage's alarm topic every alarm notifies. */
  readonly topic: sns.ITopic;
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

export class GatewayAlarms extends Construct {
  readonly topic: sns.ITopic;
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: GatewayAlarmsProps) {
    super(scope, id);
    const t = {
      fiveXxPerFiveMinutes: props.fiveXxPerFiveMinutes ?? 10,
      deniedPerFiveMinutes: props.deniedPerFiveMinutes ?? 1000,
      degradedPerFiveMinutes: props.degradedPerFiveMinutes ?? 1,
      redisErrorsPerFiveMinutes: props.redisErrorsPerFiveMinutes ?? 1,
      targetResponseP99Seconds: props.targetResponseP99Seconds ?? 10,
    };
    if ((props.function === undefined) === (props.targetGroup === undefined)) {
      throw new Error(
        'gateway alarms need exactly one of function (Lambda edge) and targetGroup (container edge)',
      );
    }
    for (const [name, value] of Object.entries(t)) {
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`gateway alarm ${name} must be a whole number of at least 1, got ${value}`);
      }
    }
    this.topic = props.topic;

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
    if (props.function) {
      this.add(
        'LambdaErrors',
        props.function.metricErrors({ period: PERIOD }),
        t.fiveXxPerFiveMinutes,
        'The gateway Lambda failed (unhandled error, timeout, out of memory)',
      );
    }
    if (props.targetGroup) {
      const tg = props.targetGroup.metrics;
      this.alarms.NoHealthyTargets = addAlarm(this, 'NoHealthyTargets', this.topic, {
        metric: tg.healthyHostCount({ period: Duration.minutes(1), statistic: 'Minimum' }),
        threshold: 1,
        comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // The ALB publishes the count every minute while the group serves; none is as bad as 0.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        // Three minutes, so one rolling update's brief gap does not page anyone.
        evaluationPeriods: 3,
        description: 'No gateway edge pod passes the ALB health check: the API is down',
      });
      this.add(
        'TargetResponseP99',
        tg.targetResponseTime({ period: PERIOD, statistic: 'p99' }),
        t.targetResponseP99Seconds,
        'Gateway edge pods are slow to start answering (p99 seconds): limiter, key table or session manager slow',
      );
    }
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
    this.alarms[id] = addAlarm(this, id, this.topic, { metric, threshold, description });
  }
}
