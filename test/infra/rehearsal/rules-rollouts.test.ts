/** Rollout rules on broken fixtures: rollouts, disruption budgets and replica ownership. */
import { describe, expect, it } from 'vitest';
import { clusterOf, type K8sObject } from './cluster.ts';
import {
  cluster,
  devicePlugin,
  hpa,
  karpenterGpuPool,
  NS,
  nodegroups,
  objects,
  tritonDeployment,
  tritonPod,
} from './fixtures.ts';
import {
  autoscaledWorkloadsLeaveReplicasAlone,
  disruptionBudgetsLetDrainsFinish,
  gpuRolloutsFinish,
} from './rules.ts';

describe('GPU rollouts finish with the nodes that will exist', () => {
  const surging = tritonDeployment(tritonPod(), { strategy: { type: 'RollingUpdate' } });

  it('fails a default RollingUpdate that needs a spare GPU at the autoscaler maximum', () => {
    expect(gpuRolloutsFinish(cluster({ 'Deployment/triton': surging }))).toEqual([
      expect.stringContaining(
        'a rollout at 2 replica(s) (HorizontalPodAutoscaler triton maxReplicas) runs 3 pods of 1 nvidia.com/gpu (maxSurge 1), but the pools hold at most 2 (Gpu: 2 x g6.xlarge holding 1 each, node group desiredSize 2; no node autoscaler grows it toward maxSize 2)',
      ),
    ]);
  });

  it('passes Recreate, and a surge a cluster-autoscaler can make room for', () => {
    const recreate = tritonDeployment(tritonPod(), { strategy: { type: 'Recreate' } });
    expect(gpuRolloutsFinish(cluster({ 'Deployment/triton': recreate }))).toEqual([]);
    const autoscaler = {
      chart: 'cluster-autoscaler',
      version: '9.0.0',
      release: 'cluster-autoscaler',
      namespace: 'kube-system',
      values: {},
    };
    const growable = cluster(
      { 'Deployment/triton': surging },
      {
        gpu: { ScalingConfig: { MinSize: 1, DesiredSize: 1, MaxSize: 3 } },
        charts: [devicePlugin(), autoscaler],
      },
    );
    expect(gpuRolloutsFinish(growable)).toEqual([]);
  });

  it('counts a Karpenter GPU limit, and no limit as room to grow', () => {
    const withLimits = (limits?: K8sObject) =>
      clusterOf({
        objects: [
          ...objects({ 'Deployment/triton': surging }),
          ...karpenterGpuPool(limits ? { limits } : {}),
        ],
        nodegroups: { System: nodegroups().System as K8sObject },
        charts: [devicePlugin()],
      });
    expect(gpuRolloutsFinish(withLimits())).toEqual([]);
    expect(gpuRolloutsFinish(withLimits({ 'nvidia.com/gpu': 2 }))).toEqual([
      expect.stringContaining(
        'runs 3 pods of 1 nvidia.com/gpu (maxSurge 1), but the pools hold at most 2',
      ),
    ]);
  });

  it('fails maxSurge 0 with maxUnavailable 0, which Kubernetes refuses', () => {
    const stuck = tritonDeployment(tritonPod(), {
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } },
    });
    expect(gpuRolloutsFinish(cluster({ 'Deployment/triton': stuck }))).toEqual([
      expect.stringContaining('maxSurge and maxUnavailable are both 0'),
    ]);
  });

  it('lets a percentage that rounds to no surge and no unavailability proceed one pod at a time', () => {
    const rounded = tritonDeployment(tritonPod(), {
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '0%', maxUnavailable: '25%' } },
    });
    expect(gpuRolloutsFinish(cluster({ 'Deployment/triton': rounded }))).toEqual([]);
  });

  it('fails an autoscaler minimum the GPU pool cannot hold', () => {
    expect(
      gpuRolloutsFinish(cluster({ 'HorizontalPodAutoscaler/triton': hpa('triton', 3, 3) })),
    ).toEqual([
      expect.stringContaining('runs 3 pods'),
      expect.stringContaining(
        'HorizontalPodAutoscaler triton keeps at least 3 replica(s), but the pools hold 2',
      ),
    ]);
  });
});

describe('disruption budgets let node drains finish', () => {
  const budget = (spec: K8sObject) => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'triton', namespace: NS },
    spec: { selector: { matchLabels: { app: 'triton' } }, ...spec },
  });

  it('fails a budget that allows no eviction at the fewest replicas', () => {
    expect(
      disruptionBudgetsLetDrainsFinish(cluster({}, { extra: [budget({ minAvailable: 1 })] })),
    ).toEqual([
      expect.stringContaining(
        'PodDisruptionBudget axon/triton allows no eviction of Deployment triton at 1 replica(s)',
      ),
    ]);
    expect(
      disruptionBudgetsLetDrainsFinish(cluster({}, { extra: [budget({ maxUnavailable: 0 })] })),
    ).toHaveLength(1);
  });

  it('passes maxUnavailable 1, and minAvailable below the fewest replicas', () => {
    expect(
      disruptionBudgetsLetDrainsFinish(cluster({}, { extra: [budget({ maxUnavailable: 1 })] })),
    ).toEqual([]);
    const two = cluster(
      { 'HorizontalPodAutoscaler/triton': hpa('triton', 2, 2) },
      { extra: [budget({ minAvailable: '50%' })] },
    );
    expect(disruptionBudgetsLetDrainsFinish(two)).toEqual([]);
  });
});

describe('autoscaled workloads leave replicas to the autoscaler', () => {
  it('fails a Deployment that sets replicas under an HPA', () => {
    const pinned = tritonDeployment(tritonPod(), { replicas: 1 });
    expect(autoscaledWorkloadsLeaveReplicasAlone(cluster({ 'Deployment/triton': pinned }))).toEqual(
      [
        expect.stringContaining(
          'Deployment axon/triton sets replicas: 1 although HorizontalPodAutoscaler triton owns its replica count',
        ),
      ],
    );
  });

  it('accepts replicas on a Deployment no autoscaler owns', () => {
    const pinned = tritonDeployment(tritonPod(), { replicas: 1 });
    const model = cluster({
      'Deployment/triton': pinned,
      'HorizontalPodAutoscaler/triton': undefined,
    });
    expect(autoscaledWorkloadsLeaveReplicasAlone(model)).toEqual([]);
  });
});
