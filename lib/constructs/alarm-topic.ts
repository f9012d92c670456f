/**
 * The stage's one alarm topic and the helper every alarm goes through. The topic lives in the
 * Network stack, the first one, which every other stack already depends on, so each stack can
 * notify it without a cross-stack cycle. It is encrypted with its own KMS
 * key, which CloudWatch and the Amazon Managed Prometheus alert manager (the Triton alert rules)
 * may use to publish.
 */

import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmTopicProps {
  /** Address subscribed to the topic. @default - no subscription; subscribe by hand */
  readonly email?: string;
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export class AlarmTopic extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps = {}) {
    super(scope, id);
    if (props.email !== undefined && !EMAIL.test(props.email)) {
      throw new Error(
        `alarm topic email must be an email address such as oncall@example.com, got ${JSON.stringify(props.email)}`,
      );
    }
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the Axon alarm topic',
      enableKeyRotation: true,
    });
    // CloudWatch must be able to publish to the encrypted topic.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        resources: ['*'],
      }),
    );
    // So must AMP's alert manager, and only for workspaces of this account.
    const ampPrincipal = new iam.ServicePrincipal('aps.amazonaws.com');
    const thisAccount = { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } };
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        principals: [ampPrincipal],
        resources: ['*'],
        conditions: thisAccount,
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { masterKey: key, enforceSSL: true });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        actions: ['sns:Publish', 'sns:GetTopicAttributes'],
        principals: [ampPrincipal],
        resources: [this.topic.topicArn],
        conditions: thisAccount,
      }),
    );
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }
}

export interface AlarmSpec {
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  /** What it means, for the person paged; docs/operations.md says what to check first. */
  readonly description: string;
  /** @default GREATER_THAN_OR_EQUAL_TO_THRESHOLD */
  readonly comparison?: cloudwatch.ComparisonOperator;
  /**
   * @default NOT_BREACHING: a metric that is only published when something happens (errors,
   * evictions, a replica's lag) is missing when all is well.
   */
  readonly treatMissingData?: cloudwatch.TreatMissingData;
  /** Periods the metric must breach in a row. @default 1 */
  readonly evaluationPeriods?: number;
}

/**
 * Creates one alarm under `scope` that notifies `topic` when it fires and when it clears, so
 * each alarm of every stack is one call with the same behaviour.
 */
export function addAlarm(
  scope: Construct,
  id: string,
  topic: sns.ITopic,
  spec: AlarmSpec,
): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    metric: spec.metric,
    threshold: spec.threshold,
    evaluationPeriods: spec.evaluationPeriods ?? 1,
    comparisonOperator:
      spec.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: spec.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: spec.description,
  });
  const action = new actions.SnsAction(topic);
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
  return alarm;
}
