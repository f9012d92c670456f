/**
 * The usage ledger's infrastructure (issue 20): the Usage table in the Data stack, and the
 * scheduled exporter beside the gateway, a second client of the limiter's cache with the least
 * it needs: the cache's port, a scan of the key ids, reads and writes of the Usage table.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type Json, resources, stageConfig, synth } from './support.ts';

const dev = synth(stageConfig('dev'));
const data = dev.templates.data;
const g = dev.templates.gateway;

function exporter(): [string, Json] {
  const found = resources(g, 'AWS::Lambda::Function').find(([id]) =>
    id.startsWith('UsageExporterFunction'),
  );
  if (!found) throw new Error('no usage exporter function');
  return found;
}

describe('Usage table', () => {
  it('is keyed by key id, then hour and model, on demand, recoverable and retained', () => {
    data.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: 'keyId', KeyType: 'HASH' },
          { AttributeName: 'hourModel', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      }),
      DeletionPolicy: 'Retain',
    });
    data.hasOutput('UsageTableName', Match.anyValue());
  });
});

describe('usage exporter', () => {
  it('runs lambda/usage-export on a 10-minute schedule with the tables and the limiter cache named', () => {
    const [id, fn] = exporter();
    expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Timeout: 300 });
    const env = fn.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(env).sort()).toEqual(
      [
        'AXON_KEYS_TABLE',
        'AXON_REDIS_AUTH_SECRET_ARN',
        'AXON_REDIS_CLUSTER',
        'AXON_REDIS_ENDPOINT',
        'AXON_REDIS_TLS',
        'AXON_REDIS_USERNAME',
        'AXON_USAGE_TABLE',
        'NODE_OPTIONS',
        'POWERTOOLS_SERVICE_NAME',
      ].sort(),
    );
    expect(JSON.stringify(env.AXON_REDIS_ENDPOINT)).toMatch(/LimiterRedis/);
    expect(env.AXON_REDIS_USERNAME).toBe('axon-gateway');
    g.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } })],
    });
  });

  it('may scan only the key table and only get and put items of the Usage table', () => {
    const roleId = (exporter()[1].Role as Json)['Fn::GetAtt'][0] as string;
    const policy = resources(g, 'AWS::IAM::Policy').find(([, p]) =>
      JSON.stringify(p.Roles).includes(roleId),
    )?.[1] as Json;
    const statements = policy.PolicyDocument.Statement as Json[];
    const dynamo = statements.filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    expect(dynamo.map((s) => [s.Action, JSON.stringify(s.Resource)])).toEqual([
      ['dynamodb:Scan', expect.stringMatching(/ApiKeys/)],
      [['dynamodb:GetItem', 'dynamodb:PutItem'], expect.stringMatching(/Usage/)],
    ]);
    expect(JSON.stringify(statements)).not.toMatch(/"\*"|DeleteItem|UpdateItem/);
  });

  it('reaches the limiter cache and HTTPS only, and alarms when it keeps failing', () => {
    g.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Usage exporter'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 })],
    });
    const [id] = exporter();
    const alarm = resources(g, 'AWS::CloudWatch::Alarm').find(([alarmId]) =>
      alarmId.startsWith('UsageExporterErrors'),
    )?.[1];
    expect(alarm).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }],
      Threshold: 3,
      Period: 3600,
    });
  });
});
