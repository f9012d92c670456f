/**
 * The session manager on the system pool: Deployment, Service, HPA, PDB and the
 * TargetGroupBinding that registers its pods in the internal ALB's target group. The shape is
 * the system pool's shared one (system-workload.ts); what is the session manager's own is here.
 */
import type { Manifest } from './common.ts';
import {
  type SystemDeploymentSpec,
  type SystemWorkloadProps,
  systemDeployment,
  systemTargetGroupBinding,
  systemWorkloadManifests,
} from './system-workload.ts';
import { SESSION_MANAGER } from './versions.ts';

export interface SessionManagerManifestProps extends SystemWorkloadProps {
  readonly targetGroupArn: string;
}

const DEPLOYMENT: SystemDeploymentSpec = {
  workload: SESSION_MANAGER,
  // The ALB keeps sending for a few seconds after deregistration starts.
  terminationGracePeriodSeconds: 45,
  preStopSleepSeconds: 10,
  probes: {
    livenessProbe: { path: '/healthz', periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    readinessProbe: { path: '/readyz', periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
  },
};

export function sessionManagerDeployment(p: SessionManagerManifestProps): Manifest {
  return systemDeployment(p, DEPLOYMENT);
}

/** Registers the pods' IPs in a target group CDK owns (AWS Load Balancer Controller CRD). */
export function targetGroupBinding(targetGroupArn: string): Manifest {
  return systemTargetGroupBinding(SESSION_MANAGER, targetGroupArn);
}

export function sessionManagerManifests(p: SessionManagerManifestProps): Manifest[] {
  return systemWorkloadManifests(p, DEPLOYMENT);
}
