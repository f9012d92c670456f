/**
 * Karpenter v1 objects of the GPU pool: the controller's chart values, an `EC2NodeClass` (how a
 * GPU node boots) and a `NodePool` (which nodes may exist, with the GPU taint, limits and
 * disruption rules). Karpenter launches a GPU node when a pod that tolerates the taint is
 * pending and removes it once empty, so the pool scales from zero and an account without GPU
 * quota yet gets a Pending pod and an event, not a failed stack.
 */
import type { CapacityType } from '../config.ts';
import type { Manifest } from './common.ts';
import { GPU_AMI_ALIAS, GPU_TAINT, HF_CACHE_HOST_PATH, KARPENTER, POOL_LABEL } from './versions.ts';

/** Name of the GPU NodePool and its EC2NodeClass. */
export const GPU_POOL = 'gpu';

/** Labels every GPU node gets from the NodePool template. */
export const GPU_NODE_LABELS = {
  [POOL_LABEL]: 'gpu',
  // Satisfies the NVIDIA device plugin chart's default node affinity without Node Feature
  // Discovery; Karpenter sets template labels before the node registers.
  'nvidia.com/gpu.present': 'true',
} as const;

/** The UID Triton runs as; the node creates its model cache directory owned by it. */
const TRITON_UID = 1000;

export interface KarpenterValuesProps {
  readonly clusterName: string;
  readonly clusterEndpoint: string;
  readonly interruptionQueueName: string;
}

/** Helm values: the controller runs on the managed system nodes, never on nodes it manages. */
export function karpenterValues(p: KarpenterValuesProps): Record<string, unknown> {
  return {
    serviceAccount: { name: KARPENTER.serviceAccount },
    settings: {
      clusterName: p.clusterName,
      clusterEndpoint: p.clusterEndpoint,
      interruptionQueue: p.interruptionQueueName,
    },
    nodeSelector: { [POOL_LABEL]: 'system' },
    controller: {
      resources: {
        requests: { cpu: '250m', memory: '512Mi' },
        limits: { memory: '1Gi' },
      },
    },
  };
}

export interface GpuNodeClassProps {
  /** Name of the IAM role the nodes get (Karpenter makes the instance profile). */
  readonly nodeRoleName: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly diskSizeGiB: number;
  /** Tags on every instance, volume and network interface Karpenter creates. */
  readonly tags: Readonly<Record<string, string>>;
}

export function gpuNodeClass(p: GpuNodeClassProps): Manifest {
  return {
    apiVersion: 'karpenter.k8s.aws/v1',
    kind: 'EC2NodeClass',
    metadata: { name: GPU_POOL },
    spec: {
      role: p.nodeRoleName,
      amiSelectorTerms: [{ alias: GPU_AMI_ALIAS }],
      // By id rather than discovery tags: the subnets belong to the network stack, and ids are
      // exact (no other tagged subnet or security group can slip in).
      subnetSelectorTerms: p.subnetIds.map((id) => ({ id })),
      securityGroupSelectorTerms: p.securityGroupIds.map((id) => ({ id })),
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: {
            volumeSize: `${p.diskSizeGiB}Gi`,
            volumeType: 'gp3',
            encrypted: true,
            deleteOnTermination: true,
          },
        },
      ],
      // IMDSv2 only, one hop: pods cannot borrow the node's role (they have their own).
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpProtocolIPv6: 'disabled',
        httpPutResponseHopLimit: 1,
        httpTokens: 'required',
      },
      // Karpenter merges a shell script part into the AL2023 user data; it runs before the
      // kubelet starts, so the cache exists before any pod mounts it.
      userData: [
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="AXON"',
        '',
        '--AXON',
        'Content-Type: text/x-shellscript; charset="us-ascii"',
        '',
        '#!/bin/bash',
        `install -d -m 0750 -o ${TRITON_UID} -g ${TRITON_UID} ${HF_CACHE_HOST_PATH}`,
        '--AXON--',
        '',
      ].join('\n'),
      tags: p.tags,
    },
  };
}

export interface GpuNodePoolProps {
  readonly instanceTypes: readonly string[];
  readonly capacityType: CapacityType;
  readonly availabilityZones: readonly string[];
  readonly maxGpus: number;
  readonly consolidateAfterMinutes: number;
  readonly expireAfterHours: number;
}

export function gpuNodePool(p: GpuNodePoolProps): Manifest {
  return {
    apiVersion: 'karpenter.sh/v1',
    kind: 'NodePool',
    metadata: { name: GPU_POOL },
    spec: {
      template: {
        metadata: { labels: { ...GPU_NODE_LABELS } },
        spec: {
          nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: GPU_POOL },
          taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: GPU_TAINT.effect }],
          requirements: [
            {
              key: 'node.kubernetes.io/instance-type',
              operator: 'In',
              values: [...p.instanceTypes],
            },
            {
              key: 'karpenter.sh/capacity-type',
              operator: 'In',
              values: [p.capacityType === 'SPOT' ? 'spot' : 'on-demand'],
            },
            { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
            {
              key: 'topology.kubernetes.io/zone',
              operator: 'In',
              values: [...p.availabilityZones],
            },
          ],
          expireAfter: `${p.expireAfterHours}h`,
          // A node being replaced gets this long to drain (Triton's grace period is 60 s).
          terminationGracePeriod: '10m',
        },
      },
      // The pool never holds more GPUs than this: the bill's upper bound.
      limits: { 'nvidia.com/gpu': p.maxGpus },
      disruption: {
        // Only empty nodes are removed: moving a loaded model to pack nodes tighter costs a
        // model load and saves nothing when each replica fills its node's GPUs.
        consolidationPolicy: 'WhenEmpty',
        consolidateAfter: `${p.consolidateAfterMinutes}m`,
        budgets: [{ nodes: '1' }],
      },
    },
  };
}
