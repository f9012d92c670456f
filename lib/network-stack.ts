/**
 * The VPC every other stack lives in: public subnets for the internet-facing ALB and NAT,
 * private subnets with egress for Lambda, EKS nodes and internal ALB, isolated subnets for Redis.
 * AZs come from the stage config, so synth needs no AWS lookup. It also holds the stage's alarm
 * topic: this is the first stack and every other one depends on it, so every stack (this one's
 * own NAT gateway alarms included) can notify the topic without a cross-stack cycle.
 */

import { CfnOutput } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { AxonStack, type AxonStackProps } from './axon-stack.ts';
import { AlarmTopic } from './constructs/alarm-topic.ts';
import { NetworkAlarms } from './constructs/network-alarms.ts';
import { acknowledge } from './nag.ts';

export interface NetworkStackProps extends AxonStackProps {}

export class NetworkStack extends AxonStack {
  readonly vpc: ec2.Vpc;
  /** The stage's alarm topic: every stack's alarms notify it. */
  readonly alarmTopic: AlarmTopic;
  readonly alarms: NetworkAlarms;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { network, alarms } = props.config;
    this.alarmTopic = new AlarmTopic(this, 'AlarmTopic', { email: alarms.email });

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(network.cidr),
      availabilityZones: [...network.availabilityZones],
      natGateways: network.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        // /20: EKS gives every pod a VPC address, so these subnets need room.
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: true,
      // DynamoDB and S3 traffic (key lookups, model downloads) stays off the NAT gateways.
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });

    acknowledge(
      this,
      'CloudFormation-Validate::W3010',
      'The AZ names come from the stage config on purpose: synth needs no account lookup, and lib/config.ts checks that each one belongs to the stage region.',
    );

    this.vpc.addFlowLog('FlowLogs', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogGroup', { retention: logs.RetentionDays.ONE_MONTH }),
      ),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    // The Vpc construct keeps its NAT gateways as children of the public subnets, not as a field.
    const natGateways = this.vpc.node
      .findAll()
      .filter((child): child is ec2.CfnNatGateway => child instanceof ec2.CfnNatGateway)
      .map((nat) => nat.ref);
    this.alarms = new NetworkAlarms(this, 'Alarms', {
      topic: this.alarmTopic.topic,
      natGateways,
      natPortAllocationErrorsPerFiveMinutes: alarms.natPortAllocationErrorsPerFiveMinutes,
      natPacketsDroppedPerFiveMinutes: alarms.natPacketsDroppedPerFiveMinutes,
    });

    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.alarmTopic.topic.topicArn,
      description: 'SNS topic every alarm of the stage notifies (subscribe on-call here)',
    });
  }
}
