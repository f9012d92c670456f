/** Reference rules on broken fixtures: each dangling name or port is reported. */
import { describe, expect, it } from 'vitest';
import type { K8sObject } from './cluster.ts';
import {
  cluster,
  hpa,
  NS,
  service,
  targetGroupBinding,
  tritonContainer,
  tritonDeployment,
  tritonPod,
} from './fixtures.ts';
import { referencesResolve } from './rules.ts';

describe('references point at objects and declared ports', () => {
  it('fails a Service whose selector matches no pods', () => {
    const orphan = {
      ...service('triton', 8000, 'http'),
      spec: { selector: { app: 'tritons' }, ports: [{ port: 8000 }] },
    };
    expect(referencesResolve(cluster({ 'Service/triton': orphan }))).toEqual([
      expect.stringContaining(
        'Service axon/triton: selector {"app":"tritons"} matches no workload',
      ),
    ]);
  });

  it('fails a Service targetPort no container declares, by name or number', () => {
    expect(
      referencesResolve(cluster({ 'Service/triton': service('triton', 8000, 'grpc') })),
    ).toEqual([
      expect.stringContaining(
        'port http targets "grpc", which no container of Deployment triton declares',
      ),
    ]);
    expect(referencesResolve(cluster({ 'Service/triton': service('triton', 8000, 8001) }))).toEqual(
      [expect.stringContaining('targets 8001')],
    );
  });

  it('fails a TargetGroupBinding whose Service or port does not exist', () => {
    const noService = targetGroupBinding({ serviceRef: { name: 'sessions', port: 8080 } });
    expect(referencesResolve(cluster({ 'TargetGroupBinding/session-manager': noService }))).toEqual(
      [expect.stringContaining('serviceRef names Service sessions, which is not applied')],
    );
    const noPort = targetGroupBinding({ serviceRef: { name: 'session-manager', port: 80 } });
    expect(referencesResolve(cluster({ 'TargetGroupBinding/session-manager': noPort }))).toEqual([
      expect.stringContaining('serviceRef port 80 is not a port of Service session-manager'),
    ]);
  });

  it('fails a probe on a port the container does not declare', () => {
    const probe = tritonContainer({ readinessProbe: { httpGet: { path: '/', port: 8002 } } });
    expect(
      referencesResolve(cluster({ 'Deployment/triton': tritonDeployment(tritonPod(probe)) })),
    ).toEqual([expect.stringContaining('container triton readinessProbe uses port 8002')]);
  });

  it('fails an HPA or ScaledObject whose target does not exist', () => {
    const scaledObject = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'triton', namespace: NS },
      spec: {
        scaleTargetRef: { name: 'tritonserver' },
        triggers: [{ type: 'prometheus', metadata: {}, authenticationRef: { name: 'amp' } }],
      },
    };
    const model = cluster(
      { 'HorizontalPodAutoscaler/triton': undefined },
      { extra: [scaledObject] },
    );
    expect(referencesResolve(model)).toEqual([
      expect.stringContaining(
        'ScaledObject axon/triton: scaleTargetRef names Deployment tritonserver',
      ),
      expect.stringContaining(
        'trigger prometheus uses TriggerAuthentication amp, which is not applied',
      ),
    ]);
    const hpaOnly = cluster({
      'HorizontalPodAutoscaler/triton': {
        ...hpa('triton', 1, 2),
        spec: { ...hpa('triton', 1, 2).spec, scaleTargetRef: { kind: 'Deployment', name: 'x' } },
      },
    });
    expect(referencesResolve(hpaOnly)).toEqual([
      expect.stringContaining('scaleTargetRef names Deployment x'),
    ]);
  });

  it('fails a NetworkPolicy allowance whose selectors or ports match nothing', () => {
    const allow = (from: K8sObject, port: number | string) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'session-manager-to-triton', namespace: NS },
      spec: {
        podSelector: { matchLabels: { app: 'triton' } },
        policyTypes: ['Ingress'],
        ingress: [
          { from: [{ podSelector: { matchLabels: from } }], ports: [{ protocol: 'TCP', port }] },
        ],
      },
    });
    expect(
      referencesResolve(cluster({}, { extra: [allow({ app: 'session-manager' }, 8000)] })),
    ).toEqual([]);
    expect(referencesResolve(cluster({}, { extra: [allow({ app: 'sessions' }, 8000)] }))).toEqual([
      expect.stringContaining('ingress from podSelector {"app":"sessions"} matches no workload'),
    ]);
    expect(
      referencesResolve(cluster({}, { extra: [allow({ app: 'session-manager' }, 'grpc')] })),
    ).toEqual([
      expect.stringContaining(
        'allows port "grpc", which no container of the pods it selects declares',
      ),
    ]);
  });

  it('fails objects in a namespace nothing creates, and pods of a missing service account', () => {
    expect(referencesResolve(cluster({ 'Namespace/axon': undefined }))).toEqual(
      expect.arrayContaining([
        'fixture0: ServiceAccount axon/triton: namespace axon is never created',
        'fixture2: Deployment axon/triton: namespace axon is never created',
      ]),
    );
    expect(referencesResolve(cluster({ 'ServiceAccount/triton': undefined }))).toEqual([
      expect.stringContaining('Deployment axon/triton: serviceAccountName triton is not applied'),
    ]);
  });
});
