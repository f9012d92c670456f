import { describe, expect, it } from 'vitest';
import { clusterOf, cpuMillicores, memoryMiB } from './cluster.ts';

describe('cluster model', () => {
  it('reads Kubernetes quantities as the scheduler does', () => {
    expect([cpuMillicores('500m'), cpuMillicores('2'), cpuMillicores('0.25')]).toEqual([
      500, 2000, 250,
    ]);
    expect([memoryMiB('16Gi'), memoryMiB('512Mi'), memoryMiB('1048576'), memoryMiB('1G')]).toEqual([
      16384,
      512,
      1,
      1e9 / 2 ** 20,
    ]);
    expect(memoryMiB('lots')).toBeNaN();
  });

  it('derives a NodePool instance types from requirements on well-known labels', () => {
    const pool = clusterOf({
      objects: [
        {
          apiVersion: 'karpenter.sh/v1',
          kind: 'NodePool',
          metadata: { name: 'gpu' },
          spec: {
            template: {
              spec: {
                requirements: [
                  { key: 'karpenter.k8s.aws/instance-family', operator: 'In', values: ['g6'] },
                  { key: 'karpenter.k8s.aws/instance-gpu-count', operator: 'Lt', values: ['2'] },
                  { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] },
                ],
              },
            },
            limits: { cpu: '64', memory: '256Gi', 'nvidia.com/gpu': 4 },
          },
        },
      ],
    }).pools[0];
    expect(pool?.instanceTypes).toEqual(['g6.xlarge', 'g6.2xlarge', 'g6.4xlarge']);
    expect(pool?.requirements).toEqual([
      { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] },
    ]);
    expect(pool?.limits).toEqual({ cpuMillicores: 64000, memoryMiB: 262144, gpus: 4 });
  });

  it('keeps a node group at its desired size unless a cluster-autoscaler runs', () => {
    const nodegroups = {
      Gpu: { InstanceTypes: ['g6.xlarge'], ScalingConfig: { DesiredSize: 1, MaxSize: 4 } },
    };
    expect(clusterOf({ nodegroups }).pools[0]?.maxNodes).toBe(1);
    const autoscaler = {
      chart: 'cluster-autoscaler',
      version: '9',
      release: 'ca',
      namespace: 'kube-system',
      values: {},
    };
    expect(clusterOf({ nodegroups, charts: [autoscaler] }).pools[0]?.maxNodes).toBe(4);
  });
});
