/**
 * The inference plane's constructs on a bare Stack: each validation throws naming the bad value
 * and the fix, and each documented default is what a minimal props object gets.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../../lib/config.ts';
import { GpuNodePool, type GpuNodePoolProps } from '../../../lib/constructs/gpu-node-pool.ts';
import {
  InferenceCluster,
  type InferenceClusterProps,
} from '../../../lib/constructs/inference-cluster.ts';
import { InferenceMetrics } from '../../../lib/constructs/inference-metrics.ts';
import { TritonServer, type TritonServerProps } from '../../../lib/constructs/triton-server.ts';
import { KNOWN_MODELS } from '../../../lib/k8s/model-facts.ts';
import { manifests, ofKind, resources } from '../support.ts';

const QWEN: ModelConfig = {
  name: 'qwen',
  huggingFaceId: 'Qwen/Qwen2.5-0.5B-Instruct',
  chatTemplate: 'chatml',
  contextWindow: 4096,
  engineArgs: { gpu_memory_utilization: 0.9 },
  architecture: KNOWN_MODELS['Qwen/Qwen2.5-0.5B-Instruct'] as ModelConfig['architecture'],
};

function base() {
  const stack = new Stack(new App(), 'Bare', {
    env: { account: '111111111111', region: 'us-east-1' },
  });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    natGateways: 1,
  });
  return { stack, vpc };
}

function withCluster(extra: Partial<InferenceClusterProps> = {}) {
  const { stack, vpc } = base();
  const eks = new InferenceCluster(stack, 'Eks', {
    vpc,
    clusterName: 'axon-test',
    version: '1.35',
    systemInstanceTypes: ['m7i.large'],
    ...extra,
  });
  return { stack, vpc, eks, subnets: vpc.privateSubnets };
}

describe('InferenceCluster', () => {
  it('defaults to 2..3 system nodes with 50 GiB disks on the cluster version', () => {
    const { stack } = withCluster();
    Template.fromStack(stack).hasResourceProperties('AWS::EKS::Nodegroup', {
      ScalingConfig: { MinSize: 2, DesiredSize: 2, MaxSize: 3 },
      DiskSize: 50,
      Version: '1.35',
      CapacityType: 'ON_DEMAND',
    });
  });

  it('gives each named principal a cluster-admin access entry', () => {
    const { stack } = withCluster({
      adminPrincipalArns: [
        'arn:aws:iam::111111111111:role/Admin',
        'arn:aws:iam::111111111111:user/alice',
      ],
    });
    const entries = resources(Template.fromStack(stack), 'AWS::EKS::AccessEntry')
      .map(([, p]) => p.PrincipalArn)
      .filter((arn) => typeof arn === 'string');
    expect(entries).toEqual([
      'arn:aws:iam::111111111111:role/Admin',
      'arn:aws:iam::111111111111:user/alice',
    ]);
  });

  it('rejects a Kubernetes version without add-on versions', () => {
    const { stack, vpc } = base();
    expect(
      () =>
        new InferenceCluster(stack, 'Eks', {
          vpc,
          clusterName: 'axon-test',
          version: '1.34',
          systemInstanceTypes: ['m7i.large'],
        }),
    ).toThrow(/no add-on versions for Kubernetes 1\.34; add a row to EKS_ADDON_VERSIONS/);
  });

  it('creates the log groups EKS and Container Insights write to, kept 90 and 30 days and retained', () => {
    const { stack } = withCluster();
    const template = Template.fromStack(stack);
    const groups = resources(template, 'AWS::Logs::LogGroup');
    expect(groups.map(([, p]) => [p.LogGroupName, p.RetentionInDays])).toEqual([
      ['/aws/eks/axon-test/cluster', 90],
      ['/aws/containerinsights/axon-test/application', 30],
      ['/aws/containerinsights/axon-test/dataplane', 30],
      ['/aws/containerinsights/axon-test/host', 30],
      ['/aws/containerinsights/axon-test/performance', 30],
    ]);
    const raw = template.toJSON().Resources as Record<string, { DeletionPolicy?: string }>;
    expect(groups.map(([id]) => raw[id]?.DeletionPolicy)).toEqual(Array(5).fill('Retain'));
    expect(resources(template, 'Custom::LogRetention')).toEqual([]);
  });

  it('creates the control-plane log group before the cluster', () => {
    const { stack } = withCluster();
    const template = Template.fromStack(stack);
    const groupId = resources(template, 'AWS::Logs::LogGroup')[0]?.[0];
    const [[, cluster]] = Object.entries(template.findResources('AWS::EKS::Cluster')) as [
      [string, { DependsOn?: string[]; Properties: { Name?: string } }],
    ];
    expect(cluster.Properties.Name).toBe('axon-test');
    expect(groupId).toBeDefined();
    expect(cluster.DependsOn).toContain(groupId);
  });

  it('deletes the log groups with the stack when asked to', () => {
    const { stack } = withCluster({ logRemovalPolicy: RemovalPolicy.DESTROY });
    const raw = Template.fromStack(stack).findResources('AWS::Logs::LogGroup');
    expect(Object.values(raw).map((r) => r.DeletionPolicy)).toEqual(Array(5).fill('Delete'));
  });

  it('rejects a cluster name EKS does not accept', () => {
    expect(() => withCluster({ clusterName: 'axon dev' })).toThrow(
      /clusterName must be 1-100 letters, digits, - or _ .*, got "axon dev"/,
    );
  });

  it('rejects a log retention CloudWatch Logs does not offer', () => {
    expect(() => withCluster({ controlPlaneLogRetentionDays: 45 })).toThrow(
      /log retention must be a period CloudWatch Logs offers .*, got 45/,
    );
    expect(() => withCluster({ containerLogRetentionDays: 0 })).toThrow(/got 0/);
  });

  it('rejects system sizes out of order', () => {
    expect(() => withCluster({ systemMinSize: 3, systemMaxSize: 2 })).toThrow(
      /1 <= systemMinSize <= systemDesiredSize <= systemMaxSize, got 3 <= 3 <= 2/,
    );
  });

  it('rejects an empty system instance type list', () => {
    expect(() => withCluster({ systemInstanceTypes: [] })).toThrow(
      /at least one system instance type/,
    );
  });
});

describe('GpuNodePool', () => {
  const pool = (props: Partial<GpuNodePoolProps> = {}) => {
    const { stack, eks, subnets } = withCluster();
    new GpuNodePool(stack, 'Gpu', {
      cluster: eks.cluster,
      subnets,
      instanceTypes: ['g6.xlarge'],
      ...props,
    });
    return Template.fromStack(stack);
  };

  it('defaults to 4 GPUs, on-demand, 200 GiB disks, 15 minute consolidation and 30 day expiry', () => {
    const [nodeClass, nodePool] = manifests(pool(), 'EksClustermanifestGpuPool');
    expect(nodeClass?.spec.blockDeviceMappings[0].ebs.volumeSize).toBe('200Gi');
    expect(nodePool?.spec).toMatchObject({
      limits: { 'nvidia.com/gpu': 4 },
      disruption: { consolidateAfter: '15m' },
      template: { spec: { expireAfter: '720h' } },
    });
    expect(nodePool?.spec.template.spec.requirements).toContainEqual({
      key: 'karpenter.sh/capacity-type',
      operator: 'In',
      values: ['on-demand'],
    });
  });

  it('asks Karpenter for spot capacity when told to', () => {
    const nodePool = ofKind(
      manifests(pool({ capacityType: 'SPOT' }), 'EksClustermanifestGpuPool'),
      'NodePool',
    );
    expect(nodePool.spec.template.spec.requirements).toContainEqual({
      key: 'karpenter.sh/capacity-type',
      operator: 'In',
      values: ['spot'],
    });
  });

  it('rejects an empty instance type list', () => {
    expect(() => pool({ instanceTypes: [] })).toThrow(/at least one instance type/);
  });

  it('rejects an instance type without a GPU', () => {
    expect(() => pool({ instanceTypes: ['m7i.large'] })).toThrow(
      /instance type m7i\.large has no NVIDIA GPU in lib\/k8s\/instance-types\.ts/,
    );
  });

  it('rejects a GPU limit below one', () => {
    expect(() => pool({ maxGpus: 0 })).toThrow(/maxGpus must be a whole number >= 1, got 0/);
  });

  it('rejects a disk too small for the AMI, image and weights', () => {
    expect(() => pool({ diskSizeGiB: 50 })).toThrow(/diskSizeGiB must be at least 100.*got 50/);
  });
});

describe('InferenceMetrics', () => {
  it('rejects subnets in a single AZ (the managed scraper needs two)', () => {
    const { stack, eks, subnets } = withCluster();
    expect(
      () =>
        new InferenceMetrics(stack, 'Metrics', {
          cluster: eks.cluster,
          subnets: [subnets[0] as ec2.ISubnet],
        }),
    ).toThrow(/subnets in at least two AZs .* got 1 subnet\(s\) in 1 AZ\(s\)/);
  });
});

describe('TritonServer', () => {
  const triton = (props: Partial<TritonServerProps> = {}) => {
    const { stack, eks } = withCluster();
    const server = new TritonServer(stack, 'Triton', {
      cluster: eks.cluster,
      namespace: eks.namespace,
      image: 'nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3',
      models: [QWEN],
      accessLogs: new s3.Bucket(stack, 'Logs'),
      cpuMillicores: 3000,
      memoryMiB: 12288,
      prometheusUrl: 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1',
      scalingDependsOn: [],
      ...props,
    });
    return { server, template: Template.fromStack(stack) };
  };

  it('defaults to 1 GPU, 1..2 replicas, a 2 GiB /dev/shm and a created bucket under models/', () => {
    const { server, template } = triton();
    expect(server.modelRepository).toMatch(/^s3:\/\/.+\/models$/);
    const pod = ofKind(manifests(template, 'TritonWorkload'), 'Deployment').spec.template.spec;
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
    expect(pod.volumes[0].emptyDir.sizeLimit).toBe('2048Mi');
    const scaled = ofKind(manifests(template, 'TritonScaling'), 'ScaledObject');
    expect([scaled.spec.minReplicaCount, scaled.spec.maxReplicaCount]).toEqual([1, 2]);
    expect(scaled.spec.triggers[0].metadata.threshold).toBe('2000');
    expect(scaled.spec.triggers[1].metadata.threshold).toBe('4');
  });

  it('rejects an empty model list: Triton would exit on an empty repository', () => {
    expect(() => triton({ models: [] })).toThrow(/at least one model/);
  });

  it('rejects min replicas above max', () => {
    expect(() => triton({ minReplicas: 3, maxReplicas: 2 })).toThrow(
      /0 <= minReplicas <= maxReplicas and maxReplicas >= 1, got 3 and 2/,
    );
  });

  it('wakes on demand and sleeps after idleMinutes when it may scale to zero', () => {
    const { template } = triton({ minReplicas: 0, idleMinutes: 30 });
    const scaled = ofKind(manifests(template, 'TritonScaling'), 'ScaledObject');
    expect(scaled.spec.minReplicaCount).toBe(0);
    expect(scaled.spec.cooldownPeriod).toBe(1800);
    const demand = scaled.spec.triggers.find((t: { name: string }) => t.name === 'demand');
    expect(demand.metadata).toMatchObject({
      query: 'clamp_max(sum(increase(axon_sm_model_demand_total{job="session-manager"}[2m])), 1)',
      activationThreshold: '0',
      threshold: '1',
      ignoreNullValues: 'true',
    });
  });

  it('has no demand trigger when it keeps a minimum', () => {
    const { template } = triton({ minReplicas: 1 });
    const scaled = ofKind(manifests(template, 'TritonScaling'), 'ScaledObject');
    expect(scaled.spec.triggers.map((t: { name: string }) => t.name)).toEqual([
      'time-to-first-token',
      'pending-requests',
    ]);
  });

  it('rejects an idle period under a minute', () => {
    expect(() => triton({ minReplicas: 0, idleMinutes: 0 })).toThrow(
      /idleMinutes must be a whole number >= 1, got 0/,
    );
  });

  it('rejects a /dev/shm above half the memory', () => {
    expect(() => triton({ shmSizeMiB: 8192 })).toThrow(
      /shmSizeMiB 8192 counts against memoryMiB 12288; keep it at most half/,
    );
  });

  it('rejects two different Hugging Face token secrets', () => {
    expect(() =>
      triton({
        models: [
          { ...QWEN, huggingFaceTokenSecretName: 'a' },
          { ...QWEN, name: 'other', huggingFaceTokenSecretName: 'b' },
        ],
      }),
    ).toThrow(/name 2 Hugging Face token secrets \(a, b\); use one/);
  });
});
