/**
 * AxonFunction alone: its defaults, its validation, and that it carries its own log group and the
 * cdk-nag acknowledgements every Axon function needs.
 */
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { AxonFunction, type AxonFunctionProps } from '../../../lib/constructs/axon-function.ts';
import { FIXTURES } from '../support.ts';
import { type Bare, bareStack, template, unacknowledged } from './support.ts';

function build(overrides: Partial<AxonFunctionProps> = {}): Bare & { fn: AxonFunction } {
  const bare = bareStack();
  const securityGroup = new ec2.SecurityGroup(bare.stack, 'Sg', { vpc: bare.vpc });
  const fn = new AxonFunction(bare.stack, 'Fn', {
    entry: FIXTURES.gatewayEntry,
    description: 'test function',
    vpc: bare.vpc,
    securityGroup,
    ...overrides,
  });
  return { ...bare, fn };
}

describe('AxonFunction defaults', () => {
  const { stack } = build();
  const t = template(stack);

  it('gets 512 MiB of memory', () => {
    t.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 512 });
  });

  it('times out after 30 seconds', () => {
    t.hasResourceProperties('AWS::Lambda::Function', { Timeout: 30 });
  });

  it('keeps its logs one month in its own log group', () => {
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const [group] = Object.keys(t.findResources('AWS::Logs::LogGroup'));
    t.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: group } },
    });
  });

  it('turns on source maps and sets no other variable', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
  });

  it('runs Node.js 22 on arm64 in the private subnets', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      VpcConfig: Match.objectLike({ SecurityGroupIds: Match.anyValue() }),
    });
  });
});

describe('AxonFunction props', () => {
  it('applies memory, timeout and log retention', () => {
    const { stack } = build({
      memoryMiB: 2048,
      timeout: Duration.minutes(2),
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
    const t = template(stack);
    t.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 2048, Timeout: 120 });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('sets variables from props and from addEnvironment together', () => {
    const { stack, fn } = build({ environment: { A: '1' } });
    fn.addEnvironment('B', '2');
    template(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps', A: '1', B: '2' } },
    });
  });
});

describe('AxonFunction validation', () => {
  it('refuses an entry file that does not exist', () => {
    expect(() => build({ entry: 'lambda/nope/handler.ts' })).toThrow(
      /entry lambda\/nope\/handler.ts does not exist/,
    );
  });

  it('refuses memory outside 128 to 10240 MiB', () => {
    expect(() => build({ memoryMiB: 64 })).toThrow(/memoryMiB must be .* 128 to 10240, got 64/);
    expect(() => build({ memoryMiB: 10_241 })).toThrow(/got 10241/);
  });

  it('refuses a timeout over Lambda’s 15 minutes', () => {
    expect(() => build({ timeout: Duration.minutes(16) })).toThrow(
      /timeout must be from 1 second to 15 minutes, got 16 minutes/,
    );
  });
});

describe('AxonFunction and cdk-nag', () => {
  it('acknowledges its own findings, so a new function needs no acknowledgement of its own', () => {
    const { app, fn } = build();
    expect(unacknowledged(app, fn)).toEqual([]);
  });
});
