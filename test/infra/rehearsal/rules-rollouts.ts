/**
 * Rollout rules: GPU Deployments roll out with the GPUs that will exist, autoscalers own their
 * replica counts, and disruption budgets let node drains finish.
 */
import type { ClusterModel, K8sObject } from './cluster.ts';
import type { Rule } from './rules.ts';
import {
  autoscalerOf,
  freeOnNode,
  GPU_RESOURCE,
  maxNodesOfType,
  namespaceOf,
  placeableTypes,
  placementProblem,
  podRequests,
  podsPerNode,
  selects,
  type Workload,
  workloads,
} from './workloads.ts';

/**
 * Extra pods (surge) and missing pods (unavailable) a rollout allows at `replicas`, or undefined
 * for a RollingUpdate Kubernetes refuses (maxSurge and maxUnavailable both 0).
 */
function rollingUpdate(
  deployment: K8sObject,
  replicas: number,
): { surge: number; unavailable: number } | undefined {
  const strategy = deployment.spec?.strategy ?? {};
  if (strategy.type === 'Recreate') return { surge: 0, unavailable: replicas };
  const rolling = strategy.rollingUpdate ?? {};
  const maxSurge = String(rolling.maxSurge ?? '25%');
  const maxUnavailable = String(rolling.maxUnavailable ?? '25%');
  const zero = (value: string) => Number.parseFloat(value) === 0;
  if (zero(maxSurge) && zero(maxUnavailable)) return undefined;
  // The deployment controller rounds a percentage surge up and a percentage unavailability
  // down, and makes progress with one unavailable pod when both round to 0.
  const resolve = (value: string, round: (n: number) => number) =>
    value.endsWith('%') ? round((Number(value.slice(0, -1)) * replicas) / 100) : Number(value);
  const surge = resolve(maxSurge, Math.ceil);
  const unavailable = resolve(maxUnavailable, Math.floor);
  return { surge, unavailable: surge === 0 && unavailable === 0 ? 1 : unavailable };
}

/**
 * How many pods like this the pools that accept it can ever hold at once, if nothing else used
 * their GPUs (one GPU Deployment per pool is the plane's shape).
 */
function gpuPodCapacity(cluster: ClusterModel, w: Workload): { pods: number; how: string[] } {
  const requests = podRequests(w.podSpec);
  let pods = 0;
  const how: string[] = [];
  for (const pool of cluster.pools) {
    if (placementProblem(w.podSpec, pool) !== undefined) continue;
    const perType = placeableTypes(w.podSpec, pool)
      .map((type) => ({
        type,
        nodes: maxNodesOfType(pool, type),
        each: podsPerNode(requests, freeOnNode(cluster, pool, type)),
      }))
      .filter((t) => t.each > 0);
    if (perType.length === 0) continue;
    // A node group may launch any of its types, so count the worst; Karpenter picks the best.
    const held = (t: { nodes: number; each: number }) => t.nodes * t.each;
    const worst = pool.kind === 'nodegroup';
    const chosen = perType.reduce((a, b) => (held(a) <= held(b) === worst ? a : b));
    pods += chosen.nodes * chosen.each;
    how.push(
      `${pool.name}: ${chosen.nodes} x ${chosen.type} holding ${chosen.each} each, ${pool.size}`,
    );
  }
  return { pods, how };
}

/**
 * Every GPU Deployment can roll out with the nodes that will exist: at the most replicas its
 * autoscaler may ask for, the surge of a RollingUpdate must still fit the pools (a Recreate or
 * maxSurge 0 rollout needs no spare GPU).
 */
export const gpuRolloutsFinish: Rule = (cluster) => {
  const problems: string[] = [];
  for (const w of workloads(cluster)) {
    if (w.kind !== 'Deployment' || podRequests(w.podSpec).gpus === 0) continue;
    const deployment = w.applied.object;
    const what = `${w.applied.source}: Deployment ${w.namespace}/${w.name}`;
    const autoscaler = autoscalerOf(cluster, w);
    const replicas = autoscaler?.maxReplicas ?? deployment.spec?.replicas ?? 1;
    const rollout = rollingUpdate(deployment, replicas);
    if (!rollout) {
      problems.push(
        `${what}: maxSurge and maxUnavailable are both 0, which Kubernetes refuses (a rollout could never start)`,
      );
      continue;
    }
    const { surge } = rollout;
    const capacity = gpuPodCapacity(cluster, w);
    const peak = replicas + surge;
    if (peak > capacity.pods) {
      const gpus = podRequests(w.podSpec).gpus;
      problems.push(
        `${what}: a rollout at ${replicas} replica(s)${autoscaler ? ` (${autoscaler.kind} ${autoscaler.name} maxReplicas)` : ''} runs ${peak} pods of ${gpus} ${GPU_RESOURCE} (maxSurge ${surge}), but the pools hold at most ${capacity.pods} (${capacity.how.join('; ') || 'no pool fits it'}): the rollout would wait for a GPU that never comes. Use maxSurge 0 / maxUnavailable 1, Recreate, or a pool that can grow.`,
      );
    }
    if (autoscaler && autoscaler.minReplicas > capacity.pods) {
      problems.push(
        `${what}: ${autoscaler.kind} ${autoscaler.name} keeps at least ${autoscaler.minReplicas} replica(s), but the pools hold ${capacity.pods}`,
      );
    }
  }
  return problems;
};

/**
 * Every PodDisruptionBudget lets at least one pod go at the workload's fewest replicas, or a node
 * drain (an upgrade, Karpenter consolidation or expiry) waits on it forever.
 */
export const disruptionBudgetsLetDrainsFinish: Rule = (cluster) => {
  const problems: string[] = [];
  for (const { source, object: pdb } of cluster.objects) {
    if (pdb.kind !== 'PodDisruptionBudget') continue;
    const selector = pdb.spec?.selector?.matchLabels;
    for (const w of workloads(cluster)) {
      if (w.namespace !== namespaceOf(pdb) || !selects(selector, w.podLabels)) continue;
      const replicas =
        autoscalerOf(cluster, w)?.minReplicas ?? w.applied.object.spec?.replicas ?? 1;
      if (replicas === 0) continue;
      // Kubernetes rounds PDB percentages up, for maxUnavailable and minAvailable alike.
      const count = (value: unknown) => {
        const text = String(value);
        return text.endsWith('%')
          ? Math.ceil((Number(text.slice(0, -1)) * replicas) / 100)
          : Number(text);
      };
      const allowed =
        pdb.spec?.maxUnavailable !== undefined
          ? count(pdb.spec.maxUnavailable)
          : replicas - count(pdb.spec?.minAvailable ?? 0);
      if (allowed < 1) {
        problems.push(
          `${source}: PodDisruptionBudget ${namespaceOf(pdb)}/${pdb.metadata?.name} allows no eviction of ${w.kind} ${w.name} at ${replicas} replica(s): node drains would wait forever`,
        );
      }
    }
  }
  return problems;
};

/** A Deployment an autoscaler owns leaves `replicas` unset, or every deploy resets the count. */
export const autoscaledWorkloadsLeaveReplicasAlone: Rule = (cluster) =>
  workloads(cluster).flatMap((w) => {
    const autoscaler = autoscalerOf(cluster, w);
    if (!autoscaler || w.applied.object.spec?.replicas === undefined) return [];
    return [
      `${w.applied.source}: ${w.kind} ${w.namespace}/${w.name} sets replicas: ${w.applied.object.spec.replicas} although ${autoscaler.kind} ${autoscaler.name} owns its replica count: each deploy would reset what the autoscaler chose`,
    ];
  });
