/**
 * Admission of custom resources against the stored CRDs (admission.ts): the stored files are
 * the published ones of the pinned versions, every rule in them compiles with the evaluator, and
 * each family of check (CEL rules, structural schema, strict fields, defaults) refuses a small
 * broken object with the message the API server would give, while valid objects pass.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { gpuNodeClass, gpuNodePool } from '../../../lib/k8s/karpenter.ts';
import { ALB_CONTROLLER_VERSION, KARPENTER, KEDA } from '../../../lib/k8s/versions.ts';
import { admit, unenforcedKeywords } from './admission.ts';
import { compileRule, findAll } from './cel-kubernetes.ts';
import { rootSelfSchema, ruleProblems } from './cel-rules.ts';
import type { K8sObject } from './cluster.ts';
import { CRDS, crdText, type Schema, SOURCES } from './crds/index.ts';

/** The API server's note when a blocking schema error keeps the CEL rules from running. */
const NOT_CHECKED =
  'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

/** The problems of admitting `object`; fails the test when no stored CRD serves it. */
function problems(object: K8sObject): readonly string[] {
  const admission = admit(object);
  if (!admission) throw new Error(`no stored CRD for ${object.apiVersion} ${object.kind}`);
  return admission.problems;
}

function nodeClass(spec: K8sObject = {}): K8sObject {
  const base = gpuNodeClass({
    nodeRoleName: 'AxonGpuNodeRole',
    subnetIds: ['subnet-0123456789abcdef0'],
    securityGroupIds: ['sg-0123456789abcdef0'],
    diskSizeGiB: 200,
    tags: { 'axon.ai/pool': 'gpu' },
  }) as K8sObject;
  return { ...base, spec: { ...base.spec, ...spec } };
}

function nodePool(spec: K8sObject = {}): K8sObject {
  const base = gpuNodePool({
    instanceTypes: ['g6.xlarge'],
    capacityType: 'ON_DEMAND',
    availabilityZones: ['us-east-1a'],
    maxGpus: 2,
    consolidateAfterMinutes: 15,
    expireAfterHours: 720,
  }) as K8sObject;
  return { ...base, spec: { ...base.spec, ...spec } };
}

function scaledObject(spec: K8sObject = {}): K8sObject {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: 'triton', namespace: 'axon' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'triton' },
      minReplicaCount: 1,
      maxReplicaCount: 2,
      triggers: [
        {
          type: 'prometheus',
          authenticationRef: { name: 'amp' },
          metadata: { serverAddress: 'https://aps.example', query: 'up', threshold: '1' },
        },
      ],
      ...spec,
    },
  };
}

function targetGroupBinding(spec: K8sObject = {}): K8sObject {
  return {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    kind: 'TargetGroupBinding',
    metadata: { name: 'session-manager', namespace: 'axon' },
    spec: {
      serviceRef: { name: 'session-manager', port: 8080 },
      targetGroupARN: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/sm/1',
      targetType: 'ip',
      ...spec,
    },
  };
}

/** Every rule of a schema, with the schema `self` has where it sits. */
function rulesOf(schema: Schema, path = ''): { path: string; rule: K8sObject; self: Schema }[] {
  const self = path === '' ? rootSelfSchema(schema) : schema;
  const here = ((schema['x-kubernetes-validations'] ?? []) as K8sObject[]).map((rule) => ({
    path: path || '<root>',
    rule,
    self,
  }));
  const children: [string, Schema][] = [
    ...Object.entries<Schema>(schema.properties ?? {}).map(
      ([k, s]) => [path ? `${path}.${k}` : k, s] as [string, Schema],
    ),
    ...(typeof schema.additionalProperties === 'object'
      ? [[`${path}[*]`, schema.additionalProperties] as [string, Schema]]
      : []),
    ...(schema.items ? [[`${path}[]`, schema.items] as [string, Schema]] : []),
  ];
  return [...here, ...children.flatMap(([p, s]) => rulesOf(s, p))];
}

/**
 * A value for every field of `schema` (its default, first enum value or a value of its type), so
 * that every rule of the schema runs on it; what the rules answer does not matter here.
 */
function sample(schema: Schema): unknown {
  if (schema.default !== undefined) return structuredClone(schema.default);
  if (schema['x-kubernetes-int-or-string']) return 1;
  if (schema.enum) return schema.enum[0];
  switch (schema.type) {
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return schema.items ? [sample(schema.items)] : [];
    case 'object':
      if (typeof schema.additionalProperties === 'object') {
        return { key: sample(schema.additionalProperties) };
      }
      return Object.fromEntries(
        Object.entries<Schema>(schema.properties ?? {}).map(([k, s]) => [k, sample(s)]),
      );
    default:
      return 'a';
  }
}

const SERVED = CRDS.flatMap((crd) =>
  crd.versions
    .filter((v) => v.served)
    .map((v) => ({ name: `${crd.group}/${v.name} ${crd.kind}`, schema: v.schema.openAPIV3Schema })),
);
const RULES = SERVED.flatMap(({ name, schema }) =>
  rulesOf(schema).map((r) => ({ ...r, crd: name })),
);

describe('the stored CRDs', () => {
  it.each(SOURCES.map((s) => [s.file, s] as const))(
    '%s is byte for byte the file published at its tag',
    (_, source) => {
      const text = crdText(source);
      const blob = createHash('sha1')
        .update(`blob ${Buffer.byteLength(text)}\0`)
        .update(text)
        .digest('hex');
      expect(blob).toBe(source.blob);
    },
  );

  it('were taken from the chart versions lib/k8s/versions.ts pins, so a pin cannot move without its CRDs', () => {
    const pinned: Record<string, { chart: string; app?: string }> = {
      'KARPENTER.version': { chart: KARPENTER.version },
      'KEDA.version': { chart: KEDA.version },
      ALB_CONTROLLER_VERSION: {
        chart: ALB_CONTROLLER_VERSION.helmChartVersion,
        app: ALB_CONTROLLER_VERSION.version,
      },
    };
    for (const source of SOURCES) {
      const pin = pinned[source.pin];
      expect(pin, `${source.file}: unknown pin ${source.pin}`).toBeDefined();
      expect(
        source.chartVersion,
        `${source.file} comes from ${source.chart} ${source.chartVersion}, but ${source.pin} pins ${pin?.chart}: store the CRDs of the new version`,
      ).toBe(pin?.chart);
      if (pin?.app) expect(source.appVersion, `${source.file} app version`).toBe(pin.app);
    }
    expect(new Set(SOURCES.map((s) => s.pin))).toEqual(new Set(Object.keys(pinned)));
  });

  it('use only schema keywords and formats the checker enforces', () => {
    expect(
      SERVED.flatMap(({ name, schema }) => unenforcedKeywords(schema).map((k) => `${name} ${k}`)),
    ).toEqual([]);
  });

  it('hold rules that all compile with the evaluator: every function and field resolves', () => {
    expect(RULES.length).toBe(75);
    const failures = RULES.flatMap(({ crd, path, rule, self }) => {
      const errors = [rule.rule, rule.messageExpression]
        .filter((e): e is string => e !== undefined)
        .flatMap((e) => compileRule(e, self).errors);
      return errors.map((e) => `${crd} ${path}: ${e} [${rule.rule}]`);
    });
    expect(failures).toEqual([]);
  });

  it('hold rules that all run on a value of every field without a missing function or overload', () => {
    const gaps = SERVED.flatMap(({ name, schema }) =>
      ruleProblems(sample(schema), schema)
        .problems.filter((p) => /no matching overload|unbound function|does not compile/.test(p))
        .map((p) => `${name} ${p}`),
    );
    expect(gaps).toEqual([]);
  });

  it('call these functions, each supported by the evaluator', () => {
    const functions = new Set(
      RULES.flatMap(({ rule, self }) => [...compileRule(rule.rule, self).functions]),
    );
    expect([...functions].sort()).toEqual([
      'endsWith',
      'find',
      'int',
      'matches',
      'size',
      'split',
      'startsWith',
    ]);
  });
});

describe('an EC2NodeClass', () => {
  it('passes as lib/k8s/karpenter.ts builds it', () => {
    expect(problems(nodeClass())).toEqual([]);
  });

  it.each([
    ['eks:eks-cluster-name', 'tag contains a restricted tag matching eks:eks-cluster-name'],
    ['kubernetes.io/cluster/axon', 'tag contains a restricted tag matching kubernetes.io/cluster/'],
    ['karpenter.sh/nodepool', 'tag contains a restricted tag matching karpenter.sh/nodepool'],
  ])('is refused with the tag %s, which Karpenter reserves', (tag, message) => {
    expect(problems(nodeClass({ tags: { 'axon.ai/pool': 'gpu', [tag]: 'x' } }))).toEqual([
      expect.stringMatching(
        new RegExp(`^spec\\.tags: Invalid value: "object": ${message} \\[rule: `),
      ),
    ]);
  });

  it('is refused with an AMI selector term that sets both alias and id', () => {
    const both = nodeClass({ amiSelectorTerms: [{ alias: 'al2023@latest', id: 'ami-0123' }] });
    expect(problems(both)).toEqual([
      expect.stringMatching(
        /^spec\.amiSelectorTerms: Invalid value: "array": 'id' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms/,
      ),
      expect.stringMatching(
        /^spec\.amiSelectorTerms: Invalid value: "array": 'alias' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms/,
      ),
    ]);
  });

  it('is refused with an amiFamily that contradicts its alias', () => {
    expect(problems(nodeClass({ amiFamily: 'Bottlerocket' }))).toEqual([
      expect.stringMatching(
        /^spec: Invalid value: "object": if set, amiFamily must be 'AL2023' or 'Custom' when using an AL2023 alias/,
      ),
    ]);
  });

  it('is refused with both role and instanceProfile, or neither', () => {
    const message =
      /^spec: Invalid value: "object": must specify exactly one of \['role', 'instanceProfile'\]/;
    expect(problems(nodeClass({ instanceProfile: 'AxonGpu' }))).toEqual([
      expect.stringMatching(message),
    ]);
    const { role: _, ...noRole } = nodeClass().spec;
    expect(problems({ ...nodeClass(), spec: noRole })).toEqual([expect.stringMatching(message)]);
  });

  it('is refused with a name that is not a DNS subdomain', () => {
    const named = { ...nodeClass(), metadata: { name: 'GPU_pool' } };
    expect(problems(named)).toEqual([
      expect.stringMatching(
        /^metadata\.name: Invalid value: "GPU_pool": a lowercase RFC 1123 subdomain/,
      ),
    ]);
  });

  it('is refused with a field the CRD does not know', () => {
    expect(problems(nodeClass({ instanceTypes: ['g6.xlarge'] }))).toEqual([
      'strict decoding error: unknown field "spec.instanceTypes"',
    ]);
  });

  it('is refused without a required field, which keeps its rules from running', () => {
    const { subnetSelectorTerms: _, ...spec } = nodeClass().spec;
    expect(problems({ ...nodeClass(), spec })).toEqual([
      'spec.subnetSelectorTerms: Required value',
      NOT_CHECKED,
    ]);
  });

  it('is refused with a metadata option out of its range', () => {
    const options = { ...nodeClass().spec.metadataOptions, httpPutResponseHopLimit: 65 };
    expect(problems(nodeClass({ metadataOptions: options }))).toEqual([
      'spec.metadataOptions.httpPutResponseHopLimit: Invalid value: 65: spec.metadataOptions.httpPutResponseHopLimit in body should be less than or equal to 64',
    ]);
  });
});

describe('a NodePool', () => {
  it('passes as lib/k8s/karpenter.ts builds it, skipping only the rules of updates', () => {
    const admission = admit(nodePool());
    expect(admission?.problems).toEqual([]);
    expect(admission?.skippedRules).toEqual([
      'spec: has(self.replicas) == has(oldSelf.replicas)',
      'spec.template.spec.nodeClassRef: self.group == oldSelf.group',
      'spec.template.spec.nodeClassRef: self.kind == oldSelf.kind',
    ]);
  });

  it('is refused with a weight above 100', () => {
    expect(problems(nodePool({ weight: 101 }))).toEqual([
      'spec.weight: Invalid value: 101: spec.weight in body should be less than or equal to 100',
    ]);
  });

  it('is refused with a consolidateAfter that is not a duration', () => {
    const disruption = { ...nodePool().spec.disruption, consolidateAfter: '15 minutes' };
    expect(problems(nodePool({ disruption }))).toEqual([
      expect.stringMatching(
        /^spec\.disruption\.consolidateAfter: Invalid value: "15 minutes": .* should match/,
      ),
    ]);
  });

  it('is refused with a disruption budget of more than 100% of nodes', () => {
    const disruption = { ...nodePool().spec.disruption, budgets: [{ nodes: '150%' }] };
    expect(problems(nodePool({ disruption }))).toEqual([
      expect.stringMatching(/^spec\.disruption\.budgets\[0\]\.nodes: Invalid value: "150%"/),
    ]);
  });

  it('is refused with a budget schedule but no duration', () => {
    const budgets = [{ nodes: '1', schedule: '@daily' }];
    const disruption = { ...nodePool().spec.disruption, budgets };
    expect(problems(nodePool({ disruption }))).toEqual([
      expect.stringMatching(
        /^spec\.disruption\.budgets: Invalid value: "array": 'schedule' must be set with 'duration'/,
      ),
    ]);
  });

  it('is refused with an In requirement without values', () => {
    const pool = nodePool();
    pool.spec.template.spec.requirements.push({
      key: 'kubernetes.io/os',
      operator: 'In',
      values: [],
    });
    expect(problems(pool)).toEqual([
      expect.stringMatching(/requirements with operator 'In' must have a value defined/),
    ]);
  });

  it.each([
    ['karpenter.sh/nodepool', 'label "karpenter.sh/nodepool" is restricted'],
    ['team.karpenter.sh/owner', 'label domain "karpenter.sh" is restricted'],
    ['karpenter.k8s.aws/instance-foo', 'label domain "karpenter.k8s.aws" is restricted'],
  ])('is refused with the template label %s, which Karpenter reserves', (label, message) => {
    const pool = nodePool();
    pool.spec.template.metadata.labels[label] = 'x';
    expect(problems(pool)).toEqual([
      expect.stringContaining(
        `spec.template.metadata.labels: Invalid value: "object": ${message} [rule: `,
      ),
    ]);
  });

  it('is refused with a disruption reason listed twice in a budget (a list-type set)', () => {
    const budgets = [{ nodes: '1', reasons: ['Empty', 'Empty'] }];
    const disruption = { ...nodePool().spec.disruption, budgets };
    expect(problems(nodePool({ disruption }))).toEqual([
      'spec.disruption.budgets[0].reasons[1]: Duplicate value: "Empty"',
    ]);
  });

  it('gets schema defaults before it is checked: a budget without nodes takes 10%', () => {
    const disruption = { ...nodePool().spec.disruption, budgets: [{ reasons: ['Empty'] }] };
    expect(problems(nodePool({ disruption }))).toEqual([]);
  });

  it('is refused without its template', () => {
    const { template: _, ...spec } = nodePool().spec;
    expect(problems({ ...nodePool(), spec })).toEqual([
      'spec.template: Required value',
      NOT_CHECKED,
    ]);
  });

  it('is refused with a wrong type, which keeps its rules from running as in the API server', () => {
    const pool = nodePool({ weight: '10' });
    pool.spec.template.metadata.labels['karpenter.sh/nodepool'] = 'gpu';
    expect(problems(pool)).toEqual([
      'spec.weight: Invalid value: "string": spec.weight in body must be of type integer: "string"',
      NOT_CHECKED,
    ]);
  });
});

describe('KEDA objects', () => {
  it('pass when valid', () => {
    expect(problems(scaledObject())).toEqual([]);
    const auth = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'TriggerAuthentication',
      metadata: { name: 'amp', namespace: 'axon' },
      spec: { podIdentity: { provider: 'aws' } },
    };
    expect(problems(auth)).toEqual([]);
  });

  it('refuse a ScaledObject whose minimum exceeds its maximum', () => {
    expect(problems(scaledObject({ minReplicaCount: 3, maxReplicaCount: 2 }))).toEqual([
      expect.stringMatching(
        /^spec: Invalid value: "object": minReplicaCount must be less than or equal to maxReplicaCount/,
      ),
    ]);
  });

  it("refuse a stabilization window above the chart CRD's 3600 s", () => {
    const behavior = { scaleDown: { stabilizationWindowSeconds: 4000 } };
    const advanced = { horizontalPodAutoscalerConfig: { behavior } };
    expect(problems(scaledObject({ advanced }))).toEqual([
      expect.stringMatching(
        /stabilizationWindowSeconds in body should be less than or equal to 3600$/,
      ),
    ]);
  });
});

describe('a TargetGroupBinding', () => {
  it('takes a service port as a number or a name (int-or-string), nothing else', () => {
    expect(problems(targetGroupBinding())).toEqual([]);
    const named = targetGroupBinding({ serviceRef: { name: 'session-manager', port: 'http' } });
    expect(problems(named)).toEqual([]);
    const flag = targetGroupBinding({ serviceRef: { name: 'session-manager', port: true } });
    expect(problems(flag)).toEqual([
      expect.stringMatching(
        /^spec\.serviceRef\.port: Invalid value: "boolean": .* must be of type integer or string/,
      ),
      expect.stringMatching(/^some validation rules were not checked/),
    ]);
  });
});

describe('the CEL evaluator', () => {
  const schema: Schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          min: { type: 'integer' },
          max: { type: 'integer' },
          name: { type: 'string' },
        },
        'x-kubernetes-validations': [] as K8sObject[],
      },
    },
  };
  const withRule = (rule: K8sObject) => {
    const copy = structuredClone(schema);
    copy.properties.spec['x-kubernetes-validations'] = [rule];
    return copy;
  };
  const run = (rule: K8sObject, spec: K8sObject = { min: 3, max: 2, name: 'a' }) =>
    ruleProblems({ spec }, withRule(rule)).problems;

  it("runs Kubernetes' regex library as Go does: find, findAll", () => {
    expect(findAll('abc 123', '[0-9]+', 1)).toEqual(['123']);
    expect(findAll('123 abc 456', '[0-9]+', -1)).toEqual(['123', '456']);
    expect(findAll('123 abc 456', '[0-9]+', 1)).toEqual(['123']);
    // Go's regexp find_test.go: `a*` on "baaab" finds [0,0], [1,4], [5,5].
    expect(findAll('baaab', 'a*', -1)).toEqual(['', 'aaa', '']);
    expect(
      run({ rule: "self.name.find('[0-9]+') == '' && 'x/y'.find('^([^/]+)') == 'x'" }),
    ).toEqual([]);
  });

  it('fails a rule calling a function it does not have, instead of passing it', () => {
    expect(compileRule('self.name.reverse() == self.name', schema.properties.spec).errors).toEqual([
      "undeclared reference to 'reverse'",
    ]);
    expect(run({ rule: 'quantity(self.name).isInteger()' })).toEqual([
      expect.stringMatching(
        /^spec: Internal error: rule does not compile: undeclared reference to 'quantity'/,
      ),
    ]);
  });

  it('fails a rule reading a field the schema does not declare', () => {
    expect(run({ rule: 'self.minimum <= self.max' })).toEqual([
      expect.stringMatching(/rule does not compile: undefined field 'minimum'/),
    ]);
  });

  it("converts strings to int as cel-go does, refusing what JavaScript's BigInt would take", () => {
    expect(run({ rule: "int('42') == 42 && int('-7') == -7" })).toEqual([]);
    for (const text of ['', ' 1', '0x10', '9223372036854775808']) {
      expect(run({ rule: `int('${text}') >= 0` })).toEqual([
        expect.stringMatching(
          new RegExp(`rule could not be evaluated: cannot convert '${text}' to int`),
        ),
      ]);
    }
  });

  it('fails a rule that errors when run', () => {
    expect(run({ rule: 'int(self.name) > 0' })).toEqual([
      expect.stringMatching(/^spec: Invalid value: "object": rule could not be evaluated: /),
    ]);
  });

  it('words a failure with messageExpression, message, reason and fieldPath as the API server does', () => {
    const rule = 'self.min <= self.max';
    expect(run({ rule })).toEqual([
      `spec: Invalid value: "object": failed rule: ${rule} [rule: ${rule}]`,
    ]);
    expect(run({ rule, message: 'min above max' })).toEqual([
      `spec: Invalid value: "object": min above max [rule: ${rule}]`,
    ]);
    expect(
      run({
        rule,
        message: 'unused',
        messageExpression: "'min ' + string(self.min) + ' above max'",
      }),
    ).toEqual([`spec: Invalid value: "object": min 3 above max [rule: ${rule}]`]);
    expect(
      run({ rule, reason: 'FieldValueForbidden', fieldPath: '.min', message: 'too big' }),
    ).toEqual([`spec.min: Forbidden: too big [rule: ${rule}]`]);
  });

  it('skips a transition rule on a create and says so', () => {
    const report = ruleProblems(
      { spec: { min: 1 } },
      withRule({ rule: 'self.min == oldSelf.min' }),
    );
    expect(report).toEqual({ problems: [], skipped: ['spec: self.min == oldSelf.min'] });
  });
});
