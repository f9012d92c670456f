/**
 * The EKS cluster (aws-eks-v2) that runs the session manager and Triton: a managed system node
 * group for ordinary pods (following the cluster's Kubernetes version), the EKS managed add-ons
 * pinned per Kubernetes version (vpc-cni with network policy enforcement, coredns, kube-proxy,
 * the Pod Identity agent, metrics-server, and amazon-cloudwatch-observability for pod logs,
 * container and GPU metrics), the NVIDIA device plugin for the GPU nodes Karpenter launches, the
 * AWS Load Balancer Controller (for TargetGroupBinding), cluster-admin access entries for the
 * operators the stage names, and the log groups EKS and the add-on write to, created first.
 */
import { Annotations, type CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { CapacityType } from '../config.ts';
import { namespace } from '../k8s/common.ts';
import { GPU_NODE_LABELS } from '../k8s/karpenter.ts';
import { kubectlLayer } from '../k8s/kubectl-layer.ts';
import {
  ALB_CONTROLLER_VERSION,
  CLOUDWATCH_OBSERVABILITY,
  CONTAINER_INSIGHTS_LOG_KINDS,
  EKS_ADDON_VERSIONS,
  type EksAddonName,
  GPU_TAINT,
  NVIDIA_DEVICE_PLUGIN,
  POOL_LABEL,
} from '../k8s/versions.ts';
import { acknowledge, finding } from '../nag.ts';

export interface InferenceClusterProps {
  readonly vpc: ec2.IVpc;
  /**
   * The EKS cluster's name. Fixed rather than generated, so the log groups EKS writes to
   * (`/aws/eks/<name>/cluster`) can be created, with their retention, before the cluster.
   * Changing it replaces the cluster.
   */
  readonly clusterName: string;
  /** Kubernetes minor version, e.g. '1.35'; needs a row in EKS_ADDON_VERSIONS. */
  readonly version: string;
  /** Instance types of the managed system node group (x86). */
  readonly systemInstanceTypes: readonly string[];
  /** @default 2 */
  readonly systemMinSize?: number;
  /** @default - systemMinSize */
  readonly systemDesiredSize?: number;
  /** @default - the larger of 3 and systemDesiredSize */
  readonly systemMaxSize?: number;
  /** @default 50 */
  readonly systemDiskSizeGiB?: number;
  /** @default 'ON_DEMAND' */
  readonly systemCapacityType?: CapacityType;
  /** CIDRs allowed to the public API endpoint. @default - none: the endpoint is private */
  readonly endpointPublicCidrs?: readonly string[];
  /**
   * IAM roles or users given cluster-admin through access entries.
   * @default - none: only the CDK kubectl handler is admin (synth warns)
   */
  readonly adminPrincipalArns?: readonly string[];
  /** Retention of the control-plane log group /aws/eks/<cluster>/cluster. @default 90 */
  readonly controlPlaneLogRetentionDays?: number;
  /** Retention of the Container Insights log groups (pod, node and performance logs). @default 30 */
  readonly containerLogRetentionDays?: number;
  /** What deleting the stack does to those log groups and their logs. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;

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
  /** The `axon` namespace; workloads depend on it. */
  readonly namespace: eks.KubernetesManifest;
  /** Connections of the EKS cluster security group that every node (and pod) carries. */
  readonly podConnections: ec2.Connections;
  /** The managed add-ons by name. */
  readonly addons: Readonly<Record<EksAddonName, eks.Addon>>;

  constructor(scope: Construct, id: string, props: InferenceClusterProps) {
    super(scope, id);
    const publicCidrs = props.endpointPublicCidrs ?? [];
    const admins = props.adminPrincipalArns ?? [];
    const addonVersions = EKS_ADDON_VERSIONS[props.version];
    if (!addonVersions) {
      throw new Error(
        `InferenceCluster has no add-on versions for Kubernetes ${props.version}; add a row to EKS_ADDON_VERSIONS in lib/k8s/versions.ts (known: ${Object.keys(EKS_ADDON_VERSIONS).join(', ')})`,
      );
    }
    const minSize = props.systemMinSize ?? 2;
    const desiredSize = props.systemDesiredSize ?? minSize;
    const maxSize = props.systemMaxSize ?? Math.max(3, desiredSize);
    if (!(minSize >= 1 && minSize <= desiredSize && desiredSize <= maxSize)) {
      throw new Error(
        `InferenceCluster needs 1 <= systemMinSize <= systemDesiredSize <= systemMaxSize, got ${minSize} <= ${desiredSize} <= ${maxSize}`,
      );
    }
    if (props.systemInstanceTypes.length === 0) {
      throw new Error(
        'InferenceCluster needs at least one system instance type, e.g. ["m7i.large"]',
      );
    }

    if (!CLUSTER_NAME.test(props.clusterName)) {
      throw new Error(
        `InferenceCluster clusterName must be 1-100 letters, digits, - or _ starting with a letter or digit, got ${JSON.stringify(props.clusterName)}`,
      );
    }
    const logGroups = this.logGroups(
      props.clusterName,
      props.controlPlaneLogRetentionDays ?? 90,
      props.containerLogRetentionDays ?? 30,
      props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    );

    const secretsKey = new kms.Key(this, 'SecretsKey', {
      description: 'EKS envelope encryption of Kubernetes secrets',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: props.clusterName,
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
    // EKS creates /aws/eks/<name>/cluster itself, with no retention, if it is missing when the
    // control plane first logs; the stack's group must exist by then.
    const controlPlane = this.cluster.node.defaultChild as CfnResource;
    for (const group of logGroups) {
      controlPlane.addDependency(group.node.defaultChild as CfnResource);
    }
    this.podConnections = new ec2.Connections({
      securityGroups: [this.cluster.clusterSecurityGroup],
    });

    // The first keeps the id the single `adminRoleArn` entry had, so that entry is not replaced.
    admins.forEach((arn, index) => {
      this.cluster.grantClusterAdmin(
        index === 0 ? 'OperatorAdmin' : `OperatorAdmin${index + 1}`,
        arn,
      );
    });
    if (admins.length === 0) {
      Annotations.of(this).addWarningV2(
        '@axon/eks:noOperatorAccess',
        'No eks.adminPrincipalArns: no human can run kubectl against this cluster; name your IAM role there (docs/operations.md, first deploy, step 3).',
      );
    }

    this.systemNodes = this.cluster.addNodegroupCapacity('System', {
      instanceTypes: props.systemInstanceTypes.map((type) => new ec2.InstanceType(type)),
      minSize,
      desiredSize,
      maxSize,
      diskSize: props.systemDiskSizeGiB ?? 50,
      capacityType:
        props.systemCapacityType === 'SPOT' ? eks.CapacityType.SPOT : eks.CapacityType.ON_DEMAND,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      labels: { [POOL_LABEL]: 'system' },
    });
    // Without a version the node group stays on the version it was created with; with it, a
    // control plane upgrade in the stage config rolls the nodes to the same version.
    (this.systemNodes.node.defaultChild as eks.CfnNodegroup).version = props.version;
    // The controller's chart waits for its pods; give it nodes to run on first.
    this.cluster.albController?.node.addDependency(this.systemNodes);

    this.addons = this.managedAddons(addonVersions);

    // Karpenter's GPU nodes carry the NodePool template labels; the plugin selects on them.
    this.cluster.addHelmChart('NvidiaDevicePlugin', {
      ...NVIDIA_DEVICE_PLUGIN,
      release: 'nvidia-device-plugin',
      namespace: 'kube-system',
      values: {
        nodeSelector: { [POOL_LABEL]: GPU_NODE_LABELS[POOL_LABEL] },
        tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
      },
    });

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
      acknowledge(
        this.cluster,
        'AwsSolutions-EKS1',
        `The public API endpoint is enabled only because the stage lists operator CIDRs (${publicCidrs.join(', ')}) in eks.endpointPublicCidrs; it accepts no other source.`,
      );
    }
  }

  /**
   * EKS managed add-ons at the pinned versions. The cluster starts with self-managed vpc-cni,
   * coredns and kube-proxy; OVERWRITE lets the managed add-on take them over in place.
   */
  private managedAddons(
    versions: Readonly<Record<EksAddonName, string>>,
  ): Record<EksAddonName, eks.Addon> {
    const make = (id: string, name: EksAddonName, configurationValues?: Record<string, unknown>) =>
      new eks.Addon(this, id, {
        cluster: this.cluster,
        addonName: name,
        addonVersion: versions[name],
        ...(configurationValues && { configurationValues }),
      });
    // The Pod Identity agent add-on is the one aws-eks-v2 creates for Pod Identity service
    // accounts; pin it rather than add a second one.
    const podIdentity = this.cluster.eksPodIdentityAgent as eks.Addon;
    (podIdentity.node.defaultChild as eks.CfnAddon).addonVersion =
      versions['eks-pod-identity-agent'];
    const addons: Record<EksAddonName, eks.Addon> = {
      'vpc-cni': make('VpcCni', 'vpc-cni', { enableNetworkPolicy: 'true' }),
      coredns: make('CoreDns', 'coredns'),
      'kube-proxy': make('KubeProxy', 'kube-proxy'),
      'eks-pod-identity-agent': podIdentity,
      'metrics-server': make('MetricsServer', 'metrics-server'),
      // Enhanced observability gives per-pod metrics (restarts, pending) and accelerated compute
      // metrics the GPU metrics from the DCGM exporter the add-on runs on NVIDIA nodes. Its
      // DaemonSets tolerate every taint by default, so they reach the GPU nodes too.
      'amazon-cloudwatch-observability': make(
        'CloudWatchObservability',
        'amazon-cloudwatch-observability',
        {
          agent: {
            config: {
              logs: {
                metrics_collected: {
                  kubernetes: {
                    enhanced_container_insights: true,
                    accelerated_compute_metrics: true,
                  },
                },
              },
            },
          },
          containerLogs: { enabled: true },
        },
      ),
    };
    for (const addon of Object.values(addons)) {
      (addon.node.defaultChild as eks.CfnAddon).resolveConflicts = 'OVERWRITE';
    }
    this.cloudWatchAgentIdentity(addons['amazon-cloudwatch-observability'], podIdentity);
    // Deployments (coredns, metrics-server, the agent's operator) report healthy only once they
    // have nodes.
    addons.coredns.node.addDependency(this.systemNodes);
    addons['metrics-server'].node.addDependency(this.systemNodes);
    addons['amazon-cloudwatch-observability'].node.addDependency(this.systemNodes);
    return addons;
  }

  /**
   * The CloudWatch agent's AWS identity through EKS Pod Identity (the add-on creates the
   * association), with the policy AWS documents for the agent.
   */
  private cloudWatchAgentIdentity(addon: eks.Addon, agent: eks.Addon): void {
    const policy = 'CloudWatchAgentServerPolicy';
    const role = new iam.Role(this, 'CloudWatchAgentRole', {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      description: 'CloudWatch agent and Fluent Bit of the amazon-cloudwatch-observability add-on',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(policy)],
    });
    (addon.node.defaultChild as eks.CfnAddon).podIdentityAssociations = [
      { serviceAccount: CLOUDWATCH_OBSERVABILITY.agentServiceAccount, roleArn: role.roleArn },
    ];
    addon.node.addDependency(agent);
    acknowledge(
      role,
      `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
      `${policy} is the policy AWS documents for the CloudWatch agent and Fluent Bit of this add-on; it grants only putting metrics, logs and traces and reading the EC2 tags and the agent's SSM parameters, and AWS keeps it in step with what new agent versions send.`,
    );
  }

  /**
   * The log groups EKS (control plane) and the observability add-on (Container Insights) write
   * to, created by the stack before the cluster, so each has the stage's retention and removal
   * policy from its first log line. Neither writer needs to create them: EKS and Fluent Bit use a
   * group that exists.
   */
  private logGroups(
    clusterName: string,
    controlPlaneDays: number,
    containerDays: number,
    removalPolicy: RemovalPolicy,
  ): logs.LogGroup[] {
    for (const days of [controlPlaneDays, containerDays]) {
      if (!Object.values(logs.RetentionDays).includes(days)) {
        throw new Error(
          `InferenceCluster log retention must be a period CloudWatch Logs offers (1, 3, 5, 7, 14, 30, 60, 90, … days), got ${days}`,
        );
      }
    }
    const group = (id: string, logGroupName: string, days: number) =>
      new logs.LogGroup(this, id, {
        logGroupName,
        retention: days as logs.RetentionDays,
        removalPolicy,
      });
    const ids = {
      application: 'ApplicationLogs',
      dataplane: 'DataplaneLogs',
      host: 'HostLogs',
      performance: 'PerformanceLogs',
    } as const;
    return [
      group('ControlPlaneLogs', `/aws/eks/${clusterName}/cluster`, controlPlaneDays),
      ...CONTAINER_INSIGHTS_LOG_KINDS.map((kind) =>
        group(ids[kind], `/aws/containerinsights/${clusterName}/${kind}`, containerDays),
      ),
    ];
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
      acknowledge(
        this.cluster,
        `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
        `${policy} is ${why}; AWS maintains it as EKS evolves, which a hand-copied policy would not track.`,
      );
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
