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
import { Duration, Stack } from 'aws-cdk-lib';
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
import { controllerStatements, WILDCARD_REASONS } from '../k8s/karpenter-iam.ts';
import { KARPENTER } from '../k8s/versions.ts';
import { acknowledge, finding } from '../nag.ts';
import { addPodIdentityChart } from './pod-identity-chart.ts';

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
    this.chart = addPodIdentityChart(this, {
      cluster,
      identityId: 'ControllerIdentity',
      serviceAccount: KARPENTER.serviceAccount,
      role: controllerRole,
      chartId: 'Karpenter',
      source: KARPENTER,
      release: 'karpenter',
      values: karpenterValues({
        clusterName: cluster.clusterName,
        clusterEndpoint: cluster.clusterEndpoint,
        interruptionQueueName: this.interruptionQueue.queueName,
      }),
    });

    this.pool = cluster.addManifest(
      'GpuPool',
      gpuNodeClass({
        nodeRoleName: this.nodeRole.roleName,
        subnetIds: props.subnets.map((s) => s.subnetId),
        securityGroupIds: [cluster.clusterSecurityGroupId],
        diskSizeGiB,
        // No eks:eks-cluster-name: Karpenter adds it itself, and its CRD refuses it as restricted.
        tags: { 'axon.ai/pool': 'gpu' },
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
