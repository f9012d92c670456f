/**
 * A Helm chart whose controller calls AWS with its own IAM role through EKS Pod Identity
 * (Karpenter, KEDA). The order is what matters: Pod Identity gives a pod its credentials when the
 * pod is created, so the association must exist before the chart's pods start (else they run
 * without credentials until restarted), and the cluster's Pod Identity agent serves those
 * credentials, so the association comes after the agent. One function keeps that order for
 * every such chart.
 */
import { Duration } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** Where a chart comes from and the namespace it installs into (`KARPENTER`, `KEDA`). */
export interface ChartSource {
  readonly repository: string;
  readonly chart: string;
  readonly version: string;
  readonly namespace: string;
}

export interface PodIdentityChartProps {
  readonly cluster: eks.Cluster;
  /** Construct id of the Pod Identity association, under the calling scope. */
  readonly identityId: string;
  /** The controller's service account, in the chart's namespace, and the role it gets. */
  readonly serviceAccount: string;
  readonly role: iam.IRole;
  /** Construct id of the chart, under the cluster (`Cluster.addHelmChart`). */
  readonly chartId: string;
  readonly source: ChartSource;
  readonly release: string;
  readonly values: Record<string, unknown>;
  /** @default - the Helm chart construct's default (the namespace is created) */
  readonly createNamespace?: boolean;
}

/**
 * Associates `role` with the controller's service account, after the Pod Identity agent when the
 * cluster has one, then installs the chart after the association. The chart waits for its pods
 * (up to 10 minutes), so what depends on the chart finds the controller running.
 */
export function addPodIdentityChart(scope: Construct, props: PodIdentityChartProps): eks.HelmChart {
  const { cluster, source } = props;
  const association = new eks.CfnPodIdentityAssociation(scope, props.identityId, {
    clusterName: cluster.clusterName,
    namespace: source.namespace,
    serviceAccount: props.serviceAccount,
    roleArn: props.role.roleArn,
  });
  const agent = cluster.eksPodIdentityAgent;
  if (agent) association.node.addDependency(agent);

  const chart = cluster.addHelmChart(props.chartId, {
    repository: source.repository,
    chart: source.chart,
    version: source.version,
    release: props.release,
    namespace: source.namespace,
    createNamespace: props.createNamespace,
    values: props.values,
    wait: true,
    timeout: Duration.minutes(10),
  });
  chart.node.addDependency(association);
  return chart;
}
