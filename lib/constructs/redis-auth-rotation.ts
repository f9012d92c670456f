/**
 * Rotates the ElastiCache AUTH token on a schedule with the redis-rotation Lambda
 * (lambda/redis-rotation): ROTATE (old and new token both valid), move AWSCURRENT, then SET.
 * When the group authenticates its client as an RBAC user instead, the same secret is that
 * user's password and the Lambda rotates it through the two passwords a user may hold
 * (ModifyUser with old and new, move AWSCURRENT, then the new one alone).
 * The function runs in the VPC but has no path into Redis: it talks only to the Secrets Manager
 * and ElastiCache APIs.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '#shared/names';
import { acknowledge } from '../nag.ts';
import { AxonFunction } from './axon-function.ts';
import { AUTH_TOKEN_LENGTH, type RedisReplicationGroup } from './redis-replication-group.ts';

export interface RedisAuthRotationProps {
  readonly vpc: ec2.IVpc;
  readonly redis: RedisReplicationGroup;
  /** Whole days, 1 to 365. @default Duration.days(30) */
  readonly rotateEvery?: Duration;
}

export class RedisAuthRotation extends Construct {
  readonly function: AxonFunction;

  constructor(scope: Construct, id: string, props: RedisAuthRotationProps) {
    super(scope, id);
    const rotateEvery = props.rotateEvery ?? Duration.days(30);
    const days = rotateEvery.toDays({ integral: false });
    if (!Number.isInteger(days) || days < 1 || days > 365) {
      throw new Error(
        `Redis AUTH rotation needs rotateEvery in whole days from 1 to 365, got ${rotateEvery.toHumanString()}`,
      );
    }
    const { user } = props.redis;
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description:
        'Redis AUTH rotation Lambda: HTTPS to the Secrets Manager and ElastiCache APIs only',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'AWS APIs through the NAT gateway',
    );

    this.function = new AxonFunction(this, 'Function', {
      entry: 'lambda/redis-rotation/handler.ts',
      description: user
        ? 'Rotates an ElastiCache user password: both passwords, move AWSCURRENT, new one only'
        : 'Rotates the ElastiCache AUTH token: ROTATE, move AWSCURRENT, SET',
      vpc: props.vpc,
      securityGroup,
      // A step may wait for the replication group to finish modifying (minutes).
      timeout: Duration.minutes(15),
      memoryMiB: 256,
      environment: {
        [ENV.replicationGroupId]: props.redis.resource.ref,
        ...(user && { [ENV.redisUserId]: user.ref }),
        [ENV.tokenLength]: String(AUTH_TOKEN_LENGTH),
        [ENV.serviceName]: 'redis-rotation',
      },
    });

    const stack = Stack.of(this);
    const arnOf = (resource: string, resourceName: string) =>
      stack.formatArn({
        service: 'elasticache',
        resource,
        resourceName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    this.function.addToRolePolicy(
      user
        ? new iam.PolicyStatement({
            actions: ['elasticache:ModifyUser', 'elasticache:DescribeUsers'],
            resources: [arnOf('user', user.ref)],
          })
        : new iam.PolicyStatement({
            actions: [
              'elasticache:ModifyReplicationGroup',
              'elasticache:DescribeReplicationGroups',
            ],
            resources: [arnOf('replicationgroup', props.redis.resource.ref)],
          }),
    );
    // testSecret compares the pending version's creation date with the group's token change.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:ListSecretVersionIds'],
        resources: [props.redis.authToken.secretArn],
      }),
    );

    const schedule = props.redis.authToken.addRotationSchedule('Rotation', {
      rotationLambda: this.function.function,
      automaticallyAfter: rotateEvery,
      // The first rotation waits for the schedule: right after creation the group may still be
      // building, and there is nothing to rotate away from yet.
      rotateImmediatelyOnUpdate: false,
    });
    schedule.node.addDependency(props.redis.resource);

    acknowledge(
      this.function.function,
      'AwsSolutions-IAM5[Resource::*]',
      'secretsmanager:GetRandomPassword (added by the rotation schedule) acts on no resource, so IAM only accepts "*"; every other statement is scoped to this secret and this replication group.',
    );
  }
}
