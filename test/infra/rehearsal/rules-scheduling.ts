/**
 * Scheduling rules: every pod lands on a node that can hold it, GPU nodes run a device plugin,
 * and each pool holds its pods at their autoscalers' maximum.
 */
import { INSTANCE_TYPES } from '../../../lib/k8s/instance-types.ts';
import {
  chartDaemonSets,
  nodeDaemonFactsProblem,
  pinnedAddonProblems,
} from '../../../lib/k8s/node-daemons.ts';
import type { ChartRelease, K8sObject, Pool } from './cluster.ts';
import type { Rule } from './rules.ts';
import {
  autoscalerOf,
  freeOnNode,
  GPU_RESOURCE,
  maxNodesOfType,
  nodeBudget,
  placeableTypes,
  placementProblem,
  podRequests,
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
 * Every pod fits one node of a pool it may be scheduled on: selectors, affinity, taints, and its
 * requests against the node's allocatable less the DaemonSets that run there (the templates',
 * the EKS add-ons' and the charts', see nodeDaemons). DaemonSets themselves are not packed. Chart
 * pods are checked for placement only (their requests come from the chart's defaults, which are
 * not rendered here). The add-on and chart versions must be those lib/k8s/node-daemons.ts was read
 * at, or the DaemonSets counted are guesses.
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
  problems.push(...pinnedAddonProblems());

  for (const w of workloads(cluster)) {
    if (w.kind === 'DaemonSet') continue;
    const what = `${w.applied.source}: ${w.kind} ${w.namespace}/${w.name}`;
    const accepting = cluster.pools.filter(
      (pool) => placementProblem(w.podSpec, pool) === undefined,
    );
    if (accepting.length === 0) {
      problems.push(`${what} fits no pool: ${placementReport(w.podSpec, cluster.pools)}`);
      continue;
    }
    const requests = podRequests(w.podSpec);
    const misses: string[] = [];
    let fits = false;
    for (const pool of accepting) {
      for (const type of placeableTypes(w.podSpec, pool)) {
        const short = shortfall(requests, freeOnNode(cluster, pool, type));
        if (short === undefined && maxNodesOfType(pool, type) >= 1) fits = true;
        else if (short !== undefined)
          misses.push(`${type} in ${pool.name}: ${short} (${nodeBudget(cluster, pool, type)})`);
        else misses.push(`${type} in ${pool.name}: no such node can exist (${pool.size})`);
      }
    }
    if (!fits) {
      problems.push(
        `${what} requests more than any node it may run on can allocate: ${misses.join('; ')}`,
      );
    }
  }

  for (const chart of cluster.charts) {
    const { spec, problem } = chartPlacement(chart);
    if (problem) problems.push(problem);
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
 * (or their fixed replicas): the sum of their requests against the allocatable of the most
 * nodes the pool can have. A lower bound: chart pods are not counted (their requests sit at
 * chart-specific paths) and perfect packing is assumed, so a failure here is certain.
 */
export const poolsHoldTheirPodsAtMaximum: Rule = (cluster) => {
  const problems: string[] = [];
  for (const pool of cluster.pools) {
    const onlyHere = workloads(cluster).filter(
      (w) =>
        w.kind !== 'DaemonSet' &&
        placementProblem(w.podSpec, pool) === undefined &&
        cluster.pools.every(
          (other) => other === pool || placementProblem(w.podSpec, other) !== undefined,
        ),
    );
    if (onlyHere.length === 0) continue;
    let cpu = 0;
    let memory = 0;
    let gpus = 0;
    const parts: string[] = [];
    for (const w of onlyHere) {
      const replicas =
        autoscalerOf(cluster, w)?.maxReplicas ??
        (w.kind === 'Deployment' || w.kind === 'StatefulSet'
          ? (w.applied.object.spec?.replicas ?? 1)
          : 1);
      const requests = podRequests(w.podSpec);
      cpu += replicas * requests.cpuMillicores;
      memory += replicas * requests.memoryMiB;
      gpus += replicas * requests.gpus;
      parts.push(`${w.name} ${replicas} x ${requests.cpuMillicores}m/${requests.memoryMiB}Mi`);
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
  }
  return problems;
};
