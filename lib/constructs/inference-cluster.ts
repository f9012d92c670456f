/**
 * The EKS cluster (aws-eks-v2) that runs the session manager and Triton: a system node group
 * for ordinary pods, a GPU node group on the AL2023 NVIDIA AMI tainted `nvidia.com/gpu` so only
 * GPU workloads land there, the NVIDIA device plugin tolerating that taint, the AWS Load Balancer
 * Controller (for TargetGroupBinding) and metrics-server (for HPAs).
 */
import { type CfnResource, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { NodeGroupConfig } from '../config.ts';
import { namespace } from '../k8s/common.ts';
import { kubectlLayer } from '../k8s/kubectl-layer.ts';
import {
  ALB_CONTROLLER_VERSION,
  GPU_TAINT,
  NVIDIA_DEVICE_PLUGIN,
  POOL_LABEL,
} from '../k8s/versions.ts';
import { acknowledge, finding } from '../nag.ts';

export interface InferenceClusterProps {
  readonly vpc: ec2.IVpc;
  /** Kubernetes minor version, e.g. '1.35'. */
  readonly version: string;
  readonly systemNodes: NodeGroupConfig;
  readonly gpuNodes: NodeGroupConfig;
  /** CIDRs allowed to the public API endpoint. @default - none: the endpoint is private */
  readonly endpointPublicCidrs?: readonly string[];
  /** IAM role given cluster-admin. @default - only the CDK kubectl handler is admin */
  readonly adminRoleArn?: string;
}

const MANAGED_POLICY_REASONS: Record<string, string> = {
  AmazonEKSClusterPolicy:
    'the EKS service role policy that EKS documents as required for the control plane',
  AmazonEKSWorkerNodePolicy: 'required by EKS managed node groups so kubelet can join the cluster',
  AmazonEKS_CNI_Policy: 'required by the VPC CNI on the nodes to attach pod network interfaces',
  AmazonEC2ContainerRegistryReadOnly:
    'lets nodes pull images (the session manager asset, EKS add-ons) from ECR read-only',
};

export class InferenceCluster extends Construct {
  readonly cluster: eks.Cluster;
  readonly systemNodes: eks.Nodegroup;
  readonly gpuNodes: eks.Nodegroup;
  /** The `axon` namespace; workloads depend on it. */
  readonly namespace: eks.KubernetesManifest;
  /** Connections of the EKS cluster security group that every managed node (and pod) carries. */
  readonly podConnections: ec2.Connections;

  constructor(scope: Construct, id: string, props: InferenceClusterProps) {
    super(scope, id);
    const publicCidrs = props.endpointPublicCidrs ?? [];

    const secretsKey = new kms.Key(this, 'SecretsKey', {
      description: 'EKS envelope encryption of Kubernetes secrets',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.cluster = new eks.Cluster(this, 'Cluster', {
      version: eks.KubernetesVersion.of(props.version),
      vpc: props.vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      endpointAccess:
        publicCidrs.length > 0
          ? eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...publicCidrs)
          : eks.EndpointAccess.PRIVATE,
      secretsEncryptionKey: secretsKey,
      clusterLogging: [
        eks.ClusterLoggingTypes.API,
        eks.ClusterLoggingTypes.AUDIT,
        eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
        eks.ClusterLoggingTypes.SCHEDULER,
      ],
      kubectlProviderOptions: { kubectlLayer: kubectlLayer(this, 'KubectlLayer', props.version) },
      albController: { version: ALB_CONTROLLER_VERSION },
    });
    this.podConnections = new ec2.Connections({
      securityGroups: [this.cluster.clusterSecurityGroup],
    });

    if (props.adminRoleArn) this.cluster.grantClusterAdmin('OperatorAdmin', props.adminRoleArn);

    this.systemNodes = this.cluster.addNodegroupCapacity('System', {
      ...nodegroupOptions(props.systemNodes),
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      labels: { [POOL_LABEL]: 'system' },
    });
    this.gpuNodes = this.cluster.addNodegroupCapacity('Gpu', {
      ...nodegroupOptions(props.gpuNodes),
      amiType: eks.NodegroupAmiType.AL2023_X86_64_NVIDIA,
      // `nvidia.com/gpu.present` satisfies the device plugin chart's default node affinity
      // without installing Node Feature Discovery.
      labels: { [POOL_LABEL]: 'gpu', 'nvidia.com/gpu.present': 'true' },
      taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: eks.TaintEffect.NO_SCHEDULE }],
    });
    // The controller's chart waits for its pods; give it nodes to run on first.
    this.cluster.albController?.node.addDependency(this.systemNodes);

    const devicePlugin = this.cluster.addHelmChart('NvidiaDevicePlugin', {
      ...NVIDIA_DEVICE_PLUGIN,
      release: 'nvidia-device-plugin',
      namespace: 'kube-system',
      values: {
        nodeSelector: { [POOL_LABEL]: 'gpu' },
        tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
      },
    });
    devicePlugin.node.addDependency(this.gpuNodes);

    const metricsServer = new eks.Addon(this, 'MetricsServer', {
      cluster: this.cluster,
      addonName: 'metrics-server',
    });
    metricsServer.node.addDependency(this.systemNodes);

    this.namespace = this.cluster.addManifest('AxonNamespace', namespace());

    this.acknowledgeManagedPolicies();
    this.acknowledgeKubectlProvider();
    this.acknowledgeAlbController();
    acknowledge(
      this.cluster.node.defaultChild as CfnResource,
      'CloudFormation-Validate::W9009',
      'aws-eks-v2 writes EncryptionConfig.Resources ["secrets"], which the EKS resource schema marks deprecated but still requires to turn on envelope encryption of Kubernetes secrets.',
    );
    if (publicCidrs.length > 0) {
      Validations.of(this.cluster).acknowledge({
        id: 'AwsSolutions-EKS1',
        reason: `The public API endpoint is enabled only because the stage lists operator CIDRs (${publicCidrs.join(', ')}) in eks.endpointPublicCidrs; it accepts no other source.`,
      });
    }
  }

  /** The kubectl handler and its provider framework are Lambdas aws-cdk-lib defines for us. */
  private acknowledgeKubectlProvider(): void {
    const provider = this.cluster.kubectlProvider;
    if (!provider) return;
    const owner = 'aws-cdk-lib creates this kubectl/helm custom-resource provider for aws-eks-v2';
    for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
      acknowledge(
        provider,
        `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        `${owner}; ${policy} gives it only CloudWatch Logs and VPC network interfaces.`,
      );
    }
    const handler = provider.node.findChild('Handler') as lambda.Function;
    const role = handler.role?.node.defaultChild as iam.CfnRole;
    const arns = Stack.of(this).resolve(role.managedPolicyArns) as unknown[];
    for (const arn of arns) {
      const name = finding(this, arn as string);
      if (name.includes('AmazonElasticContainerRegistryPublicReadOnly')) {
        acknowledge(
          provider,
          `AwsSolutions-IAM4[Policy::${name}]`,
          `${owner}; it pulls public ECR images read-only, and only in the aws partition.`,
        );
      }
    }
    acknowledge(
      provider,
      `AwsSolutions-IAM5[Resource::${finding(this, `${handler.functionArn}:*`)}]`,
      `${owner}; its framework function may invoke every version of the kubectl handler, nothing else.`,
    );
    acknowledge(
      provider,
      'AwsSolutions-L1',
      `${owner}; aws-cdk-lib chooses the handler's Python runtime and bundles its code.`,
    );
  }

  /** The controller's IAM policy is the one AWS publishes for this controller version. */
  private acknowledgeAlbController(): void {
    const controller = this.cluster.albController;
    if (!controller) return;
    for (const resource of ALB_CONTROLLER_WILDCARDS) {
      acknowledge(
        controller,
        `AwsSolutions-IAM5[Resource::${resource}]`,
        `Part of the IAM policy AWS publishes for the AWS Load Balancer Controller ${ALB_CONTROLLER_VERSION.version}: it manages load balancers, target groups and security groups whose names are not known in advance; writes are conditioned on the elbv2.k8s.aws/cluster tag.`,
      );
    }
  }

  private acknowledgeManagedPolicies(): void {
    for (const [policy, why] of Object.entries(MANAGED_POLICY_REASONS)) {
      Validations.of(this.cluster).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
        reason: `${policy} is ${why}; AWS maintains it as EKS evolves, which a hand-copied policy would not track.`,
      });
    }
  }
}

/** Resources of the AWS Load Balancer Controller policy (shipped with aws-cdk-lib) that nag flags. */
const ALB_CONTROLLER_WILDCARDS = [
  '*',
  'arn:<AWS::Partition>:ec2:*:*:security-group/*',
  'arn:<AWS::Partition>:elasticloadbalancing:*:*:listener-rule/app/*/*/*',
  'arn:<AWS::Partition>:elasticloadbalancing:*:*:listener-rule/net/*/*/*',
  'arn:<AWS::Partition>:elasticloadbalancing:*:*:listener/app/*/*/*',
  'arn:<AWS::Partition>:elasticloadbalancing:*:*:listener/net/*/*/*',
  'arn:<AWS::Partition>:elasticloadbalancing:*:*:loadbalancer/app/*/*',
  'arn:<AWS::Partition>:elasticloadbalancing:*:*:loadbalancer/net/*/*',
  'arn:<AWS::Partition>:elasticloadbalancing:*:*:targetgroup/*/*',
];

function nodegroupOptions(config: NodeGroupConfig): eks.NodegroupOptions {
  return {
    instanceTypes: config.instanceTypes.map((type) => new ec2.InstanceType(type)),
    minSize: config.minSize,
    desiredSize: config.desiredSize,
    maxSize: config.maxSize,
    diskSize: config.diskSizeGiB,
    capacityType:
      config.capacityType === 'SPOT' ? eks.CapacityType.SPOT : eks.CapacityType.ON_DEMAND,
    subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  };
}
