/**
 * A small cluster that every rule accepts: a system and a GPU node group, the device plugin,
 * the session manager and Triton with their Services, autoscalers and the TargetGroupBinding.
 * Rule tests break one thing in it at a time.
 */
import { type ChartRelease, type ClusterModel, clusterOf, type K8sObject } from './cluster.ts';

export const NS = 'axon';

export function nodegroups(gpu: K8sObject = {}, system: K8sObject = {}): Record<string, K8sObject> {
  return {
    System: {
      InstanceTypes: ['m7i.large'],
      Labels: { 'axon.ai/pool': 'system' },
      ScalingConfig: { MinSize: 2, DesiredSize: 2, MaxSize: 3 },
      ...system,
    },
    Gpu: {
      InstanceTypes: ['g6.xlarge'],
      Labels: { 'axon.ai/pool': 'gpu', 'nvidia.com/gpu.present': 'true' },
      Taints: [{ Key: 'nvidia.com/gpu', Value: 'true', Effect: 'NO_SCHEDULE' }],
      ScalingConfig: { MinSize: 1, DesiredSize: 2, MaxSize: 2 },
      ...gpu,
    },
  };
}

export const GPU_TOLERATION = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };

export function devicePlugin(values: K8sObject = {}) {
  return {
    chart: 'nvidia-device-plugin',
    version: '0.18.2',
    release: 'nvidia-device-plugin',
    namespace: 'kube-system',
    values: { nodeSelector: { 'axon.ai/pool': 'gpu' }, tolerations: [GPU_TOLERATION], ...values },
  };
}

export function namespace(name = NS): K8sObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export function serviceAccount(name: string): K8sObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: NS } };
}

export function deployment(name: string, pod: K8sObject, spec: K8sObject = {}): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: pod },
      ...spec,
    },
  };
}

export function service(name: string, port: number, targetPort: number | string = port): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS },
    spec: { selector: { app: name }, ports: [{ name: 'http', port, targetPort }] },
  };
}

export function hpa(name: string, min: number, max: number): K8sObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace: NS },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: min,
      maxReplicas: max,
    },
  };
}

export function tritonContainer(overrides: K8sObject = {}): K8sObject {
  return {
    name: 'triton',
    image: 'nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3',
    command: ['tritonserver'],
    args: ['--model-repository=s3://models/triton', '--http-port=8000'],
    env: [{ name: 'AWS_REGION', value: 'us-east-1' }],
    ports: [{ name: 'http', containerPort: 8000 }],
    readinessProbe: { httpGet: { path: '/v2/health/ready', port: 'http' } },
    resources: {
      requests: { cpu: '3', memory: '12Gi', 'nvidia.com/gpu': '1' },
      limits: { memory: '12Gi', 'nvidia.com/gpu': '1' },
    },
    ...overrides,
  };
}

export function tritonPod(
  container: K8sObject = tritonContainer(),
  pod: K8sObject = {},
): K8sObject {
  return {
    serviceAccountName: 'triton',
    nodeSelector: { 'axon.ai/pool': 'gpu' },
    tolerations: [GPU_TOLERATION],
    containers: [container],
    ...pod,
  };
}

export const SESSION_MANAGER_ENV = [
  { name: 'REDIS_URL', value: 'rediss://redis.example:6379' },
  { name: 'TRITON_URL', value: 'http://triton.axon.svc.cluster.local:8000' },
  { name: 'GATEWAY_SECRET_ARN', value: 'arn:aws:secretsmanager:us-east-1:1:secret:gw' },
];

export function sessionManagerPod(env: K8sObject[] = SESSION_MANAGER_ENV): K8sObject {
  return {
    serviceAccountName: 'session-manager',
    nodeSelector: { 'axon.ai/pool': 'system' },
    containers: [
      {
        name: 'session-manager',
        image: 'example/session-manager:1',
        env,
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/readyz', port: 8080 } },
        resources: { requests: { cpu: '500m', memory: '512Mi' } },
      },
    ],
  };
}

export function targetGroupBinding(spec: K8sObject = {}): K8sObject {
  return {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    kind: 'TargetGroupBinding',
    metadata: { name: 'session-manager', namespace: NS },
    spec: {
      serviceRef: { name: 'session-manager', port: 8080 },
      targetGroupARN: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/sm/1',
      targetType: 'ip',
      ...spec,
    },
  };
}

/** Triton as the plane should ship it: no replicas, no surge, owned by its HPA. */
export function tritonDeployment(pod: K8sObject = tritonPod(), spec: K8sObject = {}): K8sObject {
  return deployment('triton', pod, {
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
    ...spec,
  });
}

/** Every object of the accepted cluster; `replace` swaps objects by kind and name. */
export function objects(replace: Record<string, K8sObject | undefined> = {}): K8sObject[] {
  const base: Record<string, K8sObject> = {
    'Namespace/axon': namespace(),
    'ServiceAccount/triton': serviceAccount('triton'),
    'ServiceAccount/session-manager': serviceAccount('session-manager'),
    'Deployment/triton': tritonDeployment(),
    'Service/triton': service('triton', 8000, 'http'),
    'HorizontalPodAutoscaler/triton': hpa('triton', 1, 2),
    'Deployment/session-manager': deployment('session-manager', sessionManagerPod()),
    'Service/session-manager': service('session-manager', 8080),
    'HorizontalPodAutoscaler/session-manager': hpa('session-manager', 2, 4),
    'TargetGroupBinding/session-manager': targetGroupBinding(),
  };
  for (const [key, value] of Object.entries(replace)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return Object.values(base);
}

/** The accepted cluster with objects replaced (undefined removes one) and parts changed. */
export function cluster(
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

/** A Karpenter GPU NodePool and its EC2NodeClass, for the NodePool-based pool. */
export const karpenterGpuPool = (spec: K8sObject = {}, labels: K8sObject = {}): K8sObject[] => [
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
