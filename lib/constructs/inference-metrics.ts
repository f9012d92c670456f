/**
 * The serving-signal pipeline Triton's autoscaling reads: an Amazon Managed Service for
 * Prometheus workspace, the AWS managed scraper that collects Triton's metrics from the cluster
 * (no Prometheus server to run), and KEDA, whose operator queries the workspace with SigV4 using
 * its own IAM role (EKS Pod Identity, `aps:QueryMetrics` on this workspace only).
 */
import { Fn, Stack } from 'aws-cdk-lib';
import * as aps from 'aws-cdk-lib/aws-aps';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { kedaValues, scrapeConfiguration, scraperRbac } from '../k8s/metrics.ts';
import { KEDA } from '../k8s/versions.ts';
import { addPodIdentityChart } from './pod-identity-chart.ts';

export interface InferenceMetricsProps {
  readonly cluster: eks.Cluster;
  /** Subnets of the scraper's network interfaces: the cluster's, in at least two AZs. */
  readonly subnets: readonly ec2.ISubnet[];
  /** Workspace alias, shown in the console. @default - the stack name */
  readonly workspaceAlias?: string;
}

export class InferenceMetrics extends Construct {
  readonly workspace: aps.CfnWorkspace;
  readonly scraper: aps.CfnScraper;
  /** Query URL of the workspace (what KEDA's prometheus trigger calls). */
  readonly prometheusUrl: string;
  /** KEDA's chart: its CRDs must exist before a ScaledObject is applied. */
  readonly keda: eks.HelmChart;

  constructor(scope: Construct, id: string, props: InferenceMetricsProps) {
    super(scope, id);
    const azs = new Set(props.subnets.map((s) => s.availabilityZone));
    if (props.subnets.length < 2 || azs.size < 2) {
      throw new Error(
        `InferenceMetrics needs subnets in at least two AZs for the managed scraper, got ${props.subnets.length} subnet(s) in ${azs.size} AZ(s)`,
      );
    }
    const { cluster } = props;
    const stack = Stack.of(this);

    this.workspace = new aps.CfnWorkspace(this, 'Workspace', {
      alias: props.workspaceAlias ?? stack.stackName,
    });
    this.prometheusUrl = `https://aps-workspaces.${stack.region}.${stack.urlSuffix}/workspaces/${this.workspace.attrWorkspaceId}`;

    // The scraper discovers pods through the Kubernetes API as the user its access entry maps
    // to; AMP creates that access entry itself for clusters in API authentication mode.
    const rbac = cluster.addManifest('ScraperRbac', ...scraperRbac());
    this.scraper = new aps.CfnScraper(this, 'Scraper', {
      alias: 'axon-triton',
      source: {
        eksConfiguration: {
          clusterArn: cluster.clusterArn,
          subnetIds: props.subnets.map((s) => s.subnetId),
          // The cluster security group admits every member, so the scraper reaches pods and the
          // private API endpoint without a new rule.
          securityGroupIds: [cluster.clusterSecurityGroupId],
        },
      },
      destination: { ampConfiguration: { workspaceArn: this.workspace.attrArn } },
      scrapeConfiguration: { configurationBlob: Fn.base64(scrapeConfiguration()) },
    });
    this.scraper.node.addDependency(rbac);

    const kedaRole = new iam.Role(this, 'KedaOperatorRole', {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      description: 'KEDA operator: queries Amazon Managed Prometheus for Triton scaling',
    });
    kedaRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['aps:QueryMetrics'],
        resources: [this.workspace.attrArn],
      }),
    );
    this.keda = addPodIdentityChart(this, {
      cluster,
      identityId: 'KedaOperatorIdentity',
      serviceAccount: KEDA.operatorServiceAccount,
      role: kedaRole,
      chartId: 'Keda',
      source: KEDA,
      release: 'keda',
      createNamespace: true,
      values: kedaValues(),
    });
  }
}
