/**
 * Alarms on the Network stack: each NAT gateway of the VPC, to the stage's alarm topic. Every
 * byte the pods and the gateway Lambda send outside the VPC, other than to S3 and DynamoDB (which
 * go through gateway endpoints), crosses a NAT gateway: image pulls from ECR, model downloads from
 * Hugging Face, calls to Secrets Manager, STS and CloudWatch. When a NAT gateway fails, those
 * calls time out with errors that point anywhere but the network, so it pages on its own.
 *
 * Metrics are per NAT gateway (namespace AWS/NATGateway, dimension NatGatewayId), so each NAT
 * gateway gets its own alarms under a scope named after its position, and the description names
 * the gateway by its id.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { addAlarm } from './alarm-topic.ts';

export interface NetworkAlarmsProps {
  readonly topic: sns.ITopic;
  /** Ids of the NAT gateways (`CfnNatGateway.ref`), one alarm set each. */
  readonly natGateways: readonly string[];
  /** ErrorPortAllocation per NAT gateway per 5 minutes. @default 1 */
  readonly natPortAllocationErrorsPerFiveMinutes?: number;
  /** PacketsDropCount per NAT gateway per 5 minutes. @default 100 */
  readonly natPacketsDroppedPerFiveMinutes?: number;
}

const PERIOD = Duration.minutes(5);

export class NetworkAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: NetworkAlarmsProps) {
    super(scope, id);
    const t = {
      natPortAllocationErrorsPerFiveMinutes: props.natPortAllocationErrorsPerFiveMinutes ?? 1,
      natPacketsDroppedPerFiveMinutes: props.natPacketsDroppedPerFiveMinutes ?? 100,
    };
    for (const [name, value] of Object.entries(t)) {
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`network alarm ${name} must be a whole number from 1, got ${value}`);
      }
    }
    props.natGateways.forEach((natGatewayId, index) => {
      // Scope ids follow the position, so they stay stable while the ids are tokens.
      const scopeOfNat = new Construct(this, `NatGateway${index + 1}`);
      const nat = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/NATGateway',
          metricName,
          dimensionsMap: { NatGatewayId: natGatewayId },
          statistic: cloudwatch.Stats.SUM,
          period: PERIOD,
        });
      this.alarms.push(
        addAlarm(scopeOfNat, 'PortAllocationErrors', props.topic, {
          metric: nat('ErrorPortAllocation'),
          threshold: t.natPortAllocationErrorsPerFiveMinutes,
          description: `NAT gateway ${natGatewayId}: it could not allocate a source port; new egress connections fail (ECR pulls, model downloads, AWS API calls)`,
        }),
        addAlarm(scopeOfNat, 'PacketsDropped', props.topic, {
          metric: nat('PacketsDropCount'),
          threshold: t.natPacketsDroppedPerFiveMinutes,
          description: `NAT gateway ${natGatewayId}: it dropped packets; egress from the private subnets is failing or degraded`,
        }),
      );
    });
  }
}
