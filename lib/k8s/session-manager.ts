/**
 * The session manager on the system pool: Deployment, Service, HPA, PDB and the
 * TargetGroupBinding that registers its pods in the internal ALB's target group.
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
import { NAMESPACE, POOL_LABEL, SESSION_MANAGER } from './versions.ts';

export interface SessionManagerManifestProps {
  readonly image: string;
  readonly serviceAccountName: string;
  /** Container environment (PORT and friends); values may be CDK tokens. */
  readonly environment: Readonly<Record<string, string>>;
  readonly targetGroupArn: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  readonly targetCpuPercent: number;
}

/** The node user of the official Node.js images. */
const NODE_UID = 1000;

export function sessionManagerDeployment(p: SessionManagerManifestProps): Manifest {
  const http = { port: SESSION_MANAGER.port, scheme: 'HTTP' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: SESSION_MANAGER.name,
      namespace: NAMESPACE,
      labels: labels(SESSION_MANAGER.name),
    },
    spec: {
      // No `replicas`: the HPA owns the count, and a deploy must not reset what it chose.
      selector: { matchLabels: selector(SESSION_MANAGER.name) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: labels(SESSION_MANAGER.name) },
        spec: {
          serviceAccountName: p.serviceAccountName,
          nodeSelector: { [POOL_LABEL]: 'system' },
          // Spread over AZs so losing one keeps the service up.
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: selector(SESSION_MANAGER.name) },
            },
          ],
          // The ALB keeps sending for a few seconds after deregistration starts.
          terminationGracePeriodSeconds: 45,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: NODE_UID,
            runAsGroup: NODE_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: SESSION_MANAGER.name,
              image: p.image,
              env: Object.entries(p.environment).map(([name, value]) => ({ name, value })),
              ports: [{ name: 'http', containerPort: SESSION_MANAGER.port, protocol: 'TCP' }],
              livenessProbe: {
                httpGet: { path: '/healthz', ...http },
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: '/readyz', ...http },
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 2,
              },
              lifecycle: { preStop: { sleep: { seconds: 10 } } },
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

/** Registers the pods' IPs in a target group CDK owns (AWS Load Balancer Controller CRD). */
export function targetGroupBinding(targetGroupArn: string): Manifest {
  return {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    kind: 'TargetGroupBinding',
    metadata: {
      name: SESSION_MANAGER.name,
      namespace: NAMESPACE,
      labels: labels(SESSION_MANAGER.name),
    },
    spec: {
      serviceRef: { name: SESSION_MANAGER.name, port: SESSION_MANAGER.port },
      targetGroupARN: targetGroupArn,
      targetType: 'ip',
    },
  };
}

export function sessionManagerManifests(p: SessionManagerManifestProps): Manifest[] {
  return [
    sessionManagerDeployment(p),
    service(SESSION_MANAGER.name, [{ name: 'http', port: SESSION_MANAGER.port }]),
    hpa(SESSION_MANAGER.name, p.minReplicas, p.maxReplicas, p.targetCpuPercent),
    pdb(SESSION_MANAGER.name),
  ];
}
