/**
 * Versions and names of what runs inside the cluster, in one place so an upgrade is one diff.
 * Chart versions are pinned: an unpinned chart would change a deployment without a code change.
 */
import { AlbControllerVersion } from 'aws-cdk-lib/aws-eks-v2';

/** AWS Load Balancer Controller; its IAM policy ships with aws-cdk-lib for this exact version. */
export const ALB_CONTROLLER_VERSION = AlbControllerVersion.V2_17_1;

/**
 * EKS managed add-on versions per Kubernetes minor version: a control plane upgrade is one new row
 * here plus the kubectl layer. Versions from `aws eks describe-addon-versions --kubernetes-version
 * 1.35` as published in public EKS 1.35 configurations (2026); re-check that command before adding
 * a row, because an add-on version EKS does not offer fails the deploy.
 */
export const EKS_ADDON_VERSIONS: Readonly<Record<string, Readonly<Record<EksAddonName, string>>>> =
  {
    '1.35': {
      'vpc-cni': 'v1.21.1-eksbuild.3',
      coredns: 'v1.13.2-eksbuild.1',
      'kube-proxy': 'v1.35.0-eksbuild.2',
      'eks-pod-identity-agent': 'v1.3.10-eksbuild.3',
      'metrics-server': 'v0.8.1-eksbuild.1',
      'amazon-cloudwatch-observability': 'v4.5.0-eksbuild.1',
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
