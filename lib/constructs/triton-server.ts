/**
 * NVIDIA Triton on the GPU pool, serving the stage's models with the vLLM backend. At deploy time
 * the stack writes Triton's model repository (one `config.pbtxt` + `1/model.json` per model) into
 * the model bucket, then applies the workload, so Triton never starts on an empty repository.
 * Triton reads the repository from S3 through IRSA (an IAM role bound to the `triton` service
 * account; no static keys): IRSA rather than Pod Identity because Triton's bundled AWS C++ SDK
 * reads web-identity credentials in every release. Weights come from Hugging Face once per node
 * into a node-local cache. KEDA scales the Deployment on Triton's serving signals.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, type IConstruct } from 'constructs';
import type { ModelConfig } from '../config.ts';
import {
  hashFiles,
  modelRepositoryFiles,
  TRITON_URL,
  tritonManifests,
  tritonScaling,
} from '../k8s/triton.ts';
import { NAMESPACE, TRITON } from '../k8s/versions.ts';
import { acknowledge, finding, findingOfResolved } from '../nag.ts';

export interface TritonServerProps {
  readonly cluster: eks.Cluster;
  /** The namespace manifest the workload lives in. */
  readonly namespace: eks.KubernetesManifest;
  /** Triton image with the vLLM backend, pinned by tag or digest. */
  readonly image: string;
  /** The served models; each becomes a directory of the model repository. */
  readonly models: readonly ModelConfig[];
  /**
   * `s3://bucket/prefix` of an existing repository location the stack writes to.
   * @default - a new bucket, repository at `s3://<bucket>/models`
   */
  readonly modelRepository?: string;
  /** Where S3 server access logs of a created model bucket go. */
  readonly accessLogs: s3.IBucket;
  /** @default 1 */
  readonly gpusPerReplica?: number;
  /**
   * 0 lets Triton scale to zero while nobody calls a model: KEDA wakes it on the session
   * manager's demand counter (the GPU node goes with it, see docs/operations.md).
   * @default 1
   */
  readonly minReplicas?: number;
  /** @default - the larger of 2 and minReplicas */
  readonly maxReplicas?: number;
  /**
   * With minReplicas 0: minutes without a request before Triton scales to zero (KEDA's
   * cooldownPeriod, counted once the demand query's 2-minute window has emptied).
   * @default 15
   */
  readonly idleMinutes?: number;
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
  /** @default 2048 */
  readonly shmSizeMiB?: number;
  /** Query URL of the Prometheus workspace holding Triton's metrics. */
  readonly prometheusUrl: string;
  /** Constructs that must exist before the ScaledObject (the KEDA chart with its CRDs). */
  readonly scalingDependsOn: readonly IConstruct[];
  /** Constructs that must exist before the workload (the GPU node pool). */
  readonly workloadDependsOn?: readonly IConstruct[];
  /** @default 2000 */
  readonly targetTimeToFirstTokenMs?: number;
  /** @default 4 */
  readonly targetPendingRequests?: number;
}

export class TritonServer extends Construct {
  /** `s3://bucket/prefix` Triton loads models from. */
  readonly modelRepository: string;
  readonly modelBucket: s3.IBucket;
  /** In-cluster HTTP URL of Triton. */
  readonly url = TRITON_URL;
  /** The repository files this stack writes (path below the prefix -> content). */
  readonly repositoryFiles: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: TritonServerProps) {
    super(scope, id);
    const gpusPerReplica = props.gpusPerReplica ?? 1;
    const minReplicas = props.minReplicas ?? 1;
    const maxReplicas = props.maxReplicas ?? Math.max(2, minReplicas);
    const shmSizeMiB = props.shmSizeMiB ?? 2048;
    if (props.models.length === 0) {
      throw new Error('TritonServer needs at least one model; Triton on an empty repository exits');
    }
    if (maxReplicas < minReplicas || minReplicas < 0 || maxReplicas < 1) {
      throw new Error(
        `TritonServer needs 0 <= minReplicas <= maxReplicas and maxReplicas >= 1, got ${minReplicas} and ${maxReplicas}`,
      );
    }
    const idleMinutes = props.idleMinutes ?? 15;
    if (!Number.isInteger(idleMinutes) || idleMinutes < 1) {
      throw new Error(`TritonServer idleMinutes must be a whole number >= 1, got ${idleMinutes}`);
    }
    if (shmSizeMiB > props.memoryMiB / 2) {
      throw new Error(
        `TritonServer shmSizeMiB ${shmSizeMiB} counts against memoryMiB ${props.memoryMiB}; keep it at most half`,
      );
    }
    const gated = [...new Set(props.models.flatMap((m) => m.huggingFaceTokenSecretName ?? []))];
    if (gated.length > 1) {
      throw new Error(
        `TritonServer models name ${gated.length} Hugging Face token secrets (${gated.join(', ')}); use one`,
      );
    }

    let prefix: string;
    if (props.modelRepository) {
      const [, bucketName = '', ...rest] = props.modelRepository
        .replace(/^s3:\/\//, '/')
        .split('/');
      this.modelBucket = s3.Bucket.fromBucketName(this, 'ModelBucket', bucketName);
      prefix = rest.join('/').replace(/\/$/, '');
    } else {
      this.modelBucket = new s3.Bucket(this, 'ModelBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned: true,
        serverAccessLogsBucket: props.accessLogs,
        serverAccessLogsPrefix: 'model-bucket/',
        removalPolicy: RemovalPolicy.RETAIN,
      });
      prefix = 'models';
    }
    this.modelRepository = `s3://${this.modelBucket.bucketName}${prefix ? `/${prefix}` : ''}`;

    this.repositoryFiles = modelRepositoryFiles(props.models, gpusPerReplica);
    const repository = new s3deploy.BucketDeployment(this, 'ModelRepositoryFiles', {
      destinationBucket: this.modelBucket,
      ...(prefix && { destinationKeyPrefix: `${prefix}/` }),
      sources: Object.entries(this.repositoryFiles).map(([path, content]) =>
        s3deploy.Source.data(path, content),
      ),
      // The repository is exactly the stage's model list: a model removed from the config
      // disappears from Triton.
      prune: true,
      retainOnDelete: true,
      memoryLimit: 256,
    });
    this.acknowledgeBucketDeployment(repository);

    const serviceAccount = new eks.ServiceAccount(this, 'ServiceAccount', {
      cluster: props.cluster,
      name: TRITON.name,
      namespace: NAMESPACE,
    });
    serviceAccount.node.addDependency(props.namespace);
    // Read-only, and only below the repository prefix.
    const objects = prefix ? `${prefix}/*` : '*';
    this.modelBucket.grantRead(serviceAccount, objects);
    const policy = serviceAccount.role.node.tryFindChild('DefaultPolicy') ?? serviceAccount.role;
    for (const action of ['s3:GetBucket*', 's3:GetObject*', 's3:List*']) {
      acknowledge(
        policy,
        `AwsSolutions-IAM5[Action::${action}]`,
        `${action} is part of the read-only S3 grant Triton needs to list and download its model repository; it applies to the model bucket only.`,
      );
    }
    acknowledge(
      policy,
      `AwsSolutions-IAM5[Resource::${finding(this, this.modelBucket.arnForObjects(objects))}]`,
      'Triton reads every object below the model repository prefix (models are directories of files whose names it discovers); nothing outside that prefix.',
    );
    const tokenSecretName = gated[0];
    if (tokenSecretName) {
      const secret = secretsmanager.Secret.fromSecretNameV2(
        this,
        'HuggingFaceToken',
        tokenSecretName,
      );
      // Read of exactly this secret (its ARN's random suffix is matched by `-??????`).
      secret.grantRead(serviceAccount);
    }

    const workload = new eks.KubernetesManifest(this, 'Workload', {
      cluster: props.cluster,
      manifest: tritonManifests({
        image: props.image,
        modelRepository: this.modelRepository,
        serviceAccountName: serviceAccount.serviceAccountName,
        region: props.cluster.stack.region,
        gpusPerReplica,
        cpuMillicores: props.cpuMillicores,
        memoryMiB: props.memoryMiB,
        shmSizeMiB,
        modelRepositoryHash: hashFiles(this.repositoryFiles),
        ...(tokenSecretName && { huggingFaceTokenSecretName: tokenSecretName }),
      }),
    });
    workload.node.addDependency(serviceAccount, repository, ...(props.workloadDependsOn ?? []));

    const scaling = new eks.KubernetesManifest(this, 'Scaling', {
      cluster: props.cluster,
      manifest: tritonScaling({
        minReplicas,
        maxReplicas,
        idleMinutes,
        prometheusUrl: props.prometheusUrl,
        region: props.cluster.stack.region,
        targetTimeToFirstTokenMs: props.targetTimeToFirstTokenMs ?? 2000,
        targetPendingRequests: props.targetPendingRequests ?? 4,
      }),
    });
    scaling.node.addDependency(workload, ...props.scalingDependsOn);
  }

  /** The deployment Lambda and its role are aws-cdk-lib's, as for every BucketDeployment. */
  private acknowledgeBucketDeployment(deployment: s3deploy.BucketDeployment): void {
    const handler = deployment.handlerRole.node.scope as IConstruct;
    const owner =
      'aws-cdk-lib creates this BucketDeployment handler, which copies the model repository files into the model bucket at deploy time';
    acknowledge(
      handler,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      `${owner}; the policy gives it CloudWatch Logs only.`,
    );
    acknowledge(handler, 'AwsSolutions-L1', `${owner}; aws-cdk-lib pins its Python runtime.`);
    for (const action of [
      's3:GetBucket*',
      's3:GetObject*',
      's3:List*',
      's3:Abort*',
      's3:DeleteObject*',
    ]) {
      acknowledge(
        handler,
        `AwsSolutions-IAM5[Action::${action}]`,
        `${owner}; ${action} is part of the read (CDK asset) and read-write (model bucket) grants aws-cdk-lib gives it for the copy and the prune of stale files.`,
      );
    }
    // The object wildcards of those grants: the CDK asset bucket and the model bucket.
    const policy = deployment.handlerRole.node.tryFindChild('DefaultPolicy') as iam.Policy;
    const document = Stack.of(this).resolve(policy.document.toJSON()) as {
      Statement: { Resource: unknown }[];
    };
    const resources = document.Statement.flatMap((st) =>
      Array.isArray(st.Resource) ? st.Resource : [st.Resource],
    );
    for (const resource of new Set(resources.map((r) => findingOfResolved(r)))) {
      if (!resource.includes('*')) continue;
      acknowledge(
        handler,
        `AwsSolutions-IAM5[Resource::${resource}]`,
        `${owner}; it reads the staged files from the CDK asset bucket and writes, and prunes, below the repository prefix of the model bucket, which holds nothing else.`,
      );
    }
  }
}
