/**
 * The AWS side of a workload whose pods sit behind an ALB: an IP target group the construct owns,
 * the pods' service account with an EKS Pod Identity, and the manifests applied in the order the
 * cluster needs them. The session manager and the container edge are both built this way; one
 * place keeps them from drifting (a health check or an apply order fixed in one but not the
 * other). The construct ids are fixed here and the constructs are created in the caller's scope,
 * so two workloads never collide and a workload's logical ids follow only its own place in the
 * tree.
 */
import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { Construct } from 'constructs';
import type { Manifest } from '../k8s/common.ts';
import { NAMESPACE } from '../k8s/versions.ts';

export interface PodTargetGroupProps {
  readonly vpc: ec2.IVpc;
  /** The container port the pods serve on. */
  readonly port: number;
  /** Path the ALB probes; a pod is a target only while it answers 200. */
  readonly healthCheckPath: string;
  /** How long a draining pod keeps its open requests. */
  readonly deregistrationDelay: Duration;
}

/**
 * An IP target group (`Targets`) that a TargetGroupBinding fills with pod IPs. Two probes 10 s
 * apart either way take a pod in or out, so a rollout shifts traffic within about 20 s.
 */
export function podTargetGroup(
  scope: Construct,
  props: PodTargetGroupProps,
): elbv2.ApplicationTargetGroup {
  return new elbv2.ApplicationTargetGroup(scope, 'Targets', {
    vpc: props.vpc,
    port: props.port,
    protocol: elbv2.ApplicationProtocol.HTTP,
    targetType: elbv2.TargetType.IP,
    deregistrationDelay: props.deregistrationDelay,
    healthCheck: {
      path: props.healthCheckPath,
      healthyHttpCodes: '200',
      interval: Duration.seconds(10),
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 2,
    },
  });
}

export interface PodServiceAccountProps {
  readonly cluster: eks.ICluster;
  /** The service account's name, the workload's name. */
  readonly name: string;
  /** The `axon` namespace manifest: the account is created in it, so after it. */
  readonly namespace: eks.KubernetesManifest;
}

/**
 * The pods' service account (`ServiceAccount`) in the `axon` namespace, with an EKS Pod Identity
 * role: grant it what the pods call.
 */
export function podServiceAccount(scope: Construct, props: PodServiceAccountProps) {
  const serviceAccount = new eks.ServiceAccount(scope, 'ServiceAccount', {
    cluster: props.cluster,
    name: props.name,
    namespace: NAMESPACE,
    identityType: eks.IdentityType.POD_IDENTITY,
  });
  serviceAccount.node.addDependency(props.namespace);
  return serviceAccount;
}

export interface PodWorkloadProps {
  readonly cluster: eks.ICluster;
  /** The Deployment and what goes with it; they run as `serviceAccount`. */
  readonly manifest: Manifest[];
  readonly serviceAccount: eks.ServiceAccount;
  /** The TargetGroupBinding that puts the pods' IPs into the target group. */
  readonly targetGroupBinding: Manifest;
}

/**
 * Applies the workload (`Workload`) once its service account exists, then its TargetGroupBinding
 * (`TargetGroupBinding`): the binding is a custom resource of the load balancer controller, so it
 * also waits for the controller when the cluster installs one.
 */
export function applyPodWorkload(scope: Construct, props: PodWorkloadProps): void {
  const workload = new eks.KubernetesManifest(scope, 'Workload', {
    cluster: props.cluster,
    manifest: props.manifest,
  });
  workload.node.addDependency(props.serviceAccount);
  const binding = new eks.KubernetesManifest(scope, 'TargetGroupBinding', {
    cluster: props.cluster,
    manifest: [props.targetGroupBinding],
  });
  binding.node.addDependency(workload);
  const controller = (props.cluster as Partial<eks.Cluster>).albController;
  if (controller) binding.node.addDependency(controller);
}
