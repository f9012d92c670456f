/**
 * What a stage's templates ask a cluster to run, read back from the synthesized templates: the
 * Kubernetes objects CDK applies (`Custom::AWSCDK-EKS-KubernetesResource`), the Helm releases
 * (`Custom::AWSCDK-EKS-HelmChart`, values only: charts are not rendered here) and the node pools
 * (managed node groups and Karpenter NodePools). The rules in rules.ts check this model, and the
 * rule tests build it from small fixtures with {@link clusterOf}.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { INSTANCE_TYPES, instanceFacts } from '../../../lib/k8s/instance-types.ts';
import { requirementMet } from '../../../lib/k8s/node-daemons.ts';
import { placeholder } from './intrinsics.ts';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are untyped JSON the rules navigate
export type K8sObject = Record<string, any>;

/** An object CDK applies, with the template resource that applies it. */
export interface Applied {
  readonly source: string;
  readonly object: K8sObject;
}

export interface ChartRelease {
  readonly source: string;
  readonly chart: string;
  readonly version: string;
  readonly release: string;
  readonly namespace: string;
  readonly values: K8sObject;
}

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule';
}

export interface Requirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  readonly values?: readonly string[];
}

/** A set of nodes of the same shape: a managed node group or a Karpenter NodePool. */
export interface Pool {
  readonly name: string;
  readonly kind: 'nodegroup' | 'karpenter';
  /** Instance types a node of the pool may be; each has a row in lib/k8s/instance-types.ts. */
  readonly instanceTypes: readonly string[];
  /** Labels every node of the pool carries (beyond the per-instance-type well-known ones). */
  readonly labels: Readonly<Record<string, string>>;
  /** Further label constraints (a Karpenter requirement on a custom key offers its values). */
  readonly requirements: readonly Requirement[];
  readonly taints: readonly Taint[];
  /**
   * Most nodes the pool can have: a node group's maxSize when a cluster-autoscaler runs, else its
   * desiredSize (nothing else changes it); Infinity for a NodePool (its limits count separately).
   */
  readonly maxNodes: number;
  /** Where maxNodes comes from, for messages. */
  readonly size: string;
  /** NodePool `spec.limits` (cpu in millicores, memory in MiB, GPUs); none for a node group. */
  readonly limits?: {
    readonly cpuMillicores?: number;
    readonly memoryMiB?: number;
    readonly gpus?: number;
  };
  /** Types a NodePool's requirements allow that the facts table lacks: they cannot be checked. */
  readonly unknownInstanceTypes?: readonly string[];
}

/** What the managed Prometheus scraper collects (`AWS::APS::Scraper`): KEDA's signals. */
export interface ScrapeModel {
  readonly intervalSeconds: number;
  readonly jobs: readonly string[];
}

export interface ClusterModel {
  readonly objects: readonly Applied[];
  readonly charts: readonly ChartRelease[];
  readonly pools: readonly Pool[];
  /** Absent when no template has a scraper. */
  readonly scrape?: ScrapeModel;
}

const EFFECTS: Record<string, Taint['effect']> = {
  NO_SCHEDULE: 'NoSchedule',
  NO_EXECUTE: 'NoExecute',
  PREFER_NO_SCHEDULE: 'PreferNoSchedule',
};

/** Parses a manifest or values document whose intrinsics become placeholders. */
function parseDocument(value: unknown): unknown {
  return JSON.parse(placeholder(value));
}

/** Node labels that follow from the instance type: a NodePool requirement on them picks types. */
const INSTANCE_TYPE_LABEL_KEYS = [
  'node.kubernetes.io/instance-type',
  'kubernetes.io/arch',
  'kubernetes.io/os',
  'karpenter.k8s.aws/instance-family',
  'karpenter.k8s.aws/instance-category',
  'karpenter.k8s.aws/instance-generation',
  'karpenter.k8s.aws/instance-size',
  'karpenter.k8s.aws/instance-cpu',
  'karpenter.k8s.aws/instance-memory',
  'karpenter.k8s.aws/instance-gpu-count',
  'karpenter.k8s.aws/instance-gpu-name',
  'karpenter.k8s.aws/instance-gpu-manufacturer',
  'karpenter.k8s.aws/instance-gpu-memory',
];

/** The labels EKS and Karpenter put on a node of `type` (Karpenter's well-known labels). */
export function instanceTypeLabels(type: string): Record<string, string> {
  const facts = instanceFacts(type);
  const [family = type, size = ''] = type.split('.');
  const match = /^([a-z]+)(\d+)/.exec(family);
  const labels: Record<string, string> = {
    'node.kubernetes.io/instance-type': type,
    'kubernetes.io/arch': facts.arch,
    'kubernetes.io/os': 'linux',
    'karpenter.k8s.aws/instance-family': family,
    'karpenter.k8s.aws/instance-category': match?.[1] ?? family,
    'karpenter.k8s.aws/instance-generation': match?.[2] ?? '',
    'karpenter.k8s.aws/instance-size': size,
    'karpenter.k8s.aws/instance-cpu': String(facts.vcpus),
    'karpenter.k8s.aws/instance-memory': String(facts.memoryMiB),
  };
  if (facts.gpus > 0 && facts.gpuModel) {
    labels['karpenter.k8s.aws/instance-gpu-count'] = String(facts.gpus);
    labels['karpenter.k8s.aws/instance-gpu-name'] = facts.gpuModel.toLowerCase();
    labels['karpenter.k8s.aws/instance-gpu-manufacturer'] = 'nvidia';
    labels['karpenter.k8s.aws/instance-gpu-memory'] = String(facts.gpuMemoryMiB);
  }
  return labels;
}

/** Whether a label set (undefined = label absent) satisfies one requirement. */
export function satisfies(value: string | undefined, r: Requirement): boolean {
  return requirementMet(value, r);
}

/** Kubernetes quantity of CPU as millicores ('500m', '2', '0.5'). */
export function cpuMillicores(quantity: unknown): number {
  const text = String(quantity);
  if (text.endsWith('m')) return Number(text.slice(0, -1));
  return Math.round(Number(text) * 1000);
}

const BINARY: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** Kubernetes quantity of memory in MiB ('16384Mi', '16Gi', '17G', bytes). */
export function memoryMiB(quantity: unknown): number {
  const match = /^([0-9.]+)([A-Za-z]*)$/.exec(String(quantity));
  if (!match) return Number.NaN;
  const [, number = '', unit = ''] = match;
  if (unit in BINARY) return Number(number) * (BINARY[unit] ?? 1);
  if (unit in DECIMAL) return (Number(number) * (DECIMAL[unit] ?? 1)) / 2 ** 20;
  if (unit === '') return Number(number) / 2 ** 20;
  return Number.NaN;
}

function karpenterPool(applied: Applied): Pool {
  const spec = applied.object.spec ?? {};
  const template = spec.template ?? {};
  const requirements: Requirement[] = template.spec?.requirements ?? [];
  const typeKeys = new Set(INSTANCE_TYPE_LABEL_KEYS);
  const typeRequirements = requirements.filter((r) => typeKeys.has(r.key));
  const allows = (type: string) => {
    const labels = instanceTypeLabels(type);
    return typeRequirements.every((r) => satisfies(labels[r.key], r));
  };
  const named = requirements.find(
    (r) => r.key === 'node.kubernetes.io/instance-type' && r.operator === 'In',
  );
  const unknown = (named?.values ?? []).filter((t) => !(t in INSTANCE_TYPES));
  const limits = spec.limits ?? {};
  return {
    name: applied.object.metadata?.name ?? applied.source,
    kind: 'karpenter',
    instanceTypes: Object.keys(INSTANCE_TYPES).filter(allows),
    labels: {
      ...(template.metadata?.labels ?? {}),
      'karpenter.sh/nodepool': applied.object.metadata?.name,
    },
    requirements: requirements.filter((r) => !typeKeys.has(r.key)),
    taints: template.spec?.taints ?? [],
    maxNodes: Number.POSITIVE_INFINITY,
    size: `Karpenter NodePool, limits ${JSON.stringify(limits)}`,
    limits: {
      ...(limits.cpu !== undefined && { cpuMillicores: cpuMillicores(limits.cpu) }),
      ...(limits.memory !== undefined && { memoryMiB: memoryMiB(limits.memory) }),
      ...(limits['nvidia.com/gpu'] !== undefined && { gpus: Number(limits['nvidia.com/gpu']) }),
    },
    unknownInstanceTypes: unknown,
  };
}

function nodegroupPool(id: string, p: K8sObject, nodeAutoscaler: boolean): Pool {
  const scaling = p.ScalingConfig ?? {};
  const desired = scaling.DesiredSize ?? scaling.MinSize ?? 1;
  return {
    name: id,
    kind: 'nodegroup',
    instanceTypes: p.InstanceTypes ?? ['t3.medium'],
    labels: {
      ...(p.Labels ?? {}),
      'eks.amazonaws.com/capacityType': p.CapacityType ?? 'ON_DEMAND',
    },
    requirements: [],
    taints: (p.Taints ?? []).map((t: K8sObject) => ({
      key: t.Key,
      ...(t.Value !== undefined && { value: t.Value }),
      effect: EFFECTS[t.Effect] ?? t.Effect,
    })),
    maxNodes: nodeAutoscaler ? (scaling.MaxSize ?? desired) : desired,
    size: nodeAutoscaler
      ? `node group maxSize ${scaling.MaxSize}, grown by cluster-autoscaler`
      : `node group desiredSize ${desired}; no node autoscaler grows it toward maxSize ${scaling.MaxSize}`,
  };
}

/** Builds the model from the objects and node groups a test writes by hand. */
export function clusterOf(parts: {
  objects?: readonly K8sObject[];
  charts?: readonly Omit<ChartRelease, 'source'>[];
  /** `AWS::EKS::Nodegroup` properties, keyed by logical id. */
  nodegroups?: Readonly<Record<string, K8sObject>>;
}): ClusterModel {
  const objects = (parts.objects ?? []).map((object, i) => ({ source: `fixture${i}`, object }));
  const charts = (parts.charts ?? []).map((c, i) => ({ ...c, source: `chart${i}` }));
  const autoscaled = runsClusterAutoscaler(objects, charts);
  return {
    objects,
    charts,
    pools: [
      ...Object.entries(parts.nodegroups ?? {}).map(([id, p]) => nodegroupPool(id, p, autoscaled)),
      ...objects.filter((a) => isNodePool(a.object)).map(karpenterPool),
    ],
  };
}

/** Whether something resizes managed node groups (cluster-autoscaler, as a chart or a Deployment). */
function runsClusterAutoscaler(
  objects: readonly Applied[],
  charts: readonly ChartRelease[],
): boolean {
  return (
    charts.some((c) => c.chart === 'cluster-autoscaler') ||
    objects.some(
      (a) => a.object.kind === 'Deployment' && a.object.metadata?.name === 'cluster-autoscaler',
    )
  );
}

function isNodePool(o: K8sObject): boolean {
  return o.apiVersion === 'karpenter.sh/v1' && o.kind === 'NodePool';
}

/** The model of everything the given templates (all stacks of one stage) ask for. */
export function clusterFromTemplates(templates: readonly Template[]): ClusterModel {
  const objects: Applied[] = [];
  const charts: ChartRelease[] = [];
  const nodegroups: [string, K8sObject][] = [];
  let scrape: ScrapeModel | undefined;
  for (const template of templates) {
    const resources = template.toJSON().Resources ?? {};
    for (const [id, resource] of Object.entries<K8sObject>(resources)) {
      const p = resource.Properties ?? {};
      if (resource.Type === 'Custom::AWSCDK-EKS-KubernetesResource') {
        const parsed = parseDocument(p.Manifest);
        for (const object of Array.isArray(parsed) ? parsed : [parsed]) {
          objects.push({ source: id, object: object as K8sObject });
        }
      } else if (resource.Type === 'Custom::AWSCDK-EKS-HelmChart') {
        charts.push({
          source: id,
          chart: p.Chart,
          version: p.Version ?? '',
          release: p.Release ?? p.Chart,
          namespace: p.Namespace ?? 'default',
          values: p.Values === undefined ? {} : (parseDocument(p.Values) as K8sObject),
        });
      } else if (resource.Type === 'AWS::EKS::Nodegroup') {
        nodegroups.push([id, p]);
      } else if (resource.Type === 'AWS::APS::Scraper') {
        scrape = scrapeModel(p.ScrapeConfiguration?.ConfigurationBlob?.['Fn::Base64']);
      }
    }
  }
  const autoscaled = runsClusterAutoscaler(objects, charts);
  const pools = [
    ...nodegroups.map(([id, p]) => nodegroupPool(id, p, autoscaled)),
    ...objects.filter((a) => isNodePool(a.object)).map(karpenterPool),
  ];
  return { objects, charts, pools, ...(scrape && { scrape }) };
}

/** The scrape interval and job names of a Prometheus configuration (JSON, as the stack writes it). */
function scrapeModel(blob: unknown): ScrapeModel {
  if (typeof blob !== 'string')
    throw new Error('AWS::APS::Scraper without a literal configuration');
  const config = JSON.parse(blob) as {
    global?: { scrape_interval?: string };
    scrape_configs?: { job_name: string }[];
  };
  const interval = /^(\d+)s$/.exec(config.global?.scrape_interval ?? '60s');
  return {
    intervalSeconds: Number(interval?.[1] ?? 60),
    jobs: (config.scrape_configs ?? []).map((job) => job.job_name),
  };
}
