/**
 * The inference plane's part of the stage config: the EKS cluster, the GPU pool Karpenter
 * provisions, Triton, and the served models. Besides reading fields, it checks what a cluster
 * would otherwise only reveal after a deploy: that Triton's requests fit a node of every GPU
 * instance type the pool may launch, and that every model fits the GPU memory it gets.
 */
import type { Fields } from './config-fields.ts';
import { allocatable, INSTANCE_TYPES, instanceFacts } from './k8s/instance-types.ts';
import { gpuMemoryNeed, KNOWN_MODELS, type ModelArchitecture } from './k8s/model-facts.ts';
import { gpuNodeDaemonSets } from './k8s/node-daemons.ts';

export type CapacityType = 'ON_DEMAND' | 'SPOT';

/** Chat templates the session manager implements (services/session-manager chat-template.ts). */
export const CHAT_TEMPLATES = ['chatml', 'llama3'] as const;
export type ChatTemplateName = (typeof CHAT_TEMPLATES)[number];

export interface NodeGroupConfig {
  readonly instanceTypes: readonly string[];
  readonly minSize: number;
  readonly desiredSize: number;
  readonly maxSize: number;
  readonly diskSizeGiB: number;
  readonly capacityType: CapacityType;
}

/** The GPU NodePool: Karpenter launches these nodes when a GPU pod is pending, from zero. */
export interface GpuPoolConfig {
  readonly instanceTypes: readonly string[];
  readonly capacityType: CapacityType;
  /** Karpenter's limit: GPUs the pool may hold at once (bounds the bill). */
  readonly maxGpus: number;
  readonly diskSizeGiB: number;
  /** An empty GPU node is removed after this long. */
  readonly consolidateAfterMinutes: number;
  /** Nodes are replaced after this long (picks up AMI patches). */
  readonly expireAfterHours: number;
}

export interface EksConfig {
  /** Kubernetes minor version; must have a kubectl layer in lib/k8s/kubectl-layer.ts. */
  readonly version: string;
  /** CIDRs that may reach the public API endpoint; empty keeps the endpoint private. */
  readonly endpointPublicCidrs: readonly string[];
  /** IAM roles or users that get cluster-admin through EKS access entries. */
  readonly adminPrincipalArns: readonly string[];
  readonly systemNodes: NodeGroupConfig;
  readonly gpuNodes: GpuPoolConfig;
}

export interface TritonConfig {
  readonly image: string;
  /** `s3://bucket/prefix`; absent: the stack creates a model bucket and uses `s3://<it>/models`. */
  readonly modelRepository?: string;
  readonly gpusPerReplica: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Derived from the smallest GPU instance type when not set; validated when set. */
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  readonly shmSizeMiB: number;
  /**
   * KEDA scales Triton so the mean time to first token (vLLM's histogram, which grows as requests
   * queue inside the engine) stays near this.
   */
  readonly targetTimeToFirstTokenMs: number;
  /** KEDA also adds a replica for every this many requests pending in Triton's own queue. */
  readonly targetPendingRequests: number;
  /** With minReplicas 0: minutes without a request before Triton (and then its node) goes. */
  readonly idleMinutes: number;
  /** With minReplicas 0: how long a request waits for Triton to wake before a 503. */
  readonly wakeWaitSeconds: number;
}

export interface ModelConfig {
  /** The name clients send as `model`, and the Triton model directory. */
  readonly name: string;
  readonly huggingFaceId: string;
  readonly chatTemplate: ChatTemplateName;
  /** vLLM's `max_model_len` and the window the session manager enforces. */
  readonly contextWindow: number;
  /** The session manager's max_tokens when a request sets none. @default - service default */
  readonly defaultMaxTokens?: number;
  /** Other vLLM engine arguments, written to model.json as they are. */
  readonly engineArgs: Readonly<Record<string, string | number | boolean>>;
  /** Secrets Manager secret (name) holding the Hugging Face token of a gated model. */
  readonly huggingFaceTokenSecretName?: string;
  readonly architecture: ModelArchitecture;
}

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
/** Graviton families carry a `g` right after the generation digit (m7g, c7gn, r8g, t4g). */
const GRAVITON = /^[a-z]+\d+g[a-z]*\./;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/;

/** What the DaemonSets on one GPU node request together, and which they are. */
export interface DaemonSetReserve {
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  /** `name cpu/memory` of each DaemonSet that requests something, for messages. */
  readonly daemonSets: readonly string[];
}

/**
 * CPU and memory the DaemonSets on a GPU node of `type` request, kept free next to Triton: every
 * DaemonSet in lib/k8s/node-daemons.ts (EKS add-ons and the NVIDIA device plugin, at their pinned
 * versions) whose tolerations and node selection land it on that node. The templates define no
 * DaemonSet of their own; the deploy rehearsal counts any they gain.
 */
export function gpuNodeDaemonSetReserve(type: string): DaemonSetReserve {
  const daemonSets = gpuNodeDaemonSets(type);
  return {
    cpuMillicores: daemonSets.reduce((sum, d) => sum + d.cpuMillicores, 0),
    memoryMiB: daemonSets.reduce((sum, d) => sum + d.memoryMiB, 0),
    daemonSets: daemonSets
      .filter((d) => d.cpuMillicores > 0 || d.memoryMiB > 0)
      .map((d) => `${d.name} ${d.cpuMillicores}m/${d.memoryMiB} MiB`),
  };
}

/** Engine arguments the stack derives, so a stage cannot set them twice. */
const DERIVED_ENGINE_ARGS: Record<string, string> = {
  model: 'huggingFaceId',
  max_model_len: 'contextWindow',
  tensor_parallel_size: 'triton.gpusPerReplica',
};

function parseNodeGroup(f: Fields): NodeGroupConfig {
  f.only(['instanceTypes', 'minSize', 'desiredSize', 'maxSize', 'diskSizeGiB', 'capacityType']);
  const instanceTypes = instanceTypeList(f);
  for (const type of instanceTypes) {
    if (GRAVITON.test(type)) {
      f.fail(
        'instanceTypes',
        `has ${type}, a Graviton (arm64) type; the session manager image is built for linux/amd64, so use an x86 type such as "m7i.large"`,
      );
    }
  }
  const minSize = f.integer('minSize', 1, 100, 1);
  const maxSize = f.integer('maxSize', 1, 100);
  const desiredSize = f.integer('desiredSize', 0, 100, minSize);
  if (!(minSize <= desiredSize && desiredSize <= maxSize)) {
    f.fail(
      'desiredSize',
      `needs minSize <= desiredSize <= maxSize, got ${minSize} <= ${desiredSize} <= ${maxSize}; raise maxSize or lower minSize`,
    );
  }
  return {
    instanceTypes,
    minSize,
    desiredSize,
    maxSize,
    diskSizeGiB: f.integer('diskSizeGiB', 20, 16384, 50),
    capacityType: f.oneOf('capacityType', ['ON_DEMAND', 'SPOT'] as const, 'ON_DEMAND'),
  };
}

function instanceTypeList(f: Fields): string[] {
  const instanceTypes = f.strings('instanceTypes');
  if (instanceTypes.length === 0) f.fail('instanceTypes', 'must name at least one instance type');
  for (const type of instanceTypes) {
    if (!INSTANCE_TYPE.test(type)) {
      f.fail(
        'instanceTypes',
        `has ${JSON.stringify(type)}, which is not an EC2 instance type like "m7i.large"`,
      );
    }
  }
  return instanceTypes;
}

function parseGpuPool(f: Fields): GpuPoolConfig {
  for (const old of ['minSize', 'desiredSize', 'maxSize']) {
    if (f.has(old)) {
      f.fail(
        old,
        'belongs to the managed GPU node group this app no longer creates: Karpenter launches GPU nodes when Triton needs them (from zero); bound the pool with "maxGpus" instead',
      );
    }
  }
  f.only([
    'instanceTypes',
    'capacityType',
    'maxGpus',
    'diskSizeGiB',
    'consolidateAfterMinutes',
    'expireAfterHours',
  ]);
  const instanceTypes = instanceTypeList(f);
  for (const type of instanceTypes) {
    const facts = INSTANCE_TYPES[type];
    if (!facts || facts.gpus === 0) {
      const known = Object.entries(INSTANCE_TYPES)
        .filter(([, t]) => t.gpus > 0)
        .map(([name]) => name);
      f.fail(
        'instanceTypes',
        `has ${type}, which is not an NVIDIA GPU type this app knows; use one of ${known.join(', ')} or add its row to lib/k8s/instance-types.ts`,
      );
    }
  }
  return {
    instanceTypes,
    capacityType: f.oneOf('capacityType', ['ON_DEMAND', 'SPOT'] as const, 'ON_DEMAND'),
    maxGpus: f.integer('maxGpus', 1, 1000, 4),
    diskSizeGiB: f.integer('diskSizeGiB', 100, 16384, 200),
    consolidateAfterMinutes: f.integer('consolidateAfterMinutes', 1, 1440, 15),
    expireAfterHours: f.integer('expireAfterHours', 24, 8760, 720),
  };
}

export function parseEks(f: Fields, supportedVersions: readonly string[]): EksConfig {
  if (f.has('adminRoleArn')) {
    f.fail(
      'adminRoleArn',
      'was replaced by "adminPrincipalArns": a list of IAM role or user ARNs that get cluster-admin',
    );
  }
  f.only(['version', 'endpointPublicCidrs', 'adminPrincipalArns', 'systemNodes', 'gpuNodes']);
  const version = f.string('version', supportedVersions[0]);
  if (!supportedVersions.includes(version)) {
    f.fail(
      'version',
      `is "${version}", but this app ships kubectl layers only for ${supportedVersions.join(', ')}; use one of those, or add @aws-cdk/lambda-layer-kubectl-v<NN> and register it in lib/k8s/kubectl-layer.ts`,
    );
  }
  const endpointPublicCidrs = f.strings('endpointPublicCidrs', []);
  for (const cidr of endpointPublicCidrs) {
    if (!CIDR.test(cidr) || cidr.endsWith('/0')) {
      f.fail(
        'endpointPublicCidrs',
        `has ${JSON.stringify(cidr)}; list operator CIDRs such as "203.0.113.0/24", never /0`,
      );
    }
  }
  const adminPrincipalArns = f.strings('adminPrincipalArns', []);
  for (const arn of adminPrincipalArns) {
    if (!PRINCIPAL_ARN.test(arn)) {
      f.fail(
        'adminPrincipalArns',
        `has ${JSON.stringify(arn)}; list IAM role or user ARNs such as "arn:aws:iam::123456789012:role/Admin"`,
      );
    }
  }
  if (new Set(adminPrincipalArns).size !== adminPrincipalArns.length) {
    f.fail('adminPrincipalArns', 'lists a principal twice');
  }
  return {
    version,
    endpointPublicCidrs,
    adminPrincipalArns,
    systemNodes: parseNodeGroup(f.object('systemNodes', true)),
    gpuNodes: parseGpuPool(f.object('gpuNodes', true)),
  };
}

/**
 * Triton's requests: taken from the stage or derived from the smallest GPU type of the pool, and
 * in both cases checked against a node of every GPU type the pool may launch, because Karpenter
 * picks among all of them and a pod that fits none stays Pending forever.
 */
export function parseTriton(f: Fields, pool: GpuPoolConfig): TritonConfig {
  if (f.has('targetCpuPercent')) {
    f.fail(
      'targetCpuPercent',
      'is gone: Triton scales on its serving signals, not CPU; use "targetTimeToFirstTokenMs" and "targetPendingRequests"',
    );
  }
  f.only([
    'image',
    'modelRepository',
    'gpusPerReplica',
    'minReplicas',
    'maxReplicas',
    'cpuMillicores',
    'memoryMiB',
    'shmSizeMiB',
    'targetTimeToFirstTokenMs',
    'targetPendingRequests',
    'idleMinutes',
    'wakeWaitSeconds',
  ]);
  const image = f.matching(
    'image',
    /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/,
    'must be a registry image with a pinned tag or digest, e.g. "nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3"',
  );
  if (image.endsWith(':latest')) {
    f.fail(
      'image',
      'uses the "latest" tag; pin a release tag such as ":25.10-vllm-python-py3" so deploys are repeatable',
    );
  }
  // 0 lets Triton, and so the GPU node, go while nobody calls a model (docs/operations.md).
  const { minReplicas, maxReplicas } = f.replicas({ min: 1, max: 2 }, 100, 0);
  for (const field of ['idleMinutes', 'wakeWaitSeconds']) {
    if (minReplicas > 0 && f.has(field)) {
      f.fail(
        field,
        `only applies when minReplicas is 0 (Triton scales to zero), and it is ${minReplicas}`,
      );
    }
  }
  const idleMinutes = f.integer('idleMinutes', 1, 1440, 15);
  const wakeWaitSeconds = f.integer('wakeWaitSeconds', 0, 300, 20);
  const gpusPerReplica = f.integer('gpusPerReplica', 1, 8, 1);

  // What one replica may use on each type: its share of the node's GPUs, minus the DaemonSets.
  const room = pool.instanceTypes.map((type) => {
    const node = allocatable(type);
    const reserve = gpuNodeDaemonSetReserve(type);
    const share = gpusPerReplica / Math.max(node.gpus, 1);
    return {
      type,
      gpus: node.gpus,
      reserve,
      cpu: Math.floor((node.cpuMillicores - reserve.cpuMillicores) * share),
      memory: Math.floor((node.memoryMiB - reserve.memoryMiB) * share),
    };
  });
  for (const r of room) {
    if (r.gpus < gpusPerReplica) {
      f.fail(
        'gpusPerReplica',
        `is ${gpusPerReplica}, but a ${r.type} node has ${r.gpus} GPU(s); lower gpusPerReplica or remove ${r.type} from eks.gpuNodes.instanceTypes`,
      );
    }
  }
  const smallest = (key: 'cpu' | 'memory') =>
    room.reduce((a, b) => (b[key] < a[key] ? b : a), room[0] as (typeof room)[number]);
  const derivedCpu = Math.floor(smallest('cpu').cpu / 100) * 100;
  const derivedMemory = Math.floor(smallest('memory').memory / 256) * 256;
  const cpuMillicores = f.integer('cpuMillicores', 250, 192000, derivedCpu);
  const memoryMiB = f.integer('memoryMiB', 1024, 2_000_000, derivedMemory);
  for (const r of room) {
    if (memoryMiB > r.memory) {
      f.fail(
        'memoryMiB',
        `is ${memoryMiB} MiB, but a ${r.type} node has ${r.memory} MiB allocatable for it (after ${r.reserve.memoryMiB} MiB for the DaemonSets that run on it: ${r.reserve.daemonSets.join(', ')}), so the pod would stay Pending; set triton.memoryMiB to at most ${r.memory} (or leave it out to derive it), or remove ${r.type} from eks.gpuNodes.instanceTypes`,
      );
    }
    if (cpuMillicores > r.cpu) {
      f.fail(
        'cpuMillicores',
        `is ${cpuMillicores}m, but a ${r.type} node has ${r.cpu}m allocatable for it (after ${r.reserve.cpuMillicores}m for the DaemonSets that run on it: ${r.reserve.daemonSets.join(', ')}), so the pod would stay Pending; set triton.cpuMillicores to at most ${r.cpu} (or leave it out to derive it), or remove ${r.type} from eks.gpuNodes.instanceTypes`,
      );
    }
  }
  const shmSizeMiB = f.integer('shmSizeMiB', 64, 1_000_000, Math.min(2048, memoryMiB / 4));
  if (shmSizeMiB > memoryMiB / 2) {
    f.fail(
      'shmSizeMiB',
      `is ${shmSizeMiB} MiB; /dev/shm is memory counted against triton.memoryMiB (${memoryMiB}), so keep it at most half of that`,
    );
  }
  return {
    image,
    modelRepository: f.optionalMatching(
      'modelRepository',
      /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9!_.*'()/-]*)?$/,
      'must be an S3 URI such as "s3://my-models/triton" (or leave it out to let the stack create a bucket)',
    ),
    gpusPerReplica,
    minReplicas,
    maxReplicas,
    cpuMillicores,
    memoryMiB,
    shmSizeMiB,
    targetTimeToFirstTokenMs: f.integer('targetTimeToFirstTokenMs', 50, 600_000, 2000),
    targetPendingRequests: f.integer('targetPendingRequests', 1, 1000, 4),
    idleMinutes,
    wakeWaitSeconds,
  };
}

function parseArchitecture(f: Fields, huggingFaceId: string): ModelArchitecture {
  const known = KNOWN_MODELS[huggingFaceId];
  if (!f.has('architecture')) {
    if (known) return known;
    f.fail(
      'architecture',
      `is needed because ${huggingFaceId} is not in lib/k8s/model-facts.ts: give {parametersBillions, layers, kvHeads, headDim, dtype, maxContext, gated} from its config.json so synth can check it fits the GPU`,
    );
  }
  const a = f
    .object('architecture', true)
    .only(['parametersBillions', 'layers', 'kvHeads', 'headDim', 'dtype', 'maxContext', 'gated']);
  return {
    parametersBillions: a.number('parametersBillions', 0.01, 2000),
    layers: a.integer('layers', 1, 1000),
    kvHeads: a.integer('kvHeads', 1, 1024),
    headDim: a.integer('headDim', 1, 1024),
    dtype: a.oneOf('dtype', ['bfloat16', 'float16', 'float32'] as const, 'bfloat16'),
    maxContext: a.integer('maxContext', 16, 10_000_000),
    gated: a.boolean('gated', false),
  };
}

function parseModel(f: Fields): ModelConfig {
  f.only([
    'name',
    'huggingFaceId',
    'chatTemplate',
    'contextWindow',
    'defaultMaxTokens',
    'engineArgs',
    'huggingFaceTokenSecretName',
    'architecture',
  ]);
  const name = f.matching(
    'name',
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'must be letters, digits, ".", "_" or "-" (at most 64; it is a Triton model directory), e.g. "qwen2.5-0.5b-instruct"',
  );
  const huggingFaceId = f.matching(
    'huggingFaceId',
    /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/,
    'must be a Hugging Face model id such as "Qwen/Qwen2.5-0.5B-Instruct"',
  );
  const architecture = parseArchitecture(f, huggingFaceId);
  const chatTemplate = f.oneOf('chatTemplate', CHAT_TEMPLATES, 'chatml');
  const contextWindow = f.integer('contextWindow', 256, 10_000_000);
  if (contextWindow > architecture.maxContext) {
    f.fail(
      'contextWindow',
      `is ${contextWindow}, but ${huggingFaceId} supports at most ${architecture.maxContext} tokens; vLLM would refuse to start with that max_model_len`,
    );
  }
  const defaultMaxTokens = f.has('defaultMaxTokens')
    ? f.integer('defaultMaxTokens', 1, contextWindow)
    : undefined;
  const args = f.object('engineArgs');
  const engineArgs: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(args.doc)) {
    const derivedFrom = DERIVED_ENGINE_ARGS[key];
    if (derivedFrom) {
      args.fail(key, `is derived from ${derivedFrom}; set that instead`);
    }
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      args.fail(
        key,
        `must be a string, number or boolean vLLM engine argument, got ${JSON.stringify(value)}`,
      );
    }
    engineArgs[key] = value as string | number | boolean;
  }
  engineArgs.gpu_memory_utilization = args.number('gpu_memory_utilization', 0.1, 0.95, 0.9);
  const huggingFaceTokenSecretName = f.optionalMatching(
    'huggingFaceTokenSecretName',
    /^[\w/+=.@-]{1,512}$/,
    'must be a Secrets Manager secret name such as "axon/huggingface-token"',
  );
  if (architecture.gated && !huggingFaceTokenSecretName) {
    f.fail(
      'huggingFaceTokenSecretName',
      `is required: ${huggingFaceId} is gated on Hugging Face; accept its license, store a read token in Secrets Manager and name the secret here`,
    );
  }
  return {
    name,
    huggingFaceId,
    chatTemplate,
    contextWindow,
    ...(defaultMaxTokens !== undefined && { defaultMaxTokens }),
    engineArgs,
    ...(huggingFaceTokenSecretName && { huggingFaceTokenSecretName }),
    architecture,
  };
}

/**
 * The served models, each checked to fit one replica's GPUs on every GPU type of the pool. All
 * models load into the same Triton, so their memory fractions share the GPU.
 */
export function parseModels(
  root: Fields,
  pool: GpuPoolConfig,
  triton: TritonConfig,
): readonly ModelConfig[] {
  const fields = root.objects('models');
  const models = fields.map(parseModel);
  const names = models.map((m) => m.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) root.fail('models', `name "${dup}" twice; every model needs its own name`);
  const secrets = new Set(models.flatMap((m) => m.huggingFaceTokenSecretName ?? []));
  if (secrets.size > 1) {
    root.fail(
      'models',
      `name ${secrets.size} different huggingFaceTokenSecretName values; one Hugging Face token serves every gated model, so use one secret`,
    );
  }
  const shared = models.reduce((sum, m) => sum + Number(m.engineArgs.gpu_memory_utilization), 0);
  if (models.length > 1 && shared > 0.95) {
    root.fail(
      'models',
      `ask for ${shared.toFixed(2)} of the GPU memory together (engineArgs.gpu_memory_utilization); the models share one Triton and its GPUs, so lower them to a sum of at most 0.95`,
    );
  }
  models.forEach((model, index) => {
    const at = `models[${index}]`;
    const need = gpuMemoryNeed(model.architecture, model.contextWindow, model.engineArgs);
    const fraction = Number(model.engineArgs.gpu_memory_utilization);
    for (const type of pool.instanceTypes) {
      const facts = instanceFacts(type);
      const gotGiB = (facts.gpuMemoryMiB / 1024) * triton.gpusPerReplica * fraction;
      if (need.totalGiB > gotGiB) {
        fields[index]?.fail(
          'contextWindow',
          `with ${model.huggingFaceId} needs ${need.totalGiB.toFixed(1)} GiB of GPU memory (weights ${need.weightsGiB.toFixed(1)} GiB + KV cache ${need.kvCacheGiB.toFixed(1)} GiB for ${model.contextWindow} tokens + runtime), but ${triton.gpusPerReplica} ${facts.gpuModel} of a ${type} at ${at}.engineArgs.gpu_memory_utilization ${fraction} give ${gotGiB.toFixed(1)} GiB; lower ${at}.contextWindow, raise gpu_memory_utilization or triton.gpusPerReplica, or choose a larger GPU in eks.gpuNodes.instanceTypes`,
        );
      }
    }
  });
  return models;
}

/** Where the public ALB sends `/v1/*`: the gateway Lambda, or gateway pods on the system nodes. */
export const GATEWAY_EDGES = ['lambda', 'container'] as const;
export type GatewayEdge = (typeof GATEWAY_EDGES)[number];

/** The container edge's pods (read only when `gateway.edge` is "container"; defaults otherwise). */
export interface GatewayContainerConfig {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  /** Largest request body the edge reads; larger ones get 413 before anything is charged. */
  readonly maxBodyBytes: number;
  /** After SIGTERM, how long open streams may run on before the process exits. */
  readonly shutdownGraceSeconds: number;
}

/**
 * The container edge's settings. Its pods run on the system nodes, so their requests are checked
 * against one node of every system instance type: a pod that fits none stays Pending forever and
 * the public ALB has no target.
 */
export function parseGatewayContainer(
  f: Fields,
  systemNodes: Pick<NodeGroupConfig, 'instanceTypes'>,
): GatewayContainerConfig {
  f.only([
    'minReplicas',
    'maxReplicas',
    'cpuMillicores',
    'memoryMiB',
    'maxBodyBytes',
    'shutdownGraceSeconds',
  ]);
  const { minReplicas, maxReplicas } = f.replicas({ min: 2, max: 6 }, 200);
  const cpuMillicores = f.integer('cpuMillicores', 100, 16000, 500);
  const memoryMiB = f.integer('memoryMiB', 128, 65536, 512);
  for (const type of systemNodes.instanceTypes) {
    const node = allocatable(type);
    if (cpuMillicores > node.cpuMillicores) {
      f.fail(
        'cpuMillicores',
        `is ${cpuMillicores}m, but a ${type} system node has ${node.cpuMillicores}m allocatable, so the pod would stay Pending; lower it or use a larger type in eks.systemNodes.instanceTypes`,
      );
    }
    if (memoryMiB > node.memoryMiB) {
      f.fail(
        'memoryMiB',
        `is ${memoryMiB} MiB, but a ${type} system node has ${node.memoryMiB} MiB allocatable, so the pod would stay Pending; lower it or use a larger type in eks.systemNodes.instanceTypes`,
      );
    }
  }
  return {
    minReplicas,
    maxReplicas,
    cpuMillicores,
    memoryMiB,
    // 1 MiB is the Lambda edge's effective cap too, so switching edges changes no client's limit.
    maxBodyBytes: f.integer('maxBodyBytes', 1024, 100 * 1024 * 1024, 1024 * 1024),
    shutdownGraceSeconds: f.integer('shutdownGraceSeconds', 5, 3600, 60),
  };
}
