/**
 * Each rehearsal rule on small fixtures: the accepted cluster passes every rule, and each broken
 * case below makes its rule fail with a message that names what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { type ChartRelease, type ClusterModel, clusterOf, type K8sObject } from './cluster.ts';
import {
  deployment,
  devicePlugin,
  hpa,
  NS,
  nodegroups,
  objects,
  SESSION_MANAGER_ENV,
  service,
  sessionManagerPod,
  targetGroupBinding,
  tritonContainer,
  tritonDeployment,
  tritonPod,
} from './fixtures.ts';
import {
  autoscaledWorkloadsLeaveReplicasAlone,
  disruptionBudgetsLetDrainsFinish,
  gpuRolloutsFinish,
  objectsMatchTheirSchemas,
  podsFitANode,
  poolsHoldTheirPodsAtMaximum,
  RULES,
  referencesResolve,
  startupEnvironmentIsSet,
} from './rules.ts';

function cluster(
  replace: Record<string, K8sObject | undefined> = {},
  parts: {
    gpu?: K8sObject;
    system?: K8sObject;
    charts?: Omit<ChartRelease, 'source'>[];
    extra?: K8sObject[];
  } = {},
): ClusterModel {
  return clusterOf({
    objects: [...objects(replace), ...(parts.extra ?? [])],
    nodegroups: nodegroups(parts.gpu, parts.system),
    charts: parts.charts ?? [devicePlugin()],
  });
}

const karpenterGpuPool = (spec: K8sObject = {}, labels: K8sObject = {}): K8sObject[] => [
  {
    apiVersion: 'karpenter.k8s.aws/v1',
    kind: 'EC2NodeClass',
    metadata: { name: 'gpu' },
    spec: {
      amiSelectorTerms: [{ alias: 'al2023@latest' }],
      role: 'KarpenterNodeRole',
      subnetSelectorTerms: [{ tags: { 'karpenter.sh/discovery': 'axon' } }],
      securityGroupSelectorTerms: [{ tags: { 'karpenter.sh/discovery': 'axon' } }],
    },
  },
  {
    apiVersion: 'karpenter.sh/v1',
    kind: 'NodePool',
    metadata: { name: 'gpu' },
    spec: {
      template: {
        metadata: {
          labels: { 'axon.ai/pool': 'gpu', 'nvidia.com/gpu.present': 'true', ...labels },
        },
        spec: {
          nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
          requirements: [
            {
              key: 'node.kubernetes.io/instance-type',
              operator: 'In',
              values: ['g6.xlarge', 'g6.2xlarge'],
            },
          ],
          taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }],
        },
      },
      ...spec,
    },
  },
];

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
        /TargetGroupBinding session-manager: .*targetType must be equal to one of the allowed values/,
      ),
    ]);
    const unknownField = targetGroupBinding({ serviceName: 'session-manager' });
    expect(
      objectsMatchTheirSchemas(cluster({ 'TargetGroupBinding/session-manager': unknownField })),
    ).toEqual([expect.stringMatching(/must NOT have additional properties/)]);
  });

  it('checks Karpenter NodePools against the Karpenter CRD', () => {
    const [nodeClass, nodePool] = karpenterGpuPool() as [K8sObject, K8sObject];
    nodePool.spec.template.spec.requirements[0].operator = 'Equals';
    expect(objectsMatchTheirSchemas(cluster({}, { extra: [nodeClass, nodePool] }))).toEqual([
      expect.stringMatching(/karpenter\.sh\/v1\/NodePool gpu: .*operator/),
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
      expect.stringMatching(/ScaledObject triton: .*scaleTargetRef/),
    ]);
  });

  it('checks the scheduling fields of chart values as PodSpec fields', () => {
    const chart = devicePlugin({ tolerations: { key: 'nvidia.com/gpu' } });
    expect(objectsMatchTheirSchemas(cluster({}, { charts: [chart] }))).toEqual([
      expect.stringMatching(/chart nvidia-device-plugin values.*tolerations must be array/),
    ]);
  });
});

describe('every pod fits a node of a pool it may run on', () => {
  it('fails Triton asking 16Gi of a g6.xlarge, naming both numbers', () => {
    const big = tritonContainer({
      resources: { requests: { cpu: '2', memory: '16384Mi', 'nvidia.com/gpu': '1' } },
    });
    expect(
      podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(tritonPod(big)) })),
    ).toEqual([
      expect.stringContaining(
        'Deployment axon/triton requests more than any node it may run on can allocate: g6.xlarge in Gpu: memory 16384Mi > 14162Mi',
      ),
    ]);
  });

  it('fails a pod that asks for more GPUs than an instance has', () => {
    const two = tritonContainer({ resources: { limits: { 'nvidia.com/gpu': '2' } } });
    expect(
      podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(tritonPod(two)) })),
    ).toEqual([expect.stringContaining('nvidia.com/gpu 2 > 1')]);
  });

  it('counts the largest init container when it is larger than the app containers', () => {
    const init = { name: 'fetch', image: 'busybox', resources: { requests: { memory: '15Gi' } } };
    const pod = tritonPod(tritonContainer(), { initContainers: [init] });
    expect(podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(pod) }))).toEqual([
      expect.stringContaining('memory 15360Mi > 14162Mi'),
    ]);
  });

  it('subtracts the DaemonSets that run on the pool from what a node can allocate', () => {
    const agent = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent', namespace: NS },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: {
          metadata: { labels: { app: 'agent' } },
          spec: {
            tolerations: [{ operator: 'Exists' }],
            containers: [
              { name: 'agent', image: 'agent', resources: { requests: { memory: '3Gi' } } },
            ],
          },
        },
      },
    };
    expect(podsFitANode(cluster({}, { extra: [agent] }))).toEqual([
      expect.stringContaining('memory 12288Mi > 11090Mi'),
    ]);
  });

  it('fails a GPU pod that does not tolerate the GPU taint', () => {
    const pod = tritonPod(tritonContainer(), { tolerations: [] });
    expect(podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(pod) }))).toEqual([
      expect.stringMatching(
        /triton fits no pool: .*Gpu does not tolerate the taint nvidia\.com\/gpu=true:NoSchedule/,
      ),
    ]);
  });

  it('fails a pod whose node selector no pool offers', () => {
    const pod = tritonPod(tritonContainer(), { nodeSelector: { 'axon.ai/pool': 'gpus' } });
    expect(podsFitANode(cluster({ 'Deployment/triton': tritonDeployment(pod) }))).toEqual([
      expect.stringMatching(
        /triton fits no pool: .*no node of it matches .*axon\.ai\/pool In gpus/,
      ),
    ]);
  });

  it('fails a pool whose node group stays at zero nodes without a node autoscaler', () => {
    const problems = podsFitANode(
      cluster({}, { gpu: { ScalingConfig: { MinSize: 0, DesiredSize: 0, MaxSize: 2 } } }),
    );
    expect(problems).toEqual([
      expect.stringContaining(
        'no such node can exist (node group desiredSize 0; no node autoscaler grows it toward maxSize 2)',
      ),
    ]);
  });

  it('fails a pool whose instance type has no row in the facts table', () => {
    expect(podsFitANode(cluster({}, { gpu: { InstanceTypes: ['g9.mega'] } }))).toEqual([
      expect.stringContaining('instance types g9.mega have no row in lib/k8s/instance-types.ts'),
    ]);
  });

  it('fails a GPU pool where no NVIDIA device plugin runs', () => {
    expect(podsFitANode(cluster({}, { charts: [] }))).toEqual([
      expect.stringContaining(
        'pool Gpu has GPU instance types (g6.xlarge) but no NVIDIA device plugin runs',
      ),
    ]);
  });

  it('fails a Karpenter GPU pool without the label the device plugin chart selects by default', () => {
    const [nodeClass, nodePool] = karpenterGpuPool() as [K8sObject, K8sObject];
    delete nodePool.spec.template.metadata.labels['nvidia.com/gpu.present'];
    const model = clusterOf({
      objects: [...objects(), nodeClass, nodePool],
      nodegroups: { System: nodegroups().System as K8sObject },
      charts: [devicePlugin({ nodeSelector: undefined })],
    });
    expect(podsFitANode(model)).toEqual([
      expect.stringMatching(
        /chart nvidia-device-plugin pods fit no pool: .*gpu no node of it matches .*nvidia\.com\/gpu\.present In true/,
      ),
      expect.stringContaining(
        'pool gpu has GPU instance types (g6.xlarge, g6.2xlarge) but no NVIDIA device plugin runs',
      ),
    ]);
  });

  it('lets Karpenter pick the larger type of its pool, within its limits', () => {
    const big = tritonContainer({
      resources: { requests: { memory: '20Gi', 'nvidia.com/gpu': '1' } },
    });
    const withPool = (limits?: K8sObject) =>
      clusterOf({
        objects: [
          ...objects({ 'Deployment/triton': tritonDeployment(tritonPod(big)) }),
          ...karpenterGpuPool(limits ? { limits } : {}),
        ],
        nodegroups: { System: nodegroups().System as K8sObject },
        charts: [devicePlugin()],
      });
    expect(podsFitANode(withPool())).toEqual([]);
    expect(podsFitANode(withPool({ cpu: '4' }))).toEqual([
      expect.stringMatching(
        /g6\.2xlarge in gpu: no such node can exist \(Karpenter NodePool, limits \{"cpu":"4"\}\)/,
      ),
    ]);
  });
});

describe('GPU rollouts finish with the nodes that will exist', () => {
  const surging = tritonDeployment(tritonPod(), { strategy: { type: 'RollingUpdate' } });

  it('fails a default RollingUpdate that needs a spare GPU at the autoscaler maximum', () => {
    expect(gpuRolloutsFinish(cluster({ 'Deployment/triton': surging }))).toEqual([
      expect.stringContaining(
        'a rollout at 2 replica(s) (HorizontalPodAutoscaler triton maxReplicas) runs 3 pods of 1 nvidia.com/gpu (maxSurge 1), but the pools hold at most 2 (Gpu: 2 x g6.xlarge holding 1 each, node group desiredSize 2; no node autoscaler grows it toward maxSize 2)',
      ),
    ]);
  });

  it('passes Recreate, and a surge a cluster-autoscaler can make room for', () => {
    const recreate = tritonDeployment(tritonPod(), { strategy: { type: 'Recreate' } });
    expect(gpuRolloutsFinish(cluster({ 'Deployment/triton': recreate }))).toEqual([]);
    const autoscaler = {
      chart: 'cluster-autoscaler',
      version: '9.0.0',
      release: 'cluster-autoscaler',
      namespace: 'kube-system',
      values: {},
    };
    const growable = cluster(
      { 'Deployment/triton': surging },
      {
        gpu: { ScalingConfig: { MinSize: 1, DesiredSize: 1, MaxSize: 3 } },
        charts: [devicePlugin(), autoscaler],
      },
    );
    expect(gpuRolloutsFinish(growable)).toEqual([]);
  });

  it('counts a Karpenter GPU limit, and no limit as room to grow', () => {
    const withLimits = (limits?: K8sObject) =>
      clusterOf({
        objects: [
          ...objects({ 'Deployment/triton': surging }),
          ...karpenterGpuPool(limits ? { limits } : {}),
        ],
        nodegroups: { System: nodegroups().System as K8sObject },
        charts: [devicePlugin()],
      });
    expect(gpuRolloutsFinish(withLimits())).toEqual([]);
    expect(gpuRolloutsFinish(withLimits({ 'nvidia.com/gpu': 2 }))).toEqual([
      expect.stringContaining(
        'runs 3 pods of 1 nvidia.com/gpu (maxSurge 1), but the pools hold at most 2',
      ),
    ]);
  });

  it('fails maxSurge 0 with maxUnavailable 0, which Kubernetes refuses', () => {
    const stuck = tritonDeployment(tritonPod(), {
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } },
    });
    expect(gpuRolloutsFinish(cluster({ 'Deployment/triton': stuck }))).toEqual([
      expect.stringContaining('maxSurge and maxUnavailable are both 0'),
    ]);
  });

  it('lets a percentage that rounds to no surge and no unavailability proceed one pod at a time', () => {
    const rounded = tritonDeployment(tritonPod(), {
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '0%', maxUnavailable: '25%' } },
    });
    expect(gpuRolloutsFinish(cluster({ 'Deployment/triton': rounded }))).toEqual([]);
  });

  it('fails an autoscaler minimum the GPU pool cannot hold', () => {
    expect(
      gpuRolloutsFinish(cluster({ 'HorizontalPodAutoscaler/triton': hpa('triton', 3, 3) })),
    ).toEqual([
      expect.stringContaining('runs 3 pods'),
      expect.stringContaining(
        'HorizontalPodAutoscaler triton keeps at least 3 replica(s), but the pools hold 2',
      ),
    ]);
  });
});

describe('pools hold their pods at the autoscalers maximum', () => {
  it('fails an HPA maximum the system node group cannot hold even perfectly packed', () => {
    const model = cluster({
      'HorizontalPodAutoscaler/session-manager': hpa('session-manager', 2, 8),
    });
    expect(poolsHoldTheirPodsAtMaximum(model)).toEqual([
      expect.stringContaining(
        "pool System: at their autoscalers' maximum its pods request 4000m CPU, 4096Mi and 0 GPU(s) (session-manager 8 x 500m/512Mi), but its nodes allocate at most 3810m, 13806Mi and 0 GPU(s) (m7i.large; node group desiredSize 2",
      ),
    ]);
  });

  it('passes the same maximum once a cluster-autoscaler may grow the node group', () => {
    const autoscaler = {
      chart: 'cluster-autoscaler',
      version: '9.0.0',
      release: 'cluster-autoscaler',
      namespace: 'kube-system',
      values: {},
    };
    const model = cluster(
      { 'HorizontalPodAutoscaler/session-manager': hpa('session-manager', 2, 8) },
      { charts: [devicePlugin(), autoscaler] },
    );
    expect(poolsHoldTheirPodsAtMaximum(model)).toEqual([]);
  });
});

describe('disruption budgets let node drains finish', () => {
  const budget = (spec: K8sObject) => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'triton', namespace: NS },
    spec: { selector: { matchLabels: { app: 'triton' } }, ...spec },
  });

  it('fails a budget that allows no eviction at the fewest replicas', () => {
    expect(
      disruptionBudgetsLetDrainsFinish(cluster({}, { extra: [budget({ minAvailable: 1 })] })),
    ).toEqual([
      expect.stringContaining(
        'PodDisruptionBudget axon/triton allows no eviction of Deployment triton at 1 replica(s)',
      ),
    ]);
    expect(
      disruptionBudgetsLetDrainsFinish(cluster({}, { extra: [budget({ maxUnavailable: 0 })] })),
    ).toHaveLength(1);
  });

  it('passes maxUnavailable 1, and minAvailable below the fewest replicas', () => {
    expect(
      disruptionBudgetsLetDrainsFinish(cluster({}, { extra: [budget({ maxUnavailable: 1 })] })),
    ).toEqual([]);
    const two = cluster(
      { 'HorizontalPodAutoscaler/triton': hpa('triton', 2, 2) },
      { extra: [budget({ minAvailable: '50%' })] },
    );
    expect(disruptionBudgetsLetDrainsFinish(two)).toEqual([]);
  });
});

describe('autoscaled workloads leave replicas to the autoscaler', () => {
  it('fails a Deployment that sets replicas under an HPA', () => {
    const pinned = tritonDeployment(tritonPod(), { replicas: 1 });
    expect(autoscaledWorkloadsLeaveReplicasAlone(cluster({ 'Deployment/triton': pinned }))).toEqual(
      [
        expect.stringContaining(
          'Deployment axon/triton sets replicas: 1 although HorizontalPodAutoscaler triton owns its replica count',
        ),
      ],
    );
  });

  it('accepts replicas on a Deployment no autoscaler owns', () => {
    const pinned = tritonDeployment(tritonPod(), { replicas: 1 });
    const model = cluster({
      'Deployment/triton': pinned,
      'HorizontalPodAutoscaler/triton': undefined,
    });
    expect(autoscaledWorkloadsLeaveReplicasAlone(model)).toEqual([]);
  });
});

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

describe('startup environment is set', () => {
  const withEnv = (env: K8sObject[]) =>
    cluster({
      'Deployment/session-manager': deployment('session-manager', sessionManagerPod(env)),
    });

  it('fails a session manager without a variable its startup code requires', () => {
    const noTriton = SESSION_MANAGER_ENV.filter((e) => e.name !== 'TRITON_URL');
    expect(startupEnvironmentIsSet(withEnv(noTriton))).toEqual([
      expect.stringContaining(
        'Deployment session-manager would exit at startup: TRITON_URL is required',
      ),
    ]);
    const noRedis = SESSION_MANAGER_ENV.filter((e) => e.name !== 'REDIS_URL');
    expect(startupEnvironmentIsSet(withEnv(noRedis))).toEqual([
      expect.stringContaining('set exactly one of REDIS_URL'),
    ]);
  });

  it('accepts a variable set from a Secret, whose format it cannot know', () => {
    const secret = (name: string) => ({
      name,
      valueFrom: { secretKeyRef: { name: 'session-manager', key: name } },
    });
    const fromSecrets = [
      ...SESSION_MANAGER_ENV.filter((e) => !['GATEWAY_SECRET_ARN', 'REDIS_URL'].includes(e.name)),
      secret('GATEWAY_SECRET'),
      secret('REDIS_URL'),
    ];
    expect(startupEnvironmentIsSet(withEnv(fromSecrets))).toEqual([]);
  });

  it('still fails a conflict that involves a variable set from a Secret', () => {
    const both = [
      ...SESSION_MANAGER_ENV,
      { name: 'GATEWAY_SECRET', valueFrom: { secretKeyRef: { name: 'gateway', key: 'secret' } } },
    ];
    expect(startupEnvironmentIsSet(withEnv(both))).toEqual([
      expect.stringContaining('set GATEWAY_SECRET or GATEWAY_SECRET_ARN, not both'),
    ]);
  });

  it('fails Triton without a model repository, or on S3 without a region', () => {
    const noRepository = tritonContainer({ args: ['--http-port=8000'] });
    expect(
      startupEnvironmentIsSet(
        cluster({ 'Deployment/triton': tritonDeployment(tritonPod(noRepository)) }),
      ),
    ).toEqual([expect.stringContaining('tritonserver is started without --model-repository')]);
    const noRegion = tritonContainer({ env: [] });
    expect(
      startupEnvironmentIsSet(
        cluster({ 'Deployment/triton': tritonDeployment(tritonPod(noRegion)) }),
      ),
    ).toEqual([
      expect.stringContaining(
        'the model repository is on S3 (s3://models/triton) but neither AWS_REGION nor AWS_DEFAULT_REGION is set',
      ),
    ]);
  });

  it('fails a stage that applies no session manager or Triton', () => {
    const model = cluster({
      'Deployment/triton': undefined,
      'Deployment/session-manager': undefined,
    });
    expect(startupEnvironmentIsSet(model)).toEqual([
      'no Deployment session-manager is applied',
      'no Deployment triton is applied',
    ]);
  });
});
