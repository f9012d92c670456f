/**
 * EC2 facts for the instance types the stages use or may use, kept in the repo so synth and the
 * deploy rehearsal can check that pods fit their nodes without calling AWS.
 *
 * Sources:
 * - vCPUs, memory, GPUs and GPU memory: the Amazon EC2 instance type specifications
 *   (https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html, .../co.html and .../ac.html),
 *   which list memory in GiB; the table stores GiB x 1024.
 * - Max pods: the ENI-based value the EKS AMI gives the kubelet, from awslabs/amazon-eks-ami
 *   `nodeadm/internal/kubelet/eni-max-pods.txt`
 *   (ENIs x (IPv4 addresses per ENI - 1) + 2, without prefix delegation).
 *
 * A type missing here is an error, not a guess: add its row from those pages.
 */

export interface InstanceFacts {
  readonly vcpus: number;
  /** Memory EC2 sells for the type (GiB x 1024); the kernel sees a little less. */
  readonly memoryMiB: number;
  readonly gpus: number;
  /** NVIDIA model name, or undefined for a type without GPUs. */
  readonly gpuModel?: string;
  /** Memory of one GPU. */
  readonly gpuMemoryMiB: number;
  /** ENI-based max pods the EKS AMI configures (no prefix delegation). */
  readonly maxPods: number;
  readonly arch: 'amd64' | 'arm64';
}

const GiB = 1024;

function cpu(vcpus: number, memoryGiB: number, maxPods: number): InstanceFacts {
  return { vcpus, memoryMiB: memoryGiB * GiB, gpus: 0, gpuMemoryMiB: 0, maxPods, arch: 'amd64' };
}

function gpu(
  vcpus: number,
  memoryGiB: number,
  gpus: number,
  gpuModel: string,
  gpuMemoryGiB: number,
  maxPods: number,
): InstanceFacts {
  return {
    vcpus,
    memoryMiB: memoryGiB * GiB,
    gpus,
    gpuModel,
    gpuMemoryMiB: gpuMemoryGiB * GiB,
    maxPods,
    arch: 'amd64',
  };
}

/** The table; keys are EC2 instance type names. */
export const INSTANCE_TYPES: Record<string, InstanceFacts> = {
  'm7i.large': cpu(2, 8, 29),
  'm7i.xlarge': cpu(4, 16, 58),
  'm6i.large': cpu(2, 8, 29),
  'm6i.xlarge': cpu(4, 16, 58),
  'c7i.large': cpu(2, 4, 29),
  'c7i.xlarge': cpu(4, 8, 58),
  'g6.xlarge': gpu(4, 16, 1, 'L4', 24, 58),
  'g6.2xlarge': gpu(8, 32, 1, 'L4', 24, 58),
  'g6.4xlarge': gpu(16, 64, 1, 'L4', 24, 234),
  'g6.12xlarge': gpu(48, 192, 4, 'L4', 24, 234),
  'g5.xlarge': gpu(4, 16, 1, 'A10G', 24, 58),
  'g5.2xlarge': gpu(8, 32, 1, 'A10G', 24, 58),
  'g6e.xlarge': gpu(4, 32, 1, 'L40S', 48, 58),
  'g6e.2xlarge': gpu(8, 64, 1, 'L40S', 48, 58),
  'p4d.24xlarge': gpu(96, 1152, 8, 'A100', 40, 737),
};

/** Hard eviction threshold the EKS AMI sets (`evictionHard: memory.available: 100Mi`). */
export const EVICTION_HARD_MEMORY_MIB = 100;

/**
 * Share of the sold memory the kubelet does not see (kernel, firmware). Karpenter assumes 7.5%
 * by default (its `vmMemoryOverheadPercent` setting) before it decides that a pod fits an
 * instance type; a node group's kubelet reports a capacity a few percent below the sold figure
 * too. Subtracting it keeps "fits" honest: a pod sized to the sold memory would stay Pending.
 */
export const VM_MEMORY_OVERHEAD_PERCENT = 7.5;

/** Looks a type up, or throws naming the type and where to add it. */
export function instanceFacts(type: string): InstanceFacts {
  const facts = INSTANCE_TYPES[type];
  if (!facts) {
    throw new Error(
      `unknown instance type ${JSON.stringify(type)}: add its row to lib/k8s/instance-types.ts ` +
        `(known: ${Object.keys(INSTANCE_TYPES).join(', ')})`,
    );
  }
  return facts;
}

/**
 * kube-reserved memory the EKS AL2023 AMI configures: 255 MiB + 11 MiB per pod the node may run.
 * awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go `GetMemoryMebibytesToReserve`.
 */
export function kubeReservedMemoryMiB(maxPods: number): number {
  return 11 * maxPods + 255;
}

/**
 * kube-reserved CPU the EKS AL2023 AMI configures: 6% of the first core, 1% of the second, 0.5%
 * of the third and fourth, 0.25% of the rest, each band rounded down to a millicore.
 * awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go `getCPUMillicoresToReserve`.
 */
export function kubeReservedCpuMillicores(vcpus: number): number {
  const total = vcpus * 1000;
  const bands: [from: number, to: number, basisPoints: number][] = [
    [0, 1000, 600],
    [1000, 2000, 100],
    [2000, 4000, 50],
    [4000, Number.POSITIVE_INFINITY, 25],
  ];
  let reserved = 0;
  for (const [from, to, basisPoints] of bands) {
    if (total <= from) break;
    reserved += Math.floor(((Math.min(total, to) - from) * basisPoints) / 10000);
  }
  return reserved;
}

/**
 * What the scheduler can place on one node of `type`: capacity minus kube-reserved and the hard
 * eviction threshold, as the EKS AL2023 AMI sets them (it sets no system-reserved), with memory
 * capacity reduced by {@link VM_MEMORY_OVERHEAD_PERCENT}. Synth and the rehearsal tests use it so
 * that a request that cannot fit fails before a deploy, not as a pod Pending forever.
 */
export function allocatable(type: string): {
  cpuMillicores: number;
  memoryMiB: number;
  pods: number;
  gpus: number;
} {
  const facts = instanceFacts(type);
  const memoryCapacityMiB = Math.floor(
    (facts.memoryMiB * (100 - VM_MEMORY_OVERHEAD_PERCENT)) / 100,
  );
  return {
    cpuMillicores: facts.vcpus * 1000 - kubeReservedCpuMillicores(facts.vcpus),
    memoryMiB: memoryCapacityMiB - kubeReservedMemoryMiB(facts.maxPods) - EVICTION_HARD_MEMORY_MIB,
    pods: facts.maxPods,
    gpus: facts.gpus,
  };
}
