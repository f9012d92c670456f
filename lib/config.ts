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
import {
  type EksConfig,
  GATEWAY_EDGES,
  type GatewayContainerConfig,
  type GatewayEdge,
  type ModelConfig,
  parseEks,
  parseGatewayContainer,
  parseModels,
  parseTriton,
  type TritonConfig,
} from './config-inference.ts';

export { StageConfigError } from './config-fields.ts';

export type RedisEngine = 'redis' | 'valkey';
export type {
  CapacityType,
  EksConfig,
  GatewayContainerConfig,
  GatewayEdge,
  GpuPoolConfig,
  ModelConfig,
  NodeGroupConfig,
  TritonConfig,
} from './config-inference.ts';

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
    /**
     * The limiter's own small cache (`maxmemory-policy noeviction`), apart from the sessions'
     * one above so no tenant's data can evict or crowd out a token bucket. Engine, version,
     * port, AUTH rotation and snapshots are the section's own.
     */
    readonly limiter: {
      /** @default 'cache.t4g.micro' */
      readonly nodeType: string;
      /** @default - the section's replicasPerShard */
      readonly replicasPerShard: number;
    };
  };
  readonly eks: EksConfig;
  readonly triton: TritonConfig;
  /** The served models: Triton's model repository and the session manager's MODELS_CONFIG. */
  readonly models: readonly ModelConfig[];
  readonly sessionManager: {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly cpuMillicores: number;
    readonly memoryMiB: number;
    readonly sessionTtlSeconds: number;
    readonly inferenceTimeoutMs: number;
    readonly targetCpuPercent: number;
  };
  readonly gateway: {
    /**
     * `lambda`: the public ALB invokes the gateway Lambda (no servers, scales to zero, answers
     * buffered and capped near 1 MB). `container`: gateway pods on the system nodes behind the
     * same ALB (true streaming, no answer size cap). @default 'lambda'
     */
    readonly edge: GatewayEdge;
    /** The container edge's pods; defaults when edge is lambda, where nothing reads them. */
    readonly container: GatewayContainerConfig;
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
    /** Days between rotations of the gateway-to-session-manager secret (1 to 365). */
    readonly upstreamSecretRotationDays: number;
    readonly memoryMiB: number;
    /**
     * Concurrent executions reserved for (and capped at) the gateway function. Unset by default:
     * a new account's concurrency quota can be too low to reserve any (the preflight checks it).
     */
    readonly reservedConcurrency?: number;
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
    /** Inference stack: unhealthy session manager targets of the internal ALB, for 3 minutes. */
    readonly internalAlbUnhealthyHosts: number;
    /** Inference stack: percent of the internal ALB's requests the session manager answers 5xx. */
    readonly sessionManager5xxPercent: number;
    /** Inference stack: session manager container restarts per 5 minutes. */
    readonly podRestartsPerFiveMinutes: number;
    /** Inference stack (Prometheus rule): average Triton queue time per request, milliseconds. */
    readonly tritonQueueMs: number;
    /** Inference stack (Prometheus rule): failed Triton inference requests per 5 minutes. */
    readonly tritonFailuresPerFiveMinutes: number;
    /** Inference stack: average GPU utilisation of the cluster's GPU nodes, percent, ... */
    readonly gpuUtilizationPercent: number;
    /** ... held this many minutes before it pages (a busy GPU is the goal; a pinned one is not). */
    readonly gpuHighMinutes: number;
    /** Inference stack: minutes a Triton pod may stay Pending (a GPU node boots and pulls meanwhile). */
    readonly tritonPendingMinutes: number;
    /** Network stack, per NAT gateway: ErrorPortAllocation per 5 minutes (egress connections refused). */
    readonly natPortAllocationErrorsPerFiveMinutes: number;
    /** Network stack, per NAT gateway: PacketsDropCount per 5 minutes. */
    readonly natPacketsDroppedPerFiveMinutes: number;
  };
  readonly observability: {
    /** Retention of the EKS control-plane log group /aws/eks/<cluster>/cluster. */
    readonly controlPlaneLogRetentionDays: number;
    /** Retention of the Container Insights log groups (pod logs, node logs, performance events). */
    readonly containerLogRetentionDays: number;
    /**
     * What deleting the stage does to those log groups: `retain` keeps them and their logs (a
     * later deploy of the same stage then needs them deleted first, since the stack creates
     * them), `destroy` deletes them with the stack.
     */
    readonly logGroupsOnDelete: 'retain' | 'destroy';
  };
  /** The runtime config (docs/api.md#runtime-config) the gateway gets as `AXON_CONFIG`. */
  readonly runtime: AxonConfig;
}

/** Kubernetes versions this app can manage (each needs a matching kubectl layer). */
export const SUPPORTED_EKS_VERSIONS = ['1.35'] as const;

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

const NODE_TYPE = /^cache\.[a-z0-9]+\.[a-z0-9]+$/;
const NODE_TYPE_HINT = 'must be an ElastiCache node type such as "cache.r7g.large"';

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
    'limiter',
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
  const replicasPerShard = f.integer('replicasPerShard', 0, 5, 1);
  const limiter = f.object('limiter').only(['nodeType', 'replicasPerShard']);
  return {
    engine,
    engineVersion,
    nodeType: f.matching('nodeType', NODE_TYPE, NODE_TYPE_HINT, 'cache.t4g.small'),
    replicasPerShard,
    limiter: {
      // Buckets are a few hundred bytes per key: the smallest node holds hundreds of thousands.
      nodeType: limiter.matching('nodeType', NODE_TYPE, NODE_TYPE_HINT, 'cache.t4g.micro'),
      replicasPerShard: limiter.integer('replicasPerShard', 0, 5, replicasPerShard),
    },
    clusterMode,
    shards,
    port: f.integer('port', 1024, 65535, 6379),
    authRotationDays: f.integer('authRotationDays', 1, 365, 30),
    snapshotRetentionDays: f.integer('snapshotRetentionDays', 0, 35, 1),
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
  ]);
  const { minReplicas, maxReplicas } = f.replicas({ min: 2, max: 6 }, 200);
  return {
    minReplicas,
    maxReplicas,
    cpuMillicores: f.integer('cpuMillicores', 100, 16000, 500),
    memoryMiB: f.integer('memoryMiB', 128, 65536, 512),
    sessionTtlSeconds: f.integer('sessionTtlSeconds', 60, 30 * 86400, 86400),
    inferenceTimeoutMs: f.integer('inferenceTimeoutMs', 1000, 600_000, 60_000),
    targetCpuPercent: f.integer('targetCpuPercent', 10, 100, 70),
  };
}

function parseGateway(
  f: Fields,
  region: string,
  systemNodes: StageConfig['eks']['systemNodes'],
): StageConfig['gateway'] {
  f.only([
    'edge',
    'container',
    'certificateArn',
    'domainName',
    'hostedZoneId',
    'hostedZoneName',
    'allowPlainHttp',
    'upstreamTimeoutMs',
    'upstreamSecretRotationDays',
    'memoryMiB',
    'reservedConcurrency',
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
  const edge = f.oneOf('edge', GATEWAY_EDGES, 'lambda');
  if (edge === 'lambda' && f.has('container')) {
    f.fail(
      'container',
      'is set but gateway.edge is "lambda", so nothing would read it; set "edge": "container" or remove the container section',
    );
  }
  return {
    edge,
    container: parseGatewayContainer(f.object('container'), systemNodes),
    certificateArn,
    domainName,
    hostedZoneId,
    hostedZoneName,
    allowPlainHttp,
    upstreamTimeoutMs: f.integer('upstreamTimeoutMs', 1000, 840_000, 60_000),
    // Secrets Manager schedules rotations in whole days, at most every 365 (rate(1 day) minimum).
    upstreamSecretRotationDays: f.integer('upstreamSecretRotationDays', 1, 365, 30),
    memoryMiB: f.integer('memoryMiB', 128, 10240, 1024),
    // Lambda's default account quota is 1000; a higher quota is a support request away.
    ...(f.has('reservedConcurrency') && {
      reservedConcurrency: f.integer('reservedConcurrency', 1, 100_000),
    }),
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
    'internalAlbUnhealthyHosts',
    'sessionManager5xxPercent',
    'podRestartsPerFiveMinutes',
    'tritonQueueMs',
    'tritonFailuresPerFiveMinutes',
    'gpuUtilizationPercent',
    'gpuHighMinutes',
    'tritonPendingMinutes',
    'natPortAllocationErrorsPerFiveMinutes',
    'natPacketsDroppedPerFiveMinutes',
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
    internalAlbUnhealthyHosts: f.integer('internalAlbUnhealthyHosts', 1, 1000, 1),
    sessionManager5xxPercent: f.integer('sessionManager5xxPercent', 1, 100, 5),
    // One restart is a crash worth a look; a few in 5 minutes is a crash loop.
    podRestartsPerFiveMinutes: f.integer('podRestartsPerFiveMinutes', 1, 1000, 3),
    tritonQueueMs: f.integer('tritonQueueMs', 1, 600_000, 2000),
    tritonFailuresPerFiveMinutes: f.integer('tritonFailuresPerFiveMinutes', 1, 1e9, 1),
    gpuUtilizationPercent: f.integer('gpuUtilizationPercent', 1, 100, 95),
    gpuHighMinutes: f.integer('gpuHighMinutes', 5, 1440, 30),
    // Karpenter launches a GPU node, it boots, and the kubelet pulls the ~15 GB Triton image, all
    // while the pod is Pending: 20 minutes leaves room for that and still catches "no capacity".
    tritonPendingMinutes: f.integer('tritonPendingMinutes', 5, 1440, 20),
    // Every port allocation error is a connection that never left the VPC, so the first pages.
    natPortAllocationErrorsPerFiveMinutes: f.integer(
      'natPortAllocationErrorsPerFiveMinutes',
      1,
      1e9,
      1,
    ),
    // AWS calls any drop a possible transient NAT issue; a handful is noise, a hundred is not.
    natPacketsDroppedPerFiveMinutes: f.integer('natPacketsDroppedPerFiveMinutes', 1, 1e9, 100),
  };
}

/** The retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

function retentionDays(f: Fields, field: string, fallback: number): number {
  const value = f.integer(field, 1, 3653, fallback);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(value)) {
    f.fail(
      field,
      `is ${value}, which CloudWatch Logs does not offer; use one of ${LOG_RETENTION_DAYS.join(', ')}`,
    );
  }
  return value;
}

function parseObservability(f: Fields): StageConfig['observability'] {
  f.only(['controlPlaneLogRetentionDays', 'containerLogRetentionDays', 'logGroupsOnDelete']);
  return {
    controlPlaneLogRetentionDays: retentionDays(f, 'controlPlaneLogRetentionDays', 90),
    containerLogRetentionDays: retentionDays(f, 'containerLogRetentionDays', 30),
    logGroupsOnDelete: f.oneOf('logGroupsOnDelete', ['retain', 'destroy'] as const, 'retain'),
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
  /** The runtime config (docs/api.md#runtime-config) used when the stage has no `runtime`. */
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
    'models',
    'sessionManager',
    'gateway',
    'alarms',
    'observability',
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

  const eks = parseEks(root.object('eks', true), SUPPORTED_EKS_VERSIONS);
  const triton = parseTriton(root.object('triton', true), eks.gpuNodes);
  return {
    stage,
    env: { region, ...(account && { account }) },
    network,
    redis: parseRedis(root.object('redis')),
    eks,
    triton,
    models: parseModels(root, eks.gpuNodes, triton),
    sessionManager: parseSessionManager(root.object('sessionManager')),
    gateway: parseGateway(root.object('gateway'), region, eks.systemNodes),
    alarms: parseAlarms(root.object('alarms')),
    observability: parseObservability(root.object('observability')),
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
