/**
 * The public edge: internet-facing ALB (HTTPS, WAF) in front of the gateway, alarms, and the
 * outputs an operator needs (URL, key table); beside it the usage exporter, the limiter cache's
 * other client, which moves the usage ledger the gateway books to the Usage table. The gateway is the stage's `gateway.edge`: the
 * Lambda, or the container edge's pods (their Kubernetes objects applied through the Inference
 * stack's cluster, so every reference still runs from this stack to the ones before it).
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as eks from 'aws-cdk-lib/aws-eks-v2';
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
import { GatewayEdgeService } from './constructs/gateway-edge-service.ts';
import { GatewayFunction } from './constructs/gateway-function.ts';
import { GatewayWebAcl } from './constructs/gateway-web-acl.ts';
import { PublicLoadBalancer } from './constructs/public-load-balancer.ts';
import type { RedisReplicationGroup } from './constructs/redis-replication-group.ts';
import { type DashboardCache, StageDashboard } from './constructs/stage-dashboard.ts';
import { UsageExporter } from './constructs/usage-exporter.ts';
import type { UsageTable } from './constructs/usage-table.ts';
import { GATEWAY_EDGE } from './k8s/gateway-edge.ts';

/** What the container edge needs from the Inference stack's cluster. */
export interface EdgeCluster {
  readonly cluster: eks.ICluster;
  /** The `axon` namespace manifest. */
  readonly namespace: eks.KubernetesManifest;
  /** Connections of the security group the pods carry. */
  readonly podConnections: ec2.Connections;
}

export interface GatewayStackProps extends AxonStackProps {
  readonly vpc: ec2.IVpc;
  readonly apiKeys: ApiKeysTable;
  /** The limiter's cache (Data stack), which the gateway function binds to. */
  readonly redis: RedisReplicationGroup;
  /** The Usage table (Data stack) the usage exporter fills from the limiter's cache. */
  readonly usage: UsageTable;
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
  /** The cluster the container edge runs in. @default - none; required with edge "container" */
  readonly edgeCluster?: EdgeCluster;
  /** Build context of the container edge image. @default the repository root */
  readonly gatewayEdgeImageDirectory?: string;
}

export class GatewayStack extends AxonStack {
  /** The gateway Lambda, when `gateway.edge` is "lambda". */
  readonly gateway?: GatewayFunction;
  /** The container edge, when `gateway.edge` is "container". */
  readonly edge?: GatewayEdgeService;
  readonly loadBalancer: PublicLoadBalancer;
  readonly webAcl: GatewayWebAcl;
  readonly alarms: GatewayAlarms;
  readonly dashboard: StageDashboard;
  readonly usageExporter: UsageExporter;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { config } = props;
    const accessLogs = new AccessLogBucket(this, 'AccessLogs');

    const container = config.gateway.edge === 'container';
    if (container) {
      if (!props.edgeCluster) {
        throw new Error(
          'GatewayStack with gateway.edge "container" needs edgeCluster: the cluster its pods run in',
        );
      }
      const c = config.gateway.container;
      this.edge = new GatewayEdgeService(this, 'Edge', {
        vpc: props.vpc,
        ...props.edgeCluster,
        runtimeConfig: config.runtime,
        apiKeys: props.apiKeys,
        usage: props.usage,
        redis: props.redis,
        upstreamSecret: props.upstreamSecret,
        upstreamTimeoutMs: config.gateway.upstreamTimeoutMs,
        minReplicas: c.minReplicas,
        maxReplicas: c.maxReplicas,
        cpuMillicores: c.cpuMillicores,
        memoryMiB: c.memoryMiB,
        maxBodyBytes: c.maxBodyBytes,
        shutdownGraceSeconds: c.shutdownGraceSeconds,
        imageDirectory: props.gatewayEdgeImageDirectory,
      });
    } else {
      this.gateway = new GatewayFunction(this, 'Gateway', {
        vpc: props.vpc,
        runtimeConfig: config.runtime,
        apiKeys: props.apiKeys,
        usage: props.usage,
        redis: props.redis,
        upstream: props.upstream,
        upstreamUrl: props.upstreamUrl,
        upstreamSecret: props.upstreamSecret,
        upstreamTimeoutMs: config.gateway.upstreamTimeoutMs,
        memoryMiB: config.gateway.memoryMiB,
        reservedConcurrency: config.gateway.reservedConcurrency,
        entry: props.gatewayEntry,
      });
    }

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
      target: this.gateway?.function,
      targetGroup: this.edge?.targetGroup,
      certificateArn: config.gateway.certificateArn,
      domainName,
      hostedZone,
      allowPlainHttp: config.gateway.allowPlainHttp,
      accessLogs: accessLogs.bucket,
      // Outlasts the Lambda's timeout, or the edge's upstream deadline by the same margin: a
      // generation may stay silent (no byte on the wire) for at most that long.
      idleTimeout: this.gateway
        ? this.gateway.timeout.plus(Duration.seconds(5))
        : Duration.seconds(Math.ceil(config.gateway.upstreamTimeoutMs / 1000) + 10),
    });
    if (this.edge) {
      // Both rules are created in this stack (the pods' group is the Inference stack's).
      this.loadBalancer.loadBalancer.connections.allowTo(
        this.edge,
        ec2.Port.tcp(GATEWAY_EDGE.port),
        'Public ALB to the gateway edge pods',
      );
    }

    this.webAcl = new GatewayWebAcl(this, 'Waf', {
      resourceArn: this.loadBalancer.loadBalancer.loadBalancerArn,
      requestsPerFiveMinutes: config.gateway.wafRequestsPerFiveMinutes,
      metricPrefix: `Axon${config.stage}`,
    });

    const { alarms } = config;
    this.alarms = new GatewayAlarms(this, 'Alarms', {
      loadBalancer: this.loadBalancer.loadBalancer,
      function: this.gateway?.function,
      targetGroup: this.edge?.targetGroup,
      topic: props.alarmTopic,
      fiveXxPerFiveMinutes: alarms.fiveXxPerFiveMinutes,
      deniedPerFiveMinutes: alarms.deniedPerFiveMinutes,
      degradedPerFiveMinutes: alarms.degradedPerFiveMinutes,
      redisErrorsPerFiveMinutes: alarms.redisErrorsPerFiveMinutes,
    });

    this.usageExporter = new UsageExporter(this, 'UsageExporter', {
      vpc: props.vpc,
      redis: props.redis,
      apiKeys: props.apiKeys,
      usage: props.usage,
      alarmTopic: props.alarmTopic,
    });

    this.dashboard = new StageDashboard(this, 'Dashboard', {
      stage: config.stage,
      publicLoadBalancer: this.loadBalancer.loadBalancer,
      ...(this.gateway && { gatewayFunction: this.gateway.function }),
      ...(this.edge && { gatewayTargetGroup: this.edge.targetGroup }),
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
