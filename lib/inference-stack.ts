/**
 * Compute: the EKS cluster with its managed system node group, the Karpenter GPU pool, the
 * metrics pipeline (Amazon Managed Prometheus + KEDA), Triton serving the stage's models, the
 * session manager and its internal ALB, the namespace's NetworkPolicies, plus the shared secret
 * the gateway presents to the session manager. Every size comes from the stage config; this file
 * only maps it onto the constructs' props.
 */
import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { AxonStack, type AxonStackProps } from './axon-stack.ts';
import { AccessLogBucket } from './constructs/access-log-bucket.ts';
import { GatewaySecret } from './constructs/gateway-secret.ts';
import { GpuNodePool } from './constructs/gpu-node-pool.ts';
import { InferenceAlarms } from './constructs/inference-alarms.ts';
import { InferenceCluster } from './constructs/inference-cluster.ts';
import { InferenceMetrics } from './constructs/inference-metrics.ts';
import type { RedisReplicationGroup } from './constructs/redis-replication-group.ts';
import { SessionManagerService } from './constructs/session-manager-service.ts';
import { TritonServer } from './constructs/triton-server.ts';
import { networkPolicies } from './k8s/network-policies.ts';

export interface InferenceStackProps extends AxonStackProps {
  readonly vpc: ec2.IVpc;
  readonly redis: RedisReplicationGroup;
  /** Build context of the session manager image. @default services/session-manager */
  readonly sessionManagerImageDirectory?: string;
  /** The stage's alarm topic (Data stack). */
  readonly alarmTopic: sns.ITopic;
}

export class InferenceStack extends AxonStack {
  readonly cluster: InferenceCluster;
  readonly gpuPool: GpuNodePool;
  readonly metrics: InferenceMetrics;
  readonly triton: TritonServer;
  readonly sessionManager: SessionManagerService;
  readonly gatewaySecret: secretsmanager.Secret;
  readonly alarms: InferenceAlarms;

  constructor(scope: Construct, id: string, props: InferenceStackProps) {
    super(scope, id, props);
    const { config } = props;
    const accessLogs = new AccessLogBucket(this, 'AccessLogs');

    // Rotated on a schedule; the construct keeps the secret's logical ID, so it is not replaced.
    this.gatewaySecret = new GatewaySecret(this, 'GatewaySecret', {
      vpc: props.vpc,
      rotationDays: config.gateway.upstreamSecretRotationDays,
    }).secret;

    const { eks, triton, sessionManager } = config;
    const privateSubnets = props.vpc.selectSubnets({
      subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
    }).subnets;

    this.cluster = new InferenceCluster(this, 'Eks', {
      vpc: props.vpc,
      clusterName: `axon-${config.stage}`,
      version: eks.version,
      systemInstanceTypes: eks.systemNodes.instanceTypes,
      systemMinSize: eks.systemNodes.minSize,
      systemDesiredSize: eks.systemNodes.desiredSize,
      systemMaxSize: eks.systemNodes.maxSize,
      systemDiskSizeGiB: eks.systemNodes.diskSizeGiB,
      systemCapacityType: eks.systemNodes.capacityType,
      endpointPublicCidrs: eks.endpointPublicCidrs,
      adminPrincipalArns: eks.adminPrincipalArns,
      controlPlaneLogRetentionDays: config.observability.controlPlaneLogRetentionDays,
      containerLogRetentionDays: config.observability.containerLogRetentionDays,
      logRemovalPolicy:
        config.observability.logGroupsOnDelete === 'destroy'
          ? RemovalPolicy.DESTROY
          : RemovalPolicy.RETAIN,
    });
    const cluster = this.cluster.cluster;

    this.gpuPool = new GpuNodePool(this, 'GpuPool', {
      cluster,
      subnets: privateSubnets,
      instanceTypes: eks.gpuNodes.instanceTypes,
      capacityType: eks.gpuNodes.capacityType,
      maxGpus: eks.gpuNodes.maxGpus,
      diskSizeGiB: eks.gpuNodes.diskSizeGiB,
      consolidateAfterMinutes: eks.gpuNodes.consolidateAfterMinutes,
      expireAfterHours: eks.gpuNodes.expireAfterHours,
    });
    // Karpenter's controller runs on the system nodes.
    this.gpuPool.chart.node.addDependency(this.cluster.systemNodes);

    this.metrics = new InferenceMetrics(this, 'Metrics', { cluster, subnets: privateSubnets });
    this.metrics.keda.node.addDependency(this.cluster.systemNodes);

    this.triton = new TritonServer(this, 'Triton', {
      cluster,
      namespace: this.cluster.namespace,
      image: triton.image,
      models: config.models,
      ...(triton.modelRepository && { modelRepository: triton.modelRepository }),
      accessLogs: accessLogs.bucket,
      gpusPerReplica: triton.gpusPerReplica,
      minReplicas: triton.minReplicas,
      maxReplicas: triton.maxReplicas,
      idleMinutes: triton.idleMinutes,
      cpuMillicores: triton.cpuMillicores,
      memoryMiB: triton.memoryMiB,
      shmSizeMiB: triton.shmSizeMiB,
      prometheusUrl: this.metrics.prometheusUrl,
      scalingDependsOn: [this.metrics.keda],
      workloadDependsOn: [this.gpuPool.pool],
      targetTimeToFirstTokenMs: triton.targetTimeToFirstTokenMs,
      targetPendingRequests: triton.targetPendingRequests,
    });

    this.sessionManager = new SessionManagerService(this, 'SessionManager', {
      vpc: props.vpc,
      cluster,
      namespace: this.cluster.namespace,
      podConnections: this.cluster.podConnections,
      redis: props.redis,
      gatewaySecret: this.gatewaySecret,
      tritonUrl: this.triton.url,
      models: config.models,
      runtimeConfig: config.runtime,
      minReplicas: sessionManager.minReplicas,
      maxReplicas: sessionManager.maxReplicas,
      cpuMillicores: sessionManager.cpuMillicores,
      memoryMiB: sessionManager.memoryMiB,
      sessionTtlSeconds: sessionManager.sessionTtlSeconds,
      inferenceTimeoutMs: sessionManager.inferenceTimeoutMs,
      targetCpuPercent: sessionManager.targetCpuPercent,
      upstreamTimeoutMs: config.gateway.upstreamTimeoutMs,
      ...(triton.minReplicas === 0 && {
        tritonWake: { waitSeconds: triton.wakeWaitSeconds },
      }),
      accessLogs: accessLogs.bucket,
      imageDirectory: props.sessionManagerImageDirectory,
    });

    // The internal ALB and the scraper both have their network interfaces in the private subnets.
    const privateCidrs = privateSubnets.map((s) => s.ipv4CidrBlock);
    // With the container edge, the public ALB (public subnets) reaches the edge pods directly.
    const publicAlbCidrs =
      config.gateway.edge === 'container'
        ? props.vpc.publicSubnets.map((s) => s.ipv4CidrBlock)
        : undefined;
    const policies = cluster.addManifest(
      'NetworkPolicies',
      ...networkPolicies({ albCidrs: privateCidrs, scraperCidrs: privateCidrs, publicAlbCidrs }),
    );
    policies.node.addDependency(this.cluster.namespace);

    const { alarms } = config;
    this.alarms = new InferenceAlarms(this, 'Alarms', {
      topic: props.alarmTopic,
      clusterName: cluster.clusterName,
      loadBalancer: this.sessionManager.loadBalancer,
      targetGroup: this.sessionManager.targetGroup,
      workspace: this.metrics.workspace,
      unhealthyHosts: alarms.internalAlbUnhealthyHosts,
      albFiveXxPerFiveMinutes: alarms.fiveXxPerFiveMinutes,
      sessionManager5xxPercent: alarms.sessionManager5xxPercent,
      podRestartsPerFiveMinutes: alarms.podRestartsPerFiveMinutes,
      tritonQueueMs: alarms.tritonQueueMs,
      tritonFailuresPerFiveMinutes: alarms.tritonFailuresPerFiveMinutes,
      gpuUtilizationPercent: alarms.gpuUtilizationPercent,
      gpuHighMinutes: alarms.gpuHighMinutes,
      tritonPendingMinutes: alarms.tritonPendingMinutes,
    });

    new CfnOutput(this, 'ClusterName', { value: this.cluster.cluster.clusterName });
    new CfnOutput(this, 'KubeconfigCommand', {
      value: `aws eks update-kubeconfig --region ${this.region} --name ${this.cluster.cluster.clusterName}`,
    });
    new CfnOutput(this, 'ModelRepository', { value: this.triton.modelRepository });
    new CfnOutput(this, 'ServedModels', { value: config.models.map((m) => m.name).join(', ') });
    new CfnOutput(this, 'PrometheusWorkspaceUrl', { value: this.metrics.prometheusUrl });
    new CfnOutput(this, 'UpstreamUrl', { value: this.sessionManager.url });
  }
}
