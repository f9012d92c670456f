/**
 * The shared secret the gateway presents to the session manager in `x-axon-gateway-secret`, and
 * its rotation on a schedule by the gateway-secret-rotation Lambda. Rotation costs no request:
 * the session manager accepts AWSCURRENT and AWSPREVIOUS, and the gateway re-reads AWSCURRENT and
 * retries once when the session manager answers 401 (lambda/gateway-secret-rotation explains the
 * steps). Readers get their permission and the secret's ARN together through `bind`.
 */
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';
import { AxonFunction } from './axon-function.ts';
import type { EnvironmentGrantee } from './bindable.ts';

export interface GatewaySecretProps {
  /** The rotation function runs in its private subnets and reaches Secrets Manager through NAT. */
  readonly vpc: ec2.IVpc;
  /** Whole days between rotations, 1 to 365. @default 30 */
  readonly rotationDays?: number;
}

/** Length of a generated value: letters and digits only, as it travels as an HTTP header. */
export const GATEWAY_SECRET_LENGTH = 64;

export class GatewaySecret extends Construct {
  readonly secret: secretsmanager.Secret;
  readonly rotationFunction: AxonFunction;

  constructor(scope: Construct, id: string, props: GatewaySecretProps) {
    super(scope, id);
    const rotationDays = props.rotationDays ?? 30;
    if (!Number.isInteger(rotationDays) || rotationDays < 1 || rotationDays > 365) {
      throw new Error(
        `the gateway secret needs rotationDays as a whole number from 1 to 365, got ${rotationDays}`,
      );
    }

    // `Default` keeps the logical ID the secret had when the stack created it directly, so moving
    // it into this construct does not replace it (a new secret would mean a new ARN and value).
    this.secret = new secretsmanager.Secret(this, 'Default', {
      description: 'Shared header secret: the session manager trusts x-axon-* headers only with it',
      generateSecretString: {
        passwordLength: GATEWAY_SECRET_LENGTH,
        excludePunctuation: true,
        includeSpace: false,
      },
    });

    const securityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: props.vpc,
      description: 'Gateway secret rotation Lambda: HTTPS to the Secrets Manager API only',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'Secrets Manager API through the NAT gateway',
    );
    this.rotationFunction = new AxonFunction(this, 'RotationFunction', {
      entry: 'lambda/gateway-secret-rotation/handler.ts',
      description: 'Rotates the gateway-to-session-manager secret: new AWSPENDING, then AWSCURRENT',
      vpc: props.vpc,
      securityGroup,
      memoryMiB: 256,
    });
    this.secret.addRotationSchedule('Rotation', {
      rotationLambda: this.rotationFunction.function,
      automaticallyAfter: Duration.days(rotationDays),
    });
    acknowledge(
      this.rotationFunction.function,
      'AwsSolutions-IAM5[Resource::*]',
      'secretsmanager:GetRandomPassword (added by the rotation schedule) acts on no resource, so IAM only accepts "*"; every other statement is scoped to this secret.',
    );
  }

  /**
   * Lets `reader` read the secret (every version stage: the session manager also reads
   * AWSPREVIOUS) and, when `envName` is given, sets it to the secret's ARN.
   */
  bind(reader: EnvironmentGrantee, envName?: string): void {
    this.secret.grantRead(reader);
    if (envName) reader.addEnvironment(envName, this.secret.secretArn);
  }
}
