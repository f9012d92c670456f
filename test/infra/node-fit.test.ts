/**
 * Node fit: the DaemonSets and Deployments outside the templates (lib/k8s/node-daemons.ts,
 * lib/k8s/system-workloads.ts) are read at the pinned versions and placed where their tolerations,
 * node selection and anti-affinity put them; Triton's requests fit a node of every GPU type of
 * every stage beside them (synth's numbers and the rehearsal's agree); every stage's system nodes
 * hold a rollout at every pod's maximum; and the "Node fit" section of docs/operations.md is what
 * the code computes.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuNodeDaemonSetReserve } from '../../lib/config-inference.ts';
import { allocatable } from '../../lib/k8s/instance-types.ts';
import { karpenterValues } from '../../lib/k8s/karpenter.ts';
import { kedaValues } from '../../lib/k8s/metrics.ts';
import {
  gpuNode,
  gpuNodeDaemonSets,
  landsOn,
  NODE_DAEMON_FACTS,
  type NodeShape,
  NVIDIA_DEVICE_PLUGIN_VALUES,
  nodeDaemonFacts,
  nodeDaemonFactsProblem,
  type Placement,
  pinnedVersionProblems,
  podReservation,
} from '../../lib/k8s/node-daemons.ts';
import {
  addonDeployments,
  chartDeployments,
  helmMerge,
  PINNED_CHARTS,
  type PlacedDeployment,
  pinnedDeploymentProblems,
  requiresDistinctNodes,
  requiresZoneSpread,
  SYSTEM_WORKLOAD_FACTS,
  systemWorkloadFacts,
  systemWorkloadFactsProblem,
  valueAt,
} from '../../lib/k8s/system-workloads.ts';
import {
  ALB_CONTROLLER_VERSION,
  EKS_ADDON_VERSIONS,
  GPU_TAINT,
  KARPENTER,
  KEDA,
  NVIDIA_DEVICE_PLUGIN,
  POOL_LABEL,
} from '../../lib/k8s/versions.ts';
import {
  DOC,
  nodeFitSection,
  poolFit,
  rolloutSurge,
  sectionOf,
  stages,
} from '../../scripts/node-fit.ts';
import { type ClusterModel, clusterFromTemplates, type K8sObject } from './rehearsal/cluster.ts';
import { daemonSetOverhead, freeOnNode, podRequests, workloads } from './rehearsal/workloads.ts';
import { type Synthesized, stageConfig, synth } from './support.ts';

const STAGES = stages();

/** Values keys that would change a DaemonSet's or a Deployment's requests, count or placement. */
const PLACEMENT_KEYS = [
  'resources',
  'tolerations',
  'nodeSelector',
  'affinity',
  'replicaCount',
  'replicas',
  'topologySpreadConstraints',
];

/** Every leaf of a JSON value as a dotted path. */
function paths(value: unknown, at = ''): string[] {
  if (value === null || typeof value !== 'object') return [at];
  return Object.entries(value).flatMap(([k, v]) => paths(v, at ? `${at}.${k}` : k));
}

function daemonSet(source: string, name: string) {
  const ds = NODE_DAEMON_FACTS.filter((f) => f.name === source)
    .flatMap((f) => f.daemonSets)
    .find((d) => d.name === name);
  if (!ds) throw new Error(`no DaemonSet ${name} from ${source}`);
  return ds;
}

const placementOf = (source: string, name: string): Placement => daemonSet(source, name).placement;

/** An EC2 node of the system pool (a managed node group, no taints). */
const systemNode = (type: string): NodeShape => ({
  labels: {
    [POOL_LABEL]: 'system',
    'eks.amazonaws.com/nodegroup': 'system',
    'node.kubernetes.io/instance-type': type,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
  },
  taints: [],
});

describe('the DaemonSet facts', () => {
  it('hold a row for every pinned add-on and chart version', () => {
    expect(pinnedVersionProblems()).toEqual([]);
  });

  it('fail an add-on or chart pinned at a version they were not read at', () => {
    expect(
      nodeDaemonFactsProblem('eks-addon', 'amazon-cloudwatch-observability', 'v5.5.0-eksbuild.1'),
    ).toBe(
      'EKS add-on amazon-cloudwatch-observability is pinned at v5.5.0-eksbuild.1, but lib/k8s/node-daemons.ts holds its DaemonSets as read for v4.5.0-eksbuild.*, v5.4.0-eksbuild.*: read its chart or manifest at v5.5.0-eksbuild.1 again (requests, tolerations, node selector, affinity) and add the rows',
    );
    expect(nodeDaemonFactsProblem('eks-addon', 'kube-proxy', 'v1.35.3-eksbuild.17')).toMatch(
      /kube-proxy is pinned at v1\.35\.3-eksbuild\.17, but .* read for v1\.35\.0-eksbuild\.2/,
    );
    expect(nodeDaemonFactsProblem('helm-chart', 'nvidia-device-plugin', '0.19.0')).toMatch(
      /chart nvidia-device-plugin is pinned at 0\.19\.0, but .* read for 0\.18\.2/,
    );
    expect(nodeDaemonFactsProblem('eks-addon', 'aws-ebs-csi-driver', 'v1.50.0-eksbuild.1')).toBe(
      'EKS add-on aws-ebs-csi-driver v1.50.0-eksbuild.1 has no row in lib/k8s/node-daemons.ts: read which DaemonSets it runs (or list it in WITHOUT_DAEMONSETS)',
    );
  });

  it('take any EKS build of an upstream version read, and only that version', () => {
    const cw = (v: string) => nodeDaemonFacts('eks-addon', 'amazon-cloudwatch-observability', v);
    expect(cw('v4.5.0-eksbuild.1')?.readFrom[0]?.ref).toBe('amazon-cloudwatch-observability-4.5.0');
    expect(cw('v5.4.0-eksbuild.3')?.readFrom[0]?.ref).toBe('amazon-cloudwatch-observability-5.4.0');
    expect(cw('v5.4.1-eksbuild.1')).toBeUndefined();
    expect(cw('v5.4.0')).toBeUndefined();
    expect(nodeDaemonFacts('eks-addon', 'kube-proxy', 'v1.35.0-eksbuild.3')).toBeUndefined();
  });

  it('reserve for a pod what the scheduler does: the larger of the largest init container and the rest', () => {
    expect(podReservation(daemonSet('vpc-cni', 'aws-node').containers)).toEqual({
      cpuMillicores: 50,
      memoryMiB: 0,
    });
    expect(
      podReservation([
        { name: 'init', init: true, cpuMillicores: 300, memoryMiB: 10 },
        { name: 'a', cpuMillicores: 100, memoryMiB: 64 },
        { name: 'b', cpuMillicores: 100, memoryMiB: 64 },
      ]),
    ).toEqual({ cpuMillicores: 300, memoryMiB: 128 });
  });

  it('record the CloudWatch requests the charts (v4 and v5) default to', () => {
    for (const version of ['v4.5.0-eksbuild.1', 'v5.4.0-eksbuild.1']) {
      const facts = nodeDaemonFacts('eks-addon', 'amazon-cloudwatch-observability', version);
      const requests = Object.fromEntries(
        (facts?.daemonSets ?? []).map((d) => [d.name, podReservation(d.containers)]),
      );
      expect(requests).toMatchObject({
        'cloudwatch-agent': { cpuMillicores: 250, memoryMiB: 128 },
        'fluent-bit': { cpuMillicores: 50, memoryMiB: 25 },
        'dcgm-exporter': { cpuMillicores: 250, memoryMiB: 128 },
        'neuron-monitor': { cpuMillicores: 256, memoryMiB: 128 },
      });
    }
  });
});

describe('where each DaemonSet lands (lib/k8s/node-daemons.ts landsOn)', () => {
  const dcgm = placementOf('amazon-cloudwatch-observability', 'dcgm-exporter');
  const neuron = placementOf('amazon-cloudwatch-observability', 'neuron-monitor');

  it('runs the DCGM exporter on NVIDIA GPU nodes only', () => {
    for (const type of ['g6.xlarge', 'g6.2xlarge', 'g5.xlarge', 'g6e.2xlarge', 'p4d.24xlarge']) {
      expect([type, landsOn(dcgm, gpuNode(type))]).toEqual([type, true]);
    }
    for (const type of ['m7i.large', 'm7i.xlarge', 'c7i.large']) {
      expect([type, landsOn(dcgm, systemNode(type))]).toEqual([type, false]);
    }
  });

  it('never runs the Neuron monitor on a g6 (only on Trainium and Inferentia types)', () => {
    for (const type of ['g6.xlarge', 'g6.2xlarge', 'g6.4xlarge', 'g6.12xlarge']) {
      expect([type, landsOn(neuron, gpuNode(type))]).toEqual([type, false]);
    }
    const inferentia: NodeShape = {
      labels: {
        'node.kubernetes.io/instance-type': 'inf2.xlarge',
        'kubernetes.io/os': 'linux',
      },
      taints: [],
    };
    expect(landsOn(neuron, inferentia)).toBe(true);
  });

  it('lands the DaemonSets that tolerate every taint on the tainted GPU node', () => {
    const tainted = gpuNode('g6.xlarge');
    expect(tainted.taints).toEqual([GPU_TAINT]);
    for (const [source, name] of [
      ['vpc-cni', 'aws-node'],
      ['kube-proxy', 'kube-proxy'],
      ['eks-pod-identity-agent', 'eks-pod-identity-agent'],
      ['amazon-cloudwatch-observability', 'cloudwatch-agent'],
      ['amazon-cloudwatch-observability', 'fluent-bit'],
    ] as const) {
      expect([name, landsOn(placementOf(source, name), tainted)]).toEqual([name, true]);
      const { tolerations: _, ...untolerating } = placementOf(source, name);
      expect([name, landsOn(untolerating, tainted)]).toEqual([name, false]);
    }
  });

  it('keeps the Windows DaemonSets and the MPS control daemon off every node here', () => {
    for (const name of [
      'cloudwatch-agent-windows',
      'cloudwatch-agent-windows-container-insights',
      'fluent-bit-windows',
    ]) {
      const placement = placementOf('amazon-cloudwatch-observability', name);
      expect(landsOn(placement, gpuNode('g6.xlarge'))).toBe(false);
      expect(landsOn(placement, systemNode('m7i.large'))).toBe(false);
    }
    expect(gpuNodeDaemonSets('g6.xlarge').map((d) => d.name)).not.toContain(
      'nvidia-device-plugin-mps-control-daemon',
    );
  });

  it('counts on a g6.xlarge the add-ons and the device plugin the app installs', () => {
    expect(
      gpuNodeDaemonSets('g6.xlarge').map((d) => [d.name, d.cpuMillicores, d.memoryMiB]),
    ).toEqual([
      ['aws-node', 50, 0],
      ['kube-proxy', 100, 0],
      ['eks-pod-identity-agent', 0, 0],
      ['cloudwatch-agent', 250, 128],
      ['fluent-bit', 50, 25],
      ['dcgm-exporter', 250, 128],
      ['nvidia-device-plugin', 0, 0],
    ]);
    expect(gpuNodeDaemonSetReserve('g6.xlarge')).toEqual({
      cpuMillicores: 700,
      memoryMiB: 281,
      daemonSets: [
        'aws-node 50m/0 MiB',
        'kube-proxy 100m/0 MiB',
        'cloudwatch-agent 250m/128 MiB',
        'fluent-bit 50m/25 MiB',
        'dcgm-exporter 250m/128 MiB',
      ],
    });
  });
});

/** The chart releases' values as the templates give them (cluster endpoint etc. stand-ins). */
const RELEASE_VALUES: Record<string, Record<string, unknown>> = {
  karpenter: karpenterValues({
    clusterName: 'axon',
    clusterEndpoint: 'https://example.eks.amazonaws.com',
    interruptionQueueName: 'axon-interruptions',
  }),
  keda: kedaValues(),
  'aws-load-balancer-controller': { clusterName: 'axon', region: 'us-east-1' },
};
const NAMESPACES: Record<string, string> = {
  karpenter: KARPENTER.namespace,
  keda: KEDA.namespace,
  'aws-load-balancer-controller': 'kube-system',
};

/** Every add-on and chart Deployment at the pinned versions, with the app's values. */
function pinnedDeployments(): PlacedDeployment[] {
  return [
    ...addonDeployments(),
    ...PINNED_CHARTS.flatMap(({ chart, version }) =>
      chartDeployments(chart, version, RELEASE_VALUES[chart] ?? {}, NAMESPACES[chart] ?? ''),
    ),
  ];
}

const byName = (name: string): PlacedDeployment => {
  const d = pinnedDeployments().find((x) => x.name === name);
  if (!d) throw new Error(`no Deployment ${name}`);
  return d;
};

describe('the Deployment facts (lib/k8s/system-workloads.ts)', () => {
  it('hold a row for every pinned add-on and chart version', () => {
    expect(pinnedDeploymentProblems()).toEqual([]);
    expect(PINNED_CHARTS).toEqual([
      { chart: 'aws-load-balancer-controller', version: ALB_CONTROLLER_VERSION.helmChartVersion },
      { chart: 'karpenter', version: KARPENTER.version },
      { chart: 'keda', version: KEDA.version },
    ]);
  });

  it('fail an add-on or chart pinned at a version they were not read at', () => {
    expect(systemWorkloadFactsProblem('helm-chart', 'karpenter', '1.15.0')).toBe(
      'chart karpenter is pinned at 1.15.0, but lib/k8s/system-workloads.ts holds its Deployments as read for 1.14.1: read its chart or manifest at 1.15.0 again (replicas, requests, tolerations, node selector, affinity, topology spread) and update the row',
    );
    expect(systemWorkloadFactsProblem('helm-chart', 'keda', '2.21.0')).toMatch(
      /chart keda is pinned at 2\.21\.0, but .* read for 2\.20\.2/,
    );
    expect(
      systemWorkloadFactsProblem('helm-chart', 'aws-load-balancer-controller', '1.18.0'),
    ).toMatch(/pinned at 1\.18\.0, but .* read for 1\.17\.1/);
    expect(systemWorkloadFactsProblem('eks-addon', 'coredns', 'v1.14.2-eksbuild.4')).toMatch(
      /EKS add-on coredns is pinned at v1\.14\.2-eksbuild\.4, but .* read for v1\.13\.2-eksbuild\.\*/,
    );
    expect(systemWorkloadFactsProblem('eks-addon', 'metrics-server', 'v0.9.0-eksbuild.5')).toMatch(
      /metrics-server is pinned at v0\.9\.0-eksbuild\.5, but .* read for v0\.8\.1-eksbuild\.\*/,
    );
    expect(systemWorkloadFactsProblem('helm-chart', 'cluster-autoscaler', '9.0.0')).toBe(
      'chart cluster-autoscaler 9.0.0 has no row in lib/k8s/system-workloads.ts: read which Deployments it runs (or list it in WITHOUT_DEPLOYMENTS)',
    );
    // DaemonSet-only sources need no Deployment row.
    for (const name of ['vpc-cni', 'kube-proxy', 'eks-pod-identity-agent']) {
      expect(systemWorkloadFactsProblem('eks-addon', name, 'v9.9.9-eksbuild.1')).toBeUndefined();
    }
    expect(
      systemWorkloadFactsProblem('helm-chart', 'nvidia-device-plugin', '0.19.0'),
    ).toBeUndefined();
  });

  it('take any EKS build of an upstream version read, and only that version', () => {
    expect(systemWorkloadFacts('eks-addon', 'coredns', 'v1.13.2-eksbuild.11')).toBeDefined();
    expect(systemWorkloadFacts('eks-addon', 'coredns', 'v1.13.3-eksbuild.1')).toBeUndefined();
    expect(systemWorkloadFacts('helm-chart', 'karpenter', '1.14.1')?.readFrom[0]?.ref).toBe(
      'v1.14.1',
    );
  });

  it('name a repository, path and 40-hex commit for every row', () => {
    for (const facts of SYSTEM_WORKLOAD_FACTS) {
      expect(facts.readFrom.length).toBeGreaterThan(0);
      for (const source of facts.readFrom) {
        expect([facts.name, source.commit]).toEqual([
          facts.name,
          expect.stringMatching(/^[0-9a-f]{40}$/),
        ]);
        expect(source.repo).toMatch(/^[\w.-]+\/[\w.-]+$/);
      }
    }
  });

  it('count each Deployment at its replicas and the requests the app values give it', () => {
    expect(
      pinnedDeployments().map((d) => [
        `${d.namespace}/${d.name}`,
        d.replicas,
        d.cpuMillicores,
        d.memoryMiB,
        d.distinctNodes,
      ]),
    ).toEqual([
      ['kube-system/coredns', 2, 100, 70, false],
      ['kube-system/metrics-server', 2, 100, 200, false],
      ['amazon-cloudwatch/amazon-cloudwatch-observability-controller-manager', 1, 100, 64, false],
      ['kube-system/aws-load-balancer-controller', 2, 0, 0, false],
      ['kube-system/karpenter', 2, 250, 512, true],
      ['keda/keda-operator', 1, 100, 128, false],
      ['keda/keda-operator-metrics-apiserver', 1, 100, 128, false],
      ['keda/keda-admission-webhooks', 1, 50, 64, false],
    ]);
  });

  it('count the chart defaults when the release sets no values', () => {
    const karpenter = chartDeployments('karpenter', '1.14.1', {}, 'kube-system')[0];
    expect([karpenter?.replicas, karpenter?.cpuMillicores, karpenter?.memoryMiB]).toEqual([
      2, 0, 0,
    ]);
    expect(
      chartDeployments('keda', '2.20.2', {}, 'keda').map((d) => [d.cpuMillicores, d.memoryMiB]),
    ).toEqual([
      [100, 100],
      [100, 100],
      [100, 100],
    ]);
  });

  it('merge release values over chart defaults as Helm does: maps by key, lists replaced, null removes', () => {
    expect(
      helmMerge(
        { nodeSelector: { 'kubernetes.io/os': 'linux' }, tolerations: [{ key: 'a' }], n: 2 },
        { nodeSelector: { [POOL_LABEL]: 'system' }, tolerations: [], n: null },
      ),
    ).toEqual({
      nodeSelector: { 'kubernetes.io/os': 'linux', [POOL_LABEL]: 'system' },
      tolerations: [],
    });
    // KEDA's `.Values.operator.nodeSelector | default .Values.nodeSelector`.
    const values = { operator: { nodeSelector: {} }, nodeSelector: { a: 'b' } };
    expect(valueAt(values, ['operator.nodeSelector', 'nodeSelector'])).toEqual({ a: 'b' });
    expect(
      valueAt({ operator: { nodeSelector: { c: 'd' } } }, [
        'operator.nodeSelector',
        'nodeSelector',
      ]),
    ).toEqual({ c: 'd' });
  });

  it("places Karpenter's controllers on the system nodes, each on its own node, with the app's node selector merged into the chart's", () => {
    const karpenter = byName('karpenter');
    expect(karpenter.placement.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux',
      [POOL_LABEL]: 'system',
    });
    expect(karpenter.distinctNodes).toBe(true);
    expect(karpenter.zoneSpreadRequired).toBe(true);
    expect(landsOn(karpenter.placement, systemNode('m7i.large'))).toBe(true);
    // Its required node affinity keeps it off nodes Karpenter launched, tolerated or not.
    const { taints: _, ...untainted } = gpuNode('g6.xlarge');
    expect(landsOn(karpenter.placement, { ...untainted, taints: [] })).toBe(false);
  });

  it('requires distinct nodes only for a required anti-affinity on the node name', () => {
    const term = { topologyKey: 'kubernetes.io/hostname' };
    expect(
      requiresDistinctNodes({
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] },
      }),
    ).toBe(true);
    expect(
      requiresDistinctNodes({
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }],
        },
      }),
    ).toBe(false);
    expect(
      requiresDistinctNodes({
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { topologyKey: 'topology.kubernetes.io/zone' },
          ],
        },
      }),
    ).toBe(false);
    // A release may drop the chart's anti-affinity (null removes a default in Helm).
    const relaxed = chartDeployments(
      'karpenter',
      '1.14.1',
      { affinity: { podAntiAffinity: null } },
      'kube-system',
    )[0];
    expect(relaxed?.distinctNodes).toBe(false);
    expect(
      requiresZoneSpread([
        { topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
      ]),
    ).toBe(false);
    // CoreDNS and the load balancer controller only prefer other nodes.
    expect(byName('coredns').distinctNodes).toBe(false);
    expect(byName('aws-load-balancer-controller').distinctNodes).toBe(false);
  });

  it('keeps every add-on and chart Deployment off the tainted GPU nodes and on the system nodes', () => {
    for (const d of pinnedDeployments()) {
      expect([d.name, landsOn(d.placement, gpuNode('g6.xlarge'))]).toEqual([d.name, false]);
      expect([d.name, landsOn(d.placement, systemNode('m7i.large'))]).toEqual([d.name, true]);
    }
    // CoreDNS tolerates CriticalAddonsOnly, not the GPU taint.
    expect(byName('coredns').placement.tolerations).toEqual([
      { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
      { key: 'CriticalAddonsOnly', operator: 'Exists' },
    ]);
    // The CloudWatch operator's empty manager.tolerations wins over the chart's tolerate-all.
    expect(
      byName('amazon-cloudwatch-observability-controller-manager').placement.tolerations,
    ).toBeUndefined();
    // A release that tolerates the GPU taint would reach the GPU nodes.
    const tolerant = chartDeployments(
      'aws-load-balancer-controller',
      '1.17.1',
      { tolerations: [{ key: GPU_TAINT.key, operator: 'Exists' }] },
      'kube-system',
    )[0];
    expect(tolerant && landsOn(tolerant.placement, gpuNode('g6.xlarge'))).toBe(true);
  });

  it('resolve a rollout surge as the deployment controller does', () => {
    const deployment = (rollingUpdate?: object, type?: string) => ({
      kind: 'Deployment',
      spec: { strategy: { ...(type && { type }), ...(rollingUpdate && { rollingUpdate }) } },
    });
    expect(rolloutSurge(deployment({ maxSurge: 1 }), 4)).toBe(1);
    expect(rolloutSurge(deployment(), 4)).toBe(1);
    expect(rolloutSurge(deployment({ maxSurge: '50%' }), 3)).toBe(2);
    expect(rolloutSurge(deployment({ maxSurge: 0 }), 4)).toBe(0);
    expect(rolloutSurge(deployment(undefined, 'Recreate'), 4)).toBe(0);
    expect(rolloutSurge({ kind: 'StatefulSet' }, 4)).toBe(0);
  });
});

describe.each(STAGES)('stage %s', (stage) => {
  let synthesized: Synthesized;
  let cluster: ClusterModel;
  beforeAll(() => {
    synthesized = synth(stageConfig(stage));
    cluster = clusterFromTemplates(Object.values(synthesized.templates));
  });

  const gpuPool = () => {
    const pool = cluster.pools.find((p) => p.labels[POOL_LABEL] === 'gpu');
    if (!pool) throw new Error(`stage ${stage} has no GPU pool`);
    return pool;
  };
  const triton = () => {
    const w = workloads(cluster).find((x) => x.name === 'triton');
    if (!w) throw new Error(`stage ${stage} has no Triton`);
    return podRequests(w.podSpec);
  };

  it("fits Triton on a node of every GPU type beside that node's DaemonSets", () => {
    const { triton: config, eks } = synthesized.config;
    expect(gpuPool().instanceTypes).toEqual(eks.gpuNodes.instanceTypes);
    for (const type of eks.gpuNodes.instanceTypes) {
      const node = allocatable(type);
      const reserve = gpuNodeDaemonSetReserve(type);
      const share = config.gpusPerReplica / node.gpus;
      const free = freeOnNode(cluster, gpuPool(), type);
      const requests = triton();
      expect(requests).toEqual({
        cpuMillicores: config.cpuMillicores,
        memoryMiB: config.memoryMiB,
        gpus: config.gpusPerReplica,
      });
      // Synth's budget and the rehearsal's count the same DaemonSets.
      expect([type, reserve.cpuMillicores, reserve.memoryMiB]).toEqual([
        type,
        daemonSetOverhead(cluster, gpuPool(), type).cpuMillicores,
        daemonSetOverhead(cluster, gpuPool(), type).memoryMiB,
      ]);
      expect(requests.cpuMillicores).toBeLessThanOrEqual(free.cpuMillicores * share);
      expect(requests.memoryMiB).toBeLessThanOrEqual(free.memoryMiB * share);
    }
  });

  it('installs the add-ons at the pinned versions without changing the resources or placement of their DaemonSets', () => {
    const addons = synthesized.templates.inference.findResources('AWS::EKS::Addon');
    const pins = EKS_ADDON_VERSIONS[synthesized.config.eks.version] ?? {};
    const seen: Record<string, string> = {};
    for (const { Properties: p } of Object.values<K8sObject>(addons)) {
      seen[p.AddonName] = p.AddonVersion;
      const values = p.ConfigurationValues ? JSON.parse(p.ConfigurationValues) : {};
      const overriding = paths(values).filter((path) =>
        path.split('.').some((key) => PLACEMENT_KEYS.includes(key)),
      );
      expect([p.AddonName, overriding]).toEqual([p.AddonName, []]);
      // Every component node-daemons.ts counts stays enabled (containerLogs is Fluent Bit).
      for (const part of ['agent', 'containerLogs', 'dcgmExporter', 'neuronMonitor']) {
        expect([p.AddonName, part, values[part]?.enabled]).not.toEqual([p.AddonName, part, false]);
      }
    }
    expect(seen).toEqual(pins);
  });

  it('keeps room on its node groups for a rollout with every pod at its maximum', () => {
    for (const pool of cluster.pools.filter((p) => p.kind === 'nodegroup')) {
      for (const type of pool.instanceTypes) {
        const fit = poolFit(cluster, pool, type);
        expect(fit.outside.map((d) => d.name)).toContain('kube-system/karpenter');
        expect([
          pool.name,
          type,
          fit.duringRollout.cpuMillicores >= 0,
          fit.duringRollout.memoryMiB >= 0,
        ]).toEqual([pool.name, type, true, true]);
      }
    }
  });

  it('passes the chart releases the values system-workloads.ts is counted with here', () => {
    for (const { chart, version } of PINNED_CHARTS) {
      const release = cluster.charts.find((c) => c.chart === chart);
      expect([chart, release?.version]).toEqual([chart, version]);
      const counted = chartDeployments(
        chart,
        version,
        RELEASE_VALUES[chart] ?? {},
        NAMESPACES[chart] ?? '',
      );
      const deployed = chartDeployments(
        chart,
        version,
        release?.values ?? {},
        release?.namespace ?? '',
      );
      const shape = (ds: PlacedDeployment[]) =>
        ds.map((d) => [
          d.namespace,
          d.name,
          d.replicas,
          d.cpuMillicores,
          d.memoryMiB,
          d.placement,
          d.distinctNodes,
        ]);
      expect(shape(deployed)).toEqual(shape(counted));
    }
  });

  it('gives the NVIDIA device plugin the placement values node-daemons.ts counts it with', () => {
    const plugin = cluster.charts.find((c) => c.chart === NVIDIA_DEVICE_PLUGIN.chart);
    expect(plugin?.version).toBe(NVIDIA_DEVICE_PLUGIN.version);
    expect(plugin?.values).toEqual(NVIDIA_DEVICE_PLUGIN_VALUES);
  });
});

describe('docs/operations.md', () => {
  it('has the "Node fit" section the code computes (npx tsx scripts/node-fit.ts --write)', () => {
    const section = sectionOf(readFileSync(DOC, 'utf8'));
    expect(section?.trimEnd()).toBe(nodeFitSection().trimEnd());
  });
});
