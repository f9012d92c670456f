/**
 * The rehearsal rules on small fixtures (fixtures.ts): the accepted cluster passes every rule;
 * the rules-*.test.ts files break it one way at a time and see their rule fail with a message
 * that names what is wrong. This file also covers the schema rule.
 */
import { describe, expect, it } from 'vitest';
import { clusterOf, type K8sObject } from './cluster.ts';
import {
  cluster,
  devicePlugin,
  karpenterGpuPool,
  NS,
  nodegroups,
  objects,
  targetGroupBinding,
  tritonContainer,
  tritonDeployment,
  tritonPod,
} from './fixtures.ts';
import { objectsMatchTheirSchemas, RULES } from './rules.ts';

describe('the accepted fixture cluster', () => {
  it.each(Object.keys(RULES))('passes "%s"', (name) => {
    expect(RULES[name]?.(cluster())).toEqual([]);
  });

  it('passes every rule with a Karpenter GPU pool instead of a GPU node group', () => {
    const model = clusterOf({
      objects: [...objects(), ...karpenterGpuPool()],
      nodegroups: { System: nodegroups().System as K8sObject },
      charts: [devicePlugin()],
    });
    expect(model.pools.map((p) => p.kind)).toEqual(['nodegroup', 'karpenter']);
    for (const rule of Object.values(RULES)) expect(rule(model)).toEqual([]);
  });
});

describe('objects match their schemas', () => {
  it('refuses a container port given as a string', () => {
    const broken = tritonContainer({ ports: [{ name: 'http', containerPort: '8000' }] });
    const problems = objectsMatchTheirSchemas(
      cluster({ 'Deployment/triton': tritonDeployment(tritonPod(broken)) }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/Deployment triton: .*containerPort must be integer/),
    ]);
  });

  it('fails an apiVersion/kind it has no schema for instead of skipping it', () => {
    const widget = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: NS },
    };
    expect(objectsMatchTheirSchemas(cluster({}, { extra: [widget] }))).toEqual([
      expect.stringMatching(/example\.com\/v1\/Widget w: no schema for this apiVersion\/kind/),
    ]);
  });

  it('checks a TargetGroupBinding against its CRD: enum values and unknown fields', () => {
    const badType = targetGroupBinding({ targetType: 'pod' });
    expect(
      objectsMatchTheirSchemas(cluster({ 'TargetGroupBinding/session-manager': badType })),
    ).toEqual([
      expect.stringMatching(
        /TargetGroupBinding session-manager: spec\.targetType: Unsupported value: "pod": supported values: "instance", "ip"$/,
      ),
      expect.stringMatching(
        /some validation rules were not checked because the object was invalid/,
      ),
    ]);
    const unknownField = targetGroupBinding({ serviceName: 'session-manager' });
    expect(
      objectsMatchTheirSchemas(cluster({ 'TargetGroupBinding/session-manager': unknownField })),
    ).toEqual([expect.stringMatching(/strict decoding error: unknown field "spec\.serviceName"$/)]);
  });

  it('checks Karpenter NodePools against the Karpenter CRD', () => {
    const [nodeClass, nodePool] = karpenterGpuPool() as [K8sObject, K8sObject];
    nodePool.spec.template.spec.requirements[0].operator = 'Equals';
    expect(objectsMatchTheirSchemas(cluster({}, { extra: [nodeClass, nodePool] }))).toEqual([
      expect.stringMatching(
        /karpenter\.sh\/v1\/NodePool gpu: spec\.template\.spec\.requirements\[0\]\.operator: Unsupported value: "Equals"/,
      ),
      expect.stringMatching(
        /some validation rules were not checked because the object was invalid/,
      ),
    ]);
  });

  it('runs the CEL rules of the Karpenter CRD: a tag Karpenter reserves is refused', () => {
    const [nodeClass, nodePool] = karpenterGpuPool() as [K8sObject, K8sObject];
    nodeClass.spec.tags = { 'eks:eks-cluster-name': 'axon' };
    expect(objectsMatchTheirSchemas(cluster({}, { extra: [nodeClass, nodePool] }))).toEqual([
      expect.stringMatching(
        /karpenter\.k8s\.aws\/v1\/EC2NodeClass gpu: spec\.tags: Invalid value: "object": tag contains a restricted tag matching eks:eks-cluster-name/,
      ),
    ]);
  });

  it('checks KEDA ScaledObjects against the KEDA CRD', () => {
    const scaledObject = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'triton', namespace: NS },
      spec: { triggers: [{ type: 'prometheus', metadata: {} }] },
    };
    expect(objectsMatchTheirSchemas(cluster({}, { extra: [scaledObject] }))).toEqual([
      expect.stringMatching(/ScaledObject triton: spec\.scaleTargetRef: Required value$/),
      expect.stringMatching(
        /some validation rules were not checked because the object was invalid/,
      ),
    ]);
  });

  it('fails a custom resource whose CRD version is not stored instead of skipping it', () => {
    const old = { apiVersion: 'karpenter.sh/v1beta1', kind: 'NodePool', metadata: { name: 'gpu' } };
    expect(objectsMatchTheirSchemas(cluster({}, { extra: [old] }))).toEqual([
      expect.stringMatching(/karpenter\.sh\/v1beta1\/NodePool gpu: no stored CRD serves this/),
    ]);
  });

  it('checks the scheduling fields of chart values as PodSpec fields', () => {
    const chart = devicePlugin({ tolerations: { key: 'nvidia.com/gpu' } });
    expect(objectsMatchTheirSchemas(cluster({}, { charts: [chart] }))).toEqual([
      expect.stringMatching(/chart nvidia-device-plugin values.*tolerations must be array/),
    ]);
  });
});
