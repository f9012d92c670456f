/**
 * Bucket for ALB access logs and S3 server access logs of the stack it lives in. SSE-S3 because
 * ALB log delivery does not support SSE-KMS; TLS-only; logs expire after a set number of days.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';

export interface AccessLogBucketProps {
  /** Days a log object is kept before S3 deletes it, at least 1. @default 90 */
  readonly expirationDays?: number;
}

export class AccessLogBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogBucketProps = {}) {
    super(scope, id);
    const expirationDays = props.expirationDays ?? 90;
    if (!Number.isInteger(expirationDays) || expirationDays < 1) {
      throw new Error(
        `access log expirationDays must be a whole number of days, at least 1, got ${expirationDays}`,
      );
    }
    this.bucket = new s3.Bucket(this, 'Resource', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(expirationDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.bucket,
      'AwsSolutions-S1',
      'This is the access-log bucket itself; logging its own access into itself would loop, and logging it elsewhere would only move the same finding to that bucket.',
    );
  }
}
