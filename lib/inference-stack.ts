/**
 * Compute: the EKS cluster with its system and GPU node groups, Triton, the session manager and
 * its internal ALB, plus the shared secret the gateway presents to the session manager.
 */
import { CfnOutput, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { AxonStack, type AxonStackProps } from './axon-stack.ts';
import { AccessLogBucket } from './constructs/access-log-bucket.ts';
import { InferenceCluster } from './constructs/inference-cluster.ts';
import type { RedisReplicationGroup } from './constructs/redis-replication-group.ts';
import { SessionManagerService } from './constructs/session-manager-service.ts';
import { TritonServer } from './constructs/triton-server.ts';

export interface InferenceStackProps extends AxonStackProps {
  readonly vpc: ec2.IVpc;
  readonly redis: RedisReplicationGroup;
  /** Build context of the session manager image. @default services/session-manager */
  readonly sessionManagerImageDirectory?: string;
}

export class InferenceStack extends AxonStack {
  readonly cluster: InferenceCluster;
  readonly triton: TritonServer;
  readonly sessionManager: SessionManagerService;
  readonly gatewaySecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: InferenceStackProps) {
    super(scope, id, props);
    const { config } = props;
    const accessLogs = new AccessLogBucket(this, 'AccessLogs');

    this.gatewaySecret = new secretsmanager.Secret(this, 'GatewaySecret', {
      description: 'Shared header secret: the session manager trusts x-axon-* headers only with it',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.gatewaySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Both the gateway and the session manager read this value at start; it is rotated by an operator (docs/operations.md: put a new value, then restart the session manager and publish the gateway) because an automatic rotation would need both readers to accept two values at once.',
    });

    this.cluster = new InferenceCluster(this, 'Eks', {
      vpc: props.vpc,
      version: config.eks.version,
      systemNodes: config.eks.systemNodes,
      gpuNodes: config.eks.gpuNodes,
      endpointPublicCidrs: config.eks.endpointPublicCidrs,
      adminRoleArn: config.eks.adminRoleArn,
    });

    this.triton = new TritonServer(this, 'Triton', {
      cluster: this.cluster.cluster,
      namespace: this.cluster.namespace,
      config: config.triton,
      region: this.region,
      accessLogs: accessLogs.bucket,
    });

    this.sessionManager = new SessionManagerService(this, 'SessionManager', {
      vpc: props.vpc,
      cluster: this.cluster.cluster,
      namespace: this.cluster.namespace,
      podConnections: this.cluster.podConnections,
      redis: props.redis,
      gatewaySecret: this.gatewaySecret,
      tritonUrl: this.triton.url,
      config: config.sessionManager,
      upstreamTimeoutMs: config.gateway.upstreamTimeoutMs,
      accessLogs: accessLogs.bucket,
      imageDirectory: props.sessionManagerImageDirectory,
    });

    new CfnOutput(this, 'ClusterName', { value: this.cluster.cluster.clusterName });
    new CfnOutput(this, 'KubeconfigCommand', {
      value: `aws eks update-kubeconfig --region ${this.region} --name ${this.cluster.cluster.clusterName}`,
    });
    new CfnOutput(this, 'ModelRepository', { value: this.triton.modelRepository });
    new CfnOutput(this, 'UpstreamUrl', { value: this.sessionManager.url });
  }
}
