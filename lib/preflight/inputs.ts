/**
 * What the preflight needs from a stage, in one adapter. The checks never read `StageConfig`
 * themselves, so when the stage config changes shape (the GPU pool is moving from a managed node
 * group to a Karpenter NodePool) only `preflightInputs` and `vcpusOf` change.
 */
import type { CapacityType, StageConfig } from '../config.ts';

export interface PreflightInputs {
  readonly stage: string;
  readonly region: string;
  /** The account the stage pins; absent: whatever account the credentials belong to. */
  readonly account?: string;
  readonly availabilityZones: readonly string[];
  /** Instance types of the managed system node group, which spans every AZ of the stage. */
  readonly systemInstanceTypes: readonly string[];
  readonly gpuInstanceTypes: readonly string[];
  /** The most GPU nodes the stage may run at once. */
  readonly maxGpuNodes: number;
  readonly capacityType: CapacityType;
  /** Reserved concurrency of the stage's Lambda functions combined; absent when none reserve. */
  readonly reservedConcurrency?: number;
  readonly certificateArn?: string;
  readonly hostedZoneId?: string;
  readonly domainName?: string;
  readonly allowPlainHttp: boolean;
}

/**
 * Maps today's stage config onto the preflight's inputs. The GPU node ceiling is the managed GPU
 * node group's `maxSize`; no stage reserves Lambda concurrency yet, so `reservedConcurrency` stays
 * absent and the Lambda check only compares the account quota with the default.
 */
export function preflightInputs(config: StageConfig): PreflightInputs {
  const { gateway, eks } = config;
  return {
    stage: config.stage,
    region: config.env.region,
    ...(config.env.account !== undefined && { account: config.env.account }),
    availabilityZones: config.network.availabilityZones,
    systemInstanceTypes: eks.systemNodes.instanceTypes,
    gpuInstanceTypes: eks.gpuNodes.instanceTypes,
    maxGpuNodes: eks.gpuNodes.maxSize,
    capacityType: eks.gpuNodes.capacityType,
    ...(gateway.certificateArn !== undefined && { certificateArn: gateway.certificateArn }),
    ...(gateway.hostedZoneId !== undefined && { hostedZoneId: gateway.hostedZoneId }),
    ...(gateway.domainName !== undefined && { domainName: gateway.domainName }),
    allowPlainHttp: gateway.allowPlainHttp,
  };
}

/**
 * vCPUs of the GPU instance types the stages use or may use, from the Amazon EC2 accelerated
 * computing specifications (https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html). EC2
 * GPU quotas count vCPUs, not instances. This table is a stand-in for the repo's shared EC2 facts
 * table (`INSTANCE_TYPES[type].vcpus` in lib/k8s/instance-types.ts), which the lead switches it to
 * when both are on main; `vcpusOf` is the one place that reads it.
 */
const GPU_VCPUS: Readonly<Record<string, number>> = {
  'g5.xlarge': 4,
  'g5.2xlarge': 8,
  'g6.xlarge': 4,
  'g6.2xlarge': 8,
  'g6.4xlarge': 16,
  'g6.12xlarge': 48,
  'g6e.xlarge': 4,
  'g6e.2xlarge': 8,
  'p4d.24xlarge': 96,
};

/** vCPUs of one instance of `type`, or undefined when the table lacks it. */
export function vcpusOf(type: string): number | undefined {
  return GPU_VCPUS[type];
}
