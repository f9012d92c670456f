/**
 * InferenceStack: EKS (aws-eks-v2) with system and GPU node groups, NVIDIA device plugin, AWS
 * Load Balancer Controller, Triton (S3 models through IRSA), the session manager (Pod Identity,
 * DockerImageAsset) behind an internal ALB bound with a TargetGroupBinding.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  manifests,
  normalised,
  ofKind,
  parseDev,
  resources,
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
      ScalingConfig: { MinSize: 2, DesiredSize: 2, MaxSize: 3 },
      Labels: { 'axon.ai/pool': 'system' },
      Taints: Match.absent(),
    });
  });

  it('has a GPU node group on the AL2023 NVIDIA AMI tainted nvidia.com/gpu:NoSchedule', () => {
    t.hasResourceProperties(NODEGROUP, {
      AmiType: 'AL2023_x86_64_NVIDIA',
      InstanceTypes: ['g6.xlarge'],
      ScalingConfig: { MinSize: 1, DesiredSize: 1, MaxSize: 2 },
      DiskSize: 200,
      Labels: { 'axon.ai/pool': 'gpu', 'nvidia.com/gpu.present': 'true' },
      Taints: [{ Key: 'nvidia.com/gpu', Value: 'true', Effect: 'NO_SCHEDULE' }],
    });
    prod.templates.inference.hasResourceProperties(NODEGROUP, {
      AmiType: 'AL2023_x86_64_NVIDIA',
      InstanceTypes: ['g6e.2xlarge'],
      ScalingConfig: { MinSize: 2, DesiredSize: 2, MaxSize: 6 },
      DiskSize: 300,
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
    expect(JSON.parse(chart.Values as string)).toEqual({
      nodeSelector: { 'axon.ai/pool': 'gpu' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    });
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

  it('adds metrics-server (for the HPAs) and the Pod Identity agent', () => {
    t.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'metrics-server' });
    t.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' });
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

  it('mounts a memory-backed /dev/shm of the configured size', () => {
    expect(container.volumeMounts).toEqual([{ name: 'dshm', mountPath: '/dev/shm' }]);
    expect(pod.volumes).toEqual([
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '2048Mi' } },
    ]);
  });

  it('uses its service account and no static AWS keys', () => {
    expect(pod.serviceAccountName).toBe('triton');
    const names = container.env.map((e: { name: string }) => e.name);
    expect(names).not.toContain('AWS_ACCESS_KEY_ID');
    expect(names).not.toContain('AWS_SECRET_ACCESS_KEY');
  });

  it('has a Service, an HPA within the configured replicas and a PDB', () => {
    expect(ofKind(triton, 'Service').spec.ports.map((p: { port: number }) => p.port)).toEqual([
      8000, 8001, 8002,
    ]);
    expect(ofKind(triton, 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 1,
      maxReplicas: 2,
    });
    expect(ofKind(triton, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
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
        Statement: [
          Match.objectLike({
            Resource: [
              'arn:aws:s3:::example-axon-models',
              'arn:aws:s3:::example-axon-models/triton/*',
            ],
          }),
        ],
      },
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
        'GATEWAY_SECRET_ARN',
        'INFERENCE_TIMEOUT_MS',
        'PORT',
        'REDIS_AUTH_SECRET_ARN',
        'REDIS_URL',
        'SESSION_TTL_SECONDS',
        'TRITON_URL',
      ].sort(),
    );
    expect(env).toMatchObject({
      PORT: '8080',
      REDIS_URL: `rediss://${TOKEN}:${TOKEN}`,
      TRITON_URL: 'http://triton.axon.svc.cluster.local:8000',
      SESSION_TTL_SECONDS: '86400',
      INFERENCE_TIMEOUT_MS: '60000',
    });
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

describe('InferenceStack snapshot', () => {
  it('matches the snapshot', () => {
    expect(normalised(t)).toMatchSnapshot();
  });
});
