/**
 * The container edge: the gateway core as an HTTP server (services/gateway-edge) in pods on the
 * system nodes, behind the public ALB through an IP target group this construct owns and a
 * TargetGroupBinding that fills it with pod IPs. Unlike a Lambda target, the ALB streams a pod's
 * answer as it is written and caps neither its size nor its duration beyond the idle timeout.
 *
 * It lives in the Gateway stack, next to the ALB that uses its target group; its Kubernetes
 * objects are applied through the cluster of the Inference stack, which the Gateway stack already
 * depends on. The reverse (the target group in the Inference stack) would have put a piece of
 * the public entry point into the compute stack; this way every edge resource has one owner and
 * no reference runs from the Inference stack to the Gateway stack.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import type * as eks from 'aws-cdk-lib/aws-eks-v2';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type AxonConfig, parseConfig } from '#shared/config';
import { ENV, GATEWAY_METRICS } from '#shared/names';
import {
  GATEWAY_EDGE,
  gatewayEdgeManifests,
  gatewayEdgeTargetGroupBinding,
  PRE_STOP_SLEEP_SECONDS,
} from '../k8s/gateway-edge.ts';
import { NAMESPACE, SESSION_MANAGER } from '../k8s/versions.ts';
import { repoPath } from '../paths.ts';
import type { ApiKeysTable } from './api-keys-table.ts';
import type { NetworkClient } from './bindable.ts';
import { applyPodWorkload, podServiceAccount, podTargetGroup } from './pod-workload.ts';
import type { RedisReplicationGroup } from './redis-replication-group.ts';
import { bindUsageReader } from './usage-reader.ts';
import type { UsageTable } from './usage-table.ts';

/** Variables only the container edge reads, beyond the gateway Lambda's: named once, in `ENV`. */
export const EDGE_ENV = {
  port: 'PORT',
  maxBodyBytes: ENV.maxBodyBytes,
  shutdownGraceMs: ENV.shutdownGraceMs,
} as const;

/** The session manager's Service inside the cluster: the edge pods skip the internal ALB. */
export const SESSION_MANAGER_CLUSTER_URL = `http://${SESSION_MANAGER.name}.${NAMESPACE}.svc.cluster.local:${SESSION_MANAGER.port}`;

export interface GatewayEdgeServiceProps {
  readonly vpc: ec2.IVpc;
  readonly cluster: eks.ICluster;
  /** The `axon` namespace manifest; every object here waits for it. */
  readonly namespace: eks.KubernetesManifest;
  /** Connections of the security group the pods carry (the EKS cluster security group). */
  readonly podConnections: ec2.Connections;
  /** The runtime config document (plans, rate limiter, auth), passed as `AXON_CONFIG`. */
  readonly runtimeConfig: AxonConfig;
  readonly apiKeys: ApiKeysTable;
  /**
   * The Usage table, read by the admin API's usage and costs routes.
   * @default - none: those routes answer 503 usage_unavailable
   */
  readonly usage?: UsageTable;
  readonly redis: RedisReplicationGroup;
  /** @default SESSION_MANAGER_CLUSTER_URL */
  readonly upstreamUrl?: string;
  readonly upstreamSecret: secretsmanager.ISecret;
  /** How long the edge waits for the session manager. @default 60000 */
  readonly upstreamTimeoutMs?: number;
  /** @default 2 */
  readonly minReplicas?: number;
  /** @default - the larger of 6 and minReplicas */
  readonly maxReplicas?: number;
  /** @default 500 */
  readonly cpuMillicores?: number;
  /** @default 512 */
  readonly memoryMiB?: number;
  /** CPU utilisation the HPA holds the pods at. @default 70 */
  readonly targetCpuPercent?: number;
  /** Largest request body, 1024 bytes to 100 MiB. @default 1048576 */
  readonly maxBodyBytes?: number;
  /** How long open streams may run on after SIGTERM, 5 to 3600 s. @default 60 */
  readonly shutdownGraceSeconds?: number;
  /** Build context holding services/gateway-edge/Dockerfile. @default the repository root */
  readonly imageDirectory?: string;
}

export class GatewayEdgeService extends Construct implements NetworkClient {
  /** The pods' connections: the public ALB opens its port to them, Redis admits them. */
  readonly connections: ec2.Connections;
  /** The public ALB's target: the pods' IPs, registered by the TargetGroupBinding. */
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly image: ecrAssets.DockerImageAsset;
  readonly serviceAccount: eks.ServiceAccount;
  readonly grantPrincipal: eks.ServiceAccount['grantPrincipal'];
  /** Seconds the pods take to stop; the target group's deregistration delay matches it. */
  readonly drainSeconds: number;
  private readonly environment: Record<string, string>;

  constructor(scope: Construct, id: string, props: GatewayEdgeServiceProps) {
    super(scope, id);
    const s = settings(props);
    // Fails synth, with the field named, when the stage's runtime section is wrong.
    const runtime = parseConfig(
      JSON.parse(JSON.stringify(props.runtimeConfig)),
      'gateway edge AXON_CONFIG',
    );
    this.connections = props.podConnections;
    this.drainSeconds = PRE_STOP_SLEEP_SECONDS + s.shutdownGraceSeconds;

    // Context: the repository root, narrowed by its .dockerignore, as for the session manager.
    this.image = new ecrAssets.DockerImageAsset(this, 'Image', {
      directory: props.imageDirectory ?? repoPath(),
      file: 'services/gateway-edge/Dockerfile',
      platform: ecrAssets.Platform.LINUX_AMD64,
    });

    this.targetGroup = podTargetGroup(this, {
      vpc: props.vpc,
      port: GATEWAY_EDGE.port,
      healthCheckPath: '/healthz',
      // The ALB keeps a draining pod's open streams until this runs out, so it covers the pod's
      // whole stop: the preStop wait plus the shutdown grace.
      deregistrationDelay: Duration.seconds(this.drainSeconds),
    });

    this.serviceAccount = podServiceAccount(this, {
      cluster: props.cluster,
      name: GATEWAY_EDGE.name,
      namespace: props.namespace,
    });
    this.grantPrincipal = this.serviceAccount.grantPrincipal;

    this.environment = {
      [EDGE_ENV.port]: String(GATEWAY_EDGE.port),
      AWS_REGION: Stack.of(this).region,
      [ENV.config]: JSON.stringify(runtime),
      [ENV.upstreamUrl]: props.upstreamUrl ?? SESSION_MANAGER_CLUSTER_URL,
      [ENV.upstreamSecretArn]: props.upstreamSecret.secretArn,
      [ENV.upstreamTimeoutMs]: String(s.upstreamTimeoutMs),
      [ENV.serviceName]: GATEWAY_METRICS.service,
      [ENV.metricsNamespace]: GATEWAY_METRICS.namespace,
      [EDGE_ENV.maxBodyBytes]: String(s.maxBodyBytes),
      [EDGE_ENV.shutdownGraceMs]: String(s.shutdownGraceSeconds * 1000),
    };
    // The same binds as the gateway Lambda: permission and variables together.
    props.apiKeys.bindGateway(this);
    if (props.usage) bindUsageReader(props.usage, this);
    props.redis.bind(this, 'Gateway edge pods to Redis');
    props.upstreamSecret.grantRead(this);

    applyPodWorkload(this, {
      cluster: props.cluster,
      serviceAccount: this.serviceAccount,
      manifest: gatewayEdgeManifests({
        image: this.image.imageUri,
        serviceAccountName: this.serviceAccount.serviceAccountName,
        environment: this.environment,
        targetGroupArn: this.targetGroup.targetGroupArn,
        minReplicas: s.minReplicas,
        maxReplicas: s.maxReplicas,
        cpuMillicores: s.cpuMillicores,
        memoryMiB: s.memoryMiB,
        targetCpuPercent: s.targetCpuPercent,
        shutdownGraceSeconds: s.shutdownGraceSeconds,
      }),
      targetGroupBinding: gatewayEdgeTargetGroupBinding(this.targetGroup.targetGroupArn),
    });
  }

  /**
   * Collects the variables the binds set. The Deployment is rendered once, after the binds in
   * the constructor, so bind before that: a variable added later would not reach the pods.
   */
  addEnvironment(name: string, value: string): this {
    this.environment[name] = value;
    return this;
  }
}

function settings(props: GatewayEdgeServiceProps) {
  const minReplicas = props.minReplicas ?? 2;
  const s = {
    minReplicas,
    maxReplicas: props.maxReplicas ?? Math.max(6, minReplicas),
    cpuMillicores: props.cpuMillicores ?? 500,
    memoryMiB: props.memoryMiB ?? 512,
    targetCpuPercent: props.targetCpuPercent ?? 70,
    maxBodyBytes: props.maxBodyBytes ?? 1024 * 1024,
    shutdownGraceSeconds: props.shutdownGraceSeconds ?? 60,
    upstreamTimeoutMs: props.upstreamTimeoutMs ?? 60_000,
  };
  const whole = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(
        `GatewayEdgeService ${name} must be a whole number from ${min} to ${max}, got ${value}`,
      );
    }
  };
  whole('minReplicas', s.minReplicas, 1, 100);
  whole('maxReplicas', s.maxReplicas, 1, 200);
  if (s.maxReplicas < s.minReplicas) {
    throw new Error(
      `GatewayEdgeService needs minReplicas <= maxReplicas, got ${s.minReplicas} > ${s.maxReplicas}`,
    );
  }
  whole('cpuMillicores', s.cpuMillicores, 100, 16000);
  whole('memoryMiB', s.memoryMiB, 128, 65536);
  whole('targetCpuPercent', s.targetCpuPercent, 10, 100);
  whole('maxBodyBytes', s.maxBodyBytes, 1024, 100 * 1024 * 1024);
  whole('shutdownGraceSeconds', s.shutdownGraceSeconds, 5, 3600);
  whole('upstreamTimeoutMs', s.upstreamTimeoutMs, 1000, 3_600_000);
  return s;
}
