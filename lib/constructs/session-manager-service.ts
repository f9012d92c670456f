/**
 * The session manager: a container image built from services/session-manager (a
 * DockerImageAsset: synth only fingerprints the directory; `cdk deploy` builds and pushes it),
 * its pods on the system pool, and the internal ALB in front of them. The ALB's target group is
 * owned by CDK and filled with pod IPs by a TargetGroupBinding, so the gateway gets a stable URL
 * and the ALB's security group decides who may call the service.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import type * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type AxonConfig, sessionQuotasEnv } from '#shared/config';
import type { ModelConfig } from '../config.ts';
import { sessionManagerManifests, targetGroupBinding } from '../k8s/session-manager.ts';
import { SESSION_MANAGER } from '../k8s/versions.ts';
import { repoPath } from '../paths.ts';
import { applyPodWorkload, podServiceAccount, podTargetGroup } from './pod-workload.ts';
import type { RedisReplicationGroup } from './redis-replication-group.ts';

export interface SessionManagerServiceProps {
  readonly vpc: ec2.IVpc;
  readonly cluster: eks.Cluster;
  readonly namespace: eks.KubernetesManifest;
  /** Connections of the security group the pods carry (the EKS cluster security group). */
  readonly podConnections: ec2.Connections;
  /** The sessions' cache (not the limiter's). */
  readonly redis: RedisReplicationGroup;
  /**
   * The runtime config document: its plans' session quotas become AXON_SESSION_QUOTAS, so the
   * service enforces the quotas the stage configured rather than the defaults.
   */
  readonly runtimeConfig: AxonConfig;
  /** Shared secret the gateway sends in a header; requests without it are refused. */
  readonly gatewaySecret: secretsmanager.ISecret;
  readonly tritonUrl: string;
  /** The served models: names, chat templates and context windows become MODELS_CONFIG. */
  readonly models: readonly Pick<
    ModelConfig,
    'name' | 'chatTemplate' | 'contextWindow' | 'defaultMaxTokens'
  >[];
  /** @default 2 */
  readonly minReplicas?: number;
  /** @default - the larger of 6 and minReplicas */
  readonly maxReplicas?: number;
  /** @default 500 */
  readonly cpuMillicores?: number;
  /** @default 512 */
  readonly memoryMiB?: number;
  /** @default 86400 */
  readonly sessionTtlSeconds?: number;
  /** @default 60000 */
  readonly inferenceTimeoutMs?: number;
  /** CPU utilisation the HPA holds the pods at. @default 70 */
  readonly targetCpuPercent?: number;
  /** Longest request the gateway makes; the ALB idle timeout must outlast it. */
  readonly upstreamTimeoutMs: number;
  /**
   * Triton may be scaled to zero: a request waits this long for it to wake, then answers 503
   * `model_starting` with Retry-After. Must leave the gateway's upstreamTimeoutMs room for the
   * answer itself.
   * @default - Triton always runs; an unreachable Triton is 503 at once
   */
  readonly tritonWake?: {
    readonly waitSeconds: number;
    /** @default - the session manager's, 30 s (the openai SDKs retry after up to 60 s) */
    readonly retryAfterSeconds?: number;
  };
  readonly accessLogs: s3.IBucket;
  /** Build context of the image, holding services/session-manager/Dockerfile. @default the repository root */
  readonly imageDirectory?: string;
}

export class SessionManagerService extends Construct implements ec2.IConnectable {
  /** Connections of the internal ALB: open it to the gateway with `allowFrom`. */
  readonly connections: ec2.Connections;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly image: ecrAssets.DockerImageAsset;
  readonly serviceAccount: eks.ServiceAccount;

  constructor(scope: Construct, id: string, props: SessionManagerServiceProps) {
    super(scope, id);
    const { redis } = props;
    const minReplicas = props.minReplicas ?? 2;
    const maxReplicas = props.maxReplicas ?? Math.max(6, minReplicas);
    if (minReplicas < 1 || maxReplicas < minReplicas) {
      throw new Error(
        `SessionManagerService needs 1 <= minReplicas <= maxReplicas, got ${minReplicas} and ${maxReplicas}`,
      );
    }
    if (props.models.length === 0) {
      throw new Error('SessionManagerService needs the served models (names, templates, windows)');
    }
    const wake = props.tritonWake;
    if (wake && wake.waitSeconds * 1000 * 2 > props.upstreamTimeoutMs) {
      throw new Error(
        `SessionManagerService tritonWake.waitSeconds ${wake.waitSeconds} must be at most half the gateway's upstream timeout (${props.upstreamTimeoutMs} ms), so a woken request still has time to answer before the gateway gives up`,
      );
    }

    // Context: the repository root, narrowed by its .dockerignore to what the image takes.
    this.image = new ecrAssets.DockerImageAsset(this, 'Image', {
      directory: props.imageDirectory ?? repoPath(),
      file: 'services/session-manager/Dockerfile',
      platform: ecrAssets.Platform.LINUX_AMD64,
    });

    const albSecurityGroup = new ec2.SecurityGroup(this, 'AlbSecurityGroup', {
      vpc: props.vpc,
      description: 'Internal ALB of the session manager: only the gateway Lambda may connect',
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({
      securityGroups: [albSecurityGroup],
      defaultPort: ec2.Port.tcp(80),
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: props.vpc,
      internetFacing: false,
      securityGroup: albSecurityGroup,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      idleTimeout: Duration.seconds(Math.max(60, Math.ceil(props.upstreamTimeoutMs / 1000) + 10)),
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(props.accessLogs, 'session-manager-alb');

    this.targetGroup = podTargetGroup(this, {
      vpc: props.vpc,
      port: SESSION_MANAGER.port,
      healthCheckPath: '/readyz',
      deregistrationDelay: Duration.seconds(30),
    });
    // Plain HTTP inside the VPC: the listener admits only the gateway's security group, and the
    // gateway authenticates itself with the shared secret header.
    this.loadBalancer.addListener('Http', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultTargetGroups: [this.targetGroup],
    });
    albSecurityGroup.connections.allowTo(
      props.podConnections,
      ec2.Port.tcp(SESSION_MANAGER.port),
      'ALB to session manager pods',
    );

    // Pods reach Redis with the cluster security group; the rule lives in this stack.
    redis.allowFrom(props.podConnections, 'Session manager pods to Redis');

    this.serviceAccount = podServiceAccount(this, {
      cluster: props.cluster,
      name: SESSION_MANAGER.name,
      namespace: props.namespace,
    });
    redis.grantReadAuthToken(this.serviceAccount);
    props.gatewaySecret.grantRead(this.serviceAccount);

    applyPodWorkload(this, {
      cluster: props.cluster,
      serviceAccount: this.serviceAccount,
      manifest: sessionManagerManifests({
        image: this.image.imageUri,
        serviceAccountName: this.serviceAccount.serviceAccountName,
        environment: this.environment(props),
        targetGroupArn: this.targetGroup.targetGroupArn,
        minReplicas,
        maxReplicas,
        cpuMillicores: props.cpuMillicores ?? 500,
        memoryMiB: props.memoryMiB ?? 512,
        targetCpuPercent: props.targetCpuPercent ?? 70,
      }),
      targetGroupBinding: targetGroupBinding(this.targetGroup.targetGroupArn),
    });
  }

  /** `http://<internal ALB>`, what the gateway forwards to. */
  get url(): string {
    return `http://${this.loadBalancer.loadBalancerDnsName}`;
  }

  private environment(props: SessionManagerServiceProps): Record<string, string> {
    const { redis } = props;
    return {
      PORT: String(SESSION_MANAGER.port),
      AWS_REGION: Stack.of(this).region,
      ...(redis.clusterMode
        ? { REDIS_CLUSTER_NODES: redis.endpoint, REDIS_TLS: '1' }
        : { REDIS_URL: `rediss://${redis.endpoint}` }),
      REDIS_AUTH_SECRET_ARN: redis.authToken.secretArn,
      ...(redis.userName && { REDIS_USERNAME: redis.userName }),
      GATEWAY_SECRET_ARN: props.gatewaySecret.secretArn,
      TRITON_URL: props.tritonUrl,
      SESSION_TTL_SECONDS: String(props.sessionTtlSeconds ?? 86_400),
      INFERENCE_TIMEOUT_MS: String(props.inferenceTimeoutMs ?? 60_000),
      MODELS_CONFIG: JSON.stringify(modelsConfig(props.models)),
      AXON_SESSION_QUOTAS: sessionQuotasEnv(props.runtimeConfig),
      ...(props.tritonWake && {
        TRITON_WAKE_WAIT_MS: String(props.tritonWake.waitSeconds * 1000),
        ...(props.tritonWake.retryAfterSeconds !== undefined && {
          TRITON_WAKE_RETRY_AFTER_SECONDS: String(props.tritonWake.retryAfterSeconds),
        }),
      }),
    };
  }
}

/**
 * The session manager's MODELS_CONFIG from the same list Triton's repository is written from,
 * so the names clients send, the templates and the windows can never disagree.
 */
export function modelsConfig(models: SessionManagerServiceProps['models']): {
  models: Record<string, { template: string; contextWindow: number; defaultMaxTokens?: number }>;
} {
  return {
    models: Object.fromEntries(
      models.map((m) => [
        m.name,
        {
          template: m.chatTemplate,
          contextWindow: m.contextWindow,
          ...(m.defaultMaxTokens !== undefined && { defaultMaxTokens: m.defaultMaxTokens }),
        },
      ]),
    ),
  };
}
