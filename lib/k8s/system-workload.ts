/**
 * The shape shared by Axon's HTTP services on the system node pool (the session manager and the
 * container edge): a Deployment of one non-root Node.js container with a read-only root
 * filesystem, spread over AZs and rolled one surge pod at a time, plus its Service, HPA, PDB and
 * the TargetGroupBinding that registers its pods in an ALB target group. The services differ
 * only in what they pass here: name and port, probes, grace period, pre-stop sleep and sizes.
 *
 * Object key order is part of the contract: the manifests are serialized into the synthesized
 * templates as they are built, so a reordering changes every template.
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

/** The node user of the official Node.js images. */
const NODE_UID = 1000;

/** Name of the workload's Deployment, Service and container, and the port it listens on. */
export interface SystemWorkloadName {
  readonly name: string;
  readonly port: number;
}

/** What the services' manifest props have in common. */
export interface SystemWorkloadProps {
  readonly image: string;
  readonly serviceAccountName: string;
  /** Container environment; values may be CDK tokens. */
  readonly environment: Readonly<Record<string, string>>;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  readonly targetCpuPercent: number;
}

/** An HTTP GET probe on the workload's own port. */
export interface HttpProbe {
  readonly path: string;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

/** What differs between the services' Deployments. */
export interface SystemDeploymentSpec {
  readonly workload: SystemWorkloadName;
  /** Seconds from the start of a pod's deletion until the kubelet kills it. */
  readonly terminationGracePeriodSeconds: number;
  /** Seconds the pod keeps serving after deletion starts, before the process gets SIGTERM. */
  readonly preStopSleepSeconds: number;
  /**
   * The container's probes, written into the manifest in the order given here (each service
   * keeps the order its template has always had).
   */
  readonly probes: {
    readonly livenessProbe?: HttpProbe;
    readonly readinessProbe?: HttpProbe;
  };
}

/** The Deployment of a system-pool HTTP service; see the file comment for what it fixes. */
export function systemDeployment(p: SystemWorkloadProps, spec: SystemDeploymentSpec): Manifest {
  const { name, port } = spec.workload;
  const probes = Object.fromEntries(
    Object.entries(spec.probes).map(([key, probe]) => [
      key,
      {
        httpGet: { path: probe.path, port, scheme: 'HTTP' },
        periodSeconds: probe.periodSeconds,
        timeoutSeconds: probe.timeoutSeconds,
        failureThreshold: probe.failureThreshold,
      },
    ]),
  );
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE, labels: labels(name) },
    spec: {
      // No `replicas`: the HPA owns the count, and a deploy must not reset what it chose.
      selector: { matchLabels: selector(name) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: labels(name) },
        spec: {
          serviceAccountName: p.serviceAccountName,
          nodeSelector: { [POOL_LABEL]: 'system' },
          // Spread over AZs so losing one keeps the service up.
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: selector(name) },
            },
          ],
          terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: NODE_UID,
            runAsGroup: NODE_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name,
              image: p.image,
              env: Object.entries(p.environment).map(([key, value]) => ({ name: key, value })),
              ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
              ...probes,
              lifecycle: { preStop: { sleep: { seconds: spec.preStopSleepSeconds } } },
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

/** The Deployment with its Service, CPU-based HPA and PDB. */
export function systemWorkloadManifests(
  p: SystemWorkloadProps,
  spec: SystemDeploymentSpec,
): Manifest[] {
  const { name, port } = spec.workload;
  return [
    systemDeployment(p, spec),
    service(name, [{ name: 'http', port }]),
    hpa(name, p.minReplicas, p.maxReplicas, p.targetCpuPercent),
    pdb(name),
  ];
}

/**
 * Registers the workload's pod IPs in a target group CDK owns (AWS Load Balancer Controller CRD).
 * Apart from the other manifests because it needs the controller's CRD installed first.
 */
export function systemTargetGroupBinding(
  workload: SystemWorkloadName,
  targetGroupArn: string,
): Manifest {
  return {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    kind: 'TargetGroupBinding',
    metadata: { name: workload.name, namespace: NAMESPACE, labels: labels(workload.name) },
    spec: {
      serviceRef: { name: workload.name, port: workload.port },
      targetGroupARN: targetGroupArn,
      targetType: 'ip',
    },
  };
}
