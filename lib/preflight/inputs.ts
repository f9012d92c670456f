/**
 * What the preflight needs from a stage, in one adapter. The checks never read `StageConfig`
 * themselves, so when the stage config changes shape (the GPU pool is moving from a managed node
 * group to a Karpenter NodePool) only `preflightInputs` and `vcpusOf` change.
 */
import type { CapacityType, StageConfig } from '../config.ts';
import { INSTANCE_TYPES } from '../k8s/instance-types.ts';

export interface PreflightInputs {
  readonly stage: string;
  readonly region: string;
  /** The account the stage pins; absent: whatever account the credentials belong to. */
  readonly account?: string;
  readonly availabilityZones: readonly string[];
  /** Instance types of the managed system node group, which spans every AZ of the stage. */
  readonly systemInstanceTypes: readonly string[];
  readonly gpuInstanceTypes: readonly string[];
  /** The most GPU nodes the stage may run at once (each has at least one GPU). */
  readonly maxGpuNodes: number;
  readonly capacityType: CapacityType;
  /** Reserved concurrency of the stage's Lambda functions combined; absent when none reserve. */
  readonly reservedConcurrency?: number;
  readonly certificateArn?: string;
  readonly hostedZoneId?: string;
  readonly domainName?: string;
  readonly allowPlainHttp: boolean;
  /** The cluster's Kubernetes minor version (`eks.version`), e.g. "1.35". */
  readonly kubernetesVersion: string;
  /** The Triton image the GPU pods pull (`triton.image`), with its pinned tag or digest. */
  readonly tritonImage: string;
}

/**
 * Maps the stage config onto the preflight's inputs. The GPU node ceiling is the Karpenter pool's
 * `maxGpus` limit: every GPU node carries at least one GPU, so the pool never runs more nodes than
 * that. The gateway function is the only one a stage may reserve concurrency for
 * (`gateway.reservedConcurrency`); unset, the Lambda check only compares the quota with the default.
 */
export function preflightInputs(config: StageConfig): PreflightInputs {
  const { gateway, eks, triton } = config;
  return {
    stage: config.stage,
    region: config.env.region,
    ...(config.env.account !== undefined && { account: config.env.account }),
    availabilityZones: config.network.availabilityZones,
    systemInstanceTypes: eks.systemNodes.instanceTypes,
    gpuInstanceTypes: eks.gpuNodes.instanceTypes,
    maxGpuNodes: eks.gpuNodes.maxGpus,
    capacityType: eks.gpuNodes.capacityType,
    ...(gateway.certificateArn !== undefined && { certificateArn: gateway.certificateArn }),
    ...(gateway.hostedZoneId !== undefined && { hostedZoneId: gateway.hostedZoneId }),
    ...(gateway.domainName !== undefined && { domainName: gateway.domainName }),
    allowPlainHttp: gateway.allowPlainHttp,
    kubernetesVersion: eks.version,
    tritonImage: triton.image,
    ...(gateway.reservedConcurrency !== undefined && {
      reservedConcurrency: gateway.reservedConcurrency,
    }),
  };
}

/** vCPUs of one instance of `type` (EC2 GPU quotas count vCPUs), from the repo's EC2 facts table. */
export function vcpusOf(type: string): number | undefined {
  return INSTANCE_TYPES[type]?.vcpus;
}
