/**
 * Small builders for the Kubernetes objects every Axon workload has: labels, a Service, an HPA
 * and a PodDisruptionBudget. Plain objects, so tests can read them without a cluster.
 */
import { NAMESPACE } from './versions.ts';

export type Manifest = Record<string, unknown>;

export function labels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'axon' };
}

export function selector(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name };
}

export function namespace(): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: NAMESPACE,
      // The load balancer controller holds a pod out of rotation until its target is healthy,
      // so a rolling update never sends traffic to a pod the ALB has not checked yet.
      labels: { 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' },
    },
  };
}

export function service(name: string, ports: { name: string; port: number }[]): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NAMESPACE, labels: labels(name) },
    spec: {
      type: 'ClusterIP',
      selector: selector(name),
      ports: ports.map((p) => ({
        name: p.name,
        port: p.port,
        targetPort: p.port,
        protocol: 'TCP',
      })),
    },
  };
}

/** CPU-based autoscaling (autoscaling/v2); needs metrics-server, which the cluster installs. */
export function hpa(name: string, min: number, max: number, targetCpuPercent: number): Manifest {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace: NAMESPACE, labels: labels(name) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: min,
      maxReplicas: max,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: targetCpuPercent },
          },
        },
      ],
    },
  };
}

/**
 * At most one pod of the workload is evicted at a time. `maxUnavailable` rather than
 * `minAvailable` so a single-replica workload never blocks a node drain forever.
 */
export function pdb(name: string): Manifest {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name, namespace: NAMESPACE, labels: labels(name) },
    spec: { maxUnavailable: 1, selector: { matchLabels: selector(name) } },
  };
}

/** Non-root, no privilege escalation, no Linux capabilities, default seccomp profile. */
export const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
} as const;
