/**
 * DaemonSets that land on the nodes without being in the templates: those the EKS managed add-ons
 * and the Helm charts this app installs run, with what the scheduler reserves for each pod and the
 * placement (tolerations, node selector, required node affinity) that decides which nodes get one.
 * One table for three readers: synth's fit check of Triton (lib/config-inference.ts), the deploy
 * rehearsal (test/infra/rehearsal/workloads.ts) and the "Node fit" section of docs/operations.md
 * (`npx tsx scripts/node-fit.ts`).
 *
 * Every row names the repository, path and commit it was read from. Requests are per container as
 * published; a pod's reservation is the scheduler's: the larger of its largest init container and
 * the sum of its other containers. Where the app overrides an add-on's values (configurationValues
 * in lib/constructs/inference-cluster.ts) or a chart's values, the rows hold what the app's values
 * produce. A pinned version (lib/k8s/versions.ts) with no row here fails
 * test/infra/node-fit.test.ts and the rehearsal: read the chart or manifest at that version again.
 */
import { instanceFacts } from './instance-types.ts';
import { GPU_NODE_LABELS, GPU_POOL } from './karpenter.ts';
import { EKS_ADDON_VERSIONS, GPU_TAINT, NVIDIA_DEVICE_PLUGIN, POOL_LABEL } from './versions.ts';

/** A node selector requirement (`matchExpressions` entry), as Kubernetes spells it. */
export interface NodeRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  readonly values?: readonly string[];
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** The pod spec fields that decide where a DaemonSet's pods go, shaped as in a PodSpec. */
export interface Placement {
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly affinity?: {
    readonly nodeAffinity: {
      readonly requiredDuringSchedulingIgnoredDuringExecution: {
        readonly nodeSelectorTerms: readonly {
          readonly matchExpressions: readonly NodeRequirement[];
        }[];
      };
    };
  };
  readonly tolerations?: readonly Toleration[];
}

export interface ContainerRequests {
  readonly name: string;
  /** An init container runs to completion before the others start. */
  readonly init?: boolean;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
}

export interface NodeDaemonSet {
  readonly name: string;
  readonly namespace: string;
  readonly containers: readonly ContainerRequests[];
  readonly placement: Placement;
  /** A DaemonSet that runs only on nodes no pool of this app has (Windows, Neuron, MPS sharing). */
  readonly runsOnlyOn?: string;
}

export interface SourceRef {
  /** GitHub owner/name. */
  readonly repo: string;
  readonly path: string;
  /** The tag or branch read, and its commit. */
  readonly ref: string;
  readonly commit: string;
}

/** Where the facts of one add-on or chart come from: shared by DaemonSet and Deployment rows. */
export interface FactsProvenance {
  readonly kind: 'eks-addon' | 'helm-chart';
  /** Add-on name as in EKS_ADDON_VERSIONS, or chart name as the templates install it. */
  readonly name: string;
  /**
   * Pinned versions these rows hold for: add-on versions as in EKS_ADDON_VERSIONS (a trailing
   * `-eksbuild.*` takes every EKS build of an upstream version read here) or chart versions.
   */
  readonly versions: readonly string[];
  /**
   * `exact`: read from the chart or manifest at the version the add-on or chart is built from.
   * `best-public-source`: the add-on's own manifest at the pinned version is not public; read from
   * the closest public source, which may differ from what EKS installs.
   */
  readonly evidence: 'exact' | 'best-public-source';
  readonly readFrom: readonly SourceRef[];
  /** What was read and how the app's values bear on it. */
  readonly note: string;
}

export interface NodeDaemonFacts extends FactsProvenance {
  /** Helm charts: a `resources` value replaces every container's requests (both charts here). */
  readonly resourcesValue?: boolean;
  readonly daemonSets: readonly NodeDaemonSet[];
}

/** Placement shared by the add-ons that run on every EC2 Linux node (amd64 or arm64). */
const LINUX_EC2_NODES = (notIn: readonly string[]): Placement['affinity'] => ({
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: 'kubernetes.io/os', operator: 'In', values: ['linux'] },
            { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] },
            { key: 'eks.amazonaws.com/compute-type', operator: 'NotIn', values: notIn },
          ],
        },
      ],
    },
  },
});

const TOLERATE_ALL: readonly Toleration[] = [{ operator: 'Exists' }];

/** The amazon-cloudwatch-observability chart's placement for its Linux DaemonSets. */
function cloudWatchLinux(instanceTypes?: readonly string[]): Placement {
  const notFargate: NodeRequirement = {
    key: 'eks.amazonaws.com/compute-type',
    operator: 'NotIn',
    values: ['fargate'],
  };
  return {
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: instanceTypes
                ? [
                    {
                      key: 'node.kubernetes.io/instance-type',
                      operator: 'In',
                      values: instanceTypes,
                    },
                    notFargate,
                  ]
                : [notFargate],
            },
          ],
        },
      },
    },
    // The chart's root `tolerations` (operator: Exists), which no component overrides.
    tolerations: TOLERATE_ALL,
  };
}

const WINDOWS: Placement = {
  nodeSelector: { 'kubernetes.io/os': 'windows' },
  tolerations: TOLERATE_ALL,
};

/** dcgmExporter.affinity's `node.kubernetes.io/instance-type In` list, verbatim. */
const DCGM_TYPES_CHART_4_5_0 = (
  'g3.4xlarge g3.8xlarge g3.16xlarge g3s.xlarge g4ad.2xlarge g4ad.4xlarge g4ad.8xlarge ' +
  'g4ad.16xlarge g4ad.xlarge g4dn.2xlarge g4dn.4xlarge g4dn.8xlarge g4dn.12xlarge ' +
  'g4dn.16xlarge g4dn.metal g4dn.xlarge g5.2xlarge g5.4xlarge g5.8xlarge g5.12xlarge ' +
  'g5.16xlarge g5.24xlarge g5.48xlarge g5.xlarge g5g.2xlarge g5g.4xlarge g5g.8xlarge ' +
  'g5g.16xlarge g5g.metal g5g.xlarge g6.2xlarge g6.4xlarge g6.8xlarge g6.12xlarge g6.16xlarge ' +
  'g6.24xlarge g6.48xlarge g6.xlarge g6e.2xlarge g6e.4xlarge g6e.8xlarge g6e.12xlarge ' +
  'g6e.16xlarge g6e.24xlarge g6e.48xlarge g6e.xlarge gr6.4xlarge gr6.8xlarge p2.8xlarge ' +
  'p2.16xlarge p2.xlarge p3.2xlarge p3.8xlarge p3.16xlarge p3dn.24xlarge p4d.24xlarge ' +
  'p4de.24xlarge p5.48xlarge p5e.48xlarge p5en.48xlarge ml.g3.4xlarge ml.g3.8xlarge ' +
  'ml.g3.16xlarge ml.g3s.xlarge ml.g4ad.2xlarge ml.g4ad.4xlarge ml.g4ad.8xlarge ' +
  'ml.g4ad.16xlarge ml.g4ad.xlarge ml.g4dn.2xlarge ml.g4dn.4xlarge ml.g4dn.8xlarge ' +
  'ml.g4dn.12xlarge ml.g4dn.16xlarge ml.g4dn.metal ml.g4dn.xlarge ml.g5.2xlarge ml.g5.4xlarge ' +
  'ml.g5.8xlarge ml.g5.12xlarge ml.g5.16xlarge ml.g5.24xlarge ml.g5.48xlarge ml.g5.xlarge ' +
  'ml.g5g.2xlarge ml.g5g.4xlarge ml.g5g.8xlarge ml.g5g.16xlarge ml.g5g.metal ml.g5g.xlarge ' +
  'ml.g6.2xlarge ml.g6.4xlarge ml.g6.8xlarge ml.g6.12xlarge ml.g6.16xlarge ml.g6.24xlarge ' +
  'ml.g6.48xlarge ml.g6.xlarge ml.g6e.2xlarge ml.g6e.4xlarge ml.g6e.8xlarge ml.g6e.12xlarge ' +
  'ml.g6e.16xlarge ml.g6e.24xlarge ml.g6e.48xlarge ml.g6e.xlarge ml.gr6.4xlarge ' +
  'ml.gr6.8xlarge ml.p2.8xlarge ml.p2.16xlarge ml.p2.xlarge ml.p3.2xlarge ml.p3.8xlarge ' +
  'ml.p3.16xlarge ml.p3dn.24xlarge ml.p4d.24xlarge ml.p4de.24xlarge ml.p5.48xlarge ' +
  'ml.p5e.48xlarge ml.p5en.48xlarge'
).split(' ');

const DCGM_TYPES_CHART_5_4_0 = (
  'g3.4xlarge g3.8xlarge g3.16xlarge g3s.xlarge g4ad.2xlarge g4ad.4xlarge g4ad.8xlarge ' +
  'g4ad.16xlarge g4ad.xlarge g4dn.2xlarge g4dn.4xlarge g4dn.8xlarge g4dn.12xlarge ' +
  'g4dn.16xlarge g4dn.metal g4dn.xlarge g5.2xlarge g5.4xlarge g5.8xlarge g5.12xlarge ' +
  'g5.16xlarge g5.24xlarge g5.48xlarge g5.xlarge g5g.2xlarge g5g.4xlarge g5g.8xlarge ' +
  'g5g.16xlarge g5g.metal g5g.xlarge g6.2xlarge g6.4xlarge g6.8xlarge g6.12xlarge g6.16xlarge ' +
  'g6.24xlarge g6.48xlarge g6.xlarge g6e.2xlarge g6e.4xlarge g6e.8xlarge g6e.12xlarge ' +
  'g6e.16xlarge g6e.24xlarge g6e.48xlarge g6e.xlarge gr6.4xlarge gr6.8xlarge p2.8xlarge ' +
  'p2.16xlarge p2.xlarge p3.2xlarge p3.8xlarge p3.16xlarge p3dn.24xlarge p4d.24xlarge ' +
  'p4de.24xlarge p5.48xlarge p5e.48xlarge p5en.48xlarge p6-b200.48xlarge p6-b300.48xlarge ' +
  'p6e-gb200.36xlarge ml.g3.4xlarge ml.g3.8xlarge ml.g3.16xlarge ml.g3s.xlarge ' +
  'ml.g4ad.2xlarge ml.g4ad.4xlarge ml.g4ad.8xlarge ml.g4ad.16xlarge ml.g4ad.xlarge ' +
  'ml.g4dn.2xlarge ml.g4dn.4xlarge ml.g4dn.8xlarge ml.g4dn.12xlarge ml.g4dn.16xlarge ' +
  'ml.g4dn.metal ml.g4dn.xlarge ml.g5.2xlarge ml.g5.4xlarge ml.g5.8xlarge ml.g5.12xlarge ' +
  'ml.g5.16xlarge ml.g5.24xlarge ml.g5.48xlarge ml.g5.xlarge ml.g5g.2xlarge ml.g5g.4xlarge ' +
  'ml.g5g.8xlarge ml.g5g.16xlarge ml.g5g.metal ml.g5g.xlarge ml.g6.2xlarge ml.g6.4xlarge ' +
  'ml.g6.8xlarge ml.g6.12xlarge ml.g6.16xlarge ml.g6.24xlarge ml.g6.48xlarge ml.g6.xlarge ' +
  'ml.g6e.2xlarge ml.g6e.4xlarge ml.g6e.8xlarge ml.g6e.12xlarge ml.g6e.16xlarge ' +
  'ml.g6e.24xlarge ml.g6e.48xlarge ml.g6e.xlarge ml.gr6.4xlarge ml.gr6.8xlarge ml.p2.8xlarge ' +
  'ml.p2.16xlarge ml.p2.xlarge ml.p3.2xlarge ml.p3.8xlarge ml.p3.16xlarge ml.p3dn.24xlarge ' +
  'ml.p4d.24xlarge ml.p4de.24xlarge ml.p5.48xlarge ml.p5e.48xlarge ml.p5en.48xlarge ' +
  'ml.p6-b200.48xlarge ml.p6e-gb200.36xlarge'
).split(' ');

const NEURON_TYPES = (
  'trn1.2xlarge trn1.32xlarge trn1n.32xlarge trn2.3xlarge trn2.48xlarge trn2a.48xlarge ' +
  'trn2n.48xlarge trn2u.48xlarge inf1.xlarge inf1.2xlarge inf1.6xlarge inf1.24xlarge ' +
  'inf2.xlarge inf2.8xlarge inf2.24xlarge inf2.48xlarge ml.trn1.2xlarge ml.trn1.32xlarge ' +
  'ml.trn1n.32xlarge ml.inf1.xlarge ml.inf1.2xlarge ml.inf1.6xlarge ml.inf1.24xlarge ' +
  'ml.inf2.xlarge ml.inf2.8xlarge ml.inf2.24xlarge ml.inf2.48xlarge'
).split(' ');

/** The amazon-cloudwatch-observability DaemonSets at a chart version, given its DCGM type list. */
function cloudWatchDaemonSets(dcgmTypes: readonly string[]): NodeDaemonSet[] {
  const ns = 'amazon-cloudwatch';
  return [
    {
      // An AmazonCloudWatchAgent resource (agent.mode daemonset) the add-on's operator turns into
      // a DaemonSet with the agent container only (operator internal/manifests/collector).
      name: 'cloudwatch-agent',
      namespace: ns,
      containers: [{ name: 'cloudwatch-agent', cpuMillicores: 250, memoryMiB: 128 }],
      placement: cloudWatchLinux(),
    },
    {
      // containerLogs.enabled: the app sets true, as the chart does.
      name: 'fluent-bit',
      namespace: ns,
      containers: [{ name: 'fluent-bit', cpuMillicores: 50, memoryMiB: 25 }],
      placement: cloudWatchLinux(),
    },
    {
      // A DcgmExporter resource the operator turns into a DaemonSet of one container.
      name: 'dcgm-exporter',
      namespace: ns,
      containers: [{ name: 'dcgm-exporter', cpuMillicores: 250, memoryMiB: 128 }],
      placement: cloudWatchLinux(dcgmTypes),
    },
    {
      name: 'neuron-monitor',
      namespace: ns,
      containers: [{ name: 'neuron-monitor', cpuMillicores: 256, memoryMiB: 128 }],
      placement: cloudWatchLinux(NEURON_TYPES),
      runsOnlyOn: 'AWS Trainium and Inferentia instance types',
    },
    {
      name: 'cloudwatch-agent-windows',
      namespace: ns,
      containers: [{ name: 'cloudwatch-agent', cpuMillicores: 250, memoryMiB: 128 }],
      placement: WINDOWS,
      runsOnlyOn: 'Windows nodes',
    },
    {
      name: 'cloudwatch-agent-windows-container-insights',
      namespace: ns,
      containers: [{ name: 'cloudwatch-agent', cpuMillicores: 250, memoryMiB: 128 }],
      placement: WINDOWS,
      runsOnlyOn: 'Windows nodes',
    },
    {
      name: 'fluent-bit-windows',
      namespace: ns,
      containers: [{ name: 'fluent-bit', cpuMillicores: 50, memoryMiB: 25 }],
      placement: WINDOWS,
      runsOnlyOn: 'Windows nodes',
    },
  ];
}

const CLOUDWATCH_CHARTS = 'aws-observability/helm-charts';
const CLOUDWATCH_VALUES = 'charts/amazon-cloudwatch-observability/values.yaml';
const CLOUDWATCH_NOTE =
  "Requests and placement from the chart values (agent.resources, containerLogs.fluentBit.resources, dcgmExporter.resources, neuronMonitor.resources, the root tolerations [{operator: Exists}], each component's nodeSelector and affinity) and the templates under templates/linux and templates/windows; the operator (aws/amazon-cloudwatch-agent-operator v3.2.0 for chart 4.5.0, v3.4.2 for 5.4.0, internal/manifests/{collector,dcgmexporter,neuronmonitor}/daemonset.go) builds each DaemonSet with that one container and those tolerations, node selector and affinity. EKS builds add-on vX.Y.Z-eksbuild.N from chart X.Y.Z. The app's configurationValues set agent.config and containerLogs.enabled: true and override no resources or placement. Charts 5.0.0 to 5.3.1 carry the same requests and tolerations; their DCGM type lists match one of the two here.";

/** Every source of node DaemonSets outside the templates, newest version of each source last. */
export const NODE_DAEMON_FACTS: readonly NodeDaemonFacts[] = [
  {
    kind: 'eks-addon',
    name: 'vpc-cni',
    versions: ['v1.21.1-eksbuild.*'],
    evidence: 'exact',
    readFrom: [
      {
        repo: 'aws/amazon-vpc-cni-k8s',
        path: 'charts/aws-vpc-cni/values.yaml, charts/aws-vpc-cni/templates/daemonset.yaml, config/master/aws-k8s-cni.yaml',
        ref: 'v1.21.1',
        commit: 'e082bae7c03ddc28357b01595f3746b117ac08c7',
      },
    ],
    note: 'resources.requests.cpu 25m applies to aws-node and, through `default .Values.resources`, to the init container and to the network policy agent (nodeAgent.resources is {}); config/master/aws-k8s-cni.yaml at the tag renders the same 25m on all three. The app sets enableNetworkPolicy only; the node agent container runs either way.',
    daemonSets: [
      {
        name: 'aws-node',
        namespace: 'kube-system',
        containers: [
          { name: 'aws-vpc-cni-init', init: true, cpuMillicores: 25, memoryMiB: 0 },
          { name: 'aws-node', cpuMillicores: 25, memoryMiB: 0 },
          { name: 'aws-eks-nodeagent', cpuMillicores: 25, memoryMiB: 0 },
        ],
        placement: {
          affinity: LINUX_EC2_NODES(['fargate', 'hybrid', 'auto']),
          tolerations: TOLERATE_ALL,
        },
      },
    ],
  },
  {
    kind: 'eks-addon',
    name: 'kube-proxy',
    versions: ['v1.35.0-eksbuild.2'],
    evidence: 'best-public-source',
    readFrom: [
      {
        repo: 'eksctl-io/eksctl',
        path: 'pkg/addons/default/testdata/sample-1.25.json (the kube-proxy DaemonSet EKS created, image kube-proxy:v1.25.6-minimal-eksbuild.1)',
        ref: 'main',
        commit: '16f64c8b64f79f07c4dc070c166324447e953372',
      },
    ],
    note: 'AWS publishes no manifest or chart for the kube-proxy add-on; this is the DaemonSet as EKS wrote it for Kubernetes 1.25, captured by eksctl; the pinned v1.35 build may differ. The app passes the add-on no configurationValues.',
    daemonSets: [
      {
        name: 'kube-proxy',
        namespace: 'kube-system',
        containers: [{ name: 'kube-proxy', cpuMillicores: 100, memoryMiB: 0 }],
        placement: { affinity: LINUX_EC2_NODES(['fargate']), tolerations: TOLERATE_ALL },
      },
    ],
  },
  {
    kind: 'eks-addon',
    name: 'eks-pod-identity-agent',
    versions: ['v1.3.10-eksbuild.3'],
    evidence: 'best-public-source',
    readFrom: [
      {
        repo: 'aws/eks-pod-identity-agent',
        path: 'charts/eks-pod-identity-agent/values.yaml, templates/daemonset.yaml, hack/testdata/expected_eks_pod_identity_agent_default_helm_template.yaml (chart 1.2.0)',
        ref: 'main',
        commit: 'd4dc0f3fedd795b26ac88755238867a2110c7460',
      },
    ],
    note: "The agent's public chart; the add-on's own manifest at v1.3.10 is not published. resources: {} gives both containers no requests. The hybrid DaemonSets (daemonsets.hybrid*.create: false) are not installed.",
    daemonSets: [
      {
        name: 'eks-pod-identity-agent',
        namespace: 'kube-system',
        containers: [
          { name: 'eks-pod-identity-agent-init', init: true, cpuMillicores: 0, memoryMiB: 0 },
          { name: 'eks-pod-identity-agent', cpuMillicores: 0, memoryMiB: 0 },
        ],
        placement: {
          affinity: LINUX_EC2_NODES(['fargate', 'hybrid', 'auto']),
          tolerations: TOLERATE_ALL,
        },
      },
    ],
  },
  {
    kind: 'eks-addon',
    name: 'amazon-cloudwatch-observability',
    versions: ['v4.5.0-eksbuild.*'],
    evidence: 'exact',
    readFrom: [
      {
        repo: CLOUDWATCH_CHARTS,
        path: CLOUDWATCH_VALUES,
        ref: 'amazon-cloudwatch-observability-4.5.0',
        commit: '2c551a0c1a2d23f20bc3a7cf94bfcbb4bff55624',
      },
      {
        repo: 'aws/amazon-cloudwatch-agent-operator',
        path: 'internal/manifests/{collector,dcgmexporter,neuronmonitor}/daemonset.go',
        ref: 'v3.2.0',
        commit: '0fda7f9073dd0a47cc8e2251e3ba4f802da6a1bf',
      },
    ],
    note: CLOUDWATCH_NOTE,
    daemonSets: cloudWatchDaemonSets(DCGM_TYPES_CHART_4_5_0),
  },
  {
    kind: 'eks-addon',
    name: 'amazon-cloudwatch-observability',
    versions: ['v5.4.0-eksbuild.*'],
    evidence: 'exact',
    readFrom: [
      {
        repo: CLOUDWATCH_CHARTS,
        path: CLOUDWATCH_VALUES,
        ref: 'amazon-cloudwatch-observability-5.4.0',
        commit: '79a7fa03b8423c65a52cff7f8a09f8e4ff616231',
      },
      {
        repo: 'aws/amazon-cloudwatch-agent-operator',
        path: 'internal/manifests/{collector,dcgmexporter,neuronmonitor}/daemonset.go',
        ref: 'v3.4.2',
        commit: '4ee8ca4981ecba616f4f59e75e762508c7e093e6',
      },
    ],
    note: `${CLOUDWATCH_NOTE} Against 4.5.0 only the DCGM exporter's type list changed (p6-b200, p6-b300 and p6e-gb200 added).`,
    daemonSets: cloudWatchDaemonSets(DCGM_TYPES_CHART_5_4_0),
  },
  {
    kind: 'helm-chart',
    name: 'nvidia-device-plugin',
    versions: ['0.18.2'],
    evidence: 'exact',
    readFrom: [
      {
        repo: 'NVIDIA/k8s-device-plugin',
        path: 'deployments/helm/nvidia-device-plugin/values.yaml, templates/daemonset-device-plugin.yml, templates/daemonset-mps-control-daemon.yml',
        ref: 'v0.18.2',
        commit: 'fb1242add205d8563f9c604b8ba239607b4083e6',
      },
    ],
    note: "resources: {} gives every container no requests; the config-manager init and sidecar containers exist only with a config map, which the app does not set. Placement below is the chart default; the release's values (nodeSelector, tolerations, affinity) replace it, and the MPS control daemon adds its fixed nvidia.com/mps.capable selector to the values' nodeSelector.",
    resourcesValue: true,
    daemonSets: [
      {
        name: 'nvidia-device-plugin',
        namespace: 'kube-system',
        containers: [{ name: 'nvidia-device-plugin-ctr', cpuMillicores: 0, memoryMiB: 0 }],
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
      {
        name: 'nvidia-device-plugin-mps-control-daemon',
        namespace: 'kube-system',
        containers: [
          { name: 'mps-control-daemon-mounts', init: true, cpuMillicores: 0, memoryMiB: 0 },
          { name: 'mps-control-daemon-ctr', cpuMillicores: 0, memoryMiB: 0 },
        ],
        placement: { nodeSelector: { 'nvidia.com/mps.capable': 'true' } },
        runsOnlyOn: 'nodes labelled nvidia.com/mps.capable=true (MPS sharing)',
      },
    ],
  },
];

/**
 * Add-ons and charts the app installs that run no DaemonSet (Deployments only, which
 * lib/k8s/system-workloads.ts records), so a new add-on or chart without a row in either table is
 * noticed.
 */
export const WITHOUT_DAEMONSETS: Readonly<
  Record<'eks-addon' | 'helm-chart', Readonly<Record<string, string>>>
> = {
  'eks-addon': {
    coredns: 'a Deployment (lib/k8s/system-workloads.ts)',
    'metrics-server': 'a Deployment (lib/k8s/system-workloads.ts)',
  },
  'helm-chart': {
    karpenter: 'the controller Deployment (lib/k8s/system-workloads.ts)',
    keda: 'the operator, metrics server and webhooks Deployments (lib/k8s/system-workloads.ts)',
    'aws-load-balancer-controller': 'the controller Deployment (lib/k8s/system-workloads.ts)',
  },
};

/**
 * The placement values lib/constructs/inference-cluster.ts gives the NVIDIA device plugin release:
 * only the GPU nodes, whose taint it tolerates. test/infra/node-fit.test.ts checks the templates
 * carry exactly these.
 */
export const NVIDIA_DEVICE_PLUGIN_VALUES = {
  nodeSelector: { [POOL_LABEL]: GPU_NODE_LABELS[POOL_LABEL] },
  tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
} as const;

/** A DaemonSet placed by its source's version and the app's values, with what one pod reserves. */
export interface PlacedDaemonSet {
  /** e.g. `vpc-cni v1.21.1-eksbuild.3` or `nvidia-device-plugin chart 0.18.2`. */
  readonly source: string;
  readonly name: string;
  readonly namespace: string;
  readonly placement: Placement;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  readonly runsOnlyOn?: string;
}

/** What the scheduler reserves for one pod: the largest init container or the rest, summed. */
export function podReservation(containers: readonly ContainerRequests[]): {
  cpuMillicores: number;
  memoryMiB: number;
} {
  const init = containers.filter((c) => c.init);
  const running = containers.filter((c) => !c.init);
  const sum = (key: 'cpuMillicores' | 'memoryMiB') => running.reduce((a, c) => a + c[key], 0);
  const peak = (key: 'cpuMillicores' | 'memoryMiB') => Math.max(0, ...init.map((c) => c[key]));
  return {
    cpuMillicores: Math.max(sum('cpuMillicores'), peak('cpuMillicores')),
    memoryMiB: Math.max(sum('memoryMiB'), peak('memoryMiB')),
  };
}

function covers(facts: NodeDaemonFacts, version: string): boolean {
  return facts.versions.some((v) => {
    if (!v.endsWith('-eksbuild.*')) return v === version;
    const prefix = v.slice(0, -1);
    return version.startsWith(prefix) && /^\d+$/.test(version.slice(prefix.length));
  });
}

/** The rows read for this add-on or chart at this version, if any. */
export function nodeDaemonFacts(
  kind: NodeDaemonFacts['kind'],
  name: string,
  version: string,
): NodeDaemonFacts | undefined {
  return NODE_DAEMON_FACTS.find((f) => f.kind === kind && f.name === name && covers(f, version));
}

/** Why a pinned add-on or chart version has no rows here, or undefined when it has. */
export function nodeDaemonFactsProblem(
  kind: NodeDaemonFacts['kind'],
  name: string,
  version: string,
): string | undefined {
  if (name in WITHOUT_DAEMONSETS[kind]) return undefined;
  if (nodeDaemonFacts(kind, name, version)) return undefined;
  const what = kind === 'eks-addon' ? 'EKS add-on' : 'chart';
  const read = NODE_DAEMON_FACTS.filter((f) => f.kind === kind && f.name === name).flatMap(
    (f) => f.versions,
  );
  return read.length > 0
    ? `${what} ${name} is pinned at ${version}, but lib/k8s/node-daemons.ts holds its DaemonSets as read for ${read.join(', ')}: read its chart or manifest at ${version} again (requests, tolerations, node selector, affinity) and add the rows`
    : `${what} ${name} ${version} has no row in lib/k8s/node-daemons.ts: read which DaemonSets it runs (or list it in WITHOUT_DAEMONSETS)`;
}

/** Every pinned EKS add-on version (EKS_ADDON_VERSIONS) whose DaemonSets were not read. */
export function pinnedAddonProblems(): string[] {
  const problems: string[] = [];
  for (const [kubernetes, addons] of Object.entries(EKS_ADDON_VERSIONS)) {
    for (const [name, version] of Object.entries(addons)) {
      const problem = nodeDaemonFactsProblem('eks-addon', name, version);
      if (problem) problems.push(`Kubernetes ${kubernetes}: ${problem}`);
    }
  }
  return problems;
}

/** Every pinned add-on or chart version (lib/k8s/versions.ts) whose DaemonSets were not read. */
export function pinnedVersionProblems(): string[] {
  const plugin = nodeDaemonFactsProblem(
    'helm-chart',
    NVIDIA_DEVICE_PLUGIN.chart,
    NVIDIA_DEVICE_PLUGIN.version,
  );
  return [...pinnedAddonProblems(), ...(plugin ? [plugin] : [])];
}

/** The rows for a version, or (so a count is still made) the newest rows read for that source. */
function factsOrNewest(
  kind: NodeDaemonFacts['kind'],
  name: string,
  version: string,
): NodeDaemonFacts | undefined {
  return (
    nodeDaemonFacts(kind, name, version) ??
    NODE_DAEMON_FACTS.filter((f) => f.kind === kind && f.name === name).at(-1)
  );
}

/**
 * The DaemonSets of the pinned EKS add-ons. An add-on pinned at different versions for different
 * Kubernetes versions is counted at each (the larger count holds for either). A version without
 * rows is counted at the newest rows read, and pinnedVersionProblems() reports it.
 */
export function addonDaemonSets(): PlacedDaemonSet[] {
  const pinned = new Set<string>();
  for (const addons of Object.values(EKS_ADDON_VERSIONS)) {
    for (const [name, version] of Object.entries(addons)) pinned.add(`${name}@${version}`);
  }
  return [...pinned].flatMap((key) => {
    const [name = '', version = ''] = key.split('@');
    const facts = factsOrNewest('eks-addon', name, version);
    return (facts?.daemonSets ?? []).map((ds) => ({
      source: `${name} ${version}`,
      name: ds.name,
      namespace: ds.namespace,
      placement: ds.placement,
      ...podReservation(ds.containers),
      ...(ds.runsOnlyOn && { runsOnlyOn: ds.runsOnlyOn }),
    }));
  });
}

/** Helm values as the templates carry them (untyped JSON). */
export type ChartValues = Readonly<Record<string, unknown>>;

/**
 * The DaemonSets a chart release runs: requests from the rows (or the release's `resources`
 * value, which these charts give every container), placement from the release's values over the
 * chart defaults (Helm replaces lists, so values' tolerations and affinity terms replace the
 * defaults; a node selector the template fixes stays).
 */
export function chartDaemonSets(
  chart: string,
  version: string,
  values: ChartValues,
): PlacedDaemonSet[] {
  const facts = factsOrNewest('helm-chart', chart, version);
  if (!facts) return [];
  const resources = facts.resourcesValue
    ? (values.resources as { requests?: Record<string, unknown> } | undefined)?.requests
    : undefined;
  return facts.daemonSets.map((ds) => {
    const nodeSelector = {
      ...ds.placement.nodeSelector,
      ...(values.nodeSelector as Record<string, string> | undefined),
    };
    const tolerations =
      (values.tolerations as Placement['tolerations']) ?? ds.placement.tolerations;
    const affinity = (values.affinity as Placement['affinity']) ?? ds.placement.affinity;
    const placement: Placement = {
      ...(Object.keys(nodeSelector).length > 0 && { nodeSelector }),
      ...(affinity !== undefined && { affinity }),
      ...(tolerations !== undefined && { tolerations }),
    };
    const containers = resources
      ? ds.containers.map((c) => ({
          ...c,
          cpuMillicores: resources.cpu === undefined ? 0 : cpuQuantity(resources.cpu),
          memoryMiB: resources.memory === undefined ? 0 : memoryQuantity(resources.memory),
        }))
      : ds.containers;
    return {
      source: `${chart} chart ${version}`,
      name: ds.name,
      namespace: ds.namespace,
      placement,
      ...podReservation(containers),
      ...(ds.runsOnlyOn && { runsOnlyOn: ds.runsOnlyOn }),
    };
  });
}

/** Kubernetes CPU quantity in millicores ('250m', '1', '0.5'). */
export function cpuQuantity(quantity: unknown): number {
  const text = String(quantity);
  return text.endsWith('m') ? Number(text.slice(0, -1)) : Math.round(Number(text) * 1000);
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1 / 2 ** 20,
  Ki: 1 / 1024,
  Mi: 1,
  Gi: 1024,
  k: 1e3 / 2 ** 20,
  M: 1e6 / 2 ** 20,
  G: 1e9 / 2 ** 20,
};

/** Kubernetes memory quantity in MiB ('128Mi', '1Gi', '500M'). */
export function memoryQuantity(quantity: unknown): number {
  const match = /^([0-9.]+)([A-Za-z]*)$/.exec(String(quantity));
  const unit = MEMORY_UNITS[match?.[2] ?? 'x'];
  return match && unit !== undefined ? Number(match[1]) * unit : Number.NaN;
}

/** A node as placement sees it: its labels and taints. */
export interface NodeShape {
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
}

/**
 * A GPU node of `type` as Karpenter launches it from the NodePool (lib/k8s/karpenter.ts): the
 * template labels, the well-known labels placement here reads, and the GPU taint.
 */
export function gpuNode(type: string): NodeShape {
  return {
    labels: {
      ...GPU_NODE_LABELS,
      'karpenter.sh/nodepool': GPU_POOL,
      'node.kubernetes.io/instance-type': type,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': instanceFacts(type).arch,
    },
    taints: [GPU_TAINT],
  };
}

/**
 * Whether a label value (undefined: the node has no such label) meets one node selector
 * requirement, as the scheduler and Karpenter read it. The deploy rehearsal uses it too.
 */
export function requirementMet(value: string | undefined, r: NodeRequirement): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
      return value !== undefined && Number(value) > Number(values[0]);
    case 'Lt':
      return value !== undefined && Number(value) < Number(values[0]);
  }
}

function satisfied(labels: NodeShape['labels'], r: NodeRequirement): boolean {
  return requirementMet(labels[r.key], r);
}

function tolerated(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return t.key === undefined || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/**
 * Whether the scheduler puts a pod with this placement on the node: every NoSchedule/NoExecute
 * taint tolerated, the node selector matched, and one required affinity term matched.
 */
export function landsOn(placement: Placement, node: NodeShape): boolean {
  const taints = node.taints.filter((t) => t.effect !== 'PreferNoSchedule');
  if (!taints.every((t) => tolerated(placement.tolerations ?? [], t))) return false;
  for (const [key, value] of Object.entries(placement.nodeSelector ?? {})) {
    if (node.labels[key] !== value) return false;
  }
  const terms =
    placement.affinity?.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
      .nodeSelectorTerms;
  if (!terms || terms.length === 0) return true;
  return terms.some((term) => term.matchExpressions.every((r) => satisfied(node.labels, r)));
}

/**
 * The DaemonSets on a GPU node of `type`: the pinned add-ons' and the NVIDIA device plugin's with
 * the app's values, each where its placement lands it. The templates define no DaemonSet of their
 * own (the deploy rehearsal counts any they gain).
 */
export function gpuNodeDaemonSets(type: string): PlacedDaemonSet[] {
  const node = gpuNode(type);
  return [
    ...addonDaemonSets(),
    ...chartDaemonSets(
      NVIDIA_DEVICE_PLUGIN.chart,
      NVIDIA_DEVICE_PLUGIN.version,
      NVIDIA_DEVICE_PLUGIN_VALUES,
    ),
  ].filter((ds) => landsOn(ds.placement, node));
}
