/**
 * NVIDIA Triton on the GPU pool, reading its model repository from S3 through IRSA (an IAM role
 * bound to the `triton` service account; no static keys). IRSA rather than Pod Identity because
 * Triton's bundled AWS C++ SDK reads web-identity credentials in every release.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { StageConfig } from '../config.ts';
import { TRITON_URL, tritonManifests } from '../k8s/triton.ts';
import { NAMESPACE, TRITON } from '../k8s/versions.ts';
import { acknowledge, finding } from '../nag.ts';

export interface TritonServerProps {
  readonly cluster: eks.Cluster;
  /** The namespace manifest the workload lives in. */
  readonly namespace: eks.KubernetesManifest;
  readonly config: StageConfig['triton'];
  readonly region: string;
  /** Where S3 server access logs of a created model bucket go. */
  readonly accessLogs: s3.IBucket;
}

export class TritonServer extends Construct {
  /** `s3://bucket/prefix` Triton loads models from. */
  readonly modelRepository: string;
  readonly modelBucket: s3.IBucket;
  /** In-cluster HTTP URL of Triton. */
  readonly url = TRITON_URL;

  constructor(scope: Construct, id: string, props: TritonServerProps) {
    super(scope, id);
    const { config } = props;

    let prefix: string;
    if (config.modelRepository) {
      const [, bucketName = '', ...rest] = config.modelRepository
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

    const workload = new eks.KubernetesManifest(this, 'Workload', {
      cluster: props.cluster,
      manifest: tritonManifests({
        image: config.image,
        modelRepository: this.modelRepository,
        serviceAccountName: serviceAccount.serviceAccountName,
        region: props.region,
        gpusPerReplica: config.gpusPerReplica,
        minReplicas: config.minReplicas,
        maxReplicas: config.maxReplicas,
        cpuMillicores: config.cpuMillicores,
        memoryMiB: config.memoryMiB,
        shmSizeMiB: config.shmSizeMiB,
        targetCpuPercent: config.targetCpuPercent,
      }),
    });
    workload.node.addDependency(serviceAccount);
  }
}
