/**
 * Node fit: the DaemonSets outside the templates (lib/k8s/node-daemons.ts) are read at the pinned
 * versions and placed where their tolerations and node selection put them; Triton's requests fit a
 * node of every GPU type of every stage beside them (synth's numbers and the rehearsal's agree);
 * and the "Node fit" section of docs/operations.md is what the code computes.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuNodeDaemonSetReserve } from '../../lib/config-inference.ts';
import { allocatable } from '../../lib/k8s/instance-types.ts';
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
  EKS_ADDON_VERSIONS,
  GPU_TAINT,
  NVIDIA_DEVICE_PLUGIN,
  POOL_LABEL,
} from '../../lib/k8s/versions.ts';
import { DOC, nodeFitSection, sectionOf, stages } from '../../scripts/node-fit.ts';
import { type ClusterModel, clusterFromTemplates, type K8sObject } from './rehearsal/cluster.ts';
import { daemonSetOverhead, freeOnNode, podRequests, workloads } from './rehearsal/workloads.ts';
import { type Synthesized, stageConfig, synth } from './support.ts';

const STAGES = stages();

/** Values keys that would change a DaemonSet's requests or where it lands. */
const PLACEMENT_KEYS = ['resources', 'tolerations', 'nodeSelector', 'affinity'];

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
