/**
 * The GPU pool, provisioned by Karpenter v1 instead of a managed node group: the controller (Helm
 * chart on the system nodes, IAM through EKS Pod Identity), the node role with its EC2_LINUX
 * access entry, the interruption queue fed by EventBridge, and the EC2NodeClass and NodePool.
 *
 * Why Karpenter: a managed node group with minSize 0 never scales up by itself, its creation
 * fails (and rolls back the whole stack after an hour) when the account has no GPU quota yet,
 * and a rollout needs a spare GPU node that nothing creates. Karpenter launches a node for a
 * pending GPU pod, removes it when empty, and a quota error is an event on a Pending pod.
 */
import { CfnJson, Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { CapacityType } from '../config.ts';
import { INSTANCE_TYPES } from '../k8s/instance-types.ts';
import { gpuNodeClass, gpuNodePool, karpenterValues } from '../k8s/karpenter.ts';
import { KARPENTER } from '../k8s/versions.ts';
import { acknowledge, finding } from '../nag.ts';

export interface GpuNodePoolProps {
  readonly cluster: eks.Cluster;
  /** Subnets GPU nodes launch in (the cluster's private subnets). */
  readonly subnets: readonly ec2.ISubnet[];
  /** EC2 GPU instance types Karpenter may launch; each must be in lib/k8s/instance-types.ts. */
  readonly instanceTypes: readonly string[];
  /** @default 'ON_DEMAND' */
  readonly capacityType?: CapacityType;
  /** Upper bound of GPUs in the pool (Karpenter limit). @default 4 */
  readonly maxGpus?: number;
  /** Root volume of each node (images and the model cache). @default 200 */
  readonly diskSizeGiB?: number;
  /** An empty node is removed after this long. @default 15 */
  readonly consolidateAfterMinutes?: number;
  /** Nodes are replaced after this long. @default 720 (30 days) */
  readonly expireAfterHours?: number;
}

export class GpuNodePool extends Construct {
  /** The role GPU nodes run with. */
  readonly nodeRole: iam.Role;
  /** EC2 interruption and health events Karpenter drains nodes ahead of. */
  readonly interruptionQueue: sqs.Queue;
  readonly chart: eks.HelmChart;
  /** The EC2NodeClass and NodePool; GPU workloads may depend on it. */
  readonly pool: eks.KubernetesManifest;

  constructor(scope: Construct, id: string, props: GpuNodePoolProps) {
    super(scope, id);
    const maxGpus = props.maxGpus ?? 4;
    const diskSizeGiB = props.diskSizeGiB ?? 200;
    if (props.instanceTypes.length === 0) {
      throw new Error('GpuNodePool needs at least one instance type, e.g. ["g6.xlarge"]');
    }
    for (const type of props.instanceTypes) {
      if (!(INSTANCE_TYPES[type]?.gpus ?? 0)) {
        throw new Error(
          `GpuNodePool instance type ${type} has no NVIDIA GPU in lib/k8s/instance-types.ts; use a GPU type such as "g6.xlarge"`,
        );
      }
    }
    if (!Number.isInteger(maxGpus) || maxGpus < 1) {
      throw new Error(`GpuNodePool maxGpus must be a whole number >= 1, got ${maxGpus}`);
    }
    if (diskSizeGiB < 100) {
      throw new Error(
        `GpuNodePool diskSizeGiB must be at least 100 (the NVIDIA AMI, the Triton image and model weights), got ${diskSizeGiB}`,
      );
    }
    const { cluster } = props;
    const stack = Stack.of(this);

    this.nodeRole = new iam.Role(this, 'NodeRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'GPU nodes launched by Karpenter',
      managedPolicies: [
        'AmazonEKSWorkerNodePolicy',
        'AmazonEKS_CNI_Policy',
        'AmazonEC2ContainerRegistryPullOnly',
      ].map((name) => iam.ManagedPolicy.fromAwsManagedPolicyName(name)),
    });
    for (const [policy, why] of Object.entries(NODE_POLICY_REASONS)) {
      acknowledge(
        this.nodeRole,
        `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
        `${policy} ${why}; AWS maintains it as EKS evolves.`,
      );
    }
    // Nodes join through an access entry (the cluster has no aws-auth ConfigMap).
    new eks.AccessEntry(this, 'NodeAccess', {
      cluster,
      principal: this.nodeRole.roleArn,
      accessEntryType: eks.AccessEntryType.EC2_LINUX,
      accessPolicies: [],
    });

    this.interruptionQueue = new sqs.Queue(this, 'InterruptionQueue', {
      retentionPeriod: Duration.minutes(5),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    acknowledge(
      this.interruptionQueue,
      'AwsSolutions-SQS3',
      'Interruption events are only useful within the two-minute warning they announce; Karpenter deletes each one it reads, and a dead-letter queue would keep stale events nobody acts on.',
    );
    for (const [name, pattern] of Object.entries(INTERRUPTION_EVENTS)) {
      new events.Rule(this, name, {
        eventPattern: pattern,
        targets: [new targets.SqsQueue(this.interruptionQueue)],
      });
    }

    const controllerRole = new iam.Role(this, 'ControllerRole', {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      description: 'Karpenter controller (EKS Pod Identity)',
    });
    const statements = controllerStatements(this, {
      clusterName: cluster.clusterName,
      clusterArn: cluster.clusterArn,
      nodeRoleArn: this.nodeRole.roleArn,
      queueArn: this.interruptionQueue.queueArn,
      region: stack.region,
      account: stack.account,
      partition: stack.partition,
    });
    const controllerPolicy = new iam.Policy(this, 'ControllerPolicy', { statements });
    controllerRole.attachInlinePolicy(controllerPolicy);
    // One finding per wildcard resource; `*` serves several statements, so its reason lists each.
    const reasons = new Map<string, string[]>();
    for (const statement of statements) {
      const why = WILDCARD_REASONS[statement.sid ?? ''];
      for (const resource of statement.resources.filter((r) => r.includes('*'))) {
        const name = finding(this, resource);
        reasons.set(name, [...(reasons.get(name) ?? []), `${statement.sid}: ${why}`]);
      }
    }
    for (const [name, why] of reasons) {
      acknowledge(
        controllerPolicy,
        `AwsSolutions-IAM5[Resource::${name}]`,
        `Karpenter controller. ${why.join(' ')}`,
      );
    }
    const association = new eks.CfnPodIdentityAssociation(this, 'ControllerIdentity', {
      clusterName: cluster.clusterName,
      namespace: KARPENTER.namespace,
      serviceAccount: KARPENTER.serviceAccount,
      roleArn: controllerRole.roleArn,
    });
    const agent = cluster.eksPodIdentityAgent;
    if (agent) association.node.addDependency(agent);

    this.chart = cluster.addHelmChart('Karpenter', {
      repository: KARPENTER.repository,
      chart: KARPENTER.chart,
      version: KARPENTER.version,
      release: 'karpenter',
      namespace: KARPENTER.namespace,
      values: karpenterValues({
        clusterName: cluster.clusterName,
        clusterEndpoint: cluster.clusterEndpoint,
        interruptionQueueName: this.interruptionQueue.queueName,
      }),
      wait: true,
      timeout: Duration.minutes(10),
    });
    this.chart.node.addDependency(association);

    this.pool = cluster.addManifest(
      'GpuPool',
      gpuNodeClass({
        nodeRoleName: this.nodeRole.roleName,
        subnetIds: props.subnets.map((s) => s.subnetId),
        securityGroupIds: [cluster.clusterSecurityGroupId],
        diskSizeGiB,
        tags: { 'axon.ai/pool': 'gpu', 'eks:eks-cluster-name': cluster.clusterName },
      }),
      gpuNodePool({
        instanceTypes: props.instanceTypes,
        capacityType: props.capacityType ?? 'ON_DEMAND',
        availabilityZones: props.subnets.map((s) => s.availabilityZone),
        maxGpus,
        consolidateAfterMinutes: props.consolidateAfterMinutes ?? 15,
        expireAfterHours: props.expireAfterHours ?? 720,
      }),
    );
    // The CRDs come with the chart.
    this.pool.node.addDependency(this.chart);
  }
}

const NODE_POLICY_REASONS: Record<string, string> = {
  AmazonEKSWorkerNodePolicy: 'lets the kubelet of a GPU node join the cluster',
  AmazonEKS_CNI_Policy: 'lets the VPC CNI on the node attach pod network interfaces',
  AmazonEC2ContainerRegistryPullOnly:
    'lets the node pull images (EKS add-ons, the session manager) from ECR, pull only',
};

/** The EC2 and AWS Health events Karpenter acts on (its documented interruption sources). */
const INTERRUPTION_EVENTS: Record<string, events.EventPattern> = {
  SpotInterruption: { source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] },
  Rebalance: { source: ['aws.ec2'], detailType: ['EC2 Instance Rebalance Recommendation'] },
  InstanceStateChange: {
    source: ['aws.ec2'],
    detailType: ['EC2 Instance State-change Notification'],
  },
  ScheduledChange: { source: ['aws.health'], detailType: ['AWS Health Event'] },
};

/**
 * Why each wildcard of the controller policy is needed; the Karpenter project publishes the same
 * scoping for its controller (website getting-started CloudFormation template).
 */
const WILDCARD_REASONS: Record<string, string> = {
  LaunchFromSharedResources:
    'a launch references AMIs, snapshots, subnets, security groups, capacity reservations and placement groups chosen at launch time from the EC2NodeClass selectors; this statement only allows using them in RunInstances/CreateFleet.',
  LaunchFromOwnLaunchTemplates:
    'launch templates are created per node class at run time; only those tagged for this cluster and a node pool may be used.',
  CreateTaggedResources:
    "instances, volumes, network interfaces, fleets and launch templates get ids at creation; creation is allowed only with this cluster's ownership tag and a node pool tag in the request.",
  TagOnCreate:
    'tags may only be set as part of creating the resources above, with the ownership tags.',
  TagOwnInstances:
    'only instances already tagged for this cluster and a node pool, and only the Name, nodeclaim and cluster-name tag keys.',
  DeleteOwnResources:
    'terminates only instances and launch templates tagged for this cluster and a node pool.',
  ReadEc2InRegion:
    'EC2 Describe* calls do not support resource-level permissions; limited to this region.',
  ReadAmiParameters:
    'resolves the EKS-optimized AMI id of the pinned AL2023 alias from the public /aws/service SSM parameters.',
  ReadPrices:
    'the Price List API has no resources; Karpenter picks the cheapest allowed instance type.',
  CreateInstanceProfiles:
    "instance profiles are created per node class; only with this cluster's ownership, region and node class tags.",
  TagInstanceProfiles:
    'only instance profiles already tagged for this cluster, region and a node class.',
  ManageOwnInstanceProfiles:
    'adds or removes the node role, or deletes, only instance profiles tagged for this cluster, region and a node class.',
  ReadInstanceProfiles: 'reads and lists instance profiles to find the ones it created; read only.',
};

interface ControllerScope {
  readonly clusterName: string;
  readonly clusterArn: string;
  readonly nodeRoleArn: string;
  readonly queueArn: string;
  readonly region: string;
  readonly account: string;
  readonly partition: string;
}

/**
 * What the Karpenter controller may do, scoped the way the Karpenter project scopes it: writes
 * only on resources tagged for this cluster and a node pool, reads only in this region.
 */
function controllerStatements(scope: Construct, s: ControllerScope): iam.PolicyStatement[] {
  const ec2Arn = (resource: string, account = '*') =>
    `arn:${s.partition}:ec2:${s.region}:${account}:${resource}`;
  const owned = { [`aws:ResourceTag/kubernetes.io/cluster/${s.clusterName}`]: 'owned' };
  const requestOwned = {
    [`aws:RequestTag/kubernetes.io/cluster/${s.clusterName}`]: 'owned',
    'aws:RequestTag/eks:eks-cluster-name': s.clusterName,
  };
  // Condition keys hold the cluster name, known only at deploy time: CfnJson resolves them there.
  let n = 0;
  const json = (value: Record<string, unknown>) => new CfnJson(scope, `Condition${++n}`, { value });
  const created = [
    'fleet/*',
    'instance/*',
    'volume/*',
    'network-interface/*',
    'launch-template/*',
    'spot-instances-request/*',
  ].map((r) => ec2Arn(r));
  const profiles = `arn:${s.partition}:iam::${s.account}:instance-profile/*`;
  return [
    new iam.PolicyStatement({
      sid: 'LaunchFromSharedResources',
      actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
      resources: [
        ec2Arn('image/*', ''),
        ec2Arn('snapshot/*', ''),
        ec2Arn('security-group/*'),
        ec2Arn('subnet/*'),
        ec2Arn('capacity-reservation/*'),
        ec2Arn('placement-group/*'),
      ],
    }),
    new iam.PolicyStatement({
      sid: 'LaunchFromOwnLaunchTemplates',
      actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
      resources: [ec2Arn('launch-template/*')],
      conditions: {
        StringEquals: json(owned),
        StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'CreateTaggedResources',
      actions: ['ec2:RunInstances', 'ec2:CreateFleet', 'ec2:CreateLaunchTemplate'],
      resources: created,
      conditions: {
        StringEquals: json(requestOwned),
        StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'TagOnCreate',
      actions: ['ec2:CreateTags'],
      resources: created,
      conditions: {
        StringEquals: json({
          ...requestOwned,
          'ec2:CreateAction': ['RunInstances', 'CreateFleet', 'CreateLaunchTemplate'],
        }),
        StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'TagOwnInstances',
      actions: ['ec2:CreateTags'],
      resources: [ec2Arn('instance/*')],
      conditions: {
        StringEquals: json(owned),
        StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
        'ForAllValues:StringEquals': {
          'aws:TagKeys': ['eks:eks-cluster-name', 'karpenter.sh/nodeclaim', 'Name'],
        },
      },
    }),
    new iam.PolicyStatement({
      sid: 'DeleteOwnResources',
      actions: ['ec2:TerminateInstances', 'ec2:DeleteLaunchTemplate'],
      resources: [ec2Arn('instance/*'), ec2Arn('launch-template/*')],
      conditions: {
        StringEquals: json(owned),
        StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'ReadEc2InRegion',
      actions: [
        'ec2:DescribeCapacityReservations',
        'ec2:DescribeImages',
        'ec2:DescribeInstances',
        'ec2:DescribeInstanceStatus',
        'ec2:DescribeInstanceTypeOfferings',
        'ec2:DescribeInstanceTypes',
        'ec2:DescribeLaunchTemplates',
        'ec2:DescribePlacementGroups',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeSpotPriceHistory',
        'ec2:DescribeSubnets',
      ],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:RequestedRegion': s.region } },
    }),
    new iam.PolicyStatement({
      sid: 'ReadAmiParameters',
      actions: ['ssm:GetParameter'],
      resources: [`arn:${s.partition}:ssm:${s.region}::parameter/aws/service/*`],
    }),
    new iam.PolicyStatement({
      sid: 'ReadPrices',
      actions: ['pricing:GetProducts'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'PassNodeRole',
      actions: ['iam:PassRole'],
      resources: [s.nodeRoleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    }),
    new iam.PolicyStatement({
      sid: 'CreateInstanceProfiles',
      actions: ['iam:CreateInstanceProfile'],
      resources: [profiles],
      conditions: {
        StringEquals: json({
          ...requestOwned,
          'aws:RequestTag/topology.kubernetes.io/region': s.region,
        }),
        StringLike: { 'aws:RequestTag/karpenter.k8s.aws/ec2nodeclass': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'TagInstanceProfiles',
      actions: ['iam:TagInstanceProfile'],
      resources: [profiles],
      conditions: {
        StringEquals: json({
          ...owned,
          'aws:ResourceTag/topology.kubernetes.io/region': s.region,
          ...requestOwned,
          'aws:RequestTag/topology.kubernetes.io/region': s.region,
        }),
        StringLike: {
          'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass': '*',
          'aws:RequestTag/karpenter.k8s.aws/ec2nodeclass': '*',
        },
      },
    }),
    new iam.PolicyStatement({
      sid: 'ManageOwnInstanceProfiles',
      actions: [
        'iam:AddRoleToInstanceProfile',
        'iam:RemoveRoleFromInstanceProfile',
        'iam:DeleteInstanceProfile',
      ],
      resources: [profiles],
      conditions: {
        StringEquals: json({ ...owned, 'aws:ResourceTag/topology.kubernetes.io/region': s.region }),
        StringLike: { 'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'ReadInstanceProfiles',
      actions: ['iam:GetInstanceProfile', 'iam:ListInstanceProfiles'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'DiscoverClusterEndpoint',
      actions: ['eks:DescribeCluster'],
      resources: [s.clusterArn],
    }),
    new iam.PolicyStatement({
      sid: 'ReadInterruptionQueue',
      actions: ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
      resources: [s.queueArn],
    }),
  ];
}
