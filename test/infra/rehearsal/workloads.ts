/**
 * Pods as the scheduler sees them: which workloads make pods, what each pod requests, and which
 * nodes of a pool it may land on (node selector, required node affinity, taints and
 * tolerations), following the kube-scheduler's rules.
 */
import { allocatable, instanceFacts } from '../../../lib/k8s/instance-types.ts';
import { addonDaemonSets, chartDaemonSets } from '../../../lib/k8s/node-daemons.ts';
import { addonDeployments, chartDeployments } from '../../../lib/k8s/system-workloads.ts';
import {
  type Applied,
  type ClusterModel,
  cpuMillicores,
  instanceTypeLabels,
  type K8sObject,
  memoryMiB,
  type Pool,
  type Requirement,
  satisfies,
  type Taint,
} from './cluster.ts';

export interface Workload {
  readonly applied: Applied;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly podSpec: K8sObject;
  readonly podLabels: Readonly<Record<string, string>>;
}

export interface Resources {
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  readonly gpus: number;
}

export const GPU_RESOURCE = 'nvidia.com/gpu';

export function namespaceOf(object: K8sObject): string {
  return object.metadata?.namespace ?? 'default';
}

function podTemplate(object: K8sObject): K8sObject | undefined {
  switch (object.kind) {
    case 'Pod':
      return { metadata: object.metadata, spec: object.spec };
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
      return object.spec?.template;
    case 'CronJob':
      return object.spec?.jobTemplate?.spec?.template;
    default:
      return undefined;
  }
}

/** Every object that makes pods, with its pod template. */
export function workloads(cluster: ClusterModel): Workload[] {
  const found: Workload[] = [];
  for (const applied of cluster.objects) {
    const template = podTemplate(applied.object);
    if (!template?.spec) continue;
    found.push({
      applied,
      kind: applied.object.kind,
      name: applied.object.metadata?.name ?? applied.source,
      namespace: namespaceOf(applied.object),
      podSpec: template.spec,
      podLabels: template.metadata?.labels ?? {},
    });
  }
  return found;
}

function containerRequests(container: K8sObject): Resources {
  const requests = container.resources?.requests ?? {};
  const limits = container.resources?.limits ?? {};
  // A request left out defaults to the limit (for extended resources like GPUs, always).
  const cpu = requests.cpu ?? limits.cpu;
  const memory = requests.memory ?? limits.memory;
  const gpus = requests[GPU_RESOURCE] ?? limits[GPU_RESOURCE];
  return {
    cpuMillicores: cpu === undefined ? 0 : cpuMillicores(cpu),
    memoryMiB: memory === undefined ? 0 : memoryMiB(memory),
    gpus: gpus === undefined ? 0 : Number(gpus),
  };
}

function add(a: Resources, b: Resources): Resources {
  return {
    cpuMillicores: a.cpuMillicores + b.cpuMillicores,
    memoryMiB: a.memoryMiB + b.memoryMiB,
    gpus: a.gpus + b.gpus,
  };
}

function max(a: Resources, b: Resources): Resources {
  return {
    cpuMillicores: Math.max(a.cpuMillicores, b.cpuMillicores),
    memoryMiB: Math.max(a.memoryMiB, b.memoryMiB),
    gpus: Math.max(a.gpus, b.gpus),
  };
}

const NONE: Resources = { cpuMillicores: 0, memoryMiB: 0, gpus: 0 };

/**
 * What the scheduler reserves for one pod: the app containers plus sidecars (init containers
 * with `restartPolicy: Always`), or the largest ordinary init container plus the sidecars started
 * before it, whichever is larger.
 */
export function podRequests(spec: K8sObject): Resources {
  let sidecars = NONE;
  let initPeak = NONE;
  for (const init of spec.initContainers ?? []) {
    const requests = containerRequests(init);
    if (init.restartPolicy === 'Always') sidecars = add(sidecars, requests);
    else initPeak = max(initPeak, add(sidecars, requests));
  }
  const running = (spec.containers ?? []).map(containerRequests).reduce(add, sidecars);
  return max(running, initPeak);
}

/** Label values a node may carry: a list, '*' for any value, absent for no label. */
type NodeLabels = Record<string, readonly string[] | '*'>;

function nodeLabels(pool: Pool, type: string): NodeLabels {
  const labels: NodeLabels = { 'topology.kubernetes.io/zone': '*' };
  if (pool.kind === 'nodegroup') labels['eks.amazonaws.com/nodegroup'] = '*';
  else labels['karpenter.sh/capacity-type'] = '*';
  for (const [key, value] of Object.entries({ ...pool.labels, ...instanceTypeLabels(type) })) {
    labels[key] = [value];
  }
  for (const r of pool.requirements) {
    if (r.operator === 'In') labels[r.key] = r.values ?? [];
    else if (r.operator === 'DoesNotExist') delete labels[r.key];
    else if (!(r.key in labels)) labels[r.key] = '*';
  }
  return labels;
}

function possible(labels: NodeLabels, r: Requirement): boolean {
  const choices = labels[r.key];
  if (choices === undefined) return satisfies(undefined, r);
  if (choices === '*') return r.operator !== 'DoesNotExist';
  return choices.some((value) => satisfies(value, r));
}

/** Requirements of the pod's node selector and required node affinity, as OR-ed terms. */
function nodeTerms(spec: K8sObject): Requirement[][] {
  const selector: Requirement[] = Object.entries<string>(spec.nodeSelector ?? {}).map(
    ([key, value]) => ({ key, operator: 'In', values: [value] }),
  );
  const terms: K8sObject[] =
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  if (terms.length === 0) return [selector];
  return terms.map((t) => [...selector, ...(t.matchExpressions ?? [])]);
}

export function tolerates(tolerations: readonly K8sObject[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return t.key === undefined || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** Why the pod can never land on the pool, or undefined when some node of it would accept it. */
export function placementProblem(spec: K8sObject, pool: Pool): string | undefined {
  const untolerated = pool.taints.filter(
    (t) => t.effect !== 'PreferNoSchedule' && !tolerates(spec.tolerations ?? [], t),
  );
  if (untolerated.length > 0) {
    return `does not tolerate the taint ${untolerated.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`).join(', ')}`;
  }
  if (placeableTypes(spec, pool).length === 0) {
    const wanted = nodeTerms(spec)
      .map((term) =>
        term
          .map((r) => `${r.key} ${r.operator} ${(r.values ?? []).join('|')}`.trim())
          .join(' and '),
      )
      .join(' or ');
    return `no node of it matches the pod's node selector/affinity (${wanted || 'none'}); it offers ${JSON.stringify(pool.labels)}`;
  }
  return undefined;
}

/** Instance types of the pool whose nodes match the pod's node selector and affinity. */
export function placeableTypes(spec: K8sObject, pool: Pool): string[] {
  const terms = nodeTerms(spec);
  return pool.instanceTypes.filter((type) => {
    const labels = nodeLabels(pool, type);
    return terms.some((term) => term.every((r) => possible(labels, r)));
  });
}

/** A DaemonSet pod on every node of a type in a pool, with what it reserves there. */
export interface NodeDaemon {
  /** `namespace/name`. */
  readonly name: string;
  /** The template resource that applies it, or the add-on or chart (and version) that runs it. */
  readonly source: string;
  readonly requests: Resources;
}

/**
 * The DaemonSet pods that would run on every node of `type` in `pool`, each where its own
 * placement (tolerations against the pool's taints, node selector and required affinity against
 * the node's labels) lands it: the templates' DaemonSets, the pinned EKS add-ons' and those of the
 * chart releases in the templates, the last two as lib/k8s/node-daemons.ts records them (chart
 * placement from the release's values over the chart's defaults).
 */
export function nodeDaemons(cluster: ClusterModel, pool: Pool, type: string): NodeDaemon[] {
  const lands = (spec: K8sObject) =>
    placementProblem(spec, pool) === undefined && placeableTypes(spec, pool).includes(type);
  const own = workloads(cluster)
    .filter((w) => w.kind === 'DaemonSet' && lands(w.podSpec))
    .map((w) => ({
      name: `${w.namespace}/${w.name}`,
      source: w.applied.source,
      requests: podRequests(w.podSpec),
    }));
  const outside = [
    ...addonDaemonSets(),
    ...cluster.charts.flatMap((c) => chartDaemonSets(c.chart, c.version, c.values)),
  ]
    .filter((ds) => lands(ds.placement))
    .map((ds) => ({
      name: `${ds.namespace}/${ds.name}`,
      source: ds.source,
      requests: { cpuMillicores: ds.cpuMillicores, memoryMiB: ds.memoryMiB, gpus: 0 },
    }));
  return [...own, ...outside];
}

/** A Deployment outside the templates: an EKS add-on's or a chart release's. */
export interface OutsideDeployment {
  /** `namespace/name`. */
  readonly name: string;
  /** The add-on or chart (and version) that runs it. */
  readonly source: string;
  readonly replicas: number;
  /** What one pod reserves. */
  readonly requests: Resources;
  /** Its pod's placement fields (nodeSelector, tolerations, required node affinity). */
  readonly podSpec: K8sObject;
  /** Its replicas need distinct nodes (required podAntiAffinity on kubernetes.io/hostname). */
  readonly distinctNodes: boolean;
}

/**
 * The Deployments the pinned EKS add-ons and the chart releases in the templates run, as
 * lib/k8s/system-workloads.ts records them (a release's values over the chart's defaults, as for
 * its DaemonSets).
 */
export function outsideDeployments(cluster: ClusterModel): OutsideDeployment[] {
  return [
    ...addonDeployments(),
    ...cluster.charts.flatMap((c) => chartDeployments(c.chart, c.version, c.values, c.namespace)),
  ].map((d) => ({
    name: `${d.namespace}/${d.name}`,
    source: d.source,
    replicas: d.replicas,
    requests: { cpuMillicores: d.cpuMillicores, memoryMiB: d.memoryMiB, gpus: 0 },
    podSpec: d.placement,
    distinctNodes: d.distinctNodes,
  }));
}

/** Whether a pod may land on `pool` and on no other pool of the cluster. */
export function onlyOn(cluster: ClusterModel, spec: K8sObject, pool: Pool): boolean {
  return (
    placementProblem(spec, pool) === undefined &&
    cluster.pools.every((other) => other === pool || placementProblem(spec, other) !== undefined)
  );
}

/** What the DaemonSets on every node of `type` in `pool` request together. */
export function daemonSetOverhead(cluster: ClusterModel, pool: Pool, type: string): Resources {
  return nodeDaemons(cluster, pool, type)
    .map((d) => d.requests)
    .reduce(add, NONE);
}

/** Allocatable of one node of `type` in `pool`, less what its DaemonSets request. */
export function freeOnNode(cluster: ClusterModel, pool: Pool, type: string): Resources {
  const node = allocatable(type);
  const daemons = daemonSetOverhead(cluster, pool, type);
  return {
    cpuMillicores: node.cpuMillicores - daemons.cpuMillicores,
    memoryMiB: node.memoryMiB - daemons.memoryMiB,
    gpus: node.gpus - daemons.gpus,
  };
}

/** `allocatable less DaemonSets (each)` of a node, for messages. */
export function nodeBudget(cluster: ClusterModel, pool: Pool, type: string): string {
  const node = allocatable(type);
  const daemons = nodeDaemons(cluster, pool, type);
  const total = daemons.map((d) => d.requests).reduce(add, NONE);
  const each = daemons
    .filter((d) => d.requests.cpuMillicores > 0 || d.requests.memoryMiB > 0)
    .map((d) => `${d.name} ${d.requests.cpuMillicores}m/${d.requests.memoryMiB}Mi`);
  return `allocatable ${node.cpuMillicores}m/${node.memoryMiB}Mi less DaemonSets ${total.cpuMillicores}m/${total.memoryMiB}Mi: ${each.join(', ') || 'none'}`;
}

/** Why a pod with `requests` does not fit `free`, or undefined when it does. */
export function shortfall(requests: Resources, free: Resources): string | undefined {
  const short: string[] = [];
  if (requests.cpuMillicores > free.cpuMillicores) {
    short.push(`cpu ${requests.cpuMillicores}m > ${free.cpuMillicores}m`);
  }
  if (requests.memoryMiB > free.memoryMiB) {
    short.push(`memory ${requests.memoryMiB}Mi > ${free.memoryMiB}Mi`);
  }
  if (requests.gpus > free.gpus) short.push(`${GPU_RESOURCE} ${requests.gpus} > ${free.gpus}`);
  return short.length > 0 ? short.join(', ') : undefined;
}

/** How many pods with `requests` one node with `free` holds. */
export function podsPerNode(requests: Resources, free: Resources): number {
  const bound = (want: number, have: number) =>
    want > 0 ? Math.floor(have / want) : Number.POSITIVE_INFINITY;
  return Math.min(
    bound(requests.cpuMillicores, free.cpuMillicores),
    bound(requests.memoryMiB, free.memoryMiB),
    bound(requests.gpus, free.gpus),
  );
}

/**
 * Nodes of `type` a pool may launch: a node group's maxSize, or as many as a NodePool's limits
 * allow (Karpenter stops launching once the next node would exceed any of them).
 */
export function maxNodesOfType(pool: Pool, type: string): number {
  if (pool.kind === 'nodegroup') return pool.maxNodes;
  // Limits count node capacity, not allocatable.
  const node = instanceFacts(type);
  const facts = { cpu: node.vcpus * 1000, memory: node.memoryMiB, gpus: node.gpus };
  const limits = pool.limits ?? {};
  const bounds = [
    limits.cpuMillicores === undefined
      ? Number.POSITIVE_INFINITY
      : limits.cpuMillicores / facts.cpu,
    limits.memoryMiB === undefined ? Number.POSITIVE_INFINITY : limits.memoryMiB / facts.memory,
    limits.gpus === undefined || facts.gpus === 0
      ? Number.POSITIVE_INFINITY
      : limits.gpus / facts.gpus,
  ];
  return Math.floor(Math.min(pool.maxNodes, ...bounds));
}

export interface Autoscaler {
  readonly kind: string;
  readonly name: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

/** The HPA or KEDA ScaledObject that owns the Deployment's replica count, if any. */
export function autoscalerOf(cluster: ClusterModel, w: Workload): Autoscaler | undefined {
  for (const { object } of cluster.objects) {
    if (namespaceOf(object) !== w.namespace) continue;
    const target = object.spec?.scaleTargetRef ?? {};
    if (target.name !== w.name) continue;
    if (object.kind === 'HorizontalPodAutoscaler' && target.kind === w.kind) {
      return {
        kind: object.kind,
        name: object.metadata?.name,
        minReplicas: object.spec.minReplicas ?? 1,
        maxReplicas: object.spec.maxReplicas,
      };
    }
    if (object.kind === 'ScaledObject' && (target.kind ?? 'Deployment') === w.kind) {
      // KEDA's documented defaults: minReplicaCount 0, maxReplicaCount 100.
      return {
        kind: object.kind,
        name: object.metadata?.name,
        minReplicas: object.spec.minReplicaCount ?? 0,
        maxReplicas: object.spec.maxReplicaCount ?? 100,
      };
    }
  }
  return undefined;
}

/** Whether a non-empty label selector matches the labels. */
export function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
