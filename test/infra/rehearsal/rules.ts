/**
 * The deploy rehearsal: checks of what a stage's templates ask a cluster to do that a real
 * cluster would reject or never finish. Each rule takes the cluster model and returns problems
 * (empty when a cluster would go along), each naming the object, what is wrong and the numbers.
 */
import { INSTANCE_TYPES } from '../../../lib/k8s/instance-types.ts';
import { SESSION_MANAGER, TRITON } from '../../../lib/k8s/versions.ts';
import { ConfigError, loadServerConfig } from '../../../services/session-manager/src/config.ts';
import type { ChartRelease, ClusterModel, K8sObject, Pool } from './cluster.ts';
import { schemaProblems } from './schemas.ts';
import {
  freeOnNode,
  GPU_RESOURCE,
  maxNodesOfType,
  namespaceOf,
  placeableTypes,
  placementProblem,
  podRequests,
  podsPerNode,
  shortfall,
  type Workload,
  workloads,
} from './workloads.ts';

export type Rule = (cluster: ClusterModel) => string[];

/** Every applied object, and the scheduling fields of every chart's values, pass their schema. */
export const objectsMatchTheirSchemas: Rule = (cluster) => {
  const problems = cluster.objects.flatMap((a) =>
    schemaProblems(a.object).map((p) => `${a.source}: ${p}`),
  );
  for (const chart of cluster.charts) {
    // Charts are not rendered here; the pod placement values most charts take at the top level
    // are checked as the PodSpec fields they end up in. (Resources sit at chart-specific paths.)
    const { nodeSelector, tolerations, affinity } = chart.values;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: chart.release },
      spec: {
        containers: [{ name: chart.release }],
        ...(nodeSelector !== undefined && { nodeSelector }),
        ...(tolerations !== undefined && { tolerations }),
        ...(affinity !== undefined && { affinity }),
      },
    };
    for (const p of schemaProblems(pod)) {
      problems.push(`${chart.source} (chart ${chart.chart} values): ${p}`);
    }
  }
  return problems;
};

/**
 * Pod placement a chart applies when its values leave it out, read from the chart's values.yaml
 * at the version named: charts are not rendered here, so their defaults are kept by hand.
 */
export const CHART_PLACEMENT_DEFAULTS: Readonly<
  Record<string, { version: string; placement: K8sObject }>
> = {
  // NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/values.yaml at v0.18.2.
  'nvidia-device-plugin': {
    version: '0.18.2',
    placement: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  {
                    key: 'feature.node.kubernetes.io/pci-10de.present',
                    operator: 'In',
                    values: ['true'],
                  },
                ],
              },
              {
                matchExpressions: [
                  {
                    key: 'feature.node.kubernetes.io/cpu-model.vendor_id',
                    operator: 'In',
                    values: ['NVIDIA'],
                  },
                ],
              },
              {
                matchExpressions: [
                  { key: 'nvidia.com/gpu.present', operator: 'In', values: ['true'] },
                ],
              },
            ],
          },
        },
      },
      tolerations: [
        { key: 'CriticalAddonsOnly', operator: 'Exists' },
        { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      ],
    },
  },
};

/** Charts whose DaemonSet makes a node advertise `nvidia.com/gpu`. */
const DEVICE_PLUGIN_CHARTS = new Set(['nvidia-device-plugin', 'gpu-operator']);

/** Where a chart's pods may go: its values, else the chart's defaults. */
function chartPlacement(chart: ChartRelease): { spec: K8sObject; problem?: string } {
  const defaults = CHART_PLACEMENT_DEFAULTS[chart.chart];
  const spec: K8sObject = {};
  for (const key of ['nodeSelector', 'tolerations', 'affinity']) {
    const value = chart.values[key] ?? defaults?.placement[key];
    if (value !== undefined) spec[key] = value;
  }
  if (defaults && chart.version !== defaults.version) {
    return {
      spec,
      problem: `${chart.source}: chart ${chart.chart} is at ${chart.version}, but CHART_PLACEMENT_DEFAULTS in test/infra/rehearsal/rules.ts was read from ${defaults.version}: read its values.yaml again`,
    };
  }
  return { spec };
}

function placementReport(spec: K8sObject, pools: readonly Pool[]): string {
  return pools
    .map((pool) => `${pool.name} ${placementProblem(spec, pool) ?? 'accepts it'}`)
    .join('; ');
}

/**
 * Every pod fits one node of a pool it may be scheduled on: selectors, affinity, taints, and its
 * requests against the node's allocatable less the DaemonSets that run there. DaemonSets
 * themselves are not packed. Chart pods are checked for placement only (their requests come from
 * the chart's defaults, which are not rendered here).
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
        else
          misses.push(
            `${type} in ${pool.name}: ${short ?? `no such node can exist (${pool.size})`}`,
          );
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

interface Autoscaler {
  readonly kind: string;
  readonly name: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

/** The HPA or KEDA ScaledObject that owns the Deployment's replica count, if any. */
function autoscalerOf(cluster: ClusterModel, w: Workload): Autoscaler | undefined {
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

/** Extra pods (surge) and missing pods (unavailable) a RollingUpdate allows at `replicas`. */
function rollingUpdate(
  deployment: K8sObject,
  replicas: number,
): { surge: number; unavailable: number } {
  const strategy = deployment.spec?.strategy ?? {};
  if (strategy.type === 'Recreate') return { surge: 0, unavailable: replicas };
  const rolling = strategy.rollingUpdate ?? {};
  const resolve = (value: unknown, round: (n: number) => number) => {
    const text = String(value);
    return text.endsWith('%') ? round((Number(text.slice(0, -1)) * replicas) / 100) : Number(text);
  };
  // Kubernetes rounds a percentage surge up and a percentage unavailability down.
  return {
    surge: resolve(rolling.maxSurge ?? '25%', Math.ceil),
    unavailable: resolve(rolling.maxUnavailable ?? '25%', Math.floor),
  };
}

/** How many pods like this the pools that accept it can ever hold at once. */
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
    const chosen = perType.reduce((a, b) =>
      pool.kind === 'nodegroup'
        ? a.nodes * a.each <= b.nodes * b.each
          ? a
          : b
        : a.nodes * a.each >= b.nodes * b.each
          ? a
          : b,
    );
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
    const { surge, unavailable } = rollingUpdate(deployment, replicas);
    if (surge === 0 && unavailable === 0) {
      problems.push(
        `${what}: maxSurge and maxUnavailable are both 0, which Kubernetes refuses (a rollout could never start)`,
      );
      continue;
    }
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
    // The most the pool could offer: its largest type at the most nodes it may have.
    const offers = pool.instanceTypes.map((type) => {
      const free = freeOnNode(cluster, pool, type);
      const nodes = maxNodesOfType(pool, type);
      return {
        type,
        nodes,
        cpu: nodes * free.cpuMillicores,
        memory: nodes * free.memoryMiB,
        gpus: nodes * free.gpus,
      };
    });
    const best = offers.reduce((a, b) => (a.cpu + a.memory >= b.cpu + b.memory ? a : b));
    if (cpu > best.cpu || memory > best.memory || gpus > best.gpus) {
      problems.push(
        `pool ${pool.name}: at their autoscalers' maximum its pods request ${cpu}m CPU, ${memory}Mi and ${gpus} GPU(s) (${parts.join(', ')}), but ${best.nodes} x ${best.type} allocate ${best.cpu}m, ${best.memory}Mi and ${best.gpus} GPU(s) (${pool.size}): the last replicas would stay Pending`,
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

const BUILT_IN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'PriorityClass',
  'PersistentVolume',
  'CustomResourceDefinition',
  'NodePool',
  'EC2NodeClass',
  'ClusterTriggerAuthentication',
]);

function portsOf(podSpec: K8sObject): K8sObject[] {
  return (podSpec.containers ?? []).flatMap((c: K8sObject) => c.ports ?? []);
}

function declares(ports: readonly K8sObject[], port: unknown): boolean {
  return ports.some((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port));
}

function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/**
 * Every reference points at something that exists, on a port a container declares: namespaces,
 * service accounts, Service selectors and target ports, TargetGroupBinding service and port,
 * probe ports, PDB selectors, HPA/ScaledObject targets, KEDA authentication, NodePool classes.
 */
export const referencesResolve: Rule = (cluster) => {
  const problems: string[] = [];
  const all = cluster.objects.map((a) => a.object);
  const named = (kind: string, namespace: string | undefined, name: unknown) =>
    all.find(
      (o) =>
        o.kind === kind &&
        o.metadata?.name === name &&
        (namespace === undefined || namespaceOf(o) === namespace),
    );
  const pods = workloads(cluster);
  const namespaces = new Set([
    ...BUILT_IN_NAMESPACES,
    ...all.filter((o) => o.kind === 'Namespace').map((o) => o.metadata?.name),
    ...cluster.charts.map((c) => c.namespace),
  ]);

  for (const { source, object: o } of cluster.objects) {
    const what = `${source}: ${o.kind} ${namespaceOf(o)}/${o.metadata?.name}`;
    const ns = namespaceOf(o);
    if (!CLUSTER_SCOPED.has(o.kind) && !namespaces.has(ns)) {
      problems.push(`${what}: namespace ${ns} is never created`);
    }
    if (o.kind === 'Service' && o.spec?.selector) {
      const targets = pods.filter(
        (w) => w.namespace === ns && selects(o.spec.selector, w.podLabels),
      );
      if (targets.length === 0) {
        problems.push(
          `${what}: selector ${JSON.stringify(o.spec.selector)} matches no workload's pods`,
        );
      }
      for (const port of o.spec.ports ?? []) {
        const target = port.targetPort ?? port.port;
        for (const w of targets) {
          if (!declares(portsOf(w.podSpec), target)) {
            problems.push(
              `${what}: port ${port.name ?? port.port} targets ${JSON.stringify(target)}, which no container of ${w.kind} ${w.name} declares`,
            );
          }
        }
      }
    }
    if (o.kind === 'TargetGroupBinding') {
      const ref = o.spec?.serviceRef ?? {};
      const service = named('Service', ns, ref.name);
      if (!service)
        problems.push(`${what}: serviceRef names Service ${ref.name}, which is not applied`);
      else if (
        !(service.spec?.ports ?? []).some(
          (p: K8sObject) => p.port === ref.port || p.name === ref.port,
        )
      ) {
        problems.push(
          `${what}: serviceRef port ${JSON.stringify(ref.port)} is not a port of Service ${ref.name}`,
        );
      }
    }
    if (o.kind === 'PodDisruptionBudget') {
      const selector = o.spec?.selector?.matchLabels;
      if (!pods.some((w) => w.namespace === ns && selects(selector, w.podLabels))) {
        problems.push(`${what}: selector ${JSON.stringify(selector)} matches no workload's pods`);
      }
    }
    if (o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject') {
      const ref = o.spec?.scaleTargetRef ?? {};
      const kind = ref.kind ?? 'Deployment';
      if (!named(kind, ns, ref.name)) {
        problems.push(`${what}: scaleTargetRef names ${kind} ${ref.name}, which is not applied`);
      }
    }
    if (o.kind === 'ScaledObject') {
      for (const trigger of o.spec?.triggers ?? []) {
        const auth = trigger.authenticationRef;
        if (!auth) continue;
        const kind = auth.kind ?? 'TriggerAuthentication';
        if (!named(kind, kind === 'TriggerAuthentication' ? ns : undefined, auth.name)) {
          problems.push(
            `${what}: trigger ${trigger.type} uses ${kind} ${auth.name}, which is not applied`,
          );
        }
      }
    }
    if (o.kind === 'NodePool') {
      const ref = o.spec?.template?.spec?.nodeClassRef ?? {};
      if (!named(ref.kind, undefined, ref.name)) {
        problems.push(`${what}: nodeClassRef names ${ref.kind} ${ref.name}, which is not applied`);
      }
    }
  }

  for (const w of pods) {
    const what = `${w.applied.source}: ${w.kind} ${w.namespace}/${w.name}`;
    const account = w.podSpec.serviceAccountName;
    if (account && account !== 'default' && !named('ServiceAccount', w.namespace, account)) {
      problems.push(
        `${what}: serviceAccountName ${account} is not applied, so its pods are refused`,
      );
    }
    for (const c of [...(w.podSpec.initContainers ?? []), ...(w.podSpec.containers ?? [])]) {
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const p = c[probe];
        const port = p?.httpGet?.port ?? p?.tcpSocket?.port ?? p?.grpc?.port;
        if (port !== undefined && !declares(c.ports ?? [], port)) {
          problems.push(
            `${what}: container ${c.name} ${probe} uses port ${JSON.stringify(port)}, which the container does not declare`,
          );
        }
      }
    }
  }
  return problems;
};

/** A pod's environment as the process sees it; values from elsewhere become placeholders. */
function environmentOf(
  cluster: ClusterModel,
  namespace: string,
  container: K8sObject,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const map = source.configMapRef
      ? cluster.objects.find(
          (a) =>
            a.object.kind === 'ConfigMap' &&
            a.object.metadata?.name === source.configMapRef.name &&
            namespaceOf(a.object) === namespace,
        )?.object
      : undefined;
    for (const [key, value] of Object.entries<string>(map?.data ?? {}))
      env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const e of container.env ?? []) {
    // A value from a Secret or field is present at runtime; its content cannot be known here.
    env[e.name] = e.value ?? (e.valueFrom ? 'value-from-elsewhere' : '');
  }
  return env;
}

function deploymentNamed(cluster: ClusterModel, name: string): Workload | undefined {
  return workloads(cluster).find((w) => w.kind === 'Deployment' && w.name === name);
}

/**
 * Every environment variable the session manager and Triton need at startup is set. For the
 * session manager the check is its own startup code: the Deployment's environment goes through
 * `loadServerConfig`, which throws on a missing or malformed variable exactly as the pod would.
 * For Triton: the model repository argument, and an AWS region when that repository is on S3.
 */
export const startupEnvironmentIsSet: Rule = (cluster) => {
  const problems: string[] = [];
  const sessionManager = deploymentNamed(cluster, SESSION_MANAGER.name);
  if (!sessionManager) {
    problems.push(`no Deployment ${SESSION_MANAGER.name} is applied`);
  } else {
    const containers: K8sObject[] = sessionManager.podSpec.containers ?? [];
    const container =
      containers.find((c) => c.name === SESSION_MANAGER.name) ?? containers[0] ?? {};
    try {
      loadServerConfig(environmentOf(cluster, sessionManager.namespace, container));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(
        `${sessionManager.applied.source}: Deployment ${SESSION_MANAGER.name} would exit at startup: ${error.message}`,
      );
    }
  }

  const triton = deploymentNamed(cluster, TRITON.name);
  if (!triton) {
    problems.push(`no Deployment ${TRITON.name} is applied`);
    return problems;
  }
  const what = `${triton.applied.source}: Deployment ${TRITON.name}`;
  const containers: K8sObject[] = triton.podSpec.containers ?? [];
  const server = containers.find((c) =>
    [c.image, ...(c.command ?? []), ...(c.args ?? [])].some((s) => /tritonserver/.test(String(s))),
  );
  if (!server) {
    problems.push(`${what}: no container runs tritonserver`);
    return problems;
  }
  const commandLine = [...(server.command ?? []), ...(server.args ?? [])].join(' ');
  const repository = /--model-repository(?:=|\s+)(\S+)/.exec(commandLine)?.[1];
  if (!repository) {
    problems.push(`${what}: tritonserver is started without --model-repository, so it exits`);
  }
  const env = environmentOf(cluster, triton.namespace, server);
  if (repository?.startsWith('s3://') && !env.AWS_REGION && !env.AWS_DEFAULT_REGION) {
    problems.push(
      `${what}: the model repository is on S3 (${repository}) but neither AWS_REGION nor AWS_DEFAULT_REGION is set`,
    );
  }
  return problems;
};

/** All rules, by the name the stage suite reports them under. */
export const RULES: Readonly<Record<string, Rule>> = {
  'objects match their schemas': objectsMatchTheirSchemas,
  'every pod fits a node of a pool it may run on': podsFitANode,
  'GPU rollouts finish with the nodes that will exist': gpuRolloutsFinish,
  'pools hold their pods at the autoscalers maximum': poolsHoldTheirPodsAtMaximum,
  'autoscaled workloads leave replicas to the autoscaler': autoscaledWorkloadsLeaveReplicasAlone,
  'disruption budgets let node drains finish': disruptionBudgetsLetDrainsFinish,
  'references point at objects and declared ports': referencesResolve,
  'startup environment is set': startupEnvironmentIsSet,
};
