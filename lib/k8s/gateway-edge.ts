/**
 * The container edge on the system pool: Deployment, Service, HPA, PDB and the
 * TargetGroupBinding that registers its pods in the public ALB's IP target group. The pods run
 * the same gateway core as the Lambda (services/gateway-edge); only the adapter is an HTTP server.
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
import { NAMESPACE, POOL_LABEL } from './versions.ts';

/** Name of the edge's Deployment, Service and service account, and the port it listens on. */
export const GATEWAY_EDGE = { name: 'gateway-edge', port: 8080 } as const;

/**
 * Seconds the pod keeps serving after Kubernetes starts deleting it, before the process gets
 * SIGTERM: the load balancer controller deregisters the pod and the ALB stops sending new
 * requests within a few seconds; without the wait, new requests would meet a closing server.
 */
export const PRE_STOP_SLEEP_SECONDS = 10;

/** Time past the shutdown grace for the process to exit before the kubelet kills it. */
const EXIT_MARGIN_SECONDS = 5;

const PROBE_PERIOD_SECONDS = 10;

/** The node user of the official Node.js images. */
const NODE_UID = 1000;

export interface GatewayEdgeManifestProps {
  readonly image: string;
  readonly serviceAccountName: string;
  /** Container environment; values may be CDK tokens. */
  readonly environment: Readonly<Record<string, string>>;
  readonly targetGroupArn: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  readonly targetCpuPercent: number;
  /** How long open streams may run on after SIGTERM. */
  readonly shutdownGraceSeconds: number;
}

/** Seconds from the start of a pod's deletion until the kubelet kills it. */
export function terminationGracePeriodSeconds(shutdownGraceSeconds: number): number {
  return PRE_STOP_SLEEP_SECONDS + shutdownGraceSeconds + EXIT_MARGIN_SECONDS;
}

export function gatewayEdgeDeployment(p: GatewayEdgeManifestProps): Manifest {
  const http = { port: GATEWAY_EDGE.port, scheme: 'HTTP' };
  const grace = terminationGracePeriodSeconds(p.shutdownGraceSeconds);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: GATEWAY_EDGE.name, namespace: NAMESPACE, labels: labels(GATEWAY_EDGE.name) },
    spec: {
      // No `replicas`: the HPA owns the count, and a deploy must not reset what it chose.
      selector: { matchLabels: selector(GATEWAY_EDGE.name) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: labels(GATEWAY_EDGE.name) },
        spec: {
          serviceAccountName: p.serviceAccountName,
          nodeSelector: { [POOL_LABEL]: 'system' },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: selector(GATEWAY_EDGE.name) },
            },
          ],
          terminationGracePeriodSeconds: grace,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: NODE_UID,
            runAsGroup: NODE_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: GATEWAY_EDGE.name,
              image: p.image,
              env: Object.entries(p.environment).map(([name, value]) => ({ name, value })),
              ports: [{ name: 'http', containerPort: GATEWAY_EDGE.port, protocol: 'TCP' }],
              // /healthz answers 503 while draining: readiness takes the pod out at once, while
              // liveness tolerates more failures than the whole termination lasts, so it never
              // restarts a pod that is finishing its open streams.
              readinessProbe: {
                httpGet: { path: '/healthz', ...http },
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 2,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', ...http },
                periodSeconds: PROBE_PERIOD_SECONDS,
                timeoutSeconds: 2,
                failureThreshold: Math.ceil(grace / PROBE_PERIOD_SECONDS) + 1,
              },
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
              resources: {
                requests: { cpu: `${p.cpuMillicores}m`, memory: `${p.memoryMiB}Mi` },
                limits: { memory: `${p.memoryMiB}Mi` },
              },
              securityContext: { ...RESTRICTED_CONTAINER, readOnlyRootFilesystem: true },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

/** Registers the edge pods' IPs in the public ALB's target group (AWS Load Balancer Controller CRD). */
export function gatewayEdgeTargetGroupBinding(targetGroupArn: string): Manifest {
  return {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    kind: 'TargetGroupBinding',
    metadata: { name: GATEWAY_EDGE.name, namespace: NAMESPACE, labels: labels(GATEWAY_EDGE.name) },
    spec: {
      serviceRef: { name: GATEWAY_EDGE.name, port: GATEWAY_EDGE.port },
      targetGroupARN: targetGroupArn,
      targetType: 'ip',
    },
  };
}

export function gatewayEdgeManifests(p: GatewayEdgeManifestProps): Manifest[] {
  return [
    gatewayEdgeDeployment(p),
    service(GATEWAY_EDGE.name, [{ name: 'http', port: GATEWAY_EDGE.port }]),
    hpa(GATEWAY_EDGE.name, p.minReplicas, p.maxReplicas, p.targetCpuPercent),
    pdb(GATEWAY_EDGE.name),
  ];
}
