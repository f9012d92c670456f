/**
 * The public edge: internet-facing ALB (HTTPS, WAF) in front of the gateway Lambda, alarms, and
 * the outputs an operator needs (URL, key table).
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { OUTPUTS } from '#shared/names';
import { AxonStack, type AxonStackProps } from './axon-stack.ts';
import { AccessLogBucket } from './constructs/access-log-bucket.ts';
import type { ApiKeysTable } from './constructs/api-keys-table.ts';
import { GatewayAlarms } from './constructs/gateway-alarms.ts';
import { GatewayFunction } from './constructs/gateway-function.ts';
import { GatewayWebAcl } from './constructs/gateway-web-acl.ts';
import { PublicLoadBalancer } from './constructs/public-load-balancer.ts';
import type { RedisReplicationGroup } from './constructs/redis-replication-group.ts';
import { type DashboardCache, StageDashboard } from './constructs/stage-dashboard.ts';

export interface GatewayStackProps extends AxonStackProps {
  readonly vpc: ec2.IVpc;
  readonly apiKeys: ApiKeysTable;
  /** The limiter's cache (Data stack), which the gateway function binds to. */
  readonly redis: RedisReplicationGroup;
  /** The session manager's internal ALB (its security group admits what we allow). */
  readonly upstream: ec2.IConnectable;
  readonly upstreamUrl: string;
  readonly upstreamSecret: secretsmanager.ISecret;
  /** The stage's alarm topic (Data stack). */
  readonly alarmTopic: sns.ITopic;
  /** @default lambda/gateway/handler.ts */
  readonly gatewayEntry?: string;
  /** What the stage dashboard charts below the gateway (Data and Inference stacks). */
  readonly observed: {
    readonly caches: readonly DashboardCache[];
    readonly internalLoadBalancer: elbv2.ApplicationLoadBalancer;
    readonly internalTargetGroup: elbv2.ApplicationTargetGroup;
    readonly clusterName: string;
    readonly prometheusWorkspaceId: string;
  };
}

export class GatewayStack extends AxonStack {
  readonly gateway: GatewayFunction;
  readonly loadBalancer: PublicLoadBalancer;
  readonly webAcl: GatewayWebAcl;
  readonly alarms: GatewayAlarms;
  readonly dashboard: StageDashboard;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { config } = props;
    const accessLogs = new AccessLogBucket(this, 'AccessLogs');

    this.gateway = new GatewayFunction(this, 'Gateway', {
      vpc: props.vpc,
      runtimeConfig: config.runtime,
      apiKeys: props.apiKeys,
      redis: props.redis,
      upstream: props.upstream,
      upstreamUrl: props.upstreamUrl,
      upstreamSecret: props.upstreamSecret,
      upstreamTimeoutMs: config.gateway.upstreamTimeoutMs,
      memoryMiB: config.gateway.memoryMiB,
      reservedConcurrency: config.gateway.reservedConcurrency,
      entry: props.gatewayEntry,
    });

    const { domainName, hostedZoneId, hostedZoneName } = config.gateway;
    // The zone is named by the config, not derived from the domain: api.eu.example.com may live
    // in eu.example.com or in example.com, and only the operator knows which.
    const hostedZone =
      hostedZoneId && hostedZoneName
        ? route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
            hostedZoneId,
            zoneName: hostedZoneName,
          })
        : undefined;
    this.loadBalancer = new PublicLoadBalancer(this, 'PublicAlb', {
      vpc: props.vpc,
      target: this.gateway.function,
      certificateArn: config.gateway.certificateArn,
      domainName,
      hostedZone,
      allowPlainHttp: config.gateway.allowPlainHttp,
      accessLogs: accessLogs.bucket,
      idleTimeout: this.gateway.timeout.plus(Duration.seconds(5)),
    });

    this.webAcl = new GatewayWebAcl(this, 'Waf', {
      resourceArn: this.loadBalancer.loadBalancer.loadBalancerArn,
      requestsPerFiveMinutes: config.gateway.wafRequestsPerFiveMinutes,
      metricPrefix: `Axon${config.stage}`,
    });

    const { alarms } = config;
    this.alarms = new GatewayAlarms(this, 'Alarms', {
      loadBalancer: this.loadBalancer.loadBalancer,
      function: this.gateway.function,
      topic: props.alarmTopic,
      fiveXxPerFiveMinutes: alarms.fiveXxPerFiveMinutes,
      deniedPerFiveMinutes: alarms.deniedPerFiveMinutes,
      degradedPerFiveMinutes: alarms.degradedPerFiveMinutes,
      redisErrorsPerFiveMinutes: alarms.redisErrorsPerFiveMinutes,
    });

    this.dashboard = new StageDashboard(this, 'Dashboard', {
      stage: config.stage,
      publicLoadBalancer: this.loadBalancer.loadBalancer,
      gatewayFunction: this.gateway.function,
      apiKeys: props.apiKeys.table,
      ...props.observed,
    });

    new CfnOutput(this, 'Url', {
      value: this.loadBalancer.url,
      description: 'Base URL of the API (OpenAI SDK baseURL: <Url>/v1)',
    });
    new CfnOutput(this, 'LoadBalancerDnsName', {
      value: this.loadBalancer.loadBalancer.loadBalancerDnsName,
      description:
        'Point your DNS name (CNAME/alias) here when the stack does not manage the record',
    });
    new CfnOutput(this, OUTPUTS.apiKeysTableName, { value: props.apiKeys.tableName });
  }
}
