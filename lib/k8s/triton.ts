/**
 * Triton Inference Server on the GPU pool: Deployment, Service, HPA and PDB. The model
 * repository is read from S3 with the pod's IAM role (IRSA), never with static keys.
 */
import {
  hpa,
  labels,
  type Manifest,
  pdb,
  RESTRICTED_CONTAINER,
  selector,
  service,
} from './common.ts';
import { GPU_TAINT, NAMESPACE, POOL_LABEL, TRITON } from './versions.ts';

export interface TritonManifestProps {
  readonly image: string;
  /** `s3://bucket/prefix` */
  readonly modelRepository: string;
  readonly serviceAccountName: string;
  readonly region: string;
  readonly gpusPerReplica: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  readonly shmSizeMiB: number;
  readonly targetCpuPercent: number;
}

/** The `tritonserver` container image's own unprivileged user. */
const TRITON_UID = 1000;

export function tritonDeployment(p: TritonManifestProps): Manifest {
  const gpus = String(p.gpusPerReplica);
  const http = { port: TRITON.httpPort, scheme: 'HTTP' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: TRITON.name, namespace: NAMESPACE, labels: labels(TRITON.name) },
    spec: {
      replicas: p.minReplicas,
      selector: { matchLabels: selector(TRITON.name) },
      template: {
        metadata: { labels: labels(TRITON.name) },
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
              ],
              ports: [
                { name: 'http', containerPort: TRITON.httpPort, protocol: 'TCP' },
                { name: 'grpc', containerPort: TRITON.grpcPort, protocol: 'TCP' },
                { name: 'metrics', containerPort: TRITON.metricsPort, protocol: 'TCP' },
              ],
              // Loading large models from S3 takes minutes: the startup probe allows 20 of them
              // before the liveness probe may restart the container.
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
              volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
            },
          ],
          // Python backends and NCCL share tensors through /dev/shm; the container default of
          // 64 MiB is far too small for LLMs.
          volumes: [
            { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: `${p.shmSizeMiB}Mi` } },
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
    hpa(TRITON.name, p.minReplicas, p.maxReplicas, p.targetCpuPercent),
    pdb(TRITON.name),
  ];
}

/** In-cluster URL of Triton's HTTP endpoint, for the session manager. */
export const TRITON_URL = `http://${TRITON.name}.${NAMESPACE}.svc.cluster.local:${TRITON.httpPort}`;
