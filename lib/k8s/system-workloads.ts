/**
 * Deployments that land on the nodes without being in the templates: those the EKS managed add-ons
 * (CoreDNS, metrics-server, the CloudWatch agent operator) and the Helm charts this app installs
 * (the AWS Load Balancer Controller, Karpenter, KEDA) run. The sibling of lib/k8s/node-daemons.ts,
 * which records their DaemonSets: a DaemonSet costs every node it lands on, a Deployment costs its
 * replicas once, wherever the scheduler packs them, so the two are counted differently and kept
 * apart. Read by the deploy rehearsal (test/infra/rehearsal: podsFitANode and
 * poolsHoldTheirPodsAtMaximum) and the "Node fit" section of docs/operations.md
 * (`npx tsx scripts/node-fit.ts`).
 *
 * Each row holds the chart's default values the Deployment templates read (replicas, requests,
 * node selector, tolerations, affinity, topology spread), copied from values.yaml at the version
 * read, and the value paths each template takes them from, so a release's values are applied as
 * Helm applies them: maps merged key by key, lists and scalars replaced. EKS add-ons are counted
 * at their defaults (their configurationValues are not in the rehearsal's model;
 * test/infra/node-fit.test.ts checks the app's configurationValues touch none of these keys).
 * A pinned version (lib/k8s/versions.ts) with no row here fails test/infra/node-fit.test.ts and
 * the rehearsal: read the chart or manifest at that version again.
 */
import {
  type ChartValues,
  type ContainerRequests,
  cpuQuantity,
  type FactsProvenance,
  memoryQuantity,
  type NodeRequirement,
  type Placement,
  podReservation,
  type Toleration,
} from './node-daemons.ts';
import { ALB_CONTROLLER_VERSION, EKS_ADDON_VERSIONS, KARPENTER, KEDA } from './versions.ts';

/**
 * A values path ('controller.resources'), or several: the first whose value is not empty (the
 * template's `default`, or its `if .Values.a` / `else .Values.b`).
 */
export type ValuePath = string | readonly string[];

/** Where one Deployment template reads what the scheduler sees. */
export interface DeploymentTemplate {
  readonly name: string;
  /** Fixed by the add-on; a chart's Deployments go to the release's namespace. */
  readonly namespace?: string;
  readonly replicas: ValuePath;
  /** Each container and the values path of its `resources`. */
  readonly containers: readonly {
    readonly name: string;
    readonly init?: boolean;
    readonly resources: ValuePath;
  }[];
  readonly nodeSelector?: ValuePath;
  readonly tolerations?: ValuePath;
  readonly affinity?: ValuePath;
  readonly topologySpreadConstraints?: ValuePath;
}

export interface SystemWorkloadFacts extends FactsProvenance {
  /** The default values the templates below read, as values.yaml (or the add-on) has them. */
  readonly defaults: ChartValues;
  readonly deployments: readonly DeploymentTemplate[];
}

const LINUX_AMD64_ARM64: NodeRequirement[] = [
  { key: 'kubernetes.io/os', operator: 'In', values: ['linux'] },
  { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] },
];

const CRITICAL_ADDONS_ONLY: Toleration = { key: 'CriticalAddonsOnly', operator: 'Exists' };

const zoneSpread = (whenUnsatisfiable: 'ScheduleAnyway' | 'DoNotSchedule', labels?: object) => ({
  maxSkew: 1,
  topologyKey: 'topology.kubernetes.io/zone',
  whenUnsatisfiable,
  ...(labels && { labelSelector: { matchLabels: labels } }),
});

const preferOtherHosts = (matchExpressions: object[]) => ({
  podAntiAffinity: {
    preferredDuringSchedulingIgnoredDuringExecution: [
      {
        weight: 100,
        podAffinityTerm: {
          labelSelector: { matchExpressions },
          topologyKey: 'kubernetes.io/hostname',
        },
      },
    ],
  },
});

/** Every source of Deployments outside the templates, newest version of each source last. */
export const SYSTEM_WORKLOAD_FACTS: readonly SystemWorkloadFacts[] = [
  {
    kind: 'eks-addon',
    name: 'coredns',
    versions: ['v1.13.2-eksbuild.*'],
    evidence: 'best-public-source',
    readFrom: [
      {
        repo: 'eksctl-io/eksctl',
        path: 'pkg/addons/default/assets/coredns-1.35.json (the CoreDNS Deployment eksctl installs for Kubernetes 1.35, image eks/coredns:v1.13.2-eksbuild.3)',
        ref: 'main',
        commit: 'f9f5f6837503be676bb12d45cd4071afe91f346a',
      },
      {
        repo: 'awsdocs/amazon-eks-user-guide',
        path: 'latest/ug/networking/eks-networking-add-ons.adoc (the add-on default topologySpreadConstraints, "replicaCount" in the configuration schema)',
        ref: 'mainline',
        commit: '4d52b4d05e3478582e7d10a73cbd9ba9194dd5f7',
      },
    ],
    note: "AWS publishes no manifest of the CoreDNS add-on; eksctl's asset is the EKS Deployment of the same upstream version (1.13.2, build 3 where the pin is build 1), which eksctl updates by image tag only. 2 replicas of 100m/70Mi (limit 170Mi); tolerations CriticalAddonsOnly and node-role.kubernetes.io/control-plane:NoSchedule only, so never on the GPU nodes (nvidia.com/gpu:NoSchedule); required node affinity Linux amd64/arm64; anti-affinity on kubernetes.io/hostname only preferred and zone spread ScheduleAnyway, so both replicas may share a node. The app passes no configurationValues (replicaCount, resources, tolerations, affinity, nodeSelector, topologySpreadConstraints keep these defaults).",
    defaults: {
      replicaCount: 2,
      resources: { requests: { cpu: '100m', memory: '70Mi' }, limits: { memory: '170Mi' } },
      tolerations: [
        { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
        CRITICAL_ADDONS_ONLY,
      ],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: LINUX_AMD64_ARM64 }],
          },
        },
        ...preferOtherHosts([{ key: 'k8s-app', operator: 'In', values: ['kube-dns'] }]),
      },
      topologySpreadConstraints: [zoneSpread('ScheduleAnyway', { 'k8s-app': 'kube-dns' })],
    },
    deployments: [
      {
        name: 'coredns',
        namespace: 'kube-system',
        replicas: 'replicaCount',
        containers: [{ name: 'coredns', resources: 'resources' }],
        nodeSelector: 'nodeSelector',
        tolerations: 'tolerations',
        affinity: 'affinity',
        topologySpreadConstraints: 'topologySpreadConstraints',
      },
    ],
  },
  {
    kind: 'eks-addon',
    name: 'metrics-server',
    versions: ['v0.8.1-eksbuild.*'],
    evidence: 'best-public-source',
    readFrom: [
      {
        repo: 'kubernetes-sigs/metrics-server',
        path: 'charts/metrics-server/values.yaml, charts/metrics-server/templates/deployment.yaml (chart 3.13.1, app 0.8.1)',
        ref: 'metrics-server-helm-chart-3.13.1',
        commit: '842dcc8c42f22cc19f10c7d5f2d32a9f4b6013b0',
      },
    ],
    note: 'A community add-on: AWS builds it from the upstream chart and publishes neither its manifest nor its values. The chart at the same app version gives requests 100m/200Mi and one container (addonResizer off). Where the add-on departs from the chart, what public sources show of it: 2 replicas (an AWS re:Post article on the community add-on, "by default comes with 2 replicas"; public 1.35 cost notes count "pod 2"), toleration CriticalAddonsOnly only and zone spread ScheduleAnyway (a public `kubectl describe pod` of the add-on\'s v0.8.0-eksbuild.3 pod: requests 100m/200Mi, limit 400Mi, no node selector). Any anti-affinity it sets is not published; if it were required on kubernetes.io/hostname, its 2 replicas would need 2 nodes, which every stage here has. Not on the GPU nodes: it does not tolerate nvidia.com/gpu. The app passes no configurationValues.',
    defaults: {
      replicas: 2,
      resources: { requests: { cpu: '100m', memory: '200Mi' }, limits: { memory: '400Mi' } },
      tolerations: [CRITICAL_ADDONS_ONLY],
      topologySpreadConstraints: [zoneSpread('ScheduleAnyway')],
    },
    deployments: [
      {
        name: 'metrics-server',
        namespace: 'kube-system',
        replicas: 'replicas',
        containers: [{ name: 'metrics-server', resources: 'resources' }],
        nodeSelector: 'nodeSelector',
        tolerations: 'tolerations',
        affinity: 'affinity',
        topologySpreadConstraints: 'topologySpreadConstraints',
      },
    ],
  },
  {
    kind: 'eks-addon',
    name: 'amazon-cloudwatch-observability',
    versions: ['v5.4.0-eksbuild.*'],
    evidence: 'exact',
    readFrom: [
      {
        repo: 'aws-observability/helm-charts',
        path: 'charts/amazon-cloudwatch-observability/values.yaml, templates/operator-deployment.yaml, templates/_helpers.tpl (common.tolerations)',
        ref: 'amazon-cloudwatch-observability-5.4.0',
        commit: '79a7fa03b8423c65a52cff7f8a09f8e4ff616231',
      },
    ],
    note: "The operator (controller-manager) is the chart's only Deployment: replicaCount 1, manager.resources 100m/64Mi, manager.nodeSelector kubernetes.io/os: linux, no affinity. manager.tolerations is [], which the chart's common.tolerations helper takes over the root tolerations ([{operator: Exists}], which only a null manager.tolerations would give it), so it never lands on the tainted GPU nodes. The agent runs as a DaemonSet (agent.mode daemonset; lib/k8s/node-daemons.ts) and the target allocator is off. The app's configurationValues set agent.config and containerLogs.enabled only.",
    defaults: {
      replicaCount: 1,
      manager: {
        resources: { requests: { cpu: '100m', memory: '64Mi' } },
        tolerations: [],
        affinity: {},
        nodeSelector: { 'kubernetes.io/os': 'linux' },
      },
    },
    deployments: [
      {
        name: 'amazon-cloudwatch-observability-controller-manager',
        namespace: 'amazon-cloudwatch',
        replicas: 'replicaCount',
        containers: [{ name: 'manager', resources: 'manager.resources' }],
        nodeSelector: 'manager.nodeSelector',
        tolerations: 'manager.tolerations',
        affinity: 'manager.affinity',
      },
    ],
  },
  {
    kind: 'helm-chart',
    name: 'aws-load-balancer-controller',
    versions: ['1.17.1'],
    evidence: 'exact',
    readFrom: [
      {
        repo: 'aws/eks-charts',
        path: 'stable/aws-load-balancer-controller/values.yaml, templates/deployment.yaml ("aws-load-balancer-controller: v2.17.1 (#1292)", Chart.yaml version 1.17.1)',
        ref: 'master',
        commit: '9639b8b69c99164b1f09af63427f8046b0634f35',
      },
      {
        repo: 'kubernetes-sigs/aws-load-balancer-controller',
        path: 'helm/aws-load-balancer-controller/values.yaml, templates/deployment.yaml (identical to the eks-charts copy)',
        ref: 'v2.17.1',
        commit: '3b9bdb1e3fb2ccd7190f32c665062ff2b5792543',
      },
    ],
    note: "aws-cdk-lib's albController (ALB_CONTROLLER_VERSION, aws-cdk-lib 2.276.0: AlbControllerVersion.V2_17_1 installs chart 1.17.1 from https://aws.github.io/eks-charts) sets clusterName, serviceAccount, region, vpcId and image only. replicaCount 2 (autoscaling.enabled false), resources {}: the controller requests nothing, so it takes no CPU or memory from the scheduler's count (only a pod slot). No node selector or tolerations, so only untainted nodes; configureDefaultAffinity gives a preferred anti-affinity on kubernetes.io/hostname, not a required one.",
    defaults: {
      replicaCount: 2,
      resources: {},
      nodeSelector: {},
      tolerations: [],
      affinity: {},
      topologySpreadConstraints: [],
    },
    deployments: [
      {
        name: 'aws-load-balancer-controller',
        replicas: 'replicaCount',
        containers: [{ name: 'aws-load-balancer-controller', resources: 'resources' }],
        nodeSelector: 'nodeSelector',
        tolerations: 'tolerations',
        affinity: 'affinity',
        topologySpreadConstraints: 'topologySpreadConstraints',
      },
    ],
  },
  {
    kind: 'helm-chart',
    name: 'karpenter',
    versions: ['1.14.1'],
    evidence: 'exact',
    readFrom: [
      {
        repo: 'aws/karpenter-provider-aws',
        path: 'charts/karpenter/values.yaml, templates/deployment.yaml, templates/_helpers.tpl (patchAffinity); Chart.yaml at the tag still says 1.13.0, hack/release/common.sh stamps 1.14.1 when packaging',
        ref: 'v1.14.1',
        commit: 'bde00654cd316fddb3dccfba3f5ac07039865429',
      },
    ],
    note: "replicas 2; controller.resources {} in the chart, which karpenterValues (lib/k8s/karpenter.ts) sets to requests 250m/512Mi. nodeSelector kubernetes.io/os: linux, merged with the app's axon.ai/pool: system. Tolerations CriticalAddonsOnly only. Required node affinity karpenter.sh/nodepool DoesNotExist (never on nodes Karpenter launches) and a required podAntiAffinity on kubernetes.io/hostname, whose label selector the chart fills with the controller's own pod labels: the 2 replicas need 2 distinct nodes. topologySpreadConstraints zone maxSkew 1 DoNotSchedule. No init or sidecar containers by default. priorityClassName system-cluster-critical.",
    defaults: {
      replicas: 2,
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'karpenter.sh/nodepool', operator: 'DoesNotExist' }] },
            ],
          },
        },
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { topologyKey: 'kubernetes.io/hostname' },
          ],
        },
      },
      topologySpreadConstraints: [zoneSpread('DoNotSchedule')],
      tolerations: [CRITICAL_ADDONS_ONLY],
      controller: { resources: {} },
    },
    deployments: [
      {
        name: 'karpenter',
        replicas: 'replicas',
        containers: [{ name: 'controller', resources: 'controller.resources' }],
        nodeSelector: 'nodeSelector',
        tolerations: 'tolerations',
        affinity: 'affinity',
        topologySpreadConstraints: 'topologySpreadConstraints',
      },
    ],
  },
  {
    kind: 'helm-chart',
    name: 'keda',
    versions: ['2.20.2'],
    evidence: 'exact',
    readFrom: [
      {
        repo: 'kedacore/charts',
        path: 'keda/values.yaml, keda/templates/{manager,metrics-server,webhooks}/deployment.yaml',
        ref: 'v2.20.2',
        commit: 'cbb9bb8ce0809dc9048f72302f7c09765d66ed56',
      },
    ],
    note: "Three Deployments of 1 replica each (operator.replicaCount, metricsServer.replicaCount, webhooks.replicaCount; metricsServer and webhooks enabled). Each takes resources.<component> when set, else the whole resources value; the chart defaults are 100m/100Mi, which kedaValues (lib/k8s/metrics.ts) sets to 100m/128Mi, 100m/128Mi and 50m/64Mi. nodeSelector, tolerations and affinity are the component's value `default` the root one: the app's root nodeSelector axon.ai/pool: system, no tolerations, no affinity, no topology spread. No extra or init containers by default.",
    defaults: {
      operator: { name: 'keda-operator', replicaCount: 1, affinity: {}, nodeSelector: {} },
      metricsServer: { enabled: true, replicaCount: 1, affinity: {}, nodeSelector: {} },
      webhooks: {
        enabled: true,
        name: 'keda-admission-webhooks',
        replicaCount: 1,
        affinity: {},
        nodeSelector: {},
      },
      resources: {
        operator: {
          limits: { cpu: 1, memory: '1000Mi' },
          requests: { cpu: '100m', memory: '100Mi' },
        },
        metricServer: {
          limits: { cpu: 1, memory: '1000Mi' },
          requests: { cpu: '100m', memory: '100Mi' },
        },
        webhooks: {
          limits: { cpu: 1, memory: '1000Mi' },
          requests: { cpu: '100m', memory: '100Mi' },
        },
      },
      nodeSelector: {},
      tolerations: [],
      affinity: {},
      topologySpreadConstraints: { operator: [], metricsServer: [], webhooks: [] },
    },
    deployments: [
      {
        name: 'keda-operator',
        replicas: 'operator.replicaCount',
        containers: [{ name: 'keda-operator', resources: ['resources.operator', 'resources'] }],
        nodeSelector: ['operator.nodeSelector', 'nodeSelector'],
        tolerations: ['operator.tolerations', 'tolerations'],
        affinity: ['operator.affinity', 'affinity'],
        topologySpreadConstraints: 'topologySpreadConstraints.operator',
      },
      {
        name: 'keda-operator-metrics-apiserver',
        replicas: 'metricsServer.replicaCount',
        containers: [
          {
            name: 'keda-operator-metrics-apiserver',
            resources: ['resources.metricServer', 'resources'],
          },
        ],
        nodeSelector: ['metricsServer.nodeSelector', 'nodeSelector'],
        tolerations: ['metricsServer.tolerations', 'tolerations'],
        affinity: ['metricsServer.affinity', 'affinity'],
        topologySpreadConstraints: 'topologySpreadConstraints.metricsServer',
      },
      {
        name: 'keda-admission-webhooks',
        replicas: 'webhooks.replicaCount',
        containers: [
          { name: 'keda-admission-webhooks', resources: ['resources.webhooks', 'resources'] },
        ],
        nodeSelector: ['webhooks.nodeSelector', 'nodeSelector'],
        tolerations: ['webhooks.tolerations', 'tolerations'],
        affinity: ['webhooks.affinity', 'affinity'],
        topologySpreadConstraints: 'topologySpreadConstraints.webhooks',
      },
    ],
  },
];

/**
 * Add-ons and charts the app installs that run no Deployment (DaemonSets only, which
 * lib/k8s/node-daemons.ts records), so a new add-on or chart without a row in either is noticed.
 */
export const WITHOUT_DEPLOYMENTS: Readonly<
  Record<'eks-addon' | 'helm-chart', Readonly<Record<string, string>>>
> = {
  'eks-addon': {
    'vpc-cni': 'the aws-node DaemonSet only',
    'kube-proxy': 'the kube-proxy DaemonSet only',
    'eks-pod-identity-agent': 'the agent DaemonSet only',
  },
  'helm-chart': {
    // gpu-feature-discovery and node-feature-discovery are off by default (gfd.enabled,
    // nfd.enabled false at v0.18.2), and the app turns neither on.
    'nvidia-device-plugin': 'DaemonSets only',
  },
};

/** A Deployment placed by its source's version and the release's values. */
export interface PlacedDeployment {
  /** e.g. `coredns v1.13.2-eksbuild.1` or `karpenter chart 1.14.1`. */
  readonly source: string;
  readonly name: string;
  readonly namespace: string;
  readonly replicas: number;
  /** What one pod reserves (the scheduler's count, podReservation). */
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  /** Node selector, tolerations and required node affinity: where a pod may land. */
  readonly placement: Placement;
  /**
   * Its replicas must run on distinct nodes: a required podAntiAffinity on kubernetes.io/hostname
   * (taken to select the Deployment's own pods, as the charts here write it).
   */
  readonly distinctNodes: boolean;
  /** A zone topology spread the scheduler enforces (whenUnsatisfiable DoNotSchedule). */
  readonly zoneSpreadRequired: boolean;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A release's values over a chart's defaults, as Helm coalesces them: maps merged key by key,
 * anything else (lists, scalars) replaced, and a null value removing the default.
 */
export function helmMerge(defaults: unknown, values: unknown): unknown {
  if (values === undefined) return defaults;
  if (!isMap(defaults) || !isMap(values)) return values;
  const merged: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(values)) {
    if (value === null) delete merged[key];
    else merged[key] = helmMerge(defaults[key], value);
  }
  return merged;
}

/** Helm's `empty`: absent, null, false, 0, '' or an empty list or map. */
function empty(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') {
    return true;
  }
  if (Array.isArray(value)) return value.length === 0;
  return isMap(value) && Object.keys(value).length === 0;
}

function at(values: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, key) => (isMap(node) ? node[key] : undefined), values);
}

/** The value at the first path that is not empty (or at the last path). */
export function valueAt(values: unknown, path: ValuePath | undefined): unknown {
  if (path === undefined) return undefined;
  const paths = typeof path === 'string' ? [path] : path;
  for (const p of paths) {
    const value = at(values, p);
    if (!empty(value)) return value;
  }
  return at(values, paths.at(-1) ?? '');
}

/** A container's requests from its `resources` value; a missing request defaults to its limit. */
function requestsOf(name: string, resources: unknown, init?: boolean): ContainerRequests {
  const r = isMap(resources) ? resources : {};
  const requests = isMap(r.requests) ? r.requests : {};
  const limits = isMap(r.limits) ? r.limits : {};
  const cpu = requests.cpu ?? limits.cpu;
  const memory = requests.memory ?? limits.memory;
  return {
    name,
    ...(init && { init }),
    cpuMillicores: cpu === undefined ? 0 : cpuQuantity(cpu),
    memoryMiB: memory === undefined ? 0 : memoryQuantity(memory),
  };
}

/** Whether an affinity requires the pods on distinct nodes (required hostname anti-affinity). */
export function requiresDistinctNodes(affinity: unknown): boolean {
  const terms = at(affinity, 'podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution');
  return (
    Array.isArray(terms) &&
    terms.some((t) => isMap(t) && t.topologyKey === 'kubernetes.io/hostname')
  );
}

/** Whether a topology spread on zones is enforced (DoNotSchedule). */
export function requiresZoneSpread(constraints: unknown): boolean {
  return (
    Array.isArray(constraints) &&
    constraints.some(
      (c) =>
        isMap(c) &&
        c.topologyKey === 'topology.kubernetes.io/zone' &&
        (c.whenUnsatisfiable ?? 'DoNotSchedule') === 'DoNotSchedule',
    )
  );
}

/** The Deployments of one row, rendered with `values` over its defaults. */
export function renderDeployments(
  facts: SystemWorkloadFacts,
  source: string,
  values: ChartValues = {},
  releaseNamespace = 'default',
): PlacedDeployment[] {
  const merged = helmMerge(facts.defaults, values);
  return facts.deployments.map((d) => {
    const nodeSelector = valueAt(merged, d.nodeSelector);
    const tolerations = valueAt(merged, d.tolerations);
    const affinity = valueAt(merged, d.affinity);
    const nodeAffinity = at(
      affinity,
      'nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution',
    );
    const placement: Placement = {
      ...(isMap(nodeSelector) &&
        Object.keys(nodeSelector).length > 0 && {
          nodeSelector: nodeSelector as Record<string, string>,
        }),
      ...(isMap(nodeAffinity) && {
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: nodeAffinity },
        } as Placement['affinity'],
      }),
      ...(Array.isArray(tolerations) &&
        tolerations.length > 0 && { tolerations: tolerations as Toleration[] }),
    };
    const pod = podReservation(
      d.containers.map((c) => requestsOf(c.name, valueAt(merged, c.resources), c.init)),
    );
    const replicas = Number(valueAt(merged, d.replicas) ?? 1);
    return {
      source,
      name: d.name,
      namespace: d.namespace ?? releaseNamespace,
      replicas,
      ...pod,
      placement,
      distinctNodes: requiresDistinctNodes(affinity),
      zoneSpreadRequired: requiresZoneSpread(valueAt(merged, d.topologySpreadConstraints)),
    };
  });
}

function covers(facts: SystemWorkloadFacts, version: string): boolean {
  return facts.versions.some((v) => {
    if (!v.endsWith('-eksbuild.*')) return v === version;
    const prefix = v.slice(0, -1);
    return version.startsWith(prefix) && /^\d+$/.test(version.slice(prefix.length));
  });
}

/** The row read for this add-on or chart at this version, if any. */
export function systemWorkloadFacts(
  kind: SystemWorkloadFacts['kind'],
  name: string,
  version: string,
): SystemWorkloadFacts | undefined {
  return SYSTEM_WORKLOAD_FACTS.find(
    (f) => f.kind === kind && f.name === name && covers(f, version),
  );
}

/** The row for a version, or (so a count is still made) the newest row read for that source. */
function factsOrNewest(
  kind: SystemWorkloadFacts['kind'],
  name: string,
  version: string,
): SystemWorkloadFacts | undefined {
  return (
    systemWorkloadFacts(kind, name, version) ??
    SYSTEM_WORKLOAD_FACTS.filter((f) => f.kind === kind && f.name === name).at(-1)
  );
}

/** Why a pinned add-on or chart version has no Deployment row here, or undefined when it has. */
export function systemWorkloadFactsProblem(
  kind: SystemWorkloadFacts['kind'],
  name: string,
  version: string,
): string | undefined {
  if (name in WITHOUT_DEPLOYMENTS[kind]) return undefined;
  if (systemWorkloadFacts(kind, name, version)) return undefined;
  const what = kind === 'eks-addon' ? 'EKS add-on' : 'chart';
  const read = SYSTEM_WORKLOAD_FACTS.filter((f) => f.kind === kind && f.name === name).flatMap(
    (f) => f.versions,
  );
  return read.length > 0
    ? `${what} ${name} is pinned at ${version}, but lib/k8s/system-workloads.ts holds its Deployments as read for ${read.join(', ')}: read its chart or manifest at ${version} again (replicas, requests, tolerations, node selector, affinity, topology spread) and update the row`
    : `${what} ${name} ${version} has no row in lib/k8s/system-workloads.ts: read which Deployments it runs (or list it in WITHOUT_DEPLOYMENTS)`;
}

/** Every pinned EKS add-on version (EKS_ADDON_VERSIONS) whose Deployments were not read. */
export function pinnedAddonDeploymentProblems(): string[] {
  const problems: string[] = [];
  for (const [kubernetes, addons] of Object.entries(EKS_ADDON_VERSIONS)) {
    for (const [name, version] of Object.entries(addons)) {
      const problem = systemWorkloadFactsProblem('eks-addon', name, version);
      if (problem) problems.push(`Kubernetes ${kubernetes}: ${problem}`);
    }
  }
  return problems;
}

/** The charts lib/k8s/versions.ts pins whose Deployments run on the system nodes. */
export const PINNED_CHARTS: readonly { readonly chart: string; readonly version: string }[] = [
  { chart: 'aws-load-balancer-controller', version: ALB_CONTROLLER_VERSION.helmChartVersion },
  { chart: KARPENTER.chart, version: KARPENTER.version },
  { chart: KEDA.chart, version: KEDA.version },
];

/** Every pinned add-on or chart version (lib/k8s/versions.ts) whose Deployments were not read. */
export function pinnedDeploymentProblems(): string[] {
  return [
    ...pinnedAddonDeploymentProblems(),
    ...PINNED_CHARTS.flatMap(({ chart, version }) => {
      const problem = systemWorkloadFactsProblem('helm-chart', chart, version);
      return problem ? [problem] : [];
    }),
  ];
}

/**
 * The Deployments of the pinned EKS add-ons at their defaults. An add-on pinned at different
 * versions for different Kubernetes versions is counted at each; a version without a row is
 * counted at the newest row read, and pinnedDeploymentProblems() reports it.
 */
export function addonDeployments(): PlacedDeployment[] {
  const pinned = new Set<string>();
  for (const addons of Object.values(EKS_ADDON_VERSIONS)) {
    for (const [name, version] of Object.entries(addons)) pinned.add(`${name}@${version}`);
  }
  return [...pinned].flatMap((key) => {
    const [name = '', version = ''] = key.split('@');
    const facts = factsOrNewest('eks-addon', name, version);
    return facts ? renderDeployments(facts, `${name} ${version}`) : [];
  });
}

/** The Deployments a chart release runs, its values over the chart's defaults. */
export function chartDeployments(
  chart: string,
  version: string,
  values: ChartValues,
  namespace: string,
): PlacedDeployment[] {
  const facts = factsOrNewest('helm-chart', chart, version);
  return facts ? renderDeployments(facts, `${chart} chart ${version}`, values, namespace) : [];
}
