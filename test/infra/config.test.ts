/**
 * lib/config.ts: every validation fails with a message naming the field and the fix (one test
 * each), and every documented default is what a minimal stage gets.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStageConfig, parseStageConfig, StageConfigError } from '../../lib/config.ts';
import { CHAT_TEMPLATES } from '../../lib/config-inference.ts';
import { REPO_ROOT, repoPath } from '../../lib/paths.ts';
import { TEMPLATE_NAMES } from '../../services/session-manager/src/core/chat-template.ts';
import { devDocument } from './support.ts';

const parse = (doc: unknown) =>
  parseStageConfig(doc, {
    source: 'stage.json',
    runtimeDefaultsFile: repoPath('config', 'axon.json'),
  });

const dev = devDocument();
const node = (patch: Record<string, unknown>) => ({
  systemNodes: { ...(dev.eks as { systemNodes: object }).systemNodes, ...patch },
});
const gpu = (patch: Record<string, unknown>) => ({
  gpuNodes: { ...(dev.eks as { gpuNodes: object }).gpuNodes, ...patch },
});
/** dev's model list with its one model patched. */
const model = (patch: Record<string, unknown>) => [
  { ...(dev.models as Record<string, unknown>[])[0], ...patch },
];
const LLAMA = {
  name: 'llama',
  huggingFaceId: 'meta-llama/Llama-3.1-8B-Instruct',
  chatTemplate: 'llama3',
  huggingFaceTokenSecretName: 'axon/hf',
};

describe('stage config validation', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'an unknown top-level field',
      { redsi: {} },
      /stage\.json: redsi is not a known field; use one of: .*redis/,
    ],
    ['a stage name with capitals', { stage: 'Dev' }, /stage must be lowercase letters/],
    ['a missing region', { env: { region: undefined } }, /env\.region must be a non-empty string/],
    [
      'a malformed region',
      { env: { region: 'useast1' } },
      /env\.region must be an AWS region such as "us-east-1"/,
    ],
    [
      'an account that is not 12 digits',
      { env: { account: '1234' } },
      /env\.account must be a 12-digit AWS account id/,
    ],
    ['an unknown env field', { env: { profile: 'x' } }, /env\.profile is not a known field/],
    [
      'a single AZ',
      { network: { availabilityZones: ['us-east-1a'] } },
      /network\.availabilityZones must list 2 or 3 AZs/,
    ],
    [
      'an AZ of another region',
      { network: { availabilityZones: ['us-east-1a', 'eu-west-1b'] } },
      /"eu-west-1b", which is not an AZ of us-east-1/,
    ],
    [
      'the same AZ twice',
      { network: { availabilityZones: ['us-east-1a', 'us-east-1a'] } },
      /network\.availabilityZones lists an AZ twice/,
    ],
    [
      'a CIDR with a bad prefix',
      { network: { cidr: '10.0.0.0/8' } },
      /network\.cidr must be an IPv4 CIDR with a prefix from \/16 to \/20/,
    ],
    [
      'a CIDR with a bad octet',
      { network: { cidr: '10.300.0.0/16' } },
      /network\.cidr must be an IPv4 CIDR/,
    ],
    [
      'more NAT gateways than AZs',
      { network: { natGateways: 3 } },
      /network\.natGateways must be a whole number from 1 to 2, got 3/,
    ],
    [
      'no NAT gateway',
      { network: { natGateways: 0 } },
      /network\.natGateways must be a whole number from 1 to 2, got 0/,
    ],
    [
      'an unknown Redis engine',
      { redis: { engine: 'memcached' } },
      /redis\.engine must be one of "redis", "valkey", got "memcached"/,
    ],
    [
      'a Redis version without a minor',
      { redis: { engineVersion: '7' } },
      /redis\.engineVersion must be a major\.minor version/,
    ],
    [
      'Redis OSS 6',
      { redis: { engineVersion: '6.2' } },
      /redis\.engineVersion 6\.2 is too old for redis: AUTH rotation .* need redis >= 7\.0/,
    ],
    [
      'Valkey 7.0',
      { redis: { engine: 'valkey', engineVersion: '7.0' } },
      /7\.0 is too old for valkey/,
    ],
    [
      'shards without cluster mode',
      { redis: { shards: 2 } },
      /redis\.shards is 2, but more than one shard needs "clusterMode": true/,
    ],
    [
      'a node type without the cache. prefix',
      { redis: { nodeType: 'r7g.large' } },
      /redis\.nodeType must be an ElastiCache node type such as "cache\.r7g\.large"/,
    ],
    [
      'a limiter node type without the cache. prefix',
      { redis: { limiter: { nodeType: 't4g.micro' } } },
      /redis\.limiter\.nodeType must be an ElastiCache node type/,
    ],
    [
      'six limiter replicas',
      { redis: { limiter: { replicasPerShard: 6 } } },
      /redis\.limiter\.replicasPerShard must be a whole number from 0 to 5, got 6/,
    ],
    [
      'an unknown limiter field',
      { redis: { limiter: { clusterMode: true } } },
      /redis\.limiter\.clusterMode is not a known field; use one of: nodeType, replicasPerShard/,
    ],
    [
      'a zero gateway reserved concurrency',
      { gateway: { reservedConcurrency: 0 } },
      /gateway\.reservedConcurrency must be a whole number from 1 to 100000, got 0/,
    ],
    [
      'a fractional gateway reserved concurrency',
      { gateway: { reservedConcurrency: 2.5 } },
      /gateway\.reservedConcurrency must be a whole number from 1 to 100000, got 2\.5/,
    ],
    [
      'six replicas',
      { redis: { replicasPerShard: 6 } },
      /redis\.replicasPerShard must be a whole number from 0 to 5, got 6/,
    ],
    [
      'a privileged port',
      { redis: { port: 80 } },
      /redis\.port must be a whole number from 1024 to 65535/,
    ],
    [
      'a zero-day rotation',
      { redis: { authRotationDays: 0 } },
      /redis\.authRotationDays must be a whole number from 1 to 365/,
    ],
    [
      'cluster mode as a string',
      { redis: { clusterMode: 'yes' } },
      /redis\.clusterMode must be true or false, got "yes"/,
    ],
    [
      'an EKS version without a kubectl layer',
      { eks: { version: '1.29' } },
      /eks\.version is "1\.29", but this app ships kubectl layers only for 1\.35; .*lambda-layer-kubectl-v<NN>/,
    ],
    [
      'a public endpoint open to the world',
      { eks: { endpointPublicCidrs: ['0.0.0.0/0'] } },
      /eks\.endpointPublicCidrs has "0\.0\.0\.0\/0"; list operator CIDRs .* never \/0/,
    ],
    [
      'an admin principal that is not an IAM role or user ARN',
      { eks: { adminPrincipalArns: ['arn:aws:iam::123456789012:group/ops'] } },
      /eks\.adminPrincipalArns has "arn:aws:iam::123456789012:group\/ops"; list IAM role or user ARNs/,
    ],
    [
      'the retired adminRoleArn',
      { eks: { adminRoleArn: 'arn:aws:iam::123456789012:role/Admin' } },
      /eks\.adminRoleArn was replaced by "adminPrincipalArns"/,
    ],
    [
      'no system instance type',
      { eks: node({ instanceTypes: [] }) },
      /eks\.systemNodes\.instanceTypes must name at least one instance type/,
    ],
    [
      'a malformed instance type',
      { eks: node({ instanceTypes: ['large'] }) },
      /eks\.systemNodes\.instanceTypes has "large", which is not an EC2 instance type/,
    ],
    [
      'a Graviton system node',
      { eks: node({ instanceTypes: ['m7g.large'] }) },
      /has m7g\.large, a Graviton \(arm64\) type; .*use an x86 type/,
    ],
    [
      'a system pool that can scale to zero',
      { eks: node({ minSize: 0, desiredSize: 0 }) },
      /eks\.systemNodes\.minSize must be a whole number from 1 to 100, got 0/,
    ],
    [
      'desired above max',
      { eks: node({ desiredSize: 9, maxSize: 3 }) },
      /eks\.systemNodes\.desiredSize needs minSize <= desiredSize <= maxSize, got 2 <= 9 <= 3/,
    ],
    [
      'a GPU pool of CPU instances',
      { eks: gpu({ instanceTypes: ['m7i.large'] }) },
      /eks\.gpuNodes\.instanceTypes has m7i\.large, which is not an NVIDIA GPU type this app knows; use one of .*g6e\.2xlarge/,
    ],
    [
      'a managed node group size on the Karpenter pool',
      { eks: gpu({ minSize: 1 }) },
      /eks\.gpuNodes\.minSize belongs to the managed GPU node group .* bound the pool with "maxGpus"/,
    ],
    [
      'a GPU pool limit of zero',
      { eks: gpu({ maxGpus: 0 }) },
      /eks\.gpuNodes\.maxGpus must be a whole number from 1 to 1000, got 0/,
    ],
    [
      'spot written in lowercase',
      { eks: gpu({ capacityType: 'spot' }) },
      /eks\.gpuNodes\.capacityType must be one of "ON_DEMAND", "SPOT"/,
    ],
    [
      'a Triton image without a tag',
      { triton: { image: 'nvcr.io/nvidia/tritonserver' } },
      /triton\.image must be a registry image with a pinned tag or digest/,
    ],
    [
      'a Triton image on latest',
      { triton: { image: 'nvcr.io/nvidia/tritonserver:latest' } },
      /triton\.image uses the "latest" tag; pin a release tag/,
    ],
    [
      'a model repository that is not S3',
      { triton: { modelRepository: 'https://models.example.com' } },
      /triton\.modelRepository must be an S3 URI/,
    ],
    [
      'Triton max below min',
      { triton: { minReplicas: 3, maxReplicas: 2 } },
      /triton\.maxReplicas must be >= minReplicas, got 2 < 3/,
    ],
    [
      'Triton memory above what a g6.xlarge node can allocate',
      { triton: { memoryMiB: 16384 } },
      /triton\.memoryMiB is 16384 MiB, but a g6\.xlarge node has 13881 MiB allocatable for it \(after 281 MiB for the DaemonSets that run on it: aws-node 50m\/0 MiB, kube-proxy 100m\/0 MiB, cloudwatch-agent 250m\/128 MiB, fluent-bit 50m\/25 MiB, dcgm-exporter 250m\/128 MiB\), so the pod would stay Pending; set triton\.memoryMiB to at most 13881/,
    ],
    [
      'Triton CPU above what a g6.xlarge node can allocate',
      { triton: { cpuMillicores: 4000 } },
      /triton\.cpuMillicores is 4000m, but a g6\.xlarge node has 3220m allocatable for it \(after 700m for the DaemonSets that run on it: aws-node 50m\/0 MiB, kube-proxy 100m\/0 MiB, cloudwatch-agent 250m\/128 MiB, fluent-bit 50m\/25 MiB, dcgm-exporter 250m\/128 MiB\), so the pod would stay Pending; set triton\.cpuMillicores to at most 3220/,
    ],
    [
      'Triton CPU sized without the CloudWatch DaemonSets (the 3400m once derived for a g6.xlarge)',
      { triton: { cpuMillicores: 3400 } },
      /triton\.cpuMillicores is 3400m, but a g6\.xlarge node has 3220m allocatable for it/,
    ],
    [
      'Triton CPU beyond the smallest of several GPU types',
      {
        eks: { gpuNodes: { instanceTypes: ['g6.2xlarge', 'g6.xlarge'] } },
        triton: { cpuMillicores: 4000 },
      },
      /triton\.cpuMillicores is 4000m, but a g6\.xlarge node has 3220m allocatable for it/,
    ],
    [
      'more GPUs per replica than the instance type has',
      { triton: { gpusPerReplica: 2 } },
      /triton\.gpusPerReplica is 2, but a g6\.xlarge node has 1 GPU\(s\)/,
    ],
    [
      'a /dev/shm larger than half the memory',
      { triton: { memoryMiB: 8192, shmSizeMiB: 6000 } },
      /triton\.shmSizeMiB is 6000 MiB; \/dev\/shm is memory counted against triton\.memoryMiB/,
    ],
    [
      'CPU-based Triton scaling',
      { triton: { targetCpuPercent: 70 } },
      /triton\.targetCpuPercent is gone: Triton scales on its serving signals/,
    ],
    [
      'nine GPUs per replica',
      { triton: { gpusPerReplica: 9 } },
      /triton\.gpusPerReplica must be a whole number from 1 to 8/,
    ],
    [
      'session manager max below min',
      { sessionManager: { minReplicas: 4, maxReplicas: 2 } },
      /sessionManager\.maxReplicas must be >= minReplicas, got 2 < 4/,
    ],
    [
      'models under the session manager instead of the stage',
      { sessionManager: { models: {} } },
      /sessionManager\.models is not a known field/,
    ],
    ['no models', { models: [] }, /stage\.json: models must be a non-empty list of objects/],
    [
      'a model name Triton cannot use as a directory',
      { models: model({ name: 'qwen/0.5b' }) },
      /models\[0\]\.name must be letters, digits/,
    ],
    [
      'a chat template the session manager lacks',
      { models: model({ chatTemplate: 'mistral' }) },
      /models\[0\]\.chatTemplate must be one of "chatml", "llama3", got "mistral"/,
    ],
    [
      'an unknown model without its architecture',
      { models: model({ huggingFaceId: 'acme/secret-7b' }) },
      /models\[0\]\.architecture is needed because acme\/secret-7b is not in lib\/k8s\/model-facts\.ts/,
    ],
    [
      'a context window beyond the model',
      { models: model({ contextWindow: 65536 }) },
      /models\[0\]\.contextWindow is 65536, but Qwen\/Qwen2\.5-0\.5B-Instruct supports at most 32768 tokens/,
    ],
    [
      'max_model_len in engineArgs',
      { models: model({ engineArgs: { max_model_len: 4096 } }) },
      /models\[0\]\.engineArgs\.max_model_len is derived from contextWindow; set that instead/,
    ],
    [
      'a memory fraction vLLM cannot use',
      { models: model({ engineArgs: { gpu_memory_utilization: 1.2 } }) },
      /models\[0\]\.engineArgs\.gpu_memory_utilization must be a number from 0\.1 to 0\.95/,
    ],
    [
      'a gated model without a token secret',
      { models: [{ ...LLAMA, huggingFaceTokenSecretName: undefined, contextWindow: 8192 }] },
      /models\[0\]\.huggingFaceTokenSecretName is required: meta-llama\/Llama-3\.1-8B-Instruct is gated/,
    ],
    [
      'a model whose weights and KV cache exceed the GPU',
      { models: [{ ...LLAMA, contextWindow: 131072 }] },
      /models\[0\]\.contextWindow with meta-llama\/Llama-3\.1-8B-Instruct needs 32\.5 GiB of GPU memory \(weights 15\.0 GiB \+ KV cache 16\.0 GiB for 131072 tokens \+ runtime\), but 1 L4 of a g6\.xlarge at models\[0\]\.engineArgs\.gpu_memory_utilization 0\.9 give 21\.6 GiB; lower models\[0\]\.contextWindow/,
    ],
    [
      'two models with one name',
      { models: [...model({}), ...model({ engineArgs: { gpu_memory_utilization: 0.4 } })] },
      /models name "qwen2\.5-0\.5b-instruct" twice/,
    ],
    [
      'two models that together ask for more than the GPU',
      {
        models: [
          ...model({ engineArgs: { gpu_memory_utilization: 0.6 } }),
          ...model({ name: 'second', engineArgs: { gpu_memory_utilization: 0.6 } }),
        ],
      },
      /models ask for 1\.20 of the GPU memory together/,
    ],
    [
      'no certificate and no plain-HTTP opt-in',
      { gateway: { allowPlainHttp: false } },
      /gateway\.domainName or gateway\.certificateArn is required: set domainName, hostedZoneId and hostedZoneName .* or certificateArn to use yours; only a dev stage may set "allowPlainHttp": true/,
    ],
    [
      'a certificate ARN of another service',
      { gateway: { certificateArn: 'arn:aws:iam::123456789012:server-certificate/x' } },
      /gateway\.certificateArn must be an ACM certificate ARN/,
    ],
    [
      'a certificate in another region',
      { gateway: { certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-1' } },
      /gateway\.certificateArn is in eu-west-1, but an ALB needs a certificate in its own region us-east-1/,
    ],
    [
      'a domain without its hosted zone',
      { gateway: { domainName: 'api.example.com', allowPlainHttp: false } },
      /gateway\.domainName needs gateway\.hostedZoneId and gateway\.hostedZoneName/,
    ],
    [
      'a domain with a zone id but no zone name',
      {
        gateway: {
          domainName: 'api.example.com',
          hostedZoneId: 'Z123EXAMPLE',
          allowPlainHttp: false,
        },
      },
      /gateway\.domainName needs gateway\.hostedZoneId and gateway\.hostedZoneName/,
    ],
    [
      'a hosted zone name that cannot hold the domain',
      {
        gateway: {
          domainName: 'api.example.com',
          hostedZoneId: 'Z123EXAMPLE',
          hostedZoneName: 'ample.com',
          allowPlainHttp: false,
        },
      },
      /gateway\.hostedZoneName is "ample\.com", which cannot hold "api\.example\.com"/,
    ],
    [
      'both a certificate ARN and a domain',
      {
        gateway: {
          certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
          domainName: 'api.example.com',
          hostedZoneId: 'Z123EXAMPLE',
          hostedZoneName: 'example.com',
          allowPlainHttp: false,
        },
      },
      /gateway\.certificateArn and gateway\.domainName are both set; choose one/,
    ],
    [
      'allowPlainHttp next to HTTPS',
      { gateway: { certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' } },
      /gateway\.allowPlainHttp is true but the stage serves HTTPS/,
    ],
    [
      'a hosted zone name without a domain',
      { gateway: { hostedZoneName: 'example.com' } },
      /gateway\.hostedZoneName needs gateway\.domainName/,
    ],
    [
      'a malformed domain',
      {
        gateway: {
          certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
          domainName: 'API example',
        },
      },
      /gateway\.domainName must be a DNS name/,
    ],
    [
      'a hosted zone without a domain',
      { gateway: { hostedZoneId: 'Z123EXAMPLE' } },
      /gateway\.hostedZoneId needs gateway\.domainName/,
    ],
    [
      'an upstream timeout past the Lambda limit',
      { gateway: { upstreamTimeoutMs: 900_000 } },
      /gateway\.upstreamTimeoutMs must be a whole number from 1000 to 840000/,
    ],
    [
      'a gateway secret rotated less than daily',
      { gateway: { upstreamSecretRotationDays: 0 } },
      /gateway\.upstreamSecretRotationDays must be a whole number from 1 to 365, got 0/,
    ],
    [
      'a NAT port allocation alarm at zero errors (it would always fire)',
      { alarms: { natPortAllocationErrorsPerFiveMinutes: 0 } },
      /alarms\.natPortAllocationErrorsPerFiveMinutes must be a whole number from 1 to 1000000000, got 0/,
    ],
    [
      'a fractional NAT dropped-packets alarm',
      { alarms: { natPacketsDroppedPerFiveMinutes: 2.5 } },
      /alarms\.natPacketsDroppedPerFiveMinutes must be a whole number from 1 to 1000000000, got 2\.5/,
    ],
    [
      'a Redis memory alarm over 100%',
      { alarms: { redisMemoryPercent: 150 } },
      /alarms\.redisMemoryPercent must be a whole number from 1 to 100, got 150/,
    ],
    [
      'a replication lag alarm of 0 s',
      { alarms: { redisReplicationLagSeconds: 0 } },
      /alarms\.redisReplicationLagSeconds must be a whole number from 1 to 3600, got 0/,
    ],
    [
      'a misspelt alarm field',
      { alarms: { redisCpuPercent: 70 } },
      /alarms\.redisCpuPercent is not a known field; use one of: .*redisEngineCpuPercent/,
    ],
    [
      'an alarm email without @',
      { alarms: { email: 'oncall' } },
      /alarms\.email must be an email address/,
    ],
    [
      'a session manager 5xx alarm over 100%',
      { alarms: { sessionManager5xxPercent: 101 } },
      /alarms\.sessionManager5xxPercent must be a whole number from 1 to 100, got 101/,
    ],
    [
      'a GPU utilisation alarm of 0%',
      { alarms: { gpuUtilizationPercent: 0 } },
      /alarms\.gpuUtilizationPercent must be a whole number from 1 to 100, got 0/,
    ],
    [
      'a Triton pending alarm shorter than a GPU node boots',
      { alarms: { tritonPendingMinutes: 2 } },
      /alarms\.tritonPendingMinutes must be a whole number from 5 to 1440, got 2/,
    ],
    [
      'a fractional Triton queue time',
      { alarms: { tritonQueueMs: 1.5 } },
      /alarms\.tritonQueueMs must be a whole number from 1 to 600000, got 1\.5/,
    ],
    [
      'a control-plane log retention CloudWatch does not offer',
      { observability: { controlPlaneLogRetentionDays: 45 } },
      /observability\.controlPlaneLogRetentionDays is 45, which CloudWatch Logs does not offer; use one of 1, 3, 5, 7, 14, 30, 60, 90/,
    ],
    [
      'a container log retention of 0 days',
      { observability: { containerLogRetentionDays: 0 } },
      /observability\.containerLogRetentionDays must be a whole number from 1 to 3653, got 0/,
    ],
    [
      'a misspelt observability field',
      { observability: { logRetentionDays: 30 } },
      /observability\.logRetentionDays is not a known field; use one of: controlPlaneLogRetentionDays, containerLogRetentionDays, logGroupsOnDelete/,
    ],
    [
      'a runtime failure mode that does not exist',
      {
        runtime: {
          plans: { pro: { requestsPerMinute: 1, burst: 1 } },
          rateLimiter: { failureMode: 'maybe' },
        },
      },
      /stage\.json: runtime\.rateLimiter\.failureMode must be "open" or "closed", got "maybe"/,
    ],
    [
      'an unknown edge',
      { gateway: { allowPlainHttp: true, edge: 'fargate' } },
      /gateway\.edge must be one of "lambda", "container", got "fargate"/,
    ],
    [
      'container settings on the Lambda edge, where nothing reads them',
      { gateway: { allowPlainHttp: true, container: { minReplicas: 3 } } },
      /gateway\.container is set but gateway\.edge is "lambda"/,
    ],
    [
      'a container edge with fewer max than min replicas',
      {
        gateway: {
          allowPlainHttp: true,
          edge: 'container',
          container: { minReplicas: 4, maxReplicas: 3 },
        },
      },
      /gateway\.container\.maxReplicas must be >= minReplicas, got 3 < 4/,
    ],
    [
      'a container edge asking for more CPU than a system node has',
      { gateway: { allowPlainHttp: true, edge: 'container', container: { cpuMillicores: 2000 } } },
      /gateway\.container\.cpuMillicores is 2000m, but a m7i\.large system node has \d+m allocatable/,
    ],
    [
      'a container edge asking for more memory than a system node has',
      { gateway: { allowPlainHttp: true, edge: 'container', container: { memoryMiB: 8192 } } },
      /gateway\.container\.memoryMiB is 8192 MiB, but a m7i\.large system node has \d+ MiB allocatable/,
    ],
    [
      'a container edge with a shutdown grace too short to finish a stream',
      {
        gateway: {
          allowPlainHttp: true,
          edge: 'container',
          container: { shutdownGraceSeconds: 1 },
        },
      },
      /gateway\.container\.shutdownGraceSeconds must be a whole number from 5 to 3600, got 1/,
    ],
    [
      'an unknown container field',
      { gateway: { allowPlainHttp: true, edge: 'container', container: { replicas: 2 } } },
      /gateway\.container\.replicas is not a known field/,
    ],
    [
      'a runtime without plans',
      { runtime: { plans: {} } },
      /runtime\.plans must name at least one plan/,
    ],
  ];

  it.each(cases)('rejects %s', (_what, patch, message) => {
    expect(() => parse(devDocument(patch))).toThrow(message);
  });

  it('throws StageConfigError, not a generic error', () => {
    expect(() => parse(devDocument({ stage: 'Dev' }))).toThrow(StageConfigError);
  });

  it('rejects a document that is not an object', () => {
    expect(() => parse([])).toThrow(/stage\.json: must be a JSON object/);
  });
});

describe('loading a stage file', () => {
  function repoWith(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'axon-stage-'));
    mkdirSync(join(root, 'config', 'stages'), { recursive: true });
    writeFileSync(
      join(root, 'config', 'axon.json'),
      JSON.stringify({ plans: { free: { requestsPerMinute: 1, burst: 1 } } }),
    );
    for (const [name, text] of Object.entries(files))
      writeFileSync(join(root, 'config', 'stages', name), text);
    return root;
  }

  it('names the file to create for an unknown stage', () => {
    expect(() => loadStageConfig('qa', REPO_ROOT)).toThrow(
      /no config for stage "qa": create .*config\/stages\/qa\.json/,
    );
  });

  it('rejects a stage name that could escape the folder', () => {
    expect(() => loadStageConfig('../prod', REPO_ROOT)).toThrow(
      /stage "\.\.\/prod" must be lowercase letters/,
    );
  });

  it('names the file when it is not JSON', () => {
    const root = repoWith({ 'qa.json': '{ "stage": ' });
    expect(() => loadStageConfig('qa', root)).toThrow(/qa\.json is not valid JSON/);
  });

  it('rejects a file whose stage field names another stage', () => {
    const root = repoWith({ 'qa.json': JSON.stringify({ ...devDocument(), stage: 'dev' }) });
    expect(() => loadStageConfig('qa', root)).toThrow(
      /stage is "dev" but the file is for "qa"; make them match/,
    );
  });

  it('loads both shipped stages', () => {
    expect(loadStageConfig('dev', REPO_ROOT).stage).toBe('dev');
    expect(loadStageConfig('prod', REPO_ROOT).stage).toBe('prod');
  });
});

describe('stage config defaults', () => {
  const minimal = {
    stage: 'min',
    env: { region: 'eu-west-1' },
    network: { cidr: '10.9.0.0/16', availabilityZones: ['eu-west-1a', 'eu-west-1b'] },
    eks: {
      systemNodes: { instanceTypes: ['m7i.large'], maxSize: 2 },
      gpuNodes: { instanceTypes: ['g6.xlarge'] },
    },
    triton: { image: 'nvcr.io/nvidia/tritonserver:25.10-py3' },
    models: [{ name: 'qwen', huggingFaceId: 'Qwen/Qwen2.5-0.5B-Instruct', contextWindow: 4096 }],
    gateway: { allowPlainHttp: true },
  };
  const c = parse(minimal);

  it.each([
    ['one NAT gateway', c.network.natGateways, 1],
    ['Redis OSS', c.redis.engine, 'redis'],
    ['Redis 7.1', c.redis.engineVersion, '7.1'],
    ['a cache.t4g.small node', c.redis.nodeType, 'cache.t4g.small'],
    ['one replica per shard', c.redis.replicasPerShard, 1],
    ['cluster mode off', c.redis.clusterMode, false],
    ['one shard', c.redis.shards, 1],
    ['port 6379', c.redis.port, 6379],
    ['AUTH rotation every 30 days', c.redis.authRotationDays, 30],
    ['one day of snapshots', c.redis.snapshotRetentionDays, 1],
    ['a cache.t4g.micro limiter cache', c.redis.limiter.nodeType, 'cache.t4g.micro'],
    ['the limiter cache with the section replicas', c.redis.limiter.replicasPerShard, 1],
    ['no reserved gateway concurrency', c.gateway.reservedConcurrency, undefined],
    ['Kubernetes 1.35', c.eks.version, '1.35'],
    ['a private API endpoint', c.eks.endpointPublicCidrs, []],
    ['system nodes from 1', c.eks.systemNodes.minSize, 1],
    ['desired size = min size', c.eks.systemNodes.desiredSize, 1],
    ['50 GiB system disks', c.eks.systemNodes.diskSizeGiB, 50],
    ['on-demand capacity', c.eks.systemNodes.capacityType, 'ON_DEMAND'],
    ['no cluster admins', c.eks.adminPrincipalArns, []],
    ['at most 4 GPUs in the pool', c.eks.gpuNodes.maxGpus, 4],
    ['on-demand GPU nodes', c.eks.gpuNodes.capacityType, 'ON_DEMAND'],
    ['200 GiB GPU disks', c.eks.gpuNodes.diskSizeGiB, 200],
    ['empty GPU nodes removed after 15 minutes', c.eks.gpuNodes.consolidateAfterMinutes, 15],
    ['GPU nodes replaced after 30 days', c.eks.gpuNodes.expireAfterHours, 720],
    [
      'Triton requests derived from a g6.xlarge, less its DaemonSets (700m, 281 MiB)',
      [c.triton.cpuMillicores, c.triton.memoryMiB],
      [3200, 13824],
    ],
    ['a 2 s time-to-first-token target', c.triton.targetTimeToFirstTokenMs, 2000],
    ['4 pending requests per Triton replica', c.triton.targetPendingRequests, 4],
    ['the chatml template', c.models[0]?.chatTemplate, 'chatml'],
    ['90% of the GPU memory for vLLM', c.models[0]?.engineArgs.gpu_memory_utilization, 0.9],
    ['no Hugging Face token', c.models[0]?.huggingFaceTokenSecretName, undefined],
    ['a stack-made model bucket', c.triton.modelRepository, undefined],
    ['1 GPU per Triton replica', c.triton.gpusPerReplica, 1],
    ['1 to 2 Triton replicas', [c.triton.minReplicas, c.triton.maxReplicas], [1, 2]],
    ['a 2 GiB /dev/shm', c.triton.shmSizeMiB, 2048],
    [
      '2 to 6 session managers',
      [c.sessionManager.minReplicas, c.sessionManager.maxReplicas],
      [2, 6],
    ],
    ['24 h sessions', c.sessionManager.sessionTtlSeconds, 86400],
    ['a 60 s inference timeout', c.sessionManager.inferenceTimeoutMs, 60_000],
    ['a 60 s upstream timeout', c.gateway.upstreamTimeoutMs, 60_000],
    ['a gateway secret rotated every 30 days', c.gateway.upstreamSecretRotationDays, 30],
    ['a 1 GiB gateway', c.gateway.memoryMiB, 1024],
    [
      '3000 requests per address per 5 minutes at the WAF',
      c.gateway.wafRequestsPerFiveMinutes,
      3000,
    ],
    ['no alarm email', c.alarms.email, undefined],
    [
      'a NAT alarm on the first port allocation error',
      c.alarms.natPortAllocationErrorsPerFiveMinutes,
      1,
    ],
    ['a NAT alarm at 100 dropped packets', c.alarms.natPacketsDroppedPerFiveMinutes, 100],
    ['alarm at 10 5xx per 5 minutes', c.alarms.fiveXxPerFiveMinutes, 10],
    ['a Redis engine CPU alarm at 80%', c.alarms.redisEngineCpuPercent, 80],
    ['a Redis memory alarm at 80%', c.alarms.redisMemoryPercent, 80],
    ['a Redis eviction alarm on the first eviction', c.alarms.redisEvictionsPerFiveMinutes, 1],
    ['a Redis replication lag alarm at 10 s', c.alarms.redisReplicationLagSeconds, 10],
    ['a Redis connections alarm at 5000', c.alarms.redisConnections, 5000],
    ['a DynamoDB throttle alarm on the first throttle', c.alarms.dynamoThrottlesPerFiveMinutes, 1],
    [
      'a DynamoDB system error alarm on the first error',
      c.alarms.dynamoSystemErrorsPerFiveMinutes,
      1,
    ],
    ['an unhealthy-target alarm on the first unhealthy pod', c.alarms.internalAlbUnhealthyHosts, 1],
    ['a session manager 5xx alarm at 5%', c.alarms.sessionManager5xxPercent, 5],
    ['a restart alarm at 3 restarts per 5 minutes', c.alarms.podRestartsPerFiveMinutes, 3],
    ['a Triton queue alarm at 2 s', c.alarms.tritonQueueMs, 2000],
    ['a Triton failure alarm on the first failure', c.alarms.tritonFailuresPerFiveMinutes, 1],
    [
      'a GPU alarm at 95% for 30 minutes',
      [c.alarms.gpuUtilizationPercent, c.alarms.gpuHighMinutes],
      [95, 30],
    ],
    ['a Triton pending alarm after 20 minutes', c.alarms.tritonPendingMinutes, 20],
    ['control-plane logs kept 90 days', c.observability.controlPlaneLogRetentionDays, 90],
    ['container logs kept 30 days', c.observability.containerLogRetentionDays, 30],
    ['log groups kept when the stack is deleted', c.observability.logGroupsOnDelete, 'retain'],
    ['fail open', c.runtime.rateLimiter.failureMode, 'open'],
  ])('defaults to %s', (_what, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it('gives the limiter cache the section replica count unless it sets its own', () => {
    expect(
      parse({ ...minimal, redis: { replicasPerShard: 2 } }).redis.limiter.replicasPerShard,
    ).toBe(2);
    const own = parse({
      ...minimal,
      redis: { replicasPerShard: 2, limiter: { replicasPerShard: 0 } },
    });
    expect(own.redis.limiter.replicasPerShard).toBe(0);
  });

  it('keeps a configured gateway reserved concurrency', () => {
    expect(
      parse({ ...minimal, gateway: { allowPlainHttp: true, reservedConcurrency: 50 } }).gateway
        .reservedConcurrency,
    ).toBe(50);
  });

  it('defaults Valkey to 8.0', () => {
    expect(parse({ ...minimal, redis: { engine: 'valkey' } }).redis.engineVersion).toBe('8.0');
  });

  it('takes the architecture of a known model from the table', () => {
    expect(c.models[0]?.architecture).toMatchObject({ layers: 24, kvHeads: 2, gated: false });
  });

  it('takes plans from config/axon.json when the stage has no runtime section', () => {
    expect(Object.keys(c.runtime.plans)).toEqual(['free', 'pro']);
  });
});

describe('gateway HTTPS choices', () => {
  const cert = 'arn:aws:acm:us-east-1:123456789012:certificate/abc';

  it('accepts a domain with its zone id and zone name, and no certificate', () => {
    const g = parse(
      devDocument({
        gateway: {
          allowPlainHttp: false,
          domainName: 'api.eu.example.com',
          hostedZoneId: 'Z123EXAMPLE',
          hostedZoneName: 'example.com',
        },
      }),
    ).gateway;
    expect([g.domainName, g.hostedZoneId, g.hostedZoneName, g.certificateArn]).toEqual([
      'api.eu.example.com',
      'Z123EXAMPLE',
      'example.com',
      undefined,
    ]);
  });

  it('accepts a certificate ARN alone (DNS left to the operator)', () => {
    const g = parse(
      devDocument({ gateway: { allowPlainHttp: false, certificateArn: cert } }),
    ).gateway;
    expect([g.certificateArn, g.domainName, g.allowPlainHttp]).toEqual([cert, undefined, false]);
  });

  it('accepts plain HTTP only as the explicit opt-in', () => {
    expect(parse(devDocument()).gateway.allowPlainHttp).toBe(true);
  });
});

describe('stage config and the session manager', () => {
  it('offers exactly the chat templates the session manager implements', () => {
    expect([...CHAT_TEMPLATES]).toEqual([...TEMPLATE_NAMES]);
  });
});

describe('gateway edge', () => {
  it('keeps the Lambda edge when a stage does not choose', () => {
    const config = parse(dev);
    expect(config.gateway.edge).toBe('lambda');
  });

  it('gives the container edge 2..6 pods of 500m and 512 MiB, a 1 MiB body cap and 60 s grace', () => {
    const config = parse(devDocument({ gateway: { allowPlainHttp: true, edge: 'container' } }));
    expect(config.gateway.container).toEqual({
      minReplicas: 2,
      maxReplicas: 6,
      cpuMillicores: 500,
      memoryMiB: 512,
      maxBodyBytes: 1_048_576,
      shutdownGraceSeconds: 60,
    });
  });

  it('accepts CPU up to what one system node can place (1930m on m7i.large)', () => {
    const config = parse(
      devDocument({
        gateway: { allowPlainHttp: true, edge: 'container', container: { cpuMillicores: 1900 } },
      }),
    );
    expect(config.gateway.container.cpuMillicores).toBe(1900);
  });
});
