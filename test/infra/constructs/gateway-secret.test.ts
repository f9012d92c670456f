/**
 * GatewaySecret alone: the secret keeps its logical ID, rotates on the default and the given
 * schedule through its own function, refuses schedules Secrets Manager would not run, and binds
 * readers with permission and ARN together.
 */
import { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { GatewaySecret, type GatewaySecretProps } from '../../../lib/constructs/gateway-secret.ts';
import { bareStack, template, unacknowledged } from './support.ts';

function build(overrides: Partial<GatewaySecretProps> = {}) {
  const { stack, vpc } = bareStack();
  const secret = new GatewaySecret(stack, 'GatewaySecret', { vpc, ...overrides });
  return { stack, secret };
}

describe('GatewaySecret defaults', () => {
  it('rotates every 30 days through its own rotation function', () => {
    const { stack, secret } = build();
    const t = template(stack);
    t.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: stack.getLogicalId(secret.secret.node.defaultChild as never) },
      RotationLambdaARN: {
        'Fn::GetAtt': [
          stack.getLogicalId(secret.rotationFunction.function.node.defaultChild as never),
          'Arn',
        ],
      },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  it('keeps the logical ID the secret had when the stack created it directly', () => {
    const { stack, secret } = build();
    const bare = new Stack(undefined, 'Before');
    const before = new secretsmanager.Secret(bare, 'GatewaySecret');
    expect(stack.getLogicalId(secret.secret.node.defaultChild as never)).toBe(
      bare.getLogicalId(before.node.defaultChild as never),
    );
  });

  it('generates a 64-character value of letters and digits, safe in a header', () => {
    template(build().stack).hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        PasswordLength: 64,
        ExcludePunctuation: true,
        IncludeSpace: false,
      }),
    });
  });
});

describe('GatewaySecret under cdk-nag', () => {
  it('leaves no AwsSolutions finding unacknowledged, SMG4 included', () => {
    const { stack, secret } = build();
    expect(unacknowledged(stack.node.root as never, secret)).toEqual([]);
  });
});

describe('GatewaySecret props', () => {
  it('rotates on the given number of days', () => {
    template(build({ rotationDays: 7 }).stack).hasResourceProperties(
      'AWS::SecretsManager::RotationSchedule',
      { RotationRules: { ScheduleExpression: 'rate(7 days)' } },
    );
  });

  it.each([0, 366, 1.5])('refuses rotationDays %s', (rotationDays) => {
    expect(() => build({ rotationDays })).toThrow(
      `the gateway secret needs rotationDays as a whole number from 1 to 365, got ${rotationDays}`,
    );
  });
});

describe('GatewaySecret.bind', () => {
  it('grants the reader GetSecretValue on this secret and sets the variable to its ARN', () => {
    const { stack, secret } = build();
    const reader = new lambda.Function(stack, 'Reader', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => {}'),
    });
    secret.bind(reader, 'AXON_UPSTREAM_SECRET_ARN');
    const t = template(stack);
    const secretId = stack.getLogicalId(secret.secret.node.defaultChild as never);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: { Variables: { AXON_UPSTREAM_SECRET_ARN: { Ref: secretId } } },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: stack.getLogicalId(reader.role?.node.defaultChild as never) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['secretsmanager:GetSecretValue']),
            Resource: { Ref: secretId },
          }),
        ]),
      },
    });
  });

  it('grants without an environment variable when none is named', () => {
    const { stack, secret } = build();
    const role = new iam.Role(stack, 'PodRole', {
      assumedBy: new iam.ServicePrincipal('pods.eks.amazonaws.com'),
    });
    secret.bind({ grantPrincipal: role, addEnvironment: () => expect.fail('no variable asked') });
    template(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as never) }],
    });
  });
});
