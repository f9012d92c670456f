/**
 * Scheduling rules: every pod lands on a node that can hold it, GPU nodes run a device plugin,
 * and each pool holds its pods at their autoscalers' maximum. "Every pod" includes the
 * Deployments the EKS add-ons and charts run outside the templates (lib/k8s/system-workloads.ts),
 * counted where their placement lands them.
 */
import { INSTANCE_TYPES } from '../../../lib/k8s/instance-types.ts';
import {
  chartDaemonSets,
  nodeDaemonFactsProblem,
  pinnedAddonProblems,
} from '../../../lib/k8s/node-daemons.ts';
import {
  chartDeployments,
  pinnedAddonDeploymentProblems,
  systemWorkloadFactsProblem,
} from '../../../lib/k8s/system-workloads.ts';
import type { ChartRelease, ClusterModel, K8sObject, Pool } from './cluster.ts';
import type { Rule } from './rules.ts';
import {
  autoscalerOf,
  freeOnNode,
  GPU_RESOURCE,
  maxNodesOfType,
  nodeBudget,
  onlyOn,
  outsideDeployments,
  placeableTypes,
  placementProblem,
  podRequests,
  type Resources,
  shortfall,
  workloads,
} from './workloads.ts';

/** Charts whose DaemonSet makes a node advertise `nvidia.com/gpu`. */
const DEVICE_PLUGIN_CHARTS = new Set(['nvidia-device-plugin', 'gpu-operator']);

/**
 * Where a chart's pods may go: for a chart whose DaemonSets lib/k8s/node-daemons.ts records, its
 * main DaemonSet's placement (the release's values over the chart's defaults there); for others,
 * the placement values the release sets. With a problem when the rows were read at another version
 * than the release's, or the chart has no row.
 */
function chartPlacement(chart: ChartRelease): { spec: K8sObject; problem?: string } {
  const main = chartDaemonSets(chart.chart, chart.version, chart.values).find(
    (ds) => ds.runsOnlyOn === undefined,
  );
  const spec: K8sObject = {};
  const placement: K8sObject = main?.placement ?? chart.values;
  for (const key of ['nodeSelector', 'tolerations', 'affinity']) {
    if (placement[key] !== undefined) spec[key] = placement[key];
  }
  const problem = nodeDaemonFactsProblem('helm-chart', chart.chart, chart.version);
  return problem ? { spec, problem: `${chart.source}: ${problem}` } : { spec };
}

function placementReport(spec: K8sObject, pools: readonly Pool[]): string {
  return pools
    .map((pool) => `${pool.name} ${placementProblem(spec, pool) ?? 'accepts it'}`)
    .join('; ');
}

/**
 * Why a pod with this placement and these requests fits no node of any pool it may land on, or
 * undefined when one node of some pool can hold it.
 */
function podFitProblem(
  cluster: ClusterModel,
  what: string,
  spec: K8sObject,
  requests: Resources,
): string | undefined {
  const accepting = cluster.pools.filter((pool) => placementProblem(spec, pool) === undefined);
  if (accepting.length === 0)
    return `${what} fits no pool: ${placementReport(spec, cluster.pools)}`;
  const misses: string[] = [];
  for (const pool of accepting) {
    for (const type of placeableTypes(spec, pool)) {
      const short = shortfall(requests, freeOnNode(cluster, pool, type));
      if (short === undefined && maxNodesOfType(pool, type) >= 1) return undefined;
      if (short !== undefined)
        misses.push(`${type} in ${pool.name}: ${short} (${nodeBudget(cluster, pool, type)})`);
      else misses.push(`${type} in ${pool.name}: no such node can exist (${pool.size})`);
    }
  }
  return `${what} requests more than any node it may run on can allocate: ${misses.join('; ')}`;
}

/**
 * Every pod fits one node of a pool it may be scheduled on: selectors, affinity, taints, and its
 * requests against the node's allocatable less the DaemonSets that run there (the templates',
 * the EKS add-ons' and the charts', see nodeDaemons). DaemonSets themselves are not packed. The
 * Deployments of the add-ons and charts (lib/k8s/system-workloads.ts, the release's values over
 * the chart's defaults) are checked like the templates' own; a chart with no Deployment row there
 * is checked for placement only, from its release values. The add-on and chart versions must be
 * those lib/k8s/node-daemons.ts and lib/k8s/system-workloads.ts were read at, or the pods counted
 * are guesses.
 */
export const podsFitANode: Rule = (cluster) => {
  const problems: string[] = [];
  for (const pool of cluster.pools) {
    const unknown = [...(pool.unknownInstanceTypes ?? []), ...pool.instanceTypes].filter(
      (t) => !(t in INSTANCE_TYPES),
    );
    if (unknown.length > 0) {
      problems.push(
        `pool ${pool.name}: instance types ${unknown.join(', ')} have no row in lib/k8s/instance-types.ts, so nothing can be checked against them`,
      );
    }
  }
  if (problems.length > 0) return problems;
  problems.push(...pinnedAddonProblems(), ...pinnedAddonDeploymentProblems());

  for (const w of workloads(cluster)) {
    if (w.kind === 'DaemonSet') continue;
    const problem = podFitProblem(
      cluster,
      `${w.applied.source}: ${w.kind} ${w.namespace}/${w.name}`,
      w.podSpec,
      podRequests(w.podSpec),
    );
    if (problem) problems.push(problem);
  }
  for (const d of outsideDeployments(cluster)) {
    const problem = podFitProblem(
      cluster,
      `${d.source}: Deployment ${d.name}`,
      d.podSpec,
      d.requests,
    );
    if (problem) problems.push(problem);
  }

  for (const chart of cluster.charts) {
    const { spec, problem } = chartPlacement(chart);
    if (problem) problems.push(problem);
    const deployments = systemWorkloadFactsProblem('helm-chart', chart.chart, chart.version);
    if (deployments) problems.push(`${chart.source}: ${deployments}`);
    // A chart whose Deployments are recorded was checked pod by pod above.
    if (chartDeployments(chart.chart, chart.version, chart.values, chart.namespace).length > 0) {
      continue;
    }
    if (!cluster.pools.some((pool) => placementProblem(spec, pool) === undefined)) {
      problems.push(
        `${chart.source}: chart ${chart.chart} pods fit no pool: ${placementReport(spec, cluster.pools)}`,
      );
    }
  }

  // A GPU node advertises nvidia.com/gpu only once a device plugin runs on it.
  for (const pool of cluster.pools) {
    const gpuTypes = pool.instanceTypes.filter((t) => (INSTANCE_TYPES[t]?.gpus ?? 0) > 0);
    if (gpuTypes.length === 0) continue;
    const served = cluster.charts
      .filter((c) => DEVICE_PLUGIN_CHARTS.has(c.chart))
      .some((c) => {
        const { spec } = chartPlacement(c);
        return (
          placementProblem(spec, pool) === undefined &&
          placeableTypes(spec, pool).length === gpuTypes.length
        );
      });
    if (!served) {
      problems.push(
        `pool ${pool.name} has GPU instance types (${gpuTypes.join(', ')}) but no NVIDIA device plugin runs on all of them, so its nodes advertise no ${GPU_RESOURCE} and GPU pods stay Pending`,
      );
    }
  }
  return problems;
};

/**
 * Every pool can hold, at once, the pods that may run only there at their autoscalers' maximum
 * (or their fixed replicas): the templates' pods and the add-ons' and charts' Deployments
 * (lib/k8s/system-workloads.ts), the sum of their requests against the allocatable of the most
 * nodes the pool can have, and every Deployment whose replicas need distinct nodes (a required
 * podAntiAffinity on kubernetes.io/hostname, as Karpenter's chart sets) finds that many nodes. A
 * lower bound: perfect packing is assumed, so a failure here is certain.
 */
export const poolsHoldTheirPodsAtMaximum: Rule = (cluster) => {
  const problems: string[] = [];
  const outside = outsideDeployments(cluster);
  for (const pool of cluster.pools) {
    const onlyHere = workloads(cluster).filter(
      (w) => w.kind !== 'DaemonSet' && onlyOn(cluster, w.podSpec, pool),
    );
    const outsideHere = outside.filter((d) => onlyOn(cluster, d.podSpec, pool));
    if (onlyHere.length === 0 && outsideHere.length === 0) continue;
    let cpu = 0;
    let memory = 0;
    let gpus = 0;
    const parts: string[] = [];
    const count = (replicas: number, requests: Resources) => {
      cpu += replicas * requests.cpuMillicores;
      memory += replicas * requests.memoryMiB;
      gpus += replicas * requests.gpus;
      return `${replicas} x ${requests.cpuMillicores}m/${requests.memoryMiB}Mi`;
    };
    for (const w of onlyHere) {
      const replicas =
        autoscalerOf(cluster, w)?.maxReplicas ??
        (w.kind === 'Deployment' || w.kind === 'StatefulSet'
          ? (w.applied.object.spec?.replicas ?? 1)
          : 1);
      parts.push(`${w.name} ${count(replicas, podRequests(w.podSpec))}`);
    }
    for (const d of outsideHere) {
      parts.push(`${d.name} ${count(d.replicas, d.requests)} (${d.source})`);
    }
    // The most the pool could offer in each resource, over its types at the most nodes of each:
    // generous on purpose, so that a failure here is certain.
    const offer = { cpu: 0, memory: 0, gpus: 0 };
    for (const type of pool.instanceTypes) {
      const free = freeOnNode(cluster, pool, type);
      const nodes = maxNodesOfType(pool, type);
      const times = (each: number) => (each <= 0 ? 0 : nodes * each);
      offer.cpu = Math.max(offer.cpu, times(free.cpuMillicores));
      offer.memory = Math.max(offer.memory, times(free.memoryMiB));
      offer.gpus = Math.max(offer.gpus, times(free.gpus));
    }
    if (cpu > offer.cpu || memory > offer.memory || gpus > offer.gpus) {
      problems.push(
        `pool ${pool.name}: at their autoscalers' maximum its pods request ${cpu}m CPU, ${memory}Mi and ${gpus} GPU(s) (${parts.join(', ')}), but its nodes allocate at most ${offer.cpu}m, ${offer.memory}Mi and ${offer.gpus} GPU(s) (${pool.instanceTypes.join(', ')}; ${pool.size}): the last replicas would stay Pending`,
      );
    }
    for (const d of outsideHere.filter((x) => x.distinctNodes)) {
      const problem = distinctNodesProblem(cluster, pool, d.podSpec, d.requests, d.replicas);
      if (problem) {
        problems.push(
          `pool ${pool.name}: ${d.source}: Deployment ${d.name} runs ${d.replicas} replicas that must each have a node of their own (required podAntiAffinity on kubernetes.io/hostname), but ${problem}: the last replicas would stay Pending`,
        );
      }
    }
  }
  return problems;
};

/**
 * Why `replicas` pods that need a node each cannot all be placed on `pool`, or undefined: the
 * nodes of the pool's types that can hold one such pod, at the most nodes of each type.
 */
export function distinctNodesProblem(
  cluster: ClusterModel,
  pool: Pool,
  spec: K8sObject,
  requests: Resources,
  replicas: number,
): string | undefined {
  const types = placeableTypes(spec, pool).filter(
    (type) => shortfall(requests, freeOnNode(cluster, pool, type)) === undefined,
  );
  const nodes = Math.max(0, ...types.map((type) => maxNodesOfType(pool, type)));
  if (nodes >= replicas) return undefined;
  return `the pool has at most ${nodes} node(s) that can hold one (${pool.instanceTypes.join(', ')}; ${pool.size})`;
}
