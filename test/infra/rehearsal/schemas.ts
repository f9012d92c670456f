/**
 * Schema validation of every object the app applies, the way the API server would check it:
 * built-in kinds against the Kubernetes OpenAPI schemas (kubernetes-models), Karpenter and KEDA
 * custom resources against their published CRD schemas (@kubernetes-models/karpenter, /keda), and
 * TargetGroupBinding against a schema derived from its CRD (no package publishes it).
 * An apiVersion/kind without a schema here is a failure, not a skip: add its package, or list it
 * in {@link UNVALIDATED_KINDS} with the reason.
 */

import * as karpenterAws from '@kubernetes-models/karpenter/karpenter.k8s.aws/v1';
import * as karpenter from '@kubernetes-models/karpenter/karpenter.sh/v1';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Ajv } from 'ajv';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as scheduling from 'kubernetes-models/scheduling.k8s.io/v1';
import * as storage from 'kubernetes-models/storage.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import type { K8sObject } from './cluster.ts';

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
  'karpenter.sh/v1': karpenter,
  'karpenter.k8s.aws/v1': karpenterAws,
  'keda.sh/v1alpha1': keda,
};

/**
 * Kinds applied without a schema check, each with the reason. Empty today: every kind the app
 * applies has a schema.
 */
export const UNVALIDATED_KINDS: Readonly<Record<string, string>> = {};

/**
 * TargetGroupBinding `elbv2.k8s.aws/v1beta1`, derived from the CRD of the AWS Load Balancer
 * Controller v2.17.1 (config/crd/bases/elbv2.k8s.aws_targetgroupbindings.yaml), the version
 * lib/k8s/versions.ts pins. It covers the spec fields the app may use; `networking` and
 * `nodeSelector` are kept as objects. Unknown spec fields are refused: kubectl validates
 * strictly against the CRD's structural schema.
 */
export const TARGET_GROUP_BINDING_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'elbv2.k8s.aws/v1beta1' },
    kind: { const: 'TargetGroupBinding' },
    metadata: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', minLength: 1 }, namespace: { type: 'string' } },
    },
    spec: {
      type: 'object',
      required: ['serviceRef'],
      additionalProperties: false,
      properties: {
        assumeRoleExternalId: { type: 'string' },
        iamRoleArnToAssume: { type: 'string' },
        ipAddressType: { enum: ['ipv4', 'ipv6'] },
        multiClusterTargetGroup: { type: 'boolean' },
        networking: { type: 'object' },
        nodeSelector: { type: 'object' },
        serviceRef: {
          type: 'object',
          required: ['name', 'port'],
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            port: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
          },
        },
        targetGroupARN: { type: 'string' },
        targetGroupName: { type: 'string' },
        targetGroupProtocol: {
          enum: ['HTTP', 'HTTPS', 'TCP', 'TLS', 'UDP', 'TCP_UDP', 'QUIC', 'TCP_QUIC'],
        },
        targetType: { enum: ['instance', 'ip'] },
        vpcID: { type: 'string' },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true });
const validateTargetGroupBinding = ajv.compile(TARGET_GROUP_BINDING_SCHEMA);

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
  if (apiVersion === 'elbv2.k8s.aws/v1beta1' && kind === 'TargetGroupBinding') {
    if (validateTargetGroupBinding(object)) return [];
    return [`${what}: ${ajv.errorsText(validateTargetGroupBinding.errors, { dataVar: '' })}`];
  }
  const Model = modelClass(apiVersion, kind);
  if (!Model) {
    if (`${apiVersion}/${kind}` in UNVALIDATED_KINDS) return [];
    return [
      `${what}: no schema for this apiVersion/kind (add its model package to test/infra/rehearsal/schemas.ts, or list it in UNVALIDATED_KINDS with a reason)`,
    ];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${what}: ${(error as Error).message}`];
  }
}
