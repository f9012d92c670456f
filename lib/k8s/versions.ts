/**
 * Versions and names of what runs inside the cluster, in one place so an upgrade is one diff.
 * Chart versions are pinned: an unpinned chart would change a deployment without a code change.
 */
import { AlbControllerVersion } from 'aws-cdk-lib/aws-eks-v2';

/** AWS Load Balancer Controller; its IAM policy ships with aws-cdk-lib for this exact version. */
export const ALB_CONTROLLER_VERSION = AlbControllerVersion.V2_17_1;

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
