/**
 * The Karpenter controller's IAM policy, scoped the way the Karpenter project scopes it (its
 * getting-started CloudFormation template lists the same actions): writes only on resources
 * tagged for this cluster and a node pool, reads only in this region. Kept apart from the pool
 * construct because it is long and changes only with Karpenter's documented permissions.
 */
import { CfnJson } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/**
 * Why each wildcard of the controller policy is needed; the Karpenter project publishes the same
 * scoping for its controller (website getting-started CloudFormation template).
 */
export const WILDCARD_REASONS: Record<string, string> = {
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

export interface ControllerScope {
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
export function controllerStatements(scope: Construct, s: ControllerScope): iam.PolicyStatement[] {
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
