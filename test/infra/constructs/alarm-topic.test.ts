/** AlarmTopic and addAlarm alone: the encrypted topic, its optional email, and one-line alarms. */
import { Match } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { AlarmTopic, addAlarm } from '../../../lib/constructs/alarm-topic.ts';
import { bareStack, template, unacknowledged } from './support.ts';

const metric = new cloudwatch.Metric({ namespace: 'Test', metricName: 'Errors' });

describe('AlarmTopic defaults', () => {
  const { app, stack } = bareStack();
  const topic = new AlarmTopic(stack, 'Alarms');

  it('is encrypted with its own rotated key that CloudWatch may use to publish', () => {
    const t = template(stack);
    t.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlarmsTopicKey'), 'Arn'] },
    });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const [key] = Object.values(t.findResources('AWS::KMS::Key')) as {
      Properties: { KeyPolicy: { Statement: { Principal?: { Service?: string } }[] } };
    }[];
    expect(
      key?.Properties.KeyPolicy.Statement.some(
        (s) => s.Principal?.Service === 'cloudwatch.amazonaws.com',
      ),
    ).toBe(true);
  });

  it('lets the Prometheus alert manager of this account publish through the key and the topic', () => {
    const t = template(stack);
    const fromAmp = Match.objectLike({
      Principal: { Service: 'aps.amazonaws.com' },
      Action: ['sns:GetTopicAttributes', 'sns:Publish'],
      Condition: { StringEquals: { 'aws:SourceAccount': '111111111111' } },
    });
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'aps.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([fromAmp]),
      },
    });
  });

  it('subscribes nobody', () => {
    template(stack).resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('passes cdk-nag (SSL enforced, KMS-encrypted)', () => {
    expect(unacknowledged(app, topic)).toEqual([]);
  });
});

describe('AlarmTopic props', () => {
  it('subscribes the email', () => {
    const { stack } = bareStack();
    new AlarmTopic(stack, 'Alarms', { email: 'oncall@example.com' });
    template(stack).hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });
});

describe('AlarmTopic validation', () => {
  it('refuses an email that is not an address', () => {
    const { stack } = bareStack();
    expect(() => new AlarmTopic(stack, 'Alarms', { email: 'oncall' })).toThrow(
      /email must be an email address.*"oncall"/,
    );
  });
});

describe('addAlarm', () => {
  it('alarms at or above the threshold over one period and notifies on fire and clear', () => {
    const { stack } = bareStack();
    const { topic } = new AlarmTopic(stack, 'Alarms');
    addAlarm(stack, 'Errors', topic, { metric, threshold: 3, description: 'errors' });
    template(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 3,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmDescription: 'errors',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      OKActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
    });
  });

  it('takes another comparison, missing-data rule and number of periods', () => {
    const { stack } = bareStack();
    const { topic } = new AlarmTopic(stack, 'Alarms');
    addAlarm(stack, 'Low', topic, {
      metric,
      threshold: 1,
      description: 'too few',
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      evaluationPeriods: 3,
    });
    template(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      EvaluationPeriods: 3,
    });
  });
});
