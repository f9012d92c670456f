/**
 * The container edge on the system pool: Deployment, Service, HPA, PDB and the
 * TargetGroupBinding that registers its pods in the public ALB's IP target group. The pods run
 * the same gateway core as the Lambda (services/gateway-edge); only the adapter is an HTTP server.
 */
import type { Manifest } from './common.ts';
import {
  type SystemDeploymentSpec,
  type SystemWorkloadProps,
  systemDeployment,
  systemTargetGroupBinding,
  systemWorkloadManifests,
} from './system-workload.ts';

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

export interface GatewayEdgeManifestProps extends SystemWorkloadProps {
  readonly targetGroupArn: string;
  /** How long open streams may run on after SIGTERM. */
  readonly shutdownGraceSeconds: number;
}

/** Seconds from the start of a pod's deletion until the kubelet kills it. */
export function terminationGracePeriodSeconds(shutdownGraceSeconds: number): number {
  return PRE_STOP_SLEEP_SECONDS + shutdownGraceSeconds + EXIT_MARGIN_SECONDS;
}

function deploymentSpec(shutdownGraceSeconds: number): SystemDeploymentSpec {
  const grace = terminationGracePeriodSeconds(shutdownGraceSeconds);
  return {
    workload: GATEWAY_EDGE,
    terminationGracePeriodSeconds: grace,
    preStopSleepSeconds: PRE_STOP_SLEEP_SECONDS,
    // /healthz answers 503 while draining: readiness takes the pod out at once, while liveness
    // tolerates more failures than the whole termination lasts, so it never restarts a pod that
    // is finishing its open streams.
    probes: {
      readinessProbe: {
        path: '/healthz',
        periodSeconds: 5,
        timeoutSeconds: 2,
        failureThreshold: 2,
      },
      livenessProbe: {
        path: '/healthz',
        periodSeconds: PROBE_PERIOD_SECONDS,
        timeoutSeconds: 2,
        failureThreshold: Math.ceil(grace / PROBE_PERIOD_SECONDS) + 1,
      },
    },
  };
}

export function gatewayEdgeDeployment(p: GatewayEdgeManifestProps): Manifest {
  return systemDeployment(p, deploymentSpec(p.shutdownGraceSeconds));
}

/** Registers the edge pods' IPs in the public ALB's target group (AWS Load Balancer Controller CRD). */
export function gatewayEdgeTargetGroupBinding(targetGroupArn: string): Manifest {
  return systemTargetGroupBinding(GATEWAY_EDGE, targetGroupArn);
}

export function gatewayEdgeManifests(p: GatewayEdgeManifestProps): Manifest[] {
  return systemWorkloadManifests(p, deploymentSpec(p.shutdownGraceSeconds));
}
