/**
 * GatewayStack: the gateway Lambda (Node.js 22, arm64, ESM bundle, private subnets, environment
 * contract, least privilege), the public ALB (HTTPS with a modern policy and redirect, or plain
 * HTTP with a warning in dev), the WAF, the alarms and the outputs.
 */

import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config';
import { KEY_RECORD_ATTRIBUTES } from '#shared/names';
import { type Json, normalised, parseDev, resources, stageConfig, synth } from './support.ts';

const dev = synth(stageConfig('dev'));
const prod = synth(stageConfig('prod'));
const t = dev.templates.gateway;
const p = prod.templates.gateway;
const FN = 'AWS::Lambda::Function';
const LISTENER = 'AWS::ElasticLoadBalancingV2::Listener';

function gatewayFunction(template = t): Json {
  const found = resources(template, FN).find(([id]) => id.startsWith('GatewayFunction'));
  if (!found) throw new Error('no gateway function');
  return found[1];
}
const env = gatewayFunction().Environment.Variables as Record<string, unknown>;

describe('GatewayStack: gateway Lambda', () => {
  it('runs handler.handler on Node.js 22, arm64', () => {
    t.hasResourceProperties(FN, {
      Description: Match.stringLikeRegexp('Axon gateway'),
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
    });
  });

  it('runs in the private subnets with its own security group', () => {
    const vpc = gatewayFunction().VpcConfig;
    expect(JSON.stringify(vpc.SubnetIds)).toMatch(/privateSubnet1.*privateSubnet2/);
    expect(JSON.stringify(vpc.SubnetIds)).not.toMatch(/public|isolated/);
    expect(vpc.SecurityGroupIds).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^GatewaySecurityGroup/), 'GroupId'] },
    ]);
  });

  it('times out 5 s after the upstream timeout so the gateway can still answer 504', () => {
    expect(gatewayFunction().Timeout).toBe(65);
    expect(gatewayFunction(p).Timeout).toBe(125);
  });

  it('gets exactly the environment contract', () => {
    expect(Object.keys(env).sort()).toEqual(
      [
        'AXON_CONFIG',
        'AXON_KEYS_TABLE',
        'AXON_REDIS_AUTH_SECRET_ARN',
        'AXON_REDIS_CLUSTER',
        'AXON_REDIS_ENDPOINT',
        'AXON_REDIS_TLS',
        'AXON_REDIS_USERNAME',
        'AXON_UPSTREAM_SECRET_ARN',
        'AXON_UPSTREAM_TIMEOUT_MS',
        'AXON_UPSTREAM_URL',
        'AXON_USAGE_TABLE',
        'NODE_OPTIONS',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
      ].sort(),
    );
    expect(env).toMatchObject({
      AXON_REDIS_TLS: '1',
      AXON_REDIS_CLUSTER: '0',
      AXON_REDIS_USERNAME: 'axon-gateway',
      AXON_UPSTREAM_TIMEOUT_MS: '60000',
      POWERTOOLS_SERVICE_NAME: 'gateway',
      POWERTOOLS_METRICS_NAMESPACE: 'Axon',
    });
    // prod's sessions cache runs in cluster mode; the limiter's own cache never does.
    expect(gatewayFunction(p).Environment.Variables.AXON_REDIS_CLUSTER).toBe('0');
  });

  it('gets AXON_CONFIG as the validated runtime config of the stage', () => {
    const doc = JSON.parse(env.AXON_CONFIG as string);
    expect(parseConfig(doc)).toEqual(dev.config.runtime);
    expect(doc.rateLimiter.failureMode).toBe('open');
  });

  it("points AXON_REDIS_ENDPOINT at the limiter cache's host:port and AXON_UPSTREAM_URL at the internal ALB", () => {
    expect(JSON.stringify(env.AXON_REDIS_ENDPOINT)).toMatch(
      /LimiterRedis.*PrimaryEndPointAddress.*":".*LimiterRedis.*PrimaryEndPointPort/,
    );
    expect(JSON.stringify(env.AXON_REDIS_AUTH_SECRET_ARN)).toMatch(/LimiterRedisAuthToken/);
    expect(JSON.stringify(gatewayFunction(p).Environment.Variables.AXON_REDIS_ENDPOINT)).toMatch(
      /LimiterRedis.*PrimaryEndPointAddress/,
    );
    expect(env.AXON_UPSTREAM_URL).toEqual({
      'Fn::Join': [
        '',
        ['http://', { 'Fn::ImportValue': expect.stringMatching(/SessionManagerAlb.*DNSName/) }],
      ],
    });
  });

  it('may read the key table and its two indexes, write key records (never delete one), query the Usage table and read the two secrets, nothing more', () => {
    const [[, policy] = ['', {}]] = resources(t, 'AWS::IAM::Policy');
    const table = { 'Fn::ImportValue': expect.stringMatching(/ApiKeys.*Arn/) };
    expect((policy.PolicyDocument as { Statement: unknown[] }).Statement).toEqual([
      {
        Action: [
          'dynamodb:BatchGetItem',
          'dynamodb:DescribeTable',
          'dynamodb:GetItem',
          'dynamodb:Query',
        ],
        Effect: 'Allow',
        Resource: [
          table,
          { 'Fn::Join': ['', [table, '/index/byKeyId']] },
          { 'Fn::Join': ['', [table, '/index/byOwner']] },
        ],
      },
      {
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...KEY_RECORD_ATTRIBUTES] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'ALL_NEW'] },
        },
        Effect: 'Allow',
        Resource: table,
      },
      { Action: 'dynamodb:Scan', Effect: 'Allow', Resource: table },
      {
        // The Usage table: rows per key, and the exporter's checkpoint.
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Effect: 'Allow',
        Resource: { 'Fn::ImportValue': expect.stringMatching(/Usage.*Arn/) },
      },
      {
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Effect: 'Allow',
        Resource: [
          { 'Fn::ImportValue': expect.stringMatching(/RedisAuthToken/) },
          { 'Fn::ImportValue': expect.stringMatching(/GatewaySecret/) },
        ],
      },
    ]);
  });

  it('may connect only to Redis, the session manager ALB and HTTPS', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Gateway Lambda'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 })],
    });
    const egress = resources(t, 'AWS::EC2::SecurityGroupEgress').map(([, e]) => [
      e.FromPort,
      e.Description,
    ]);
    // The stack's other egress rule is the usage exporter's, into the same (limiter) cache.
    expect(egress.sort()).toEqual([
      [6379, 'Gateway Lambda to Redis'],
      [6379, 'Usage exporter to the limiter Redis'],
      [80, 'Gateway Lambda to the session manager ALB'],
    ]);
  });
});

describe('GatewayStack: public ALB', () => {
  it('is internet-facing in the public subnets, drops invalid headers and logs access', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      Subnets: [
        { 'Fn::ImportValue': Match.stringLikeRegexp('publicSubnet1') },
        { 'Fn::ImportValue': Match.stringLikeRegexp('publicSubnet2') },
      ],
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
      ]),
    });
  });

  it('keeps requests open longer than the gateway Lambda may run', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'idle_timeout.timeout_seconds', Value: '70' },
      ]),
    });
  });

  it('sends requests to a Lambda target group with multi-value headers on', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetType: 'lambda',
      TargetGroupAttributes: [{ Key: 'lambda.multi_value_headers.enabled', Value: 'true' }],
      HealthCheckPath: '/healthz',
      Targets: [{ Id: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GatewayFunction'), 'Arn'] } }],
    });
  });

  it('serves HTTPS on the stage domain with a certificate it requests and validates by DNS', () => {
    p.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'api.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'api.example.com', HostedZoneId: 'Z0000000EXAMPLE' }],
    });
    p.hasResourceProperties(LISTENER, {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: { Ref: Match.stringLikeRegexp('^PublicAlbCertificate') } }],
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
    p.hasOutput('Url', { Value: 'https://api.example.com' });
  });

  it('serves HTTPS with a certificate given by ARN, and then makes no certificate or record', () => {
    const cert =
      'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000';
    const byArn = synth(
      parseDev({ stage: 'byarn', gateway: { allowPlainHttp: false, certificateArn: cert } }),
    ).templates.gateway;
    byArn.hasResourceProperties(LISTENER, {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: cert }],
    });
    byArn.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    byArn.resourceCountIs('AWS::Route53::RecordSet', 0);
  });

  it('redirects HTTP to HTTPS permanently when there is a certificate', () => {
    p.hasResourceProperties(LISTENER, {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [
        {
          Type: 'redirect',
          RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' },
        },
      ],
    });
    p.resourceCountIs(LISTENER, 2);
  });

  it('serves plain HTTP only in a stage without a certificate, and warns at synth', () => {
    t.resourceCountIs(LISTENER, 1);
    t.hasResourceProperties(LISTENER, {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
    Annotations.fromStack(dev.stacks.gateway).hasWarning(
      '/Axon-dev-Gateway/PublicAlb',
      Match.stringLikeRegexp('plain HTTP'),
    );
    Annotations.fromStack(prod.stacks.gateway).hasNoWarning(
      '*',
      Match.stringLikeRegexp('plain HTTP'),
    );
  });

  it('creates the DNS alias in the configured zone when the stage has a domain', () => {
    p.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'api.example.com.',
      Type: 'A',
      HostedZoneId: 'Z0000000EXAMPLE',
    });
    t.resourceCountIs('AWS::Route53::RecordSet', 0);
  });
});

describe('GatewayStack: WAF', () => {
  const acl = () => resources(t, 'AWS::WAFv2::WebACL')[0]?.[1] as Json;

  it('is a regional web ACL associated with the public ALB', () => {
    t.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
    });
    t.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { Ref: Match.stringLikeRegexp('^PublicAlb') },
      WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Waf'), 'Arn'] },
    });
  });

  it('blocks an address past the configured rate with a 429 in the error envelope', () => {
    const rule = acl().Rules.find((r: { Name: string }) => r.Name === 'RateLimitPerAddress');
    expect(rule.Statement.RateBasedStatement).toEqual({
      Limit: 3000,
      AggregateKeyType: 'IP',
      EvaluationWindowSec: 300,
    });
    expect(rule.Action.Block.CustomResponse.ResponseCode).toBe(429);
    const body = JSON.parse(acl().CustomResponseBodies.RateLimited.Content);
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
  });

  it('counts, never blocks, the body rules of the common and known-bad-inputs sets', () => {
    // The rule-by-rule table is in test/infra/constructs/gateway-web-acl.test.ts; this checks
    // the stage's ACL is that construct's.
    const counted = (group: string) =>
      acl()
        .Rules.find((r: { Name: string }) => r.Name === group)
        .Statement.ManagedRuleGroupStatement.RuleActionOverrides.map(
          (o: { Name: string; ActionToUse: unknown }) => [o.Name, o.ActionToUse],
        );
    expect(counted('AWSManagedRulesCommonRuleSet')).toEqual(
      [
        'SizeRestrictions_BODY',
        'CrossSiteScripting_BODY',
        'GenericLFI_BODY',
        'GenericRFI_BODY',
        'EC2MetaDataSSRF_BODY',
      ].map((name) => [name, { Count: {} }]),
    );
    expect(counted('AWSManagedRulesKnownBadInputsRuleSet')).toEqual(
      ['JavaDeserializationRCE_BODY', 'Log4JRCE_BODY', 'ReactJSRCE_BODY'].map((name) => [
        name,
        { Count: {} },
      ]),
    );
  });

  it("blocks addresses on the Amazon IP reputation list with the group's own actions", () => {
    const rule = acl().Rules.find(
      (r: { Name: string }) => r.Name === 'AWSManagedRulesAmazonIpReputationList',
    );
    expect(rule.Statement.ManagedRuleGroupStatement).toEqual({
      VendorName: 'AWS',
      Name: 'AWSManagedRulesAmazonIpReputationList',
    });
    expect(rule.OverrideAction).toEqual({ None: {} });
  });

  it('logs requests with the Authorization header redacted', () => {
    t.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [{ SingleHeader: { Name: 'authorization' } }],
    });
    t.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: 'aws-waf-logs-axondev', RetentionInDays: 30 },
      DeletionPolicy: 'Delete',
    });
  });
});

describe('GatewayStack: alarms', () => {
  const alarms = resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a);
  const byMetric = (name: string) =>
    alarms.find((a) => a.MetricName === name) as Record<string, unknown>;

  it.each([
    ['HTTPCode_ELB_5XX_Count', 'AWS/ApplicationELB', 10],
    ['HTTPCode_Target_5XX_Count', 'AWS/ApplicationELB', 10],
    ['Errors', 'AWS/Lambda', 10],
  ])('alarms on %s', (metric, namespace, threshold) => {
    expect(byMetric(metric)).toMatchObject({
      Namespace: namespace,
      Threshold: threshold,
      Period: 300,
      Statistic: 'Sum',
    });
  });

  it.each([
    ['Denied', 1000],
    ['Degraded', 1],
    ['RedisErrors', 1],
  ])('alarms on the gateway metric %s (namespace Axon, service=gateway)', (metric, threshold) => {
    expect(byMetric(metric)).toMatchObject({
      Namespace: 'Axon',
      Dimensions: [{ Name: 'service', Value: 'gateway' }],
      Threshold: threshold,
      Statistic: 'Sum',
      TreatMissingData: 'notBreaching',
    });
  });

  it('notifies the stage alarm topic of the Network stack when an alarm fires and clears', () => {
    const topic = { 'Fn::ImportValue': expect.stringMatching(/^Axon-dev-Network:.*AlarmTopic/) };
    // The gateway's six and the usage exporter's errors.
    expect(alarms).toHaveLength(7);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([topic]);
      expect(alarm.OKActions).toEqual([topic]);
    }
    t.resourceCountIs('AWS::SNS::Topic', 0);
  });
});

describe('GatewayStack: outputs', () => {
  it('outputs the URL: the ALB in dev, the custom domain over HTTPS in prod', () => {
    t.hasOutput('Url', {
      Value: {
        'Fn::Join': [
          '',
          ['http://', { 'Fn::GetAtt': [Match.stringLikeRegexp('^PublicAlb'), 'DNSName'] }],
        ],
      },
    });
    p.hasOutput('Url', { Value: 'https://api.example.com' });
  });

  it('outputs the key table', () => {
    t.hasOutput('ApiKeysTableName', {
      Value: { 'Fn::ImportValue': Match.stringLikeRegexp('ApiKeys') },
    });
  });

  it('matches the snapshot', () => {
    expect(normalised(t)).toMatchSnapshot();
  });
});
