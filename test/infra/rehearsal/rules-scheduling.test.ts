/** Scheduling rules on broken fixtures: each case fails with the numbers that do not fit. */
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
  tritonContainer,
  tritonDeployment,
  tritonPod,
} from './fixtures.ts';
import { podsFitANode, poolsHoldTheirPodsAtMaximum } from './rules.ts';

describe('every pod fits a node of a pool it may run on', () => {
  it('fails Triton asking 16Gi of a g6.xlarge, naming both numbers', () => {
    const big = tritonContainer({
      resources: { requests: { cpu: '2', memory: '16384Mi', 'nvidia.com/gpu': '1' } },
    });
    expect(
      podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(tritonPod(big)) })),
    ).toEqual([
      expect.stringContaining(
        'Deployment axon/triton requests more than any node it may run on can allocate: g6.xlarge in Gpu: memory 16384Mi > 14162Mi',
      ),
    ]);
  });

  it('fails a pod that asks for more GPUs than an instance has', () => {
    const two = tritonContainer({ resources: { limits: { 'nvidia.com/gpu': '2' } } });
    expect(
      podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(tritonPod(two)) })),
    ).toEqual([expect.stringContaining('nvidia.com/gpu 2 > 1')]);
  });

  it('counts the largest init container when it is larger than the app containers', () => {
    const init = { name: 'fetch', image: 'busybox', resources: { requests: { memory: '15Gi' } } };
    const pod = tritonPod(tritonContainer(), { initContainers: [init] });
    expect(podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(pod) }))).toEqual([
      expect.stringContaining('memory 15360Mi > 14162Mi'),
    ]);
  });

  it('subtracts the DaemonSets that run on the pool from what a node can allocate', () => {
    const agent = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent', namespace: NS },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: {
          metadata: { labels: { app: 'agent' } },
          spec: {
            tolerations: [{ operator: 'Exists' }],
            containers: [
              { name: 'agent', image: 'agent', resources: { requests: { memory: '3Gi' } } },
            ],
          },
        },
      },
    };
    expect(podsFitANode(cluster({}, { extra: [agent] }))).toEqual([
      expect.stringContaining('memory 12288Mi > 11090Mi'),
    ]);
  });

  it('fails a GPU pod that does not tolerate the GPU taint', () => {
    const pod = tritonPod(tritonContainer(), { tolerations: [] });
    expect(podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(pod) }))).toEqual([
      expect.stringMatching(
        /triton fits no pool: .*Gpu does not tolerate the taint nvidia\.com\/gpu=true:NoSchedule/,
      ),
    ]);
  });

  it('fails a pod whose node selector no pool offers', () => {
    const pod = tritonPod(tritonContainer(), { nodeSelector: { 'axon.ai/pool': 'gpus' } });
    expect(podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(pod) }))).toEqual([
      expect.stringMatching(
        /triton fits no pool: .*no node of it matches .*axon\.ai\/pool In gpus/,
      ),
    ]);
  });

  it('fails a pool whose node group stays at zero nodes without a node autoscaler', () => {
    const problems = podsFitANode(
      cluster({}, { gpu: { ScalingConfig: { MinSize: 0, DesiredSize: 0, MaxSize: 2 } } }),
    );
    expect(problems).toEqual([
      expect.stringContaining(
        'no such node can exist (node group desiredSize 0; no node autoscaler grows it toward maxSize 2)',
      ),
    ]);
  });

  it('fails a pool whose instance type has no row in the facts table', () => {
    expect(podsFitANode(cluster({}, { gpu: { InstanceTypes: ['g9.mega'] } }))).toEqual([
      expect.stringContaining('instance types g9.mega have no row in lib/k8s/instance-types.ts'),
    ]);
  });

  it('fails a GPU pool where no NVIDIA device plugin runs', () => {
    expect(podsFitANode(cluster({}, { charts: [] }))).toEqual([
      expect.stringContaining(
        'pool Gpu has GPU instance types (g6.xlarge) but no NVIDIA device plugin runs',
      ),
    ]);
  });

  it('fails a Karpenter GPU pool without the label the device plugin chart selects by default', () => {
    const [nodeClass, nodePool] = karpenterGpuPool() as [K8sObject, K8sObject];
    delete nodePool.spec.template.metadata.labels['nvidia.com/gpu.present'];
    const model = clusterOf({
      objects: [...objects(), nodeClass, nodePool],
      nodegroups: { System: nodegroups().System as K8sObject },
      charts: [devicePlugin({ nodeSelector: undefined })],
    });
    expect(podsFitANode(model)).toEqual([
      expect.stringMatching(
        /chart nvidia-device-plugin pods fit no pool: .*gpu no node of it matches .*nvidia\.com\/gpu\.present In true/,
      ),
      expect.stringContaining(
        'pool gpu has GPU instance types (g6.xlarge, g6.2xlarge) but no NVIDIA device plugin runs',
      ),
    ]);
  });

  it('lets Karpenter pick the larger type of its pool, within its limits', () => {
    const big = tritonContainer({
      resources: { requests: { memory: '20Gi', 'nvidia.com/gpu': '1' } },
    });
    const withPool = (limits?: K8sObject) =>
      clusterOf({
        objects: [
          ...objects({ 'Deployment/triton': tritonDeployment(tritonPod(big)) }),
          ...karpenterGpuPool(limits ? { limits } : {}),
        ],
        nodegroups: { System: nodegroups().System as K8sObject },
        charts: [devicePlugin()],
      });
    expect(podsFitANode(withPool())).toEqual([]);
    expect(podsFitANode(withPool({ cpu: '4' }))).toEqual([
      expect.stringMatching(
        /g6\.2xlarge in gpu: no such node can exist \(Karpenter NodePool, limits \{"cpu":"4"\}\)/,
      ),
    ]);
  });
});

describe('pools hold their pods at the autoscalers maximum', () => {
  it('fails an HPA maximum the system node group cannot hold even perfectly packed', () => {
    const model = cluster({
      'HorizontalPodAutoscaler/session-manager': hpa('session-manager', 2, 8),
    });
    expect(poolsHoldTheirPodsAtMaximum(model)).toEqual([
      expect.stringContaining(
        "pool System: at their autoscalers' maximum its pods request 4000m CPU, 4096Mi and 0 GPU(s) (session-manager 8 x 500m/512Mi), but its nodes allocate at most 3810m, 13806Mi and 0 GPU(s) (m7i.large; node group desiredSize 2",
      ),
    ]);
  });

  it('passes the same maximum once a cluster-autoscaler may grow the node group', () => {
    const autoscaler = {
      chart: 'cluster-autoscaler',
      version: '9.0.0',
      release: 'cluster-autoscaler',
      namespace: 'kube-system',
      values: {},
    };
    const model = cluster(
      { 'HorizontalPodAutoscaler/session-manager': hpa('session-manager', 2, 8) },
      { charts: [devicePlugin(), autoscaler] },
    );
    expect(poolsHoldTheirPodsAtMaximum(model)).toEqual([]);
  });
});
