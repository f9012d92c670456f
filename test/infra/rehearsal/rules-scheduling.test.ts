/** Scheduling rules on broken fixtures: each case fails with the numbers that do not fit. */
import { describe, expect, it } from 'vitest';
import { INSTANCE_TYPES } from '../../../lib/k8s/instance-types.ts';
import { type ClusterModel, clusterOf, type K8sObject, type Pool } from './cluster.ts';
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
import { freeOnNode, nodeDaemons } from './workloads.ts';

describe('every pod fits a node of a pool it may run on', () => {
  it('fails Triton asking 16Gi of a g6.xlarge, naming both numbers', () => {
    const big = tritonContainer({
      resources: { requests: { cpu: '2', memory: '16384Mi', 'nvidia.com/gpu': '1' } },
    });
    expect(
      podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(tritonPod(big)) })),
    ).toEqual([
      expect.stringContaining(
        'Deployment axon/triton requests more than any node it may run on can allocate: g6.xlarge in Gpu: memory 16384Mi > 13881Mi (allocatable 3920m/14162Mi less DaemonSets 700m/281Mi',
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
      expect.stringContaining('memory 15360Mi > 13881Mi'),
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
      expect.stringContaining(
        'memory 12288Mi > 10809Mi (allocatable 3920m/14162Mi less DaemonSets 700m/3353Mi: axon/agent 0m/3072Mi,',
      ),
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
        "pool System: at their autoscalers' maximum its pods request 4000m CPU, 4096Mi and 0 GPU(s) (session-manager 8 x 500m/512Mi), but its nodes allocate at most 2960m, 13500Mi and 0 GPU(s) (m7i.large; node group desiredSize 2",
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

describe('DaemonSets outside the templates (lib/k8s/node-daemons.ts)', () => {
  const pool = (model: ClusterModel, name: string) =>
    model.pools.find((p) => p.name === name) as Pool;
  const names = (model: ClusterModel, poolName: string, type: string) =>
    nodeDaemons(model, pool(model, poolName), type).map((d) => d.name);
  const TOLERATE_ALL = [
    'kube-system/aws-node',
    'kube-system/kube-proxy',
    'kube-system/eks-pod-identity-agent',
    'amazon-cloudwatch/cloudwatch-agent',
    'amazon-cloudwatch/fluent-bit',
  ];

  it('fails Triton sized for aws-node alone (3400m, 13568Mi) on a g6.xlarge with the CloudWatch DaemonSets', () => {
    const sized = tritonContainer({
      resources: {
        requests: { cpu: '3400m', memory: '13568Mi', 'nvidia.com/gpu': '1' },
        limits: { memory: '13568Mi', 'nvidia.com/gpu': '1' },
      },
    });
    expect(
      podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(tritonPod(sized)) })),
    ).toEqual([
      expect.stringContaining(
        'g6.xlarge in Gpu: cpu 3400m > 3220m (allocatable 3920m/14162Mi less DaemonSets 700m/281Mi: kube-system/aws-node 50m/0Mi, kube-system/kube-proxy 100m/0Mi, amazon-cloudwatch/cloudwatch-agent 250m/128Mi, amazon-cloudwatch/fluent-bit 50m/25Mi, amazon-cloudwatch/dcgm-exporter 250m/128Mi)',
      ),
    ]);
  });

  it('lands the DaemonSets that tolerate every taint on the tainted GPU nodes, and the device plugin there only', () => {
    expect(names(cluster(), 'Gpu', 'g6.xlarge')).toEqual([
      ...TOLERATE_ALL,
      'amazon-cloudwatch/dcgm-exporter',
      'kube-system/nvidia-device-plugin',
    ]);
    expect(names(cluster(), 'System', 'm7i.large')).toEqual(TOLERATE_ALL);
  });

  it('runs the DCGM exporter on NVIDIA GPU types only, by its instance-type affinity', () => {
    // A NodePool without requirements may launch every type the facts table has.
    const [nodeClass, nodePool] = karpenterGpuPool() as [K8sObject, K8sObject];
    nodePool.spec.template.spec.requirements = [];
    const everyType = clusterOf({
      objects: [...objects(), nodeClass, nodePool],
      nodegroups: { System: nodegroups().System as K8sObject },
      charts: [devicePlugin()],
    });
    const gpu = pool(everyType, 'gpu');
    expect(gpu.instanceTypes).toEqual(Object.keys(INSTANCE_TYPES));
    for (const type of gpu.instanceTypes) {
      const dcgm = names(everyType, 'gpu', type).includes('amazon-cloudwatch/dcgm-exporter');
      expect([type, dcgm]).toEqual([type, (INSTANCE_TYPES[type]?.gpus ?? 0) > 0]);
    }
  });

  it('never runs the Neuron monitor or the Windows DaemonSets on any type this app knows', () => {
    const everywhere = Object.keys(INSTANCE_TYPES).flatMap((type) => [
      ...names(cluster({}, { gpu: { InstanceTypes: [type] } }), 'Gpu', type),
      ...names(cluster({}, { system: { InstanceTypes: [type] } }), 'System', type),
    ]);
    expect(everywhere).not.toContain('amazon-cloudwatch/neuron-monitor');
    expect(everywhere.filter((n) => n.includes('windows'))).toEqual([]);
    expect(everywhere).not.toContain('kube-system/nvidia-device-plugin-mps-control-daemon');
  });

  it('keeps a device plugin whose values drop the GPU toleration off the GPU nodes', () => {
    const model = cluster({}, { charts: [devicePlugin({ tolerations: [] })] });
    expect(names(model, 'Gpu', 'g6.xlarge')).not.toContain('kube-system/nvidia-device-plugin');
    expect(podsFitANode(model)).toEqual([
      expect.stringMatching(/chart nvidia-device-plugin pods fit no pool/),
      expect.stringContaining('no NVIDIA device plugin runs'),
    ]);
  });

  it('counts a chart DaemonSet at the requests its release sets', () => {
    const model = cluster(
      {},
      { charts: [devicePlugin({ resources: { requests: { cpu: '100m', memory: '64Mi' } } })] },
    );
    expect(nodeDaemons(model, pool(model, 'Gpu'), 'g6.xlarge').at(-1)).toEqual({
      name: 'kube-system/nvidia-device-plugin',
      source: 'nvidia-device-plugin chart 0.18.2',
      requests: { cpuMillicores: 100, memoryMiB: 64, gpus: 0 },
    });
    expect(freeOnNode(model, pool(model, 'Gpu'), 'g6.xlarge')).toEqual({
      cpuMillicores: 3920 - 800,
      memoryMiB: 14162 - 345,
      gpus: 1,
    });
  });

  it('fails a chart release at a version its DaemonSets were not read for', () => {
    const model = cluster({}, { charts: [{ ...devicePlugin(), version: '0.19.0' }] });
    expect(podsFitANode(model)).toEqual([
      'chart0: chart nvidia-device-plugin is pinned at 0.19.0, but lib/k8s/node-daemons.ts holds its DaemonSets as read for 0.18.2: read its chart or manifest at 0.19.0 again (requests, tolerations, node selector, affinity) and add the rows',
    ]);
  });

  it('fails a chart it cannot tell runs DaemonSets or not', () => {
    const logging = {
      chart: 'fluentd',
      version: '0.5.2',
      release: 'fluentd',
      namespace: 'logging',
      values: {},
    };
    expect(podsFitANode(cluster({}, { charts: [devicePlugin(), logging] }))).toEqual([
      'chart1: chart fluentd 0.5.2 has no row in lib/k8s/node-daemons.ts: read which DaemonSets it runs (or list it in WITHOUT_DAEMONSETS)',
    ]);
  });
});
