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
import { freeOnNode, nodeDaemons, onlyOn, outsideDeployments } from './workloads.ts';

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

/** The add-on Deployments every cluster here runs on the system pool (1 x 500m beside the app). */
const ADDON_DEPLOYMENTS =
  'kube-system/coredns 2 x 100m/70Mi (coredns v1.13.2-eksbuild.1), kube-system/metrics-server 2 x 100m/200Mi (metrics-server v0.8.1-eksbuild.1), amazon-cloudwatch/amazon-cloudwatch-observability-controller-manager 1 x 100m/64Mi (amazon-cloudwatch-observability v5.4.0-eksbuild.1)';

/** Karpenter's chart as the app installs it (lib/k8s/karpenter.ts karpenterValues). */
const karpenterChart = (values: K8sObject = {}) => ({
  chart: 'karpenter',
  version: '1.14.1',
  release: 'karpenter',
  namespace: 'kube-system',
  values: {
    nodeSelector: { 'axon.ai/pool': 'system' },
    controller: { resources: { requests: { cpu: '250m', memory: '512Mi' } } },
    ...values,
  },
});

describe('pools hold their pods at the autoscalers maximum', () => {
  it('fails an HPA maximum the system node group cannot hold even perfectly packed, counting the add-ons Deployments', () => {
    const model = cluster({
      'HorizontalPodAutoscaler/session-manager': hpa('session-manager', 2, 7),
    });
    expect(poolsHoldTheirPodsAtMaximum(model)).toEqual([
      `pool System: at their autoscalers' maximum its pods request 4000m CPU, 4188Mi and 0 GPU(s) (session-manager 7 x 500m/512Mi, ${ADDON_DEPLOYMENTS}), but its nodes allocate at most 2960m, 13500Mi and 0 GPU(s) (m7i.large; node group desiredSize 2; no node autoscaler grows it toward maxSize 3): the last replicas would stay Pending`,
    ]);
  });

  it('fails a maximum that fits the app pods alone but not beside the add-ons and charts Deployments', () => {
    // 4 x 500m and the add-ons' 500m make 2500m of 2960m; Karpenter (2 x 250m) and KEDA at its
    // chart defaults (3 x 100m) make 3300m.
    const keda = {
      chart: 'keda',
      version: '2.20.2',
      release: 'keda',
      namespace: 'keda',
      values: { nodeSelector: { 'axon.ai/pool': 'system' } },
    };
    const model = cluster({}, { charts: [devicePlugin(), karpenterChart(), keda] });
    expect(poolsHoldTheirPodsAtMaximum(cluster({}))).toEqual([]);
    expect(poolsHoldTheirPodsAtMaximum(model)).toEqual([
      expect.stringContaining(
        "pool System: at their autoscalers' maximum its pods request 3300m CPU, 3976Mi and 0 GPU(s) (session-manager 4 x 500m/512Mi, kube-system/coredns 2 x 100m/70Mi (coredns v1.13.2-eksbuild.1)",
      ),
    ]);
    expect(poolsHoldTheirPodsAtMaximum(model)[0]).toContain(
      'kube-system/karpenter 2 x 250m/512Mi (karpenter chart 1.14.1), keda/keda-operator 1 x 100m/100Mi (keda chart 2.20.2), keda/keda-operator-metrics-apiserver 1 x 100m/100Mi (keda chart 2.20.2), keda/keda-admission-webhooks 1 x 100m/100Mi (keda chart 2.20.2)), but its nodes allocate at most 2960m',
    );
  });

  it("fails Karpenter's two controllers on a node group of one node (required anti-affinity on the node name)", () => {
    const oneBigNode = {
      InstanceTypes: ['m7i.xlarge'],
      ScalingConfig: { MinSize: 1, DesiredSize: 1, MaxSize: 3 },
    };
    const model = cluster({}, { system: oneBigNode, charts: [devicePlugin(), karpenterChart()] });
    expect(poolsHoldTheirPodsAtMaximum(model)).toEqual([
      'pool System: karpenter chart 1.14.1: Deployment kube-system/karpenter runs 2 replicas that must each have a node of their own (required podAntiAffinity on kubernetes.io/hostname), but the pool has at most 1 node(s) that can hold one (m7i.xlarge; node group desiredSize 1; no node autoscaler grows it toward maxSize 3): the last replicas would stay Pending',
    ]);
    // One replica, or no required anti-affinity, needs one node.
    for (const values of [{ replicas: 1 }, { affinity: { podAntiAffinity: null } }]) {
      const relaxed = cluster(
        {},
        { system: oneBigNode, charts: [devicePlugin(), karpenterChart(values)] },
      );
      expect(poolsHoldTheirPodsAtMaximum(relaxed)).toEqual([]);
    }
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
      { 'HorizontalPodAutoscaler/session-manager': hpa('session-manager', 2, 7) },
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
      'chart1: chart fluentd 0.5.2 has no row in lib/k8s/system-workloads.ts: read which Deployments it runs (or list it in WITHOUT_DEPLOYMENTS)',
    ]);
  });
});

describe('Deployments outside the templates (lib/k8s/system-workloads.ts)', () => {
  const system = (model: ClusterModel) => model.pools.find((p) => p.name === 'System') as Pool;

  it('fails a chart release at a version its Deployments were not read for', () => {
    const model = cluster(
      {},
      { charts: [devicePlugin(), { ...karpenterChart(), version: '1.15.0' }] },
    );
    expect(podsFitANode(model)).toEqual([
      'chart1: chart karpenter is pinned at 1.15.0, but lib/k8s/system-workloads.ts holds its Deployments as read for 1.14.1: read its chart or manifest at 1.15.0 again (replicas, requests, tolerations, node selector, affinity, topology spread) and update the row',
    ]);
  });

  it("fails a chart Deployment whose release requests more than a node's free share, naming the node's budget", () => {
    const big = karpenterChart({
      controller: { resources: { requests: { cpu: '2', memory: '1Gi' } } },
    });
    expect(podsFitANode(cluster({}, { charts: [devicePlugin(), big] }))).toEqual([
      expect.stringContaining(
        'karpenter chart 1.14.1: Deployment kube-system/karpenter requests more than any node it may run on can allocate: m7i.large in System: cpu 2000m > 1480m (allocatable 1930m/6903Mi less DaemonSets 450m/153Mi',
      ),
    ]);
  });

  it("fails a chart Deployment the release's values send to a pool whose taint it does not tolerate", () => {
    const gpu = karpenterChart({ nodeSelector: { 'axon.ai/pool': 'gpu' } });
    expect(podsFitANode(cluster({}, { charts: [devicePlugin(), gpu] }))).toEqual([
      expect.stringMatching(
        /karpenter chart 1\.14\.1: Deployment kube-system\/karpenter fits no pool: System no node of it matches .*axon\.ai\/pool In gpu.*; Gpu does not tolerate the taint nvidia\.com\/gpu=true:NoSchedule/,
      ),
    ]);
  });

  it('counts the add-ons Deployments on the system pool only, where they land, and none on the GPU pool', () => {
    const model = cluster({}, { charts: [devicePlugin(), karpenterChart()] });
    const names = (pool: Pool) =>
      outsideDeployments(model)
        .filter((d) => onlyOn(model, d.podSpec, pool))
        .map((d) => d.name);
    expect(names(system(model))).toEqual([
      'kube-system/coredns',
      'kube-system/metrics-server',
      'amazon-cloudwatch/amazon-cloudwatch-observability-controller-manager',
      'kube-system/karpenter',
    ]);
    expect(names(model.pools.find((p) => p.name === 'Gpu') as Pool)).toEqual([]);
  });
});
