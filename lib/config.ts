/**
 * The one typed, validated configuration of a deployment stage. A stage is a JSON file
 * `config/stages/<stage>.json`; `bin/axon.ts` picks it with `cdk synth -c stage=<stage>` (default
 * `dev`). Every size, count and version of the system comes from here, so changing a stage never
 * needs a code change, and a bad value fails `cdk synth` with a message naming the field and the
 * fix instead of failing a deployment half-way.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AxonConfig, ConfigError, parseConfig } from '#shared/config';
import { type Doc, Fields, isDoc, StageConfigError } from './config-fields.ts';

export { StageConfigError } from './config-fields.ts';

export type RedisEngine = 'redis' | 'valkey';
export type CapacityType = 'ON_DEMAND' | 'SPOT';

export interface NodeGroupConfig {
  readonly instanceTypes: readonly string[];
  readonly minSize: number;
  readonly desiredSize: number;
  readonly maxSize: number;
  readonly diskSizeGiB: number;
  readonly capacityType: CapacityType;
}

export interface StageConfig {
  /** Stage name: part of every stack name (`Axon-<stage>-Network`). */
  readonly stage: string;
  readonly env: {
    /** Fixed account; absent means the account of the credentials `cdk deploy` runs with. */
    readonly account?: string;
    readonly region: string;
  };
  readonly network: {
    readonly cidr: string;
    /** Explicit AZ names, so synth never needs an AWS lookup. */
    readonly availabilityZones: readonly string[];
    readonly natGateways: number;
  };
  readonly redis: {
    /** @default 'redis' (Redis OSS); 'valkey' is the drop-in alternative. */
    readonly engine: RedisEngine;
    /** @default '7.1' for redis, '8.0' for valkey */
    readonly engineVersion: string;
    readonly nodeType: string;
    /** Replicas per shard; above 0 turns on Multi-AZ with automatic failover. */
    readonly replicasPerShard: number;
    readonly clusterMode: boolean;
    readonly shards: number;
    readonly port: number;
    readonly authRotationDays: number;
    readonly snapshotRetentionDays: number;
  };
  readonly eks: {
    /** Kubernetes minor version; must have a kubectl layer in lib/k8s/kubectl-layer.ts. */
    readonly version: string;
    /** CIDRs that may reach the public API endpoint; empty keeps the endpoint private. */
    readonly endpointPublicCidrs: readonly string[];
    /** IAM role that gets cluster-admin through an EKS access entry. */
    readonly adminRoleArn?: string;
    readonly systemNodes: NodeGroupConfig;
    readonly gpuNodes: NodeGroupConfig;
  };
  readonly triton: {
    readonly image: string;
    /** `s3://bucket/prefix`; absent: the stack creates a model bucket and uses `s3://<it>/models`. */
    readonly modelRepository?: string;
    readonly gpusPerReplica: number;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly cpuMillicores: number;
    readonly memoryMiB: number;
    readonly shmSizeMiB: number;
    readonly targetCpuPercent: number;
  };
  readonly sessionManager: {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly cpuMillicores: number;
    readonly memoryMiB: number;
    readonly sessionTtlSeconds: number;
    readonly inferenceTimeoutMs: number;
    readonly targetCpuPercent: number;
    /** Handed to the service as `MODELS_CONFIG` (JSON) when set. */
    readonly models?: Readonly<Record<string, unknown>>;
  };
  readonly gateway: {
    /**
     * HTTPS with a certificate you manage (DNS is yours: point it at the LoadBalancerDnsName
     * output). Exclusive with domainName.
     */
    readonly certificateArn?: string;
    /**
     * HTTPS on this name: the stack requests and DNS-validates the certificate and creates the
     * alias record, in the hosted zone named by hostedZoneId and hostedZoneName.
     */
    readonly domainName?: string;
    readonly hostedZoneId?: string;
    /** The hosted zone's own name (e.g. "example.com"), never guessed from domainName. */
    readonly hostedZoneName?: string;
    /** Dev only: serve plain HTTP when there is neither certificateArn nor domainName (synth warns). */
    readonly allowPlainHttp: boolean;
    readonly upstreamTimeoutMs: number;
    readonly memoryMiB: number;
    /** Requests per client address per 5 minutes before the WAF blocks it. */
    readonly wafRequestsPerFiveMinutes: number;
  };
  readonly alarms: {
    readonly email?: string;
    readonly fiveXxPerFiveMinutes: number;
    readonly deniedPerFiveMinutes: number;
    readonly degradedPerFiveMinutes: number;
    readonly redisErrorsPerFiveMinutes: number;
    /** Data stack, per Redis node: 5-minute average of EngineCPUUtilization. */
    readonly redisEngineCpuPercent: number;
    /** Data stack, per Redis node: DatabaseMemoryUsagePercentage (of maxmemory). */
    readonly redisMemoryPercent: number;
    readonly redisEvictionsPerFiveMinutes: number;
    /** Data stack, per Redis replica: seconds the replica is behind its primary. */
    readonly redisReplicationLagSeconds: number;
    /** Data stack, per Redis node: open client connections (CurrConnections). */
    readonly redisConnections: number;
    /** Data stack, ApiKeys table: throttled reads, writes or requests per 5 minutes. */
    readonly dynamoThrottlesPerFiveMinutes: number;
    /** Data stack, ApiKeys table: DynamoDB's own (HTTP 500) errors per 5 minutes. */
    readonly dynamoSystemErrorsPerFiveMinutes: number;
  };
  /** The SPEC section 7 document the gateway gets as `AXON_CONFIG`. */
  readonly runtime: AxonConfig;
}

/** Kubernetes versions this app can manage (each needs a matching kubectl layer). */
export const SUPPORTED_EKS_VERSIONS = ['1.35'] as const;

const GPU_FAMILIES = ['g4dn', 'g5', 'g6', 'g6e', 'gr6', 'g7e', 'p4d', 'p4de', 'p5', 'p5e', 'p5en'];
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
/** Graviton families carry a `g` right after the generation digit (m7g, c7gn, r8g, t4g). */
const GRAVITON = /^[a-z]+\d+g[a-z]*\./;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function parseCidr(f: Fields, field: string, minPrefix: number, maxPrefix: number): string {
  const value = f.string(field);
  const m = CIDR.exec(value);
  const octetsOk = m?.slice(1, 5).every((o) => Number(o) <= 255);
  const prefix = Number(m?.[5]);
  if (!m || !octetsOk || prefix < minPrefix || prefix > maxPrefix) {
    f.fail(
      field,
      `must be an IPv4 CIDR with a prefix from /${minPrefix} to /${maxPrefix} (e.g. "10.40.0.0/16"), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function parseNodeGroup(
  f: Fields,
  defaults: { minSize: number; diskSizeGiB: number },
  checkType: (f: Fields, type: string) => void,
): NodeGroupConfig {
  f.only(['instanceTypes', 'minSize', 'desiredSize', 'maxSize', 'diskSizeGiB', 'capacityType']);
  const instanceTypes = f.strings('instanceTypes');
  if (instanceTypes.length === 0) f.fail('instanceTypes', 'must name at least one instance type');
  for (const type of instanceTypes) {
    if (!INSTANCE_TYPE.test(type)) {
      f.fail(
        'instanceTypes',
        `has ${JSON.stringify(type)}, which is not an EC2 instance type like "m7i.large"`,
      );
    }
    checkType(f, type);
  }
  const minSize = f.integer('minSize', defaults.minSize, 100, defaults.minSize);
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
    diskSizeGiB: f.integer('diskSizeGiB', 20, 16384, defaults.diskSizeGiB),
    capacityType: f.oneOf('capacityType', ['ON_DEMAND', 'SPOT'] as const, 'ON_DEMAND'),
  };
}

function parseRedis(f: Fields): StageConfig['redis'] {
  f.only([
    'engine',
    'engineVersion',
    'nodeType',
    'replicasPerShard',
    'clusterMode',
    'shards',
    'port',
    'authRotationDays',
    'snapshotRetentionDays',
  ]);
  const engine = f.oneOf('engine', ['redis', 'valkey'] as const, 'redis');
  const engineVersion = f.matching(
    'engineVersion',
    /^\d+\.\d+$/,
    'must be a major.minor version such as "7.1" (redis) or "8.0" (valkey)',
    engine === 'redis' ? '7.1' : '8.0',
  );
  const [major = 0, minor = 0] = engineVersion.split('.').map(Number);
  const tooOld = engine === 'redis' ? major < 7 : major < 7 || (major === 7 && minor < 2);
  if (tooOld) {
    f.fail(
      'engineVersion',
      `${engineVersion} is too old for ${engine}: AUTH rotation and TLS-required mode need redis >= 7.0 or valkey >= 7.2`,
    );
  }
  const clusterMode = f.boolean('clusterMode', false);
  const shards = f.integer('shards', 1, 500, 1);
  if (shards > 1 && !clusterMode) {
    f.fail('shards', `is ${shards}, but more than one shard needs "clusterMode": true`);
  }
  return {
    engine,
    engineVersion,
    nodeType: f.matching(
      'nodeType',
      /^cache\.[a-z0-9]+\.[a-z0-9]+$/,
      'must be an ElastiCache node type such as "cache.r7g.large"',
      'cache.t4g.small',
    ),
    replicasPerShard: f.integer('replicasPerShard', 0, 5, 1),
    clusterMode,
    shards,
    port: f.integer('port', 1024, 65535, 6379),
    authRotationDays: f.integer('authRotationDays', 1, 365, 30),
    snapshotRetentionDays: f.integer('snapshotRetentionDays', 0, 35, 1),
  };
}

function parseEks(f: Fields): StageConfig['eks'] {
  f.only(['version', 'endpointPublicCidrs', 'adminRoleArn', 'systemNodes', 'gpuNodes']);
  const version = f.string('version', SUPPORTED_EKS_VERSIONS[0]);
  if (!(SUPPORTED_EKS_VERSIONS as readonly string[]).includes(version)) {
    f.fail(
      'version',
      `is "${version}", but this app ships kubectl layers only for ${SUPPORTED_EKS_VERSIONS.join(', ')}; use one of those, or add @aws-cdk/lambda-layer-kubectl-v<NN> and register it in lib/k8s/kubectl-layer.ts`,
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
  const systemNodes = parseNodeGroup(
    f.object('systemNodes', true),
    { minSize: 1, diskSizeGiB: 50 },
    (g, type) => {
      if (GRAVITON.test(type)) {
        g.fail(
          'instanceTypes',
          `has ${type}, a Graviton (arm64) type; the session manager image is built for linux/amd64, so use an x86 type such as "m7i.large"`,
        );
      }
    },
  );
  const gpuNodes = parseNodeGroup(
    f.object('gpuNodes', true),
    { minSize: 0, diskSizeGiB: 200 },
    (g, type) => {
      const family = type.split('.')[0] ?? '';
      if (!GPU_FAMILIES.includes(family)) {
        g.fail(
          'instanceTypes',
          `has ${type}, which is not an NVIDIA GPU type for the AL2023 NVIDIA AMI; use one of the families ${GPU_FAMILIES.join(', ')}`,
        );
      }
    },
  );
  return {
    version,
    endpointPublicCidrs,
    adminRoleArn: f.optionalMatching(
      'adminRoleArn',
      /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/,
      'must be an IAM role ARN such as "arn:aws:iam::123456789012:role/Admin"',
    ),
    systemNodes,
    gpuNodes,
  };
}

function parseTriton(f: Fields): StageConfig['triton'] {
  f.only([
    'image',
    'modelRepository',
    'gpusPerReplica',
    'minReplicas',
    'maxReplicas',
    'cpuMillicores',
    'memoryMiB',
    'shmSizeMiB',
    'targetCpuPercent',
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
  const minReplicas = f.integer('minReplicas', 1, 100, 1);
  const maxReplicas = f.integer('maxReplicas', 1, 100, Math.max(minReplicas, 2));
  if (maxReplicas < minReplicas) {
    f.fail('maxReplicas', `must be >= minReplicas, got ${maxReplicas} < ${minReplicas}`);
  }
  return {
    image,
    modelRepository: f.optionalMatching(
      'modelRepository',
      /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9!_.*'()/-]*)?$/,
      'must be an S3 URI such as "s3://my-models/triton" (or leave it out to let the stack create a bucket)',
    ),
    gpusPerReplica: f.integer('gpusPerReplica', 1, 8, 1),
    minReplicas,
    maxReplicas,
    cpuMillicores: f.integer('cpuMillicores', 250, 192000, 2000),
    memoryMiB: f.integer('memoryMiB', 1024, 2_000_000, 16384),
    shmSizeMiB: f.integer('shmSizeMiB', 64, 1_000_000, 2048),
    targetCpuPercent: f.integer('targetCpuPercent', 10, 100, 70),
  };
}

function parseSessionManager(f: Fields): StageConfig['sessionManager'] {
  f.only([
    'minReplicas',
    'maxReplicas',
    'cpuMillicores',
    'memoryMiB',
    'sessionTtlSeconds',
    'inferenceTimeoutMs',
    'targetCpuPercent',
    'models',
  ]);
  const minReplicas = f.integer('minReplicas', 1, 100, 2);
  const maxReplicas = f.integer('maxReplicas', 1, 200, Math.max(minReplicas, 6));
  if (maxReplicas < minReplicas) {
    f.fail('maxReplicas', `must be >= minReplicas, got ${maxReplicas} < ${minReplicas}`);
  }
  const models = f.doc.models;
  if (models !== undefined && !isDoc(models))
    f.fail('models', 'must be an object (it becomes MODELS_CONFIG)');
  return {
    minReplicas,
    maxReplicas,
    cpuMillicores: f.integer('cpuMillicores', 100, 16000, 500),
    memoryMiB: f.integer('memoryMiB', 128, 65536, 512),
    sessionTtlSeconds: f.integer('sessionTtlSeconds', 60, 30 * 86400, 86400),
    inferenceTimeoutMs: f.integer('inferenceTimeoutMs', 1000, 600_000, 60_000),
    targetCpuPercent: f.integer('targetCpuPercent', 10, 100, 70),
    ...(models !== undefined && { models: models as Doc }),
  };
}

function parseGateway(f: Fields, region: string): StageConfig['gateway'] {
  f.only([
    'certificateArn',
    'domainName',
    'hostedZoneId',
    'hostedZoneName',
    'allowPlainHttp',
    'upstreamTimeoutMs',
    'memoryMiB',
    'wafRequestsPerFiveMinutes',
  ]);
  const certificateArn = f.optionalMatching(
    'certificateArn',
    /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/,
    'must be an ACM certificate ARN such as "arn:aws:acm:us-east-1:123456789012:certificate/…"',
  );
  if (certificateArn && certificateArn.split(':')[3] !== region) {
    f.fail(
      'certificateArn',
      `is in ${certificateArn.split(':')[3]}, but an ALB needs a certificate in its own region ${region}; request or import one there`,
    );
  }
  const dnsName = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$/;
  const domainName = f.optionalMatching(
    'domainName',
    dnsName,
    'must be a DNS name such as "api.example.com"',
  );
  const hostedZoneId = f.optionalMatching(
    'hostedZoneId',
    /^Z[A-Z0-9]{4,31}$/,
    'must be a Route 53 hosted zone id such as "Z123EXAMPLE"',
  );
  const hostedZoneName = f.optionalMatching(
    'hostedZoneName',
    dnsName,
    'must be the hosted zone\'s name such as "example.com" (no trailing dot)',
  );
  const allowPlainHttp = f.boolean('allowPlainHttp', false);
  checkHttps(f, { certificateArn, domainName, hostedZoneId, hostedZoneName, allowPlainHttp });
  return {
    certificateArn,
    domainName,
    hostedZoneId,
    hostedZoneName,
    allowPlainHttp,
    upstreamTimeoutMs: f.integer('upstreamTimeoutMs', 1000, 840_000, 60_000),
    memoryMiB: f.integer('memoryMiB', 128, 10240, 1024),
    wafRequestsPerFiveMinutes: f.integer('wafRequestsPerFiveMinutes', 10, 2_000_000_000, 3000),
  };
}

/**
 * One way to HTTPS per stage: a domain the stack certifies (domainName with its zone), or a
 * certificate you bring (certificateArn); plain HTTP only by the explicit allowPlainHttp.
 */
function checkHttps(
  f: Fields,
  g: Pick<
    StageConfig['gateway'],
    'certificateArn' | 'domainName' | 'hostedZoneId' | 'hostedZoneName' | 'allowPlainHttp'
  >,
): void {
  if (g.certificateArn && g.domainName) {
    f.fail(
      'certificateArn',
      'and gateway.domainName are both set; choose one: domainName (with hostedZoneId and hostedZoneName) makes the stack create the certificate and DNS record, certificateArn uses your certificate and leaves DNS to you',
    );
  }
  if ((g.hostedZoneId || g.hostedZoneName) && !g.domainName) {
    f.fail(
      g.hostedZoneId ? 'hostedZoneId' : 'hostedZoneName',
      'needs gateway.domainName: the name to certify and create in that zone',
    );
  }
  if (g.domainName && !(g.hostedZoneId && g.hostedZoneName)) {
    f.fail(
      'domainName',
      'needs gateway.hostedZoneId and gateway.hostedZoneName: the public Route 53 zone that validates the certificate and holds the record (aws route53 list-hosted-zones-by-name)',
    );
  }
  if (
    g.domainName &&
    g.hostedZoneName &&
    g.domainName !== g.hostedZoneName &&
    !g.domainName.endsWith(`.${g.hostedZoneName}`)
  ) {
    f.fail(
      'hostedZoneName',
      `is "${g.hostedZoneName}", which cannot hold "${g.domainName}"; use the zone the domain belongs to (the domain must equal it or end with ".${g.hostedZoneName}")`,
    );
  }
  const https = Boolean(g.certificateArn || g.domainName);
  if (!https && !g.allowPlainHttp) {
    f.fail(
      'domainName',
      'or gateway.certificateArn is required: set domainName, hostedZoneId and hostedZoneName to let the stack create the certificate, or certificateArn to use yours; only a dev stage may set "allowPlainHttp": true instead',
    );
  }
  if (https && g.allowPlainHttp) {
    f.fail(
      'allowPlainHttp',
      'is true but the stage serves HTTPS (domainName or certificateArn is set); remove allowPlainHttp, HTTP then only redirects to HTTPS',
    );
  }
}

function parseAlarms(f: Fields): StageConfig['alarms'] {
  f.only([
    'email',
    'fiveXxPerFiveMinutes',
    'deniedPerFiveMinutes',
    'degradedPerFiveMinutes',
    'redisErrorsPerFiveMinutes',
    'redisEngineCpuPercent',
    'redisMemoryPercent',
    'redisEvictionsPerFiveMinutes',
    'redisReplicationLagSeconds',
    'redisConnections',
    'dynamoThrottlesPerFiveMinutes',
    'dynamoSystemErrorsPerFiveMinutes',
  ]);
  return {
    email: f.optionalMatching('email', /^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an email address'),
    fiveXxPerFiveMinutes: f.integer('fiveXxPerFiveMinutes', 1, 1e9, 10),
    deniedPerFiveMinutes: f.integer('deniedPerFiveMinutes', 1, 1e9, 1000),
    degradedPerFiveMinutes: f.integer('degradedPerFiveMinutes', 1, 1e9, 1),
    redisErrorsPerFiveMinutes: f.integer('redisErrorsPerFiveMinutes', 1, 1e9, 1),
    // Redis is single-threaded: past ~80% of its one core, commands queue and the limiter's
    // 50 ms budget goes first.
    redisEngineCpuPercent: f.integer('redisEngineCpuPercent', 1, 100, 80),
    redisMemoryPercent: f.integer('redisMemoryPercent', 1, 100, 80),
    // Any eviction may drop a token bucket or a session, so the first one pages.
    redisEvictionsPerFiveMinutes: f.integer('redisEvictionsPerFiveMinutes', 1, 1e9, 1),
    redisReplicationLagSeconds: f.integer('redisReplicationLagSeconds', 1, 3600, 10),
    // ElastiCache allows 65,000; each warm gateway Lambda and session manager pod holds a few.
    redisConnections: f.integer('redisConnections', 1, 65_000, 5000),
    dynamoThrottlesPerFiveMinutes: f.integer('dynamoThrottlesPerFiveMinutes', 1, 1e9, 1),
    dynamoSystemErrorsPerFiveMinutes: f.integer('dynamoSystemErrorsPerFiveMinutes', 1, 1e9, 1),
  };
}

function parseRuntime(doc: Doc, source: string, defaultsFile: string): AxonConfig {
  try {
    if (doc.runtime === undefined) {
      const text = readFileSync(defaultsFile, 'utf8');
      return parseConfig(JSON.parse(text), defaultsFile);
    }
    return parseConfig(doc.runtime, `${source}: runtime`);
  } catch (err) {
    if (err instanceof ConfigError) throw new StageConfigError(err.message);
    throw err;
  }
}

export interface ParseOptions {
  /** Where the message says the document came from. */
  readonly source?: string;
  /** The SPEC section 7 document used when the stage has no `runtime` section. */
  readonly runtimeDefaultsFile?: string;
}

/** Validates a stage document; throws `StageConfigError` naming the field and the fix. */
export function parseStageConfig(doc: unknown, options: ParseOptions = {}): StageConfig {
  const source = options.source ?? 'stage config';
  if (!isDoc(doc))
    throw new StageConfigError(
      `${source}: must be a JSON object with "stage", "env", "network", …`,
    );
  const root = new Fields(doc, '', source).only([
    '$comment',
    'stage',
    'env',
    'network',
    'redis',
    'eks',
    'triton',
    'sessionManager',
    'gateway',
    'alarms',
    'runtime',
  ]);
  const stage = root.matching(
    'stage',
    /^[a-z][a-z0-9-]{0,15}$/,
    'must be lowercase letters, digits or - (at most 16), e.g. "dev"',
  );

  const env = root.object('env', true).only(['account', 'region']);
  const region = env.matching('region', REGION, 'must be an AWS region such as "us-east-1"');
  const account = env.optionalMatching('account', /^\d{12}$/, 'must be a 12-digit AWS account id');

  const net = root.object('network', true).only(['cidr', 'availabilityZones', 'natGateways']);
  const availabilityZones = net.strings('availabilityZones');
  if (availabilityZones.length < 2 || availabilityZones.length > 3) {
    net.fail(
      'availabilityZones',
      `must list 2 or 3 AZs (EKS and Multi-AZ Redis need two), got ${availabilityZones.length}`,
    );
  }
  for (const az of availabilityZones) {
    if (!new RegExp(`^${region}[a-z]$`).test(az)) {
      net.fail(
        'availabilityZones',
        `has ${JSON.stringify(az)}, which is not an AZ of ${region} (e.g. "${region}a")`,
      );
    }
  }
  if (new Set(availabilityZones).size !== availabilityZones.length)
    net.fail('availabilityZones', 'lists an AZ twice');
  const network = {
    cidr: parseCidr(net, 'cidr', 16, 20),
    availabilityZones,
    natGateways: net.integer('natGateways', 1, availabilityZones.length, 1),
  };

  return {
    stage,
    env: { region, ...(account && { account }) },
    network,
    redis: parseRedis(root.object('redis')),
    eks: parseEks(root.object('eks', true)),
    triton: parseTriton(root.object('triton', true)),
    sessionManager: parseSessionManager(root.object('sessionManager')),
    gateway: parseGateway(root.object('gateway'), region),
    alarms: parseAlarms(root.object('alarms')),
    runtime: parseRuntime(doc, source, options.runtimeDefaultsFile ?? 'config/axon.json'),
  };
}

/** Reads `config/stages/<stage>.json` under `rootDir` and validates it. */
export function loadStageConfig(stage: string, rootDir = process.cwd()): StageConfig {
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(stage)) {
    throw new StageConfigError(
      `stage ${JSON.stringify(stage)} must be lowercase letters, digits or -, e.g. -c stage=dev`,
    );
  }
  const file = join(rootDir, 'config', 'stages', `${stage}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new StageConfigError(
      `no config for stage "${stage}": create ${file} (copy config/stages/dev.json)`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new StageConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const config = parseStageConfig(doc, {
    source: file,
    runtimeDefaultsFile: join(rootDir, 'config', 'axon.json'),
  });
  if (config.stage !== stage) {
    throw new StageConfigError(
      `${file}: stage is "${config.stage}" but the file is for "${stage}"; make them match`,
    );
  }
  return config;
}
