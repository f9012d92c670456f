/**
 * Versions and names of what runs inside the cluster, in one place so an upgrade is one diff.
 * Chart versions are pinned: an unpinned chart would change a deployment without a code change.
 */
import { AlbControllerVersion } from 'aws-cdk-lib/aws-eks-v2';

/** AWS Load Balancer Controller; its IAM policy ships with aws-cdk-lib for this exact version. */
export const ALB_CONTROLLER_VERSION = AlbControllerVersion.V2_17_1;

/**
 * EKS managed add-on versions per Kubernetes minor version: a control plane upgrade is one new row
 * here plus the kubectl layer. An add-on version EKS does not offer for the cluster's Kubernetes
 * version fails the deploy late (after the cluster exists), so `npm run preflight` asks EKS
 * (DescribeAddonVersions, lib/preflight/addons.ts) whether every pin below is offered for the
 * stage's eks.version in its region, and names the version to pin when one is not.
 *
 * Evidence for the 1.35 row (public sources only; nobody has run describe-addon-versions against
 * an account for this repo, so the preflight is the real check):
 * - vpc-cni v1.21.1-eksbuild.3, coredns v1.13.2-eksbuild.1, kube-proxy v1.35.0-eksbuild.2: the
 *   versions several public Kubernetes 1.35 Terraform configurations pin together (2026), and the
 *   "current" versions one public EKS 1.35 -> 1.36 upgrade plan lists for running 1.35 clusters.
 *   These are the builds EKS offered when 1.35 launched; later builds exist (one public 1.35
 *   configuration, measured 2026-07 in ap-northeast-2, records EKS's defaults as vpc-cni
 *   v1.22.3-eksbuild.1, coredns v1.13.2-eksbuild.11, kube-proxy v1.35.3-eksbuild.17,
 *   metrics-server v0.9.0-eksbuild.5). No public source says the launch builds were withdrawn.
 * - eks-pod-identity-agent v1.3.10-eksbuild.3: pinned by many public 1.35 (and 1.36)
 *   configurations, and the default that same 2026-07 measurement records.
 * - metrics-server v0.8.1-eksbuild.1: pinned by a public 1.35 configuration alongside the three
 *   launch builds above (another pins v0.8.1-eksbuild.5). Thinnest of the six.
 * - amazon-cloudwatch-observability v5.4.0-eksbuild.1 (was v4.5.0-eksbuild.1, which by the public
 *   record is a version of the line EKS offers up to Kubernetes 1.33, not for 1.34+):
 *   aws-observability/helm-charts RELEASE_NOTES show the chart splitting into two lines on
 *   2025-10-16, days after EKS added 1.34 (v4.6.0 and v5.0.0 the same day; each v5.x then repeats
 *   a v4.x as "All enhancements from v4.x"); a public changelog moves "v4.5.0-eksbuild.1 ->
 *   v5.0.0-eksbuild.1" "for Kubernetes 1.34 compatibility"; and a public 1.35 configuration pins
 *   v5.4.0-eksbuild.1, "verified ... via aws eks describe-addon-versions --kubernetes-version
 *   1.35". No AWS page states the split. v5.4.0 (2026-05-01) is the last v5 release; the v6 line (from
 *   2026-04-02) switched on OpenTelemetry Container Insights by default (v6.2.0 switched it off
 *   again), which would change the metrics this stack alarms on, so v6 is a deliberate later
 *   step. Note v5.0.0's one change: Application Signals AutoMonitor on by default
 *   (restartPods: false, so no pod restarts).
 */
export const EKS_ADDON_VERSIONS: Readonly<Record<string, Readonly<Record<EksAddonName, string>>>> =
  {
    '1.35': {
      'vpc-cni': 'v1.21.1-eksbuild.3',
      coredns: 'v1.13.2-eksbuild.1',
      'kube-proxy': 'v1.35.0-eksbuild.2',
      'eks-pod-identity-agent': 'v1.3.10-eksbuild.3',
      'metrics-server': 'v0.8.1-eksbuild.1',
      'amazon-cloudwatch-observability': 'v5.4.0-eksbuild.1',
    },
  };

export type EksAddonName =
  | 'vpc-cni'
  | 'coredns'
  | 'kube-proxy'
  | 'eks-pod-identity-agent'
  | 'metrics-server'
  | 'amazon-cloudwatch-observability';

/**
 * What the amazon-cloudwatch-observability add-on installs: the CloudWatch agent (Container
 * Insights with enhanced observability), Fluent Bit (pod and node logs) and, on NVIDIA nodes,
 * NVIDIA's DCGM exporter, whose GPU metrics the agent turns into `node_gpu_*` / `pod_gpu_*`.
 */
export const CLOUDWATCH_OBSERVABILITY = {
  namespace: 'amazon-cloudwatch',
  /** The agent's service account; its Pod Identity association gives it CloudWatchAgentServerPolicy. */
  agentServiceAccount: 'cloudwatch-agent',
  /** The DCGM exporter pods' name label and metrics port (the add-on serves it over TLS). */
  dcgmExporterName: 'dcgm-exporter',
  dcgmExporterPort: 9400,
} as const;

/** Container Insights log groups, `/aws/containerinsights/<cluster>/<kind>`. */
export const CONTAINER_INSIGHTS_LOG_KINDS = [
  'application',
  'dataplane',
  'host',
  'performance',
] as const;

/**
 * Karpenter (node autoscaler of the GPU pool). The chart ships the v1 CRDs (NodePool,
 * EC2NodeClass, NodeClaim), so the CRDs always match the controller.
 */
export const KARPENTER = {
  repository: 'oci://public.ecr.aws/karpenter/karpenter',
  chart: 'karpenter',
  version: '1.14.1',
  namespace: 'kube-system',
  serviceAccount: 'karpenter',
} as const;

/**
 * EKS-optimized AL2023 release the GPU nodes boot (Karpenter picks its NVIDIA variant for GPU
 * instance types). Pinned: with `al2023@latest` a new AMI would roll every GPU node (and reload
 * every model) whenever AWS publishes one. Bump it deliberately: awslabs/amazon-eks-ami releases.
 * `npm run preflight` checks that the release has an AL2023 NVIDIA x86_64 AMI for the stage's
 * Kubernetes version (the SSM parameter Karpenter resolves the alias with; lib/preflight/ami.ts)
 * and names the recommended release when it has not.
 *
 * Evidence for v20260818 is thin: the newest awslabs/amazon-eks-ami snapshot available here ends
 * at tag v20260724 (CHANGELOG at v20260714, whose 1.35 AMIs include
 * amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260714, release 1.35.6-20260714); v20260818 is
 * named only by third-party pull requests against that repo in 2026-09 ("Merge with upstream
 * v20260818", #2800-#2802, #2807, #2815), a pattern whose earlier titles named real tags
 * (v20250514, v20251103). That it is a published (not abandoned) release with a 1.35 NVIDIA AMI
 * is unverified; v20260714 is the newest release the public CHANGELOG confirms for 1.35.
 */
export const GPU_AMI_ALIAS = 'al2023@v20260818';

/** KEDA drives Triton's HPA from a Prometheus query against Amazon Managed Prometheus. */
export const KEDA = {
  repository: 'https://kedacore.github.io/charts',
  chart: 'keda',
  version: '2.20.2',
  namespace: 'keda',
  operatorServiceAccount: 'keda-operator',
} as const;

/**
 * Fetches the Hugging Face token of gated models from Secrets Manager in an init container, with
 * Triton's IAM role, so the token is never in a template or an environment variable.
 */
export const AWS_CLI_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:2.31.0';

export const NVIDIA_DEVICE_PLUGIN = {
  repository: 'https://nvidia.github.io/k8s-device-plugin',
  chart: 'nvidia-device-plugin',
  version: '0.18.2',
} as const;

/** Namespace of the Axon workloads. */
export const NAMESPACE = 'axon';

/** Node label that tells the system pool from the GPU pool. */
export const POOL_LABEL = 'axon.ai/pool';

/** The taint every GPU node carries, so only pods that ask for GPUs land there. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' } as const;

export const TRITON = {
  name: 'triton',
  httpPort: 8000,
  grpcPort: 8001,
  metricsPort: 8002,
} as const;
export const SESSION_MANAGER = { name: 'session-manager', port: 8080 } as const;

/** Node-local Hugging Face cache of the GPU nodes (created by the node class's user data). */
export const HF_CACHE_HOST_PATH = '/var/lib/axon/huggingface';
