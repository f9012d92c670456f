/**
 * Wires the four stacks of one stage together (docs/architecture.md#stacks). Used by bin/axon.ts
 * and by the tests, so both build exactly the same app.
 */
import type { App } from 'aws-cdk-lib';
import { stackName } from '#shared/names';
import type { StageConfig } from './config.ts';
import { DataStack } from './data-stack.ts';
import { GatewayStack } from './gateway-stack.ts';
import { InferenceStack } from './inference-stack.ts';
import { NetworkStack } from './network-stack.ts';

export interface AxonStacks {
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly inference: InferenceStack;
  readonly gateway: GatewayStack;
}

export interface AxonAppOptions {
  /** Overrides for tests: the session manager build context and the gateway entry. */
  readonly sessionManagerImageDirectory?: string;
  readonly gatewayEntry?: string;
  /** Build context of the container edge image (stages with gateway.edge "container"). */
  readonly gatewayEdgeImageDirectory?: string;
}

export function createAxonStacks(
  app: App,
  config: StageConfig,
  options: AxonAppOptions = {},
): AxonStacks {
  const env = {
    account: config.env.account ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: config.env.region,
  };
  const tags = { project: 'axon', stage: config.stage };
  const common = { env, config, tags };

  const network = new NetworkStack(app, stackName(config.stage, 'Network'), {
    ...common,
    description: `Axon ${config.stage}: VPC, subnets, flow logs, gateway endpoints, NAT alarms and the alarm topic`,
  });
  const data = new DataStack(app, stackName(config.stage, 'Data'), {
    ...common,
    description: `Axon ${config.stage}: ElastiCache (sessions, limiter) with rotated AUTH tokens, ApiKeys table, alarms`,
    vpc: network.vpc,
    alarmTopic: network.alarmTopic.topic,
  });
  const inference = new InferenceStack(app, stackName(config.stage, 'Inference'), {
    ...common,
    description: `Axon ${config.stage}: EKS, Triton on GPU nodes, session manager, internal ALB`,
    vpc: network.vpc,
    redis: data.redis,
    sessionManagerImageDirectory: options.sessionManagerImageDirectory,
    alarmTopic: network.alarmTopic.topic,
  });
  const gateway = new GatewayStack(app, stackName(config.stage, 'Gateway'), {
    ...common,
    description: `Axon ${config.stage}: public ALB, WAF, gateway ${config.gateway.edge === 'container' ? 'pods' : 'Lambda'}, alarms`,
    vpc: network.vpc,
    apiKeys: data.apiKeys,
    // The gateway's only Redis use is the limiter, so it binds to the limiter's cache alone.
    redis: data.limiterRedis,
    usage: data.usage,
    upstream: inference.sessionManager,
    upstreamUrl: inference.sessionManager.url,
    upstreamSecret: inference.gatewaySecret,
    alarmTopic: network.alarmTopic.topic,
    gatewayEntry: options.gatewayEntry,
    observed: {
      caches: [
        { label: 'limiter', nodes: data.limiterRedis.memberClusterIds },
        { label: 'sessions', nodes: data.redis.memberClusterIds },
      ],
      internalLoadBalancer: inference.sessionManager.loadBalancer,
      internalTargetGroup: inference.sessionManager.targetGroup,
      clusterName: inference.cluster.cluster.clusterName,
      prometheusWorkspaceId: inference.metrics.workspace.attrWorkspaceId,
    },
    edgeCluster: {
      cluster: inference.cluster.cluster,
      namespace: inference.cluster.namespace,
      podConnections: inference.cluster.podConnections,
    },
    gatewayEdgeImageDirectory: options.gatewayEdgeImageDirectory,
  });
  return { network, data, inference, gateway };
}
