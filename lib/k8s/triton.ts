/**
 * Triton Inference Server on the GPU pool: its model repository (one vLLM model per served
 * model), the Deployment, Service and PDB, and the KEDA ScaledObject that sizes it. The model
 * repository is read from S3 with the pod's IAM role (IRSA), never with static keys.
 */
import { createHash } from 'node:crypto';
import type { ModelConfig } from '../config.ts';
import { labels, type Manifest, pdb, RESTRICTED_CONTAINER, selector, service } from './common.ts';
import {
  AWS_CLI_IMAGE,
  GPU_TAINT,
  HF_CACHE_HOST_PATH,
  NAMESPACE,
  POOL_LABEL,
  SESSION_MANAGER,
  TRITON,
} from './versions.ts';

export interface TritonManifestProps {
  readonly image: string;
  /** `s3://bucket/prefix` */
  readonly modelRepository: string;
  readonly serviceAccountName: string;
  readonly region: string;
  readonly gpusPerReplica: number;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  readonly shmSizeMiB: number;
  /** Changes whenever the model repository does, so Triton restarts and reloads it. */
  readonly modelRepositoryHash: string;
  /** Secrets Manager secret with the Hugging Face token; absent: no gated model, no init step. */
  readonly huggingFaceTokenSecretName?: string;
}

/** The `tritonserver` container image's own unprivileged user. */
const TRITON_UID = 1000;
/** Where the init container leaves the Hugging Face token: memory-backed, this pod only. */
const TOKEN_DIR = '/var/run/axon/hf-token';

/**
 * Triton's model repository as files (path below the repository prefix -> content): a
 * `config.pbtxt` selecting the vLLM backend and a `1/model.json` with vLLM's engine arguments,
 * per model, the layout Triton's vLLM backend documents.
 */
export function modelRepositoryFiles(
  models: readonly ModelConfig[],
  gpusPerReplica: number,
): Record<string, string> {
  const files: Record<string, string> = {};
  for (const model of models) {
    files[`${model.name}/config.pbtxt`] = [
      `# ${model.huggingFaceId}, written by the Axon stack from the stage config.`,
      'backend: "vllm"',
      // vLLM places the model on the GPUs itself; Triton runs one instance of it.
      'instance_group [ { count: 1, kind: KIND_MODEL } ]',
      // vLLM's time-to-first-token histogram on Triton's metrics port drives the autoscaler.
      'parameters: { key: "REPORT_CUSTOM_METRICS" value: { string_value: "true" } }',
      '',
    ].join('\n');
    const engine = {
      ...model.engineArgs,
      model: model.huggingFaceId,
      max_model_len: model.contextWindow,
      tensor_parallel_size: gpusPerReplica,
      // Stats feed the vllm:* metrics above.
      disable_log_stats: false,
    };
    files[`${model.name}/1/model.json`] = `${JSON.stringify(engine, null, 2)}\n`;
  }
  return files;
}

/** A short digest of the repository files, for the pod template annotation. */
export function hashFiles(files: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256');
  for (const path of Object.keys(files).sort()) hash.update(`${path}\0${files[path]}\0`);
  return hash.digest('hex').slice(0, 16);
}

function tokenInitContainer(secretName: string, region: string): Manifest {
  return {
    name: 'hf-token',
    image: AWS_CLI_IMAGE,
    // The token goes from Secrets Manager to a memory volume; it never passes through the
    // template, an environment variable or a log line (the CLI writes it to the file only).
    command: [
      'sh',
      '-c',
      `aws secretsmanager get-secret-value --secret-id "$SECRET_NAME" --query SecretString --output text > ${TOKEN_DIR}/token`,
    ],
    env: [
      { name: 'SECRET_NAME', value: secretName },
      { name: 'AWS_REGION', value: region },
      { name: 'HOME', value: '/tmp' },
    ],
    resources: {
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '256Mi' },
    },
    securityContext: { ...RESTRICTED_CONTAINER, readOnlyRootFilesystem: true },
    volumeMounts: [
      { name: 'hf-token', mountPath: TOKEN_DIR },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
}

export function tritonDeployment(p: TritonManifestProps): Manifest {
  const gpus = String(p.gpusPerReplica);
  const http = { port: TRITON.httpPort, scheme: 'HTTP' };
  const token = p.huggingFaceTokenSecretName;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: TRITON.name, namespace: NAMESPACE, labels: labels(TRITON.name) },
    spec: {
      // No `replicas`: KEDA's HPA owns the count, and a deploy must not reset what it chose.
      selector: { matchLabels: selector(TRITON.name) },
      // Each replica holds whole GPUs. A surge pod would wait for a GPU node that only appears
      // after the old pod leaves, so replace in place: one pod down, then its successor.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      template: {
        metadata: {
          labels: labels(TRITON.name),
          annotations: { 'axon.ai/model-repository-hash': p.modelRepositoryHash },
        },
        spec: {
          serviceAccountName: p.serviceAccountName,
          nodeSelector: { [POOL_LABEL]: 'gpu' },
          tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
          terminationGracePeriodSeconds: 60,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: TRITON_UID,
            runAsGroup: TRITON_UID,
            fsGroup: TRITON_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          ...(token && { initContainers: [tokenInitContainer(token, p.region)] }),
          containers: [
            {
              name: TRITON.name,
              image: p.image,
              command: ['tritonserver'],
              args: [
                `--model-repository=${p.modelRepository}`,
                `--http-port=${TRITON.httpPort}`,
                `--grpc-port=${TRITON.grpcPort}`,
                `--metrics-port=${TRITON.metricsPort}`,
                // Ready only once every model has loaded, so no request reaches a cold pod.
                '--strict-readiness=true',
              ],
              env: [
                // The S3 client resolves the bucket's region from here; the role comes from IRSA.
                { name: 'AWS_REGION', value: p.region },
                { name: 'AWS_DEFAULT_REGION', value: p.region },
                // Weights are downloaded once per node into the node-local cache.
                { name: 'HF_HOME', value: '/hf-cache' },
                ...(token ? [{ name: 'HF_TOKEN_PATH', value: `${TOKEN_DIR}/token` }] : []),
              ],
              ports: [
                { name: 'http', containerPort: TRITON.httpPort, protocol: 'TCP' },
                { name: 'grpc', containerPort: TRITON.grpcPort, protocol: 'TCP' },
                { name: 'metrics', containerPort: TRITON.metricsPort, protocol: 'TCP' },
              ],
              // A first start on a new node downloads the weights: the startup probe allows 20
              // minutes before the liveness probe may restart the container.
              startupProbe: {
                httpGet: { path: '/v2/health/live', ...http },
                periodSeconds: 10,
                failureThreshold: 120,
              },
              livenessProbe: {
                httpGet: { path: '/v2/health/live', ...http },
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: '/v2/health/ready', ...http },
                periodSeconds: 5,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
              resources: {
                requests: {
                  cpu: `${p.cpuMillicores}m`,
                  memory: `${p.memoryMiB}Mi`,
                  'nvidia.com/gpu': gpus,
                },
                limits: { memory: `${p.memoryMiB}Mi`, 'nvidia.com/gpu': gpus },
              },
              securityContext: RESTRICTED_CONTAINER,
              volumeMounts: [
                { name: 'dshm', mountPath: '/dev/shm' },
                { name: 'hf-cache', mountPath: '/hf-cache' },
                ...(token ? [{ name: 'hf-token', mountPath: TOKEN_DIR, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            // vLLM and NCCL share tensors through /dev/shm; the container default of 64 MiB is
            // far too small for LLMs.
            { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: `${p.shmSizeMiB}Mi` } },
            // The GPU node class creates this directory, owned by Triton's user, at boot.
            { name: 'hf-cache', hostPath: { path: HF_CACHE_HOST_PATH, type: 'Directory' } },
            ...(token
              ? [
                  { name: 'hf-token', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
                  { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
                ]
              : []),
          ],
        },
      },
    },
  };
}

export function tritonManifests(p: TritonManifestProps): Manifest[] {
  return [
    tritonDeployment(p),
    service(TRITON.name, [
      { name: 'http', port: TRITON.httpPort },
      { name: 'grpc', port: TRITON.grpcPort },
      { name: 'metrics', port: TRITON.metricsPort },
    ]),
    // One pod at a time, the same as the rollout: a node drain never takes two replicas at once.
    pdb(TRITON.name),
  ];
}

export interface TritonScalingProps {
  /** 0: Triton scales to zero after idleMinutes and wakes on demand. */
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Minutes without demand before scaling to zero (KEDA cooldownPeriod); used when min is 0. */
  readonly idleMinutes: number;
  /** `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>` */
  readonly prometheusUrl: string;
  readonly region: string;
  readonly targetTimeToFirstTokenMs: number;
  readonly targetPendingRequests: number;
}

const TRIGGER_AUTH = 'amazon-managed-prometheus';

/**
 * The session manager's counter of requests for a known model (services/session-manager
 * plugins/metrics.ts), scraped by the job of the same name (lib/k8s/metrics.ts).
 */
export const DEMAND_METRIC = 'axon_sm_model_demand_total';

/**
 * Window of the demand query: at least four 30 s scrapes, so one request shows as an increase
 * however the scrapes fall. Triton stays up this long after the last request, plus idleMinutes.
 */
export const DEMAND_WINDOW_MINUTES = 2;

/**
 * KEDA sizes Triton from its serving signals in Amazon Managed Prometheus, queried with SigV4 by
 * the KEDA operator's own IAM role (TriggerAuthentication `podIdentity: aws`). Two triggers, the
 * larger answer wins: the mean time to first token (rises as vLLM queues requests inside the
 * engine), and requests pending in Triton's scheduler per replica.
 *
 * With minReplicas 0 a third trigger wakes Triton: 1 while the session manager counted any
 * request in the last DEMAND_WINDOW_MINUTES, else 0. Above 0 KEDA activates the workload (0 to 1
 * replica); once every trigger has read 0 for cooldownPeriod (idleMinutes) it scales back to 0.
 * Its value never asks for more than one replica; the other two size Triton beyond that.
 */
export function tritonScaling(p: TritonScalingProps): Manifest[] {
  const job = `job="${TRITON.name}"`;
  const common = { serverAddress: p.prometheusUrl, awsRegion: p.region };
  return [
    {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'TriggerAuthentication',
      metadata: { name: TRIGGER_AUTH, namespace: NAMESPACE, labels: labels(TRITON.name) },
      spec: { podIdentity: { provider: 'aws' } },
    },
    {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: TRITON.name, namespace: NAMESPACE, labels: labels(TRITON.name) },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: TRITON.name },
        minReplicaCount: p.minReplicas,
        maxReplicaCount: p.maxReplicas,
        pollingInterval: 30,
        // Only used to go from 1 replica to 0 (minReplicaCount 0); the HPA behavior below
        // governs every other scale-down.
        cooldownPeriod: p.idleMinutes * 60,
        advanced: {
          horizontalPodAutoscalerConfig: {
            behavior: {
              scaleDown: {
                stabilizationWindowSeconds: 600,
                policies: [{ type: 'Pods', value: 1, periodSeconds: 300 }],
              },
            },
          },
        },
        triggers: [
          {
            type: 'prometheus',
            name: 'time-to-first-token',
            metricType: 'Value',
            authenticationRef: { name: TRIGGER_AUTH },
            metadata: {
              ...common,
              query: `1000 * sum(rate(vllm:time_to_first_token_seconds_sum{${job}}[2m])) / clamp_min(sum(rate(vllm:time_to_first_token_seconds_count{${job}}[2m])), 0.001)`,
              threshold: String(p.targetTimeToFirstTokenMs),
              ignoreNullValues: 'true',
            },
          },
          {
            type: 'prometheus',
            name: 'pending-requests',
            metricType: 'AverageValue',
            authenticationRef: { name: TRIGGER_AUTH },
            metadata: {
              ...common,
              query: `sum(nv_inference_pending_request_count{${job}})`,
              threshold: String(p.targetPendingRequests),
              ignoreNullValues: 'true',
            },
          },
          ...(p.minReplicas === 0 ? [demandTrigger(common)] : []),
        ],
      },
    },
  ];
}

function demandTrigger(common: { serverAddress: string; awsRegion: string }) {
  return {
    type: 'prometheus',
    name: 'demand',
    metricType: 'AverageValue',
    authenticationRef: { name: TRIGGER_AUTH },
    metadata: {
      ...common,
      query: `clamp_max(sum(increase(${DEMAND_METRIC}{job="${SESSION_MANAGER.name}"}[${DEMAND_WINDOW_MINUTES}m])), 1)`,
      threshold: '1',
      activationThreshold: '0',
      // No series yet (no session manager scraped): no demand.
      ignoreNullValues: 'true',
    },
  };
}

/** In-cluster URL of Triton's HTTP endpoint, for the session manager. */
export const TRITON_URL = `http://${TRITON.name}.${NAMESPACE}.svc.cluster.local:${TRITON.httpPort}`;
