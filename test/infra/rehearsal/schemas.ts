/**
 * Schema validation of every object the app applies, the way the API server would check it:
 * built-in kinds against the Kubernetes OpenAPI schemas (kubernetes-models), custom resources
 * against the CRDs the pinned charts install, stored in crds/ as published: structural schema,
 * strict fields, defaults and every `x-kubernetes-validations` CEL rule (admission.ts).
 * An apiVersion/kind without a schema here is a failure, not a skip: store its CRD in crds/, add
 * its model package, or list it in {@link UNVALIDATED_KINDS} with the reason.
 */

import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as scheduling from 'kubernetes-models/scheduling.k8s.io/v1';
import * as storage from 'kubernetes-models/storage.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import { admit } from './admission.ts';
import type { K8sObject } from './cluster.ts';
import { CRD_GROUPS } from './crds/index.ts';

type ModelModule = Record<string, unknown>;

const MODULES: Record<string, ModelModule> = {
  v1: core,
  'apps/v1': apps,
  'autoscaling/v2': autoscaling,
  'batch/v1': batch,
  'networking.k8s.io/v1': networking,
  'policy/v1': policy,
  'rbac.authorization.k8s.io/v1': rbac,
  'scheduling.k8s.io/v1': scheduling,
  'storage.k8s.io/v1': storage,
};

/**
 * Kinds applied without a schema check, each with the reason. Empty today: every kind the app
 * applies has a schema.
 */
export const UNVALIDATED_KINDS: Readonly<Record<string, string>> = {};

interface Validatable {
  validate(): void;
}
type ModelClass = (new (data: unknown) => Validatable) & { apiVersion?: string; kind?: string };

function modelClass(apiVersion: string, kind: string): ModelClass | undefined {
  const candidate = MODULES[apiVersion]?.[kind] as ModelClass | undefined;
  // Modules also export spec types (DeploymentSpec); only a top-level model carries its kind.
  return typeof candidate === 'function' && candidate.kind === kind ? candidate : undefined;
}

/** Problems the API server would report for one object; empty when it would accept it. */
export function schemaProblems(object: K8sObject): string[] {
  const { apiVersion, kind } = object;
  const what = `${apiVersion}/${kind} ${object.metadata?.name ?? '(no name)'}`;
  const group = String(apiVersion).split('/')[0] ?? '';
  if (CRD_GROUPS.has(group)) {
    const admission = admit(object);
    if (!admission) {
      return [
        `${what}: no stored CRD serves this apiVersion/kind (add the CRD of the pinned chart to test/infra/rehearsal/crds/ and sources.json)`,
      ];
    }
    return admission.problems.map((p) => `${what}: ${p}`);
  }
  const Model = modelClass(apiVersion, kind);
  if (!Model) {
    if (`${apiVersion}/${kind}` in UNVALIDATED_KINDS) return [];
    return [
      `${what}: no schema for this apiVersion/kind (store its CRD in test/infra/rehearsal/crds/, add its model package to test/infra/rehearsal/schemas.ts, or list it in UNVALIDATED_KINDS with a reason)`,
    ];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${what}: ${(error as Error).message}`];
  }
}
