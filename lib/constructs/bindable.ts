/**
 * What a bind method needs from the thing it binds to: permission to grant and a place to put
 * the environment variables that go with that permission. `AxonFunction` and any
 * `lambda.Function` fit it, so a construct that owns a resource can grant it and name it in one
 * call, and the two can never be set apart.
 */
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';

export interface EnvironmentGrantee extends iam.IGrantable {
  addEnvironment(name: string, value: string): unknown;
}

/** A client inside the VPC: it also needs a security-group path to the resource. */
export interface NetworkClient extends EnvironmentGrantee, ec2.IConnectable {}
