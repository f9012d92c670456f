/**
 * InferenceStack: EKS (aws-eks-v2) with a managed system node group and pinned managed add-ons,
 * the Karpenter GPU pool, NVIDIA device plugin, AWS Load Balancer Controller, the metrics
 * pipeline (AMP + scraper + KEDA), Triton (vLLM model repository written at deploy, S3 through
 * IRSA), the session manager (Pod Identity, DockerImageAsset) behind an internal ALB bound with a
 * TargetGroupBinding, and the namespace's NetworkPolicies.
 */
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { TEMPLATES } from '../../services/session-manager/src/core/chat-template.ts';
import {
  modelSettings,
  parseModelsConfig,
} from '../../services/session-manager/src/core/models.ts';
import {
  parseSessionQuotas,
  quotasFor,
} from '../../services/session-manager/src/core/session-quotas.ts';
import {
  type Json,
  manifests,
  normalised,
  ofKind,
  parseDev,
  resources,
  type Synthesized,
  stageConfig,
  synth,
  TOKEN,
} from './support.ts';

const dev = synth(stageConfig('dev'));
const prod = synth(stageConfig('prod'));
const t = dev.templates.inference;
const NODEGROUP = 'AWS::EKS::Nodegroup';
const HELM = 'Custom::AWSCDK-EKS-HelmChart';

function id(prefix: string, type: string, template = t): string {
  const found = resources(template, type).find(([logicalId]) => logicalId.startsWith(prefix));
  if (!found) throw new Error(`no ${type} starting with ${prefix}`);
  return found[0];
}

describe('InferenceStack: EKS cluster', () => {
  it('runs the configured Kubernetes version with all control plane logs', () => {
    t.hasResourceProperties('AWS::EKS::Cluster', {
      Version: '1.35',
      Logging: {
        ClusterLogging: {
          EnabledTypes: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].map(
            (type) => ({ Type: type }),
          ),
        },
      },
    });
  });

  it('keeps the API endpoint private by default', () => {
    t.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({
        EndpointPrivateAccess: true,
        EndpointPublicAccess: false,
      }),
    });
  });

  it('opens the public endpoint only to the configured operator CIDRs', () => {
    const open = synth(parseDev({ eks: { endpointPublicCidrs: ['203.0.113.0/24'] } }));
    open.templates.inference.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({
        EndpointPublicAccess: true,
        PublicAccessCidrs: ['203.0.113.0/24'],
      }),
    });
  });

  it('encrypts Kubernetes secrets with a KMS key', () => {
    t.hasResourceProperties('AWS::EKS::Cluster', {
      EncryptionConfig: [
        {
          Provider: { KeyArn: { 'Fn::GetAtt': [id('EksSecretsKey', 'AWS::KMS::Key'), 'Arn'] } },
          Resources: ['secrets'],
        },
      ],
    });
  });

  it('grants cluster-admin to the configured operator role', () => {
    prod.templates.inference.hasResourceProperties('AWS::EKS::AccessEntry', {
      PrincipalArn: 'arn:aws:iam::123456789012:role/AxonOperators',
      AccessPolicies: [
        {
          AccessScope: { Type: 'cluster' },
          PolicyArn: {
            'Fn::Join': [
              '',
              Match.arrayWith([Match.stringLikeRegexp('AmazonEKSClusterAdminPolicy')]),
            ],
          },
        },
      ],
    });
  });

  it('has a system node group on AL2023 x86 with the configured size', () => {
    t.hasResourceProperties(NODEGROUP, {
      AmiType: 'AL2023_x86_64_STANDARD',
      InstanceTypes: ['m7i.large'],
      // Three: the add-on and chart Deployments beside the session manager at its maximum.
      ScalingConfig: { MinSize: 2, DesiredSize: 3, MaxSize: 3 },
      Labels: { 'axon.ai/pool': 'system' },
      Taints: Match.absent(),
    });
  });

  it('keeps the system node group on the cluster version, so an upgrade moves the nodes too', () => {
    t.hasResourceProperties(NODEGROUP, { Version: '1.35', Labels: { 'axon.ai/pool': 'system' } });
  });

  it('creates no managed GPU node group: Karpenter provisions GPU nodes', () => {
    expect(resources(t, NODEGROUP)).toHaveLength(1);
    expect(resources(t, NODEGROUP)[0]?.[1].AmiType).toBe('AL2023_x86_64_STANDARD');
  });

  it('runs vpc-cni (network policy on), coredns, kube-proxy, Pod Identity agent, metrics-server and CloudWatch observability as pinned managed add-ons', () => {
    const addons: Record<string, Json> = Object.fromEntries(
      resources(t, 'AWS::EKS::Addon').map(([, p]) => [p.AddonName, p]),
    );
    expect(Object.keys(addons).sort()).toEqual(
      [
        'amazon-cloudwatch-observability',
        'coredns',
        'eks-pod-identity-agent',
        'kube-proxy',
        'metrics-server',
        'vpc-cni',
      ].sort(),
    );
    for (const addon of Object.values(addons)) {
      expect(addon.AddonVersion).toMatch(/^v\d+\.\d+\.\d+-eksbuild\.\d+$/);
      expect(addon.ResolveConflicts).toBe('OVERWRITE');
    }
    expect(addons['kube-proxy']?.AddonVersion).toMatch(/^v1\.35\./);
    expect(JSON.parse(addons['vpc-cni']?.ConfigurationValues as string)).toEqual({
      enableNetworkPolicy: 'true',
    });
  });

  it('installs the NVIDIA device plugin chart on the GPU nodes, tolerating their taint', () => {
    t.hasResourceProperties(HELM, {
      Chart: 'nvidia-device-plugin',
      Repository: 'https://nvidia.github.io/k8s-device-plugin',
      Version: '0.18.2',
      Namespace: 'kube-system',
    });
    const [[, chart] = ['', {}]] = resources(t, HELM).filter(
      ([, p]) => p.Chart === 'nvidia-device-plugin',
    );
    const values = JSON.parse(chart.Values as string);
    expect(values).toEqual({
      nodeSelector: { 'axon.ai/pool': 'gpu' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    });
    // Karpenter's nodes carry the NodePool template labels: the selector must be among them.
    const poolLabels = ofKind(manifests(t, 'EksClustermanifestGpuPool'), 'NodePool').spec.template
      .metadata.labels;
    expect(poolLabels).toMatchObject(values.nodeSelector);
    expect(poolLabels).toMatchObject({ 'nvidia.com/gpu.present': 'true' });
  });

  it('installs the AWS Load Balancer Controller with an IRSA role', () => {
    t.hasResourceProperties(HELM, {
      Chart: 'aws-load-balancer-controller',
      Version: '1.17.1',
      Namespace: 'kube-system',
    });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Action: 'sts:AssumeRoleWithWebIdentity' })],
      },
    });
  });

  it('warns at synth when no operator principal gets cluster-admin', () => {
    const warnings = (stackOf: Synthesized) =>
      Annotations.fromStack(stackOf.stacks.inference).findWarning(
        '*',
        Match.stringLikeRegexp('No eks.adminPrincipalArns'),
      );
    expect(warnings(dev)).toHaveLength(1);
    expect(warnings(prod)).toHaveLength(0);
  });

  it('outputs the aws eks update-kubeconfig command', () => {
    t.hasOutput('KubeconfigCommand', {
      Value: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('aws eks update-kubeconfig')])],
      }),
    });
  });

  it('creates the axon namespace with ALB pod readiness gates', () => {
    const [ns] = manifests(t, 'EksClustermanifestAxonNamespace');
    expect(ns).toMatchObject({
      kind: 'Namespace',
      metadata: { name: 'axon', labels: { 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' } },
    });
  });
});

describe('InferenceStack: Triton', () => {
  const triton = manifests(t, 'TritonWorkload');
  const deployment = ofKind(triton, 'Deployment');
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;

  it('runs the configured image with the S3 model repository and ports 8000/8001/8002', () => {
    expect(container.image).toBe('nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3');
    expect(container.args).toContain(`--model-repository=s3://${TOKEN}/models`);
    expect(container.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([
      8000, 8001, 8002,
    ]);
  });

  it('probes liveness and readiness on the v2 health endpoints', () => {
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/v2/health/live', port: 8000 });
    expect(container.readinessProbe.httpGet).toMatchObject({
      path: '/v2/health/ready',
      port: 8000,
    });
    expect(container.startupProbe.httpGet.path).toBe('/v2/health/live');
  });

  it('requests GPUs, lands only on GPU nodes and tolerates their taint', () => {
    expect(container.resources.requests['nvidia.com/gpu']).toBe('1');
    expect(container.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(pod.nodeSelector).toEqual({ 'axon.ai/pool': 'gpu' });
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
  });

  it('mounts a memory-backed /dev/shm of the configured size and the node-local model cache', () => {
    expect(container.volumeMounts).toEqual([
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'hf-cache', mountPath: '/hf-cache' },
    ]);
    expect(pod.volumes).toEqual([
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '2048Mi' } },
      { name: 'hf-cache', hostPath: { path: '/var/lib/axon/huggingface', type: 'Directory' } },
    ]);
    expect(container.env).toContainEqual({ name: 'HF_HOME', value: '/hf-cache' });
  });

  it('requests what a g6.xlarge can hold beside its DaemonSets (derived, not hand-set)', () => {
    // 3920m / 14162Mi allocatable, less 700m / 281Mi of DaemonSets, rounded down.
    expect(container.resources.requests).toMatchObject({ cpu: '3200m', memory: '13824Mi' });
    expect(container.resources.limits.memory).toBe('13824Mi');
  });

  it('leaves replicas to the autoscaler and rolls out one pod at a time without a spare GPU', () => {
    expect(deployment.spec.replicas).toBeUndefined();
    expect(deployment.spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
    });
    expect(ofKind(triton, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
  });

  it('uses its service account and no static AWS keys', () => {
    expect(pod.serviceAccountName).toBe('triton');
    const names = container.env.map((e: { name: string }) => e.name);
    expect(names).not.toContain('AWS_ACCESS_KEY_ID');
    expect(names).not.toContain('AWS_SECRET_ACCESS_KEY');
  });

  it('has a Service and a PDB, and no CPU HPA', () => {
    expect(ofKind(triton, 'Service').spec.ports.map((p: { port: number }) => p.port)).toEqual([
      8000, 8001, 8002,
    ]);
    expect(ofKind(triton, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
    expect(triton.map((o) => o.kind)).not.toContain('HorizontalPodAutoscaler');
  });

  it('scales on serving signals from Amazon Managed Prometheus through KEDA, after KEDA is installed', () => {
    const scaling = manifests(t, 'TritonScaling');
    const scaled = ofKind(scaling, 'ScaledObject');
    expect(scaled.spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: 'triton' },
      // Dev: no replica, and so no GPU node, while nobody calls a model.
      minReplicaCount: 0,
      maxReplicaCount: 2,
      cooldownPeriod: 15 * 60,
    });
    const triggers = scaled.spec.triggers as { type: string; metadata: Record<string, string> }[];
    expect(triggers.map((tr) => tr.type)).toEqual(['prometheus', 'prometheus', 'prometheus']);
    expect(triggers[2]?.metadata.query).toContain('axon_sm_model_demand_total');
    expect(triggers[0]?.metadata.query).toContain('vllm:time_to_first_token_seconds');
    expect(triggers[0]?.metadata.threshold).toBe('2000');
    expect(triggers[1]?.metadata.query).toContain('nv_inference_pending_request_count');
    for (const trigger of triggers) {
      expect(trigger.metadata.serverAddress).toBe(
        `https://aps-workspaces.us-east-1.${TOKEN}/workspaces/${TOKEN}`,
      );
    }
    expect(ofKind(scaling, 'TriggerAuthentication').spec).toEqual({
      podIdentity: { provider: 'aws' },
    });
    const [[, resource] = ['', {}]] = Object.entries(
      t.findResources('Custom::AWSCDK-EKS-KubernetesResource'),
    ).filter(([logicalId]) => logicalId.startsWith('TritonScaling'));
    expect(JSON.stringify(resource.DependsOn)).toMatch(
      /chartKeda.*TritonWorkload|TritonWorkload.*chartKeda/,
    );
  });

  it('writes the vLLM model repository from the stage models before Triton starts', () => {
    const files = dev.stacks.inference.triton.repositoryFiles;
    expect(Object.keys(files).sort()).toEqual([
      'qwen2.5-0.5b-instruct/1/model.json',
      'qwen2.5-0.5b-instruct/config.pbtxt',
    ]);
    expect(files['qwen2.5-0.5b-instruct/config.pbtxt']).toContain('backend: "vllm"');
    expect(JSON.parse(files['qwen2.5-0.5b-instruct/1/model.json'] ?? '{}')).toMatchObject({
      model: 'Qwen/Qwen2.5-0.5B-Instruct',
      max_model_len: 32768,
      gpu_memory_utilization: 0.9,
      tensor_parallel_size: 1,
    });
    t.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketKeyPrefix: 'models/',
      Prune: true,
    });
    const workload = Object.entries(t.findResources('Custom::AWSCDK-EKS-KubernetesResource')).find(
      ([logicalId]) => logicalId.startsWith('TritonWorkload'),
    )?.[1];
    expect(JSON.stringify(workload?.DependsOn)).toContain(
      'TritonModelRepositoryFilesCustomResource',
    );
    expect(deployment.spec.template.metadata.annotations['axon.ai/model-repository-hash']).toMatch(
      /^[0-9a-f]{16}$/,
    );
  });

  it('fetches the Hugging Face token of a gated model in an init container, never in the template (prod)', () => {
    const p = prod.templates.inference;
    const prodPod = ofKind(manifests(p, 'TritonWorkload'), 'Deployment').spec.template.spec;
    const [init] = prodPod.initContainers;
    expect(init.command.join(' ')).toContain('secretsmanager get-secret-value');
    expect(init.env).toContainEqual({ name: 'SECRET_NAME', value: 'axon/huggingface-token' });
    expect(prodPod.containers[0].env).toContainEqual({
      name: 'HF_TOKEN_PATH',
      value: '/var/run/axon/hf-token/token',
    });
    expect(prodPod.volumes).toContainEqual({
      name: 'hf-token',
      emptyDir: { medium: 'Memory', sizeLimit: '1Mi' },
    });
    const names = prodPod.containers[0].env.map((e: { name: string }) => e.name);
    expect(names).not.toContain('HF_TOKEN');
    p.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
            Resource:
              'arn:aws:secretsmanager:us-east-1:123456789012:secret:axon/huggingface-token-??????',
          }),
        ]),
      },
    });
    expect(pod.initContainers).toBeUndefined();
  });

  it('reads the model bucket through IRSA, read-only and below the repository prefix', () => {
    const bucket = id('TritonModelBucket', 'AWS::S3::Bucket');
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: ['s3:GetBucket*', 's3:GetObject*', 's3:List*'],
            Effect: 'Allow',
            Resource: [
              { 'Fn::GetAtt': [bucket, 'Arn'] },
              { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/models/*']] },
            ],
          },
        ],
      },
      Roles: [{ Ref: id('TritonServiceAccountRole', 'AWS::IAM::Role') }],
    });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'sts:AssumeRoleWithWebIdentity',
            Principal: { Federated: Match.anyValue() },
          }),
        ],
      },
    });
  });

  it('creates an encrypted, TLS-only, versioned model bucket when none is configured', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: Match.anyValue(),
      PublicAccessBlockConfiguration: Match.objectLike({
        BlockPublicAcls: true,
        RestrictPublicBuckets: true,
      }),
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'model-bucket/' }),
    });
  });

  it('uses a configured S3 repository instead of creating a bucket (prod)', () => {
    const p = prod.templates.inference;
    expect(
      resources(p, 'AWS::S3::Bucket').filter(([logicalId]) =>
        logicalId.startsWith('TritonModelBucket'),
      ),
    ).toEqual([]);
    const args = ofKind(manifests(p, 'TritonWorkload'), 'Deployment').spec.template.spec
      .containers[0].args;
    expect(args).toContain('--model-repository=s3://example-axon-models/triton');
    p.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Resource: [
              'arn:aws:s3:::example-axon-models',
              'arn:aws:s3:::example-axon-models/triton/*',
            ],
          }),
        ]),
      },
    });
    p.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketName: 'example-axon-models',
      DestinationBucketKeyPrefix: 'triton/',
    });
  });
});

describe('InferenceStack: session manager', () => {
  const workload = manifests(t, 'SessionManagerWorkload');
  const pod = ofKind(workload, 'Deployment').spec.template.spec;
  const [container] = pod.containers;
  const env = Object.fromEntries(
    container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
  );

  it('runs the image built from the DockerImageAsset', () => {
    expect(container.image).toBe(TOKEN);
    const [[, resource] = ['', {}]] = resources(t, 'Custom::AWSCDK-EKS-KubernetesResource').filter(
      ([logicalId]) => logicalId.startsWith('SessionManagerWorkload'),
    );
    expect(JSON.stringify(resource.Manifest)).toMatch(
      /container-assets-111111111111-us-east-1:[0-9a-f]{64}/,
    );
  });

  it('gets the environment contract of the service', () => {
    expect(Object.keys(env).sort()).toEqual(
      [
        'AWS_REGION',
        'AXON_SESSION_QUOTAS',
        'GATEWAY_SECRET_ARN',
        'INFERENCE_TIMEOUT_MS',
        'MODELS_CONFIG',
        'PORT',
        'REDIS_AUTH_SECRET_ARN',
        'REDIS_URL',
        'REDIS_USERNAME',
        'SESSION_TTL_SECONDS',
        'TRITON_URL',
        'TRITON_WAKE_WAIT_MS',
      ].sort(),
    );
    expect(env).toMatchObject({
      PORT: '8080',
      // Dev's Triton scales to zero: a request waits 20 s for it to wake.
      TRITON_WAKE_WAIT_MS: '20000',
      REDIS_URL: `rediss://${TOKEN}:${TOKEN}`,
      REDIS_USERNAME: 'axon-session-manager',
      TRITON_URL: 'http://triton.axon.svc.cluster.local:8000',
      SESSION_TTL_SECONDS: '86400',
      INFERENCE_TIMEOUT_MS: '60000',
    });
  });

  it('knows the same models as Triton: names, chat templates and context windows', () => {
    expect(JSON.parse(env.MODELS_CONFIG)).toEqual({
      models: { 'qwen2.5-0.5b-instruct': { template: 'chatml', contextWindow: 32768 } },
    });
    // The service's own parser accepts it and resolves the settings the stage asked for.
    const settings = modelSettings(parseModelsConfig(env.MODELS_CONFIG), 'qwen2.5-0.5b-instruct');
    expect(settings.contextWindow).toBe(32768);
    expect(settings.template).toBe(TEMPLATES.chatml);
    const prodEnv = ofKind(
      manifests(prod.templates.inference, 'SessionManagerWorkload'),
      'Deployment',
    ).spec.template.spec.containers[0].env as { name: string; value: string }[];
    // Prod keeps its Triton minimum: nothing to wait for.
    expect(prodEnv.map((e) => e.name)).not.toContain('TRITON_WAKE_WAIT_MS');
    const models = JSON.parse(prodEnv.find((e) => e.name === 'MODELS_CONFIG')?.value ?? '{}');
    expect(models).toEqual({
      models: {
        'llama-3.1-8b-instruct': {
          template: 'llama3',
          contextWindow: 32768,
          defaultMaxTokens: 1024,
        },
      },
    });
    expect(Object.keys(prod.stacks.inference.triton.repositoryFiles)).toContain(
      'llama-3.1-8b-instruct/1/model.json',
    );
  });

  it("gets every plan's session quotas from the stage's runtime config, defaults filled in", () => {
    const byPlan = parseSessionQuotas(env.AXON_SESSION_QUOTAS);
    expect(Object.keys(byPlan).sort()).toEqual(Object.keys(dev.config.runtime.plans).sort());
    expect(quotasFor(byPlan, 'free')).toEqual({
      maxSessions: 100,
      maxSessionMessages: 1000,
      maxSessionBytes: 262144,
      maxSystemPromptBytes: 65536,
      maxStoredBytes: 4194304,
    });
  });

  it('passes a quota a plan sets through to the service', () => {
    const custom = parseDev({
      runtime: {
        plans: {
          free: { requestsPerMinute: 60, burst: 10, maxSessions: 7, maxStoredBytes: 1048576 },
        },
      },
    });
    const quotaEnv = (
      ofKind(manifests(synth(custom).templates.inference, 'SessionManagerWorkload'), 'Deployment')
        .spec.template.spec.containers[0].env as { name: string; value: string }[]
    ).find((e) => e.name === 'AXON_SESSION_QUOTAS')?.value;
    expect(quotasFor(parseSessionQuotas(quotaEnv ?? '{}'), 'free')).toMatchObject({
      maxSessions: 7,
      maxStoredBytes: 1048576,
      maxSessionBytes: 262144,
    });
  });

  it('leaves replicas to its HPA', () => {
    expect(ofKind(workload, 'Deployment').spec.replicas).toBeUndefined();
  });

  it('gets cluster nodes and TLS instead of a URL when Redis runs in cluster mode (prod)', () => {
    const prodPod = ofKind(
      manifests(prod.templates.inference, 'SessionManagerWorkload'),
      'Deployment',
    ).spec.template.spec;
    const names = prodPod.containers[0].env.map((e: { name: string }) => e.name);
    expect(names).toEqual(expect.arrayContaining(['REDIS_CLUSTER_NODES', 'REDIS_TLS']));
    expect(names).not.toContain('REDIS_URL');
  });

  it('probes /healthz for liveness and /readyz for readiness on 8080', () => {
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 8080 });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 8080 });
  });

  it('has a Service, an HPA within the configured replicas and a PDB', () => {
    expect(ofKind(workload, 'Service').spec.ports).toEqual([
      { name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' },
    ]);
    expect(ofKind(workload, 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 4,
    });
    expect(ofKind(workload, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
  });

  it('reads its two secrets through an EKS Pod Identity association', () => {
    t.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'axon',
      ServiceAccount: 'session-manager',
    });
    const role = id('SessionManagerServiceAccountRole', 'AWS::IAM::Role');
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: ['sts:AssumeRole', 'sts:TagSession'],
            Effect: 'Allow',
            Principal: { Service: 'pods.eks.amazonaws.com' },
          },
        ],
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: role }],
      PolicyDocument: {
        Statement: [
          {
            Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
            Effect: 'Allow',
            Resource: [
              { 'Fn::ImportValue': Match.stringLikeRegexp('RedisAuthToken') },
              { Ref: id('GatewaySecret', 'AWS::SecretsManager::Secret') },
            ],
          },
        ],
      },
    });
  });

  it('binds its pods to the internal ALB target group with a TargetGroupBinding after the controller', () => {
    const [binding] = manifests(t, 'SessionManagerTargetGroupBinding');
    expect(binding).toMatchObject({
      apiVersion: 'elbv2.k8s.aws/v1beta1',
      kind: 'TargetGroupBinding',
      spec: {
        serviceRef: { name: 'session-manager', port: 8080 },
        targetGroupARN: TOKEN,
        targetType: 'ip',
      },
    });
    const resource = t.findResources('Custom::AWSCDK-EKS-KubernetesResource');
    const [, tgb] =
      Object.entries(resource).find(([logicalId]) =>
        logicalId.startsWith('SessionManagerTargetGroupBinding'),
      ) ?? [];
    expect(JSON.stringify(tgb?.Properties.Manifest)).toContain(
      id('SessionManagerTargets', 'AWS::ElasticLoadBalancingV2::TargetGroup'),
    );
    expect(((tgb?.DependsOn ?? []) as string[]).some((d) => d.includes('AlbController'))).toBe(
      true,
    );
  });

  it('puts an internal ALB in front: HTTP 80 to IP targets on 8080, health-checked on /readyz', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetType: 'ip',
      Port: 8080,
      Protocol: 'HTTP',
      HealthCheckPath: '/readyz',
    });
  });

  it('lets the internal ALB reach the pods on 8080 only, and only the gateway reach the ALB', () => {
    const albSg = id('SessionManagerAlbSecurityGroup', 'AWS::EC2::SecurityGroup');
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('only the gateway Lambda'),
      SecurityGroupIngress: Match.absent(),
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [albSg, 'GroupId'] },
      FromPort: 8080,
      ToPort: 8080,
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      SourceSecurityGroupId: { 'Fn::GetAtt': [albSg, 'GroupId'] },
      FromPort: 8080,
      ToPort: 8080,
    });
    const toAlb = Object.values(dev.templates)
      .flatMap((template) => resources(template, 'AWS::EC2::SecurityGroupIngress'))
      .map(([, p]) => p)
      .filter((p) => JSON.stringify(p.GroupId).includes('SessionManagerAlbSecurityGroup'));
    expect(toAlb).toHaveLength(1);
    expect(toAlb[0]).toMatchObject({ FromPort: 80, ToPort: 80 });
    expect(JSON.stringify(toAlb[0]?.SourceSecurityGroupId)).toMatch(/GatewaySecurityGroup/);
  });

  it('generates the gateway-to-session-manager header secret without putting it in the template', () => {
    t.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false },
      SecretString: Match.absent(),
    });
  });

  it('outputs the cluster name, the kubeconfig command and the upstream URL', () => {
    t.hasOutput('ClusterName', {});
    t.hasOutput('KubeconfigCommand', {});
    t.hasOutput('UpstreamUrl', {
      Value: {
        'Fn::Join': [
          '',
          [
            'http://',
            {
              'Fn::GetAtt': [
                id('SessionManagerAlb', 'AWS::ElasticLoadBalancingV2::LoadBalancer'),
                'DNSName',
              ],
            },
          ],
        ],
      },
    });
  });
});

describe('InferenceStack: Karpenter GPU pool', () => {
  const [nodeClass, nodePool] = manifests(t, 'EksClustermanifestGpuPool');

  it('installs the Karpenter v1 chart on the system nodes with the interruption queue', () => {
    const [[, chart] = ['', {}]] = resources(t, HELM).filter(([, p]) => p.Chart === 'karpenter');
    expect(chart).toMatchObject({
      Repository: 'oci://public.ecr.aws/karpenter/karpenter',
      Version: '1.14.1',
      Namespace: 'kube-system',
    });
    const values = JSON.parse(JSON.stringify(chart.Values));
    expect(JSON.stringify(values)).toContain('axon.ai/pool');
    expect(JSON.stringify(values)).toContain('interruptionQueue');
  });

  it('gives the controller its IAM role through EKS Pod Identity', () => {
    t.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'kube-system',
      ServiceAccount: 'karpenter',
      RoleArn: { 'Fn::GetAtt': [id('GpuPoolControllerRole', 'AWS::IAM::Role'), 'Arn'] },
    });
  });

  it('lets GPU nodes join through an EC2_LINUX access entry for their role', () => {
    t.hasResourceProperties('AWS::EKS::AccessEntry', {
      Type: 'EC2_LINUX',
      PrincipalArn: { 'Fn::GetAtt': [id('GpuPoolNodeRole', 'AWS::IAM::Role'), 'Arn'] },
    });
  });

  it('feeds spot, rebalance, state-change and health events into the interruption queue', () => {
    const rules = resources(t, 'AWS::Events::Rule').map(([, p]) => p.EventPattern as Json);
    expect(rules.map((r) => r['detail-type'][0]).sort()).toEqual(
      [
        'AWS Health Event',
        'EC2 Instance Rebalance Recommendation',
        'EC2 Instance State-change Notification',
        'EC2 Spot Instance Interruption Warning',
      ].sort(),
    );
    t.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 300,
      SqsManagedSseEnabled: true,
    });
  });

  it('boots GPU nodes from a pinned AL2023 alias with an encrypted disk of the configured size', () => {
    expect(nodeClass).toMatchObject({
      apiVersion: 'karpenter.k8s.aws/v1',
      kind: 'EC2NodeClass',
      spec: {
        amiSelectorTerms: [{ alias: expect.stringMatching(/^al2023@v\d{8}$/) }],
        blockDeviceMappings: [{ ebs: { volumeSize: '200Gi', encrypted: true } }],
        metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
      },
    });
    expect(nodeClass?.spec.userData).toContain('/var/lib/axon/huggingface');
  });

  it('has a GPU NodePool: the configured types, the GPU taint, a GPU limit, consolidation and expiry', () => {
    expect(nodePool).toMatchObject({
      apiVersion: 'karpenter.sh/v1',
      kind: 'NodePool',
      spec: {
        template: {
          spec: {
            taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }],
            expireAfter: '720h',
          },
        },
        limits: { 'nvidia.com/gpu': 2 },
        disruption: { consolidationPolicy: 'WhenEmpty', consolidateAfter: '15m' },
      },
    });
    expect(nodePool?.spec.template.spec.requirements).toContainEqual({
      key: 'node.kubernetes.io/instance-type',
      operator: 'In',
      values: ['g6.xlarge'],
    });
    const prodPool = ofKind(
      manifests(prod.templates.inference, 'EksClustermanifestGpuPool'),
      'NodePool',
    );
    expect(prodPool.spec.limits).toEqual({ 'nvidia.com/gpu': 6 });
  });

  it('applies the pool after the chart that brings its CRDs, and Triton after the pool', () => {
    const all = t.findResources('Custom::AWSCDK-EKS-KubernetesResource');
    const dependsOn = (prefix: string) =>
      JSON.stringify(
        Object.entries(all).find(([logicalId]) => logicalId.startsWith(prefix))?.[1].DependsOn,
      );
    expect(dependsOn('EksClustermanifestGpuPool')).toContain('chartKarpenter');
    expect(dependsOn('TritonWorkload')).toContain('EksClustermanifestGpuPool');
  });
});

describe('InferenceStack: metrics pipeline', () => {
  it('creates a Prometheus workspace and a managed scraper of the cluster writing to it', () => {
    const workspace = id('MetricsWorkspace', 'AWS::APS::Workspace');
    t.hasResourceProperties('AWS::APS::Scraper', {
      Destination: { AmpConfiguration: { WorkspaceArn: { 'Fn::GetAtt': [workspace, 'Arn'] } } },
      Source: {
        EksConfiguration: Match.objectLike({
          ClusterArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EksCluster'), 'Arn'] },
        }),
      },
    });
    const [[, scraper] = ['', {}]] = resources(t, 'AWS::APS::Scraper');
    const blob = (scraper.ScrapeConfiguration as Json).ConfigurationBlob['Fn::Base64'] as string;
    const config = JSON.parse(blob);
    expect(config.scrape_configs[0].job_name).toBe('triton');
    expect(JSON.stringify(config.scrape_configs[0].relabel_configs)).toContain('metrics');
  });

  it('scrapes Triton, the session manager and the DCGM exporter, each by its own port', () => {
    const [[, scraper] = ['', {}]] = resources(t, 'AWS::APS::Scraper');
    const blob = (scraper.ScrapeConfiguration as Json).ConfigurationBlob['Fn::Base64'] as string;
    const jobs = Object.fromEntries(
      JSON.parse(blob).scrape_configs.map((job: Json) => [job.job_name, job]),
    );
    expect(Object.keys(jobs)).toEqual(['triton', 'session-manager', 'dcgm-exporter']);
    const keeps = (job: Json) =>
      job.relabel_configs.filter((r: Json) => r.action === 'keep').map((r: Json) => r.regex);
    expect(keeps(jobs.triton)).toEqual(['triton', 'metrics']);
    expect(keeps(jobs['session-manager'])).toEqual(['session-manager', 'http']);
    expect(keeps(jobs['dcgm-exporter'])).toEqual(['dcgm-exporter', '9400']);
    expect(jobs['dcgm-exporter'].kubernetes_sd_configs[0].namespaces.names).toEqual([
      'amazon-cloudwatch',
    ]);
    expect(jobs['dcgm-exporter'].scheme).toBe('https');
  });

  it('gives the scraper read-only discovery RBAC', () => {
    const [role, binding] = manifests(t, 'EksClustermanifestScraperRbac');
    expect(role?.rules.flatMap((r: Json) => r.verbs ?? [])).not.toContain('create');
    expect(binding?.subjects).toEqual([
      { kind: 'User', name: 'aps-collector-user', apiGroup: 'rbac.authorization.k8s.io' },
    ]);
  });

  it('lets only the KEDA operator query the workspace, through Pod Identity', () => {
    const workspace = id('MetricsWorkspace', 'AWS::APS::Workspace');
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'aps:QueryMetrics',
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [workspace, 'Arn'] },
          },
        ],
      },
      Roles: [{ Ref: id('MetricsKedaOperatorRole', 'AWS::IAM::Role') }],
    });
    t.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'keda',
      ServiceAccount: 'keda-operator',
    });
    t.hasResourceProperties(HELM, { Chart: 'keda', Version: '2.20.2', Namespace: 'keda' });
  });
});

describe('InferenceStack: NetworkPolicies', () => {
  const policies = manifests(t, 'EksClustermanifestNetworkPolicies');
  const byName = Object.fromEntries(policies.map((p) => [p.metadata.name, p.spec]));

  it('denies all ingress in the axon namespace by default', () => {
    expect(byName['default-deny-ingress']).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    for (const policy of policies) expect(policy.metadata.namespace).toBe('axon');
  });

  it('admits the ALB subnets to the session manager, the session manager to Triton, the scraper to metrics', () => {
    expect(byName['alb-to-session-manager'].ingress[0]).toMatchObject({
      ports: [{ protocol: 'TCP', port: 8080 }],
    });
    expect(byName['alb-to-session-manager'].ingress[0].from).toHaveLength(2);
    expect(byName['session-manager-to-triton']).toMatchObject({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'triton' } },
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'session-manager' } } }],
          ports: [
            { protocol: 'TCP', port: 8000 },
            { protocol: 'TCP', port: 8001 },
          ],
        },
      ],
    });
    expect(byName['scraper-to-metrics'].ingress[0].ports).toEqual([
      { protocol: 'TCP', port: 8002 },
    ]);
  });

  it('admits the scraper to the session manager port that serves /metrics', () => {
    expect(byName['scraper-to-session-manager-metrics']).toMatchObject({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'session-manager' } },
      ingress: [{ ports: [{ protocol: 'TCP', port: 8080 }] }],
    });
    expect(byName['scraper-to-session-manager-metrics'].ingress[0].from).toHaveLength(2);
  });
});

describe('InferenceStack: observability', () => {
  it('installs the pinned CloudWatch observability add-on with GPU metrics and pod logs', () => {
    t.hasResourceProperties('AWS::EKS::Addon', {
      AddonName: 'amazon-cloudwatch-observability',
      AddonVersion: 'v5.4.0-eksbuild.1',
      ResolveConflicts: 'OVERWRITE',
      ConfigurationValues: Match.serializedJson(
        Match.objectLike({
          agent: {
            config: {
              logs: {
                metrics_collected: {
                  kubernetes: {
                    enhanced_container_insights: true,
                    accelerated_compute_metrics: true,
                  },
                },
              },
            },
          },
          containerLogs: { enabled: true },
        }),
      ),
      PodIdentityAssociations: [
        {
          ServiceAccount: 'cloudwatch-agent',
          RoleArn: { 'Fn::GetAtt': [id('EksCloudWatchAgentRole', 'AWS::IAM::Role'), 'Arn'] },
        },
      ],
    });
  });

  it('gives the CloudWatch agent CloudWatchAgentServerPolicy through Pod Identity only', () => {
    const [, props] = resources(t, 'AWS::IAM::Role').find(([logicalId]) =>
      logicalId.startsWith('EksCloudWatchAgentRole'),
    ) ?? ['', {} as Json];
    expect(JSON.stringify(props.ManagedPolicyArns)).toContain(
      ':iam::aws:policy/CloudWatchAgentServerPolicy',
    );
    expect(props.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
      Service: 'pods.eks.amazonaws.com',
    });
  });

  it.each([
    ['/aws/eks/axon-dev/cluster', 'control-plane', 90],
    ['/aws/containerinsights/axon-dev/application', 'pod', 30],
    ['/aws/containerinsights/axon-dev/performance', 'Container Insights performance', 30],
  ])('creates %s (%s logs) kept %d days, deleted with the dev stack', (name, _what, days) => {
    const group = Object.values(dev.templates.inference.findResources('AWS::Logs::LogGroup')).find(
      (r) => r.Properties.LogGroupName === name,
    );
    expect(group?.Properties.RetentionInDays).toBe(days);
    expect(group?.DeletionPolicy).toBe('Delete');
  });

  it('takes the retention and what deletion does from the stage config', () => {
    const custom = synth(
      parseDev({
        observability: {
          controlPlaneLogRetentionDays: 365,
          containerLogRetentionDays: 7,
          logGroupsOnDelete: 'retain',
        },
      }),
    ).templates.inference;
    const groups = Object.values(custom.findResources('AWS::Logs::LogGroup')).filter((r) =>
      /^\/aws\/(eks|containerinsights)\//.test(String(r.Properties.LogGroupName)),
    );
    const days = groups.map((r) => [
      String(r.Properties.LogGroupName).startsWith('/aws/eks/'),
      r.Properties.RetentionInDays,
    ]);
    expect(days).toContainEqual([true, 365]);
    expect(days.filter(([eks]) => !eks).map(([, d]) => d)).toEqual([7, 7, 7, 7]);
    expect(groups.map((r) => r.DeletionPolicy)).toEqual(Array(5).fill('Retain'));
    expect(custom.findResources('Custom::LogRetention')).toEqual({});
  });
});

describe('InferenceStack snapshot', () => {
  it('matches the snapshot', () => {
    expect(normalised(t)).toMatchSnapshot();
  });
});
