/**
 * DataStack: the sessions' ElastiCache replication group (TLS required, KMS at rest, AUTH token
 * from a generated secret, Multi-AZ, isolated subnets, locked-down security group, slow log), the
 * limiter's own `noeviction` group, their AUTH rotation, the ApiKeys table contract, the stage's
 * alarm topic and the Data stack's alarms.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { GATEWAY_REDIS_USER, SESSION_MANAGER_REDIS_USER } from '#shared/redis-acl';
import { normalised, parseDev, resources, stageConfig, synth } from './support.ts';

const dev = synth(stageConfig('dev'));
const prod = synth(stageConfig('prod'));
const t = dev.templates.data;
const RG = 'AWS::ElastiCache::ReplicationGroup';

function logicalId(template: typeof t, type: string, prefix = ''): string {
  const [first] = resources(template, type).filter(([id]) => id.startsWith(prefix));
  if (!first) throw new Error(`no ${type} ${prefix} in template`);
  return first[0];
}

const ingress = Object.values(dev.templates)
  .flatMap((template) => resources(template, 'AWS::EC2::SecurityGroupIngress'))
  .map(([, p]) => p);
/** Ingress rules into the security group whose logical id starts with `prefix`. */
const into = (prefix: string) =>
  ingress.filter((p) =>
    new RegExp(`(ExportsOutputFnGetAtt|")${prefix}SecurityGroup`).test(JSON.stringify(p.GroupId)),
  );

describe('DataStack: ElastiCache replication group', () => {
  it('requires TLS in transit', () => {
    t.hasResourceProperties(RG, {
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
    });
  });

  it('encrypts at rest with its own rotating KMS key', () => {
    const key = logicalId(t, 'AWS::KMS::Key', 'Redis');
    t.hasResourceProperties(RG, {
      AtRestEncryptionEnabled: true,
      KmsKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
    });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('authenticates with a user group instead of an AUTH token (ElastiCache takes one)', () => {
    const sessions = resources(t, RG).find(([id]) => id.startsWith('Redis'))?.[1];
    expect(sessions?.AuthToken).toBeUndefined();
    expect(sessions?.UserGroupIds).toEqual([
      { Ref: logicalId(t, 'AWS::ElastiCache::UserGroup', 'RedisUserGroup') },
    ]);
  });

  it("gives the session manager's user the access string from the shared ACL module, its password from the generated secret", () => {
    const secret = logicalId(t, 'AWS::SecretsManager::Secret', 'RedisAuthToken');
    t.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: SESSION_MANAGER_REDIS_USER.userName,
      AccessString: SESSION_MANAGER_REDIS_USER.accessString,
      Engine: 'redis',
      AuthenticationMode: {
        Type: 'password',
        Passwords: [
          {
            'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secret }, ':SecretString:::}}']],
          },
        ],
      },
    });
  });

  it('switches the default user off in both groups', () => {
    const defaults = resources(t, 'AWS::ElastiCache::User').filter(
      ([, p]) => p.UserName === 'default',
    );
    expect(defaults.map(([, p]) => p.AccessString)).toEqual(['off -@all', 'off -@all']);
    const groups = resources(t, 'AWS::ElastiCache::UserGroup').map(([, p]) => p.UserIds);
    expect(groups).toHaveLength(2);
    for (const ids of groups) expect(ids).toHaveLength(2);
  });

  it('names users and groups with ids ElastiCache accepts, all different', () => {
    const ids = [
      ...resources(t, 'AWS::ElastiCache::User').map(([, p]) => p.UserId),
      ...resources(t, 'AWS::ElastiCache::UserGroup').map(([, p]) => p.UserGroupId),
    ] as string[];
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z](?!.*--)[a-z0-9-]{0,38}[a-z0-9]$/);
  });

  it('generates a 64-character token without punctuation, and stores no value in the template', () => {
    t.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        PasswordLength: 64,
        ExcludePunctuation: true,
        IncludeSpace: false,
        SecretStringTemplate: Match.absent(),
      },
      SecretString: Match.absent(),
    });
  });

  it('defaults to Redis OSS 7.1 with one replica: Multi-AZ and automatic failover on', () => {
    t.hasResourceProperties(RG, {
      Engine: 'redis',
      EngineVersion: '7.1',
      CacheParameterGroupName: 'default.redis7',
      NumCacheClusters: 2,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      ClusterMode: Match.absent(),
    });
  });

  it('turns Multi-AZ and failover off for a single node', () => {
    const single = synth(parseDev({ redis: { replicasPerShard: 0 } }));
    single.templates.data.hasResourceProperties(RG, {
      NumCacheClusters: 1,
      MultiAZEnabled: false,
      AutomaticFailoverEnabled: false,
    });
  });

  it('switches to Valkey with one setting', () => {
    const valkey = synth(parseDev({ redis: { engine: 'valkey' } }));
    valkey.templates.data.hasResourceProperties(RG, {
      Engine: 'valkey',
      EngineVersion: '8.0',
      CacheParameterGroupName: 'default.valkey8',
    });
  });

  it('runs cluster mode with shards and replicas per shard (prod)', () => {
    prod.templates.data.hasResourceProperties(RG, {
      ClusterMode: 'enabled',
      NumNodeGroups: 2,
      ReplicasPerNodeGroup: 2,
      CacheParameterGroupName: 'default.redis7.cluster.on',
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      NumCacheClusters: Match.absent(),
    });
    prod.templates.data.hasOutput('RedisEndpoint', {
      Value: {
        'Fn::Join': [
          '',
          [
            Match.objectLike({ 'Fn::GetAtt': [Match.anyValue(), 'ConfigurationEndPoint.Address'] }),
            ':',
            Match.anyValue(),
          ],
        ],
      },
    });
  });

  it('uses the configured node type', () => {
    t.hasResourceProperties(RG, { CacheNodeType: 'cache.t4g.small' });
    prod.templates.data.hasResourceProperties(RG, { CacheNodeType: 'cache.r7g.large' });
  });

  it('lives in the isolated subnets only', () => {
    const isolated = dev.stacks.network.vpc.isolatedSubnets.length;
    const [[, group] = ['', {}]] = resources(t, 'AWS::ElastiCache::SubnetGroup');
    const ids = JSON.stringify(group.SubnetIds);
    expect((group.SubnetIds as unknown[]).length).toBe(isolated);
    expect(ids).toMatch(/isolatedSubnet1/);
    expect(ids).not.toMatch(/privateSubnet|publicSubnet/);
  });

  it('sends the slow log to CloudWatch Logs as JSON', () => {
    const logGroup = resources(t, 'AWS::Logs::LogGroup').find(([id]) =>
      id.startsWith('RedisSlowLog'),
    )?.[0];
    t.hasResourceProperties(RG, {
      LogDeliveryConfigurations: [
        {
          LogType: 'slow-log',
          LogFormat: 'json',
          DestinationType: 'cloudwatch-logs',
          DestinationDetails: { CloudWatchLogsDetails: { LogGroup: { Ref: logGroup } } },
        },
      ],
    });
  });

  it('gives its security group no ingress of its own and no egress', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('ElastiCache'),
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [
        Match.objectLike({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' }),
      ],
    });
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  it('is reachable only from the session manager pods, on the Redis port', () => {
    const toRedis = into('Redis');
    expect(toRedis.map((p) => [p.FromPort, p.ToPort, p.Description])).toEqual([
      [6379, 6379, 'Session manager pods to Redis'],
    ]);
    expect(JSON.stringify(toRedis[0]?.SourceSecurityGroupId)).toMatch(/ClusterSecurityGroupId/);
  });

  it("keeps the sessions cache's logical ids, so a deploy updates it in place", () => {
    // The ids this cache had when it held the buckets too (before the limiter moved out).
    const ids = Object.keys(t.toJSON().Resources).filter((id) => id.startsWith('Redis'));
    expect(ids).toEqual(
      expect.arrayContaining([
        'RedisFF642DF2',
        'RedisKey99F69F89',
        'RedisSecurityGroupC1E9FD21',
        'RedisSubnets445F6F85',
        'RedisAuthToken9E34F6A5',
        'RedisSlowLog9A34B1F0',
      ]),
    );
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription:
        'ElastiCache: ingress only from the gateway Lambda and the session manager pods',
    });
  });
});

describe("DataStack: the limiter's own replication group", () => {
  const limiter = () => {
    const id = logicalId(t, RG, 'LimiterRedis');
    return resources(t, RG).find(([each]) => each === id)?.[1] as Record<string, unknown>;
  };

  it('never evicts: its own parameter group sets maxmemory-policy noeviction', () => {
    const params = logicalId(t, 'AWS::ElastiCache::ParameterGroup', 'LimiterRedis');
    t.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      CacheParameterGroupFamily: 'redis7',
      Properties: { 'maxmemory-policy': 'noeviction' },
    });
    expect(limiter().CacheParameterGroupName).toEqual({ Ref: params });
    t.resourceCountIs('AWS::ElastiCache::ParameterGroup', 1);
  });

  it('is a small node with TLS, its own KMS key and Multi-AZ like the sessions cache', () => {
    const key = logicalId(t, 'AWS::KMS::Key', 'LimiterRedis');
    expect(limiter()).toMatchObject({
      CacheNodeType: 'cache.t4g.micro',
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
      KmsKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
      NumCacheClusters: 2,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
    });
  });

  it("has the gateway's own user, its password in its own secret with its own rotation", () => {
    const secret = logicalId(t, 'AWS::SecretsManager::Secret', 'LimiterRedisAuthToken');
    expect(limiter().AuthToken).toBeUndefined();
    expect(limiter().UserGroupIds).toEqual([
      { Ref: logicalId(t, 'AWS::ElastiCache::UserGroup', 'LimiterRedisUserGroup') },
    ]);
    t.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: GATEWAY_REDIS_USER.userName,
      AccessString: GATEWAY_REDIS_USER.accessString,
      AuthenticationMode: {
        Type: 'password',
        Passwords: [
          {
            'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secret }, ':SecretString:::}}']],
          },
        ],
      },
    });
    t.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: secret },
      RotationLambdaARN: {
        'Fn::GetAtt': [logicalId(t, 'AWS::Lambda::Function', 'LimiterRedisAuthRotation'), 'Arn'],
      },
    });
  });

  it('takes its node type and replicas from redis.limiter', () => {
    const custom = synth(
      parseDev({ redis: { limiter: { nodeType: 'cache.t4g.small', replicasPerShard: 0 } } }),
    );
    custom.templates.data.hasResourceProperties(RG, {
      ReplicationGroupDescription: Match.stringLikeRegexp('rate limiter'),
      CacheNodeType: 'cache.t4g.small',
      NumCacheClusters: 1,
      MultiAZEnabled: false,
    });
  });

  it('stays one shard without cluster mode when the sessions cache is clustered (prod)', () => {
    prod.templates.data.hasResourceProperties(RG, {
      ReplicationGroupDescription: Match.stringLikeRegexp('rate limiter'),
      ClusterMode: Match.absent(),
      NumCacheClusters: 3,
    });
  });

  it('is reachable only from the gateway Lambda and the usage exporter, which reach no other cache', () => {
    const toLimiter = into('LimiterRedis');
    expect(toLimiter.map((p) => [p.FromPort, p.ToPort, p.Description])).toEqual([
      [6379, 6379, 'Gateway Lambda to Redis'],
      [6379, 6379, 'Usage exporter to the limiter Redis'],
    ]);
    expect(JSON.stringify(toLimiter[0]?.SourceSecurityGroupId)).toMatch(/GatewaySecurityGroup/);
    expect(JSON.stringify(toLimiter[1]?.SourceSecurityGroupId)).toMatch(
      /UsageExporterSecurityGroup/,
    );
    expect(
      into('Redis').some((p) =>
        /Gateway|UsageExporter/.test(JSON.stringify(p.SourceSecurityGroupId)),
      ),
    ).toBe(false);
  });

  it('outputs its endpoint and AUTH secret', () => {
    t.hasOutput('LimiterRedisEndpoint', Match.anyValue());
    t.hasOutput('LimiterRedisAuthSecretArn', {
      Value: { Ref: logicalId(t, 'AWS::SecretsManager::Secret', 'LimiterRedis') },
    });
  });
});

describe('DataStack: AUTH token rotation', () => {
  it('schedules rotation with the rotation Lambda every configured number of days', () => {
    const fn = resources(t, 'AWS::Lambda::Function').find(([id]) =>
      id.startsWith('RedisAuthRotationFunction'),
    )?.[0];
    t.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationLambdaARN: { 'Fn::GetAtt': [fn, 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: false,
    });
  });

  it('runs the rotation Lambda on Node.js 22 arm64 in the private subnets with the group id', () => {
    const rg = logicalId(t, RG);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 900,
      Environment: { Variables: Match.objectLike({ REPLICATION_GROUP_ID: { Ref: rg } }) },
      VpcConfig: {
        SubnetIds: Match.arrayWith([
          Match.objectLike({ 'Fn::ImportValue': Match.stringLikeRegexp('privateSubnet') }),
        ]),
        SecurityGroupIds: Match.anyValue(),
      },
    });
  });

  it("lets the rotation Lambda modify only its cache's user, which it rotates", () => {
    const user = logicalId(t, 'AWS::ElastiCache::User', 'RedisUser');
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: ['elasticache:DescribeUsers', 'elasticache:ModifyUser'],
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', [Match.stringLikeRegexp(':user:$'), { Ref: user }]] },
          },
        ]),
      },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ REDIS_USER_ID: { Ref: user } }) },
    });
  });

  it('gives the rotation Lambda HTTPS egress only (no path into Redis)', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('rotation'),
      SecurityGroupEgress: [
        {
          CidrIp: '0.0.0.0/0',
          FromPort: 443,
          ToPort: 443,
          IpProtocol: 'tcp',
          Description: Match.anyValue(),
        },
      ],
    });
  });
});

describe('DataStack: ApiKeys table', () => {
  const TABLE = 'AWS::DynamoDB::Table';

  it('is keyed by keyHash alone', () => {
    t.hasResourceProperties(TABLE, { KeySchema: [{ AttributeName: 'keyHash', KeyType: 'HASH' }] });
  });

  it('has the byKeyId and byOwner indexes with every attribute projected', () => {
    t.hasResourceProperties(TABLE, {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byKeyId',
          KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: 'byOwner',
          KeySchema: [
            { AttributeName: 'owner', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('is on-demand, encrypted, with point-in-time recovery', () => {
    t.hasResourceProperties(TABLE, {
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is retained when the stack is deleted or the table replaced', () => {
    t.hasResource(TABLE, { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('outputs the table name as ApiKeysTableName for the key CLI', () => {
    t.hasOutput('ApiKeysTableName', { Value: { Ref: logicalId(t, TABLE) } });
  });
});

describe('DataStack: alarms', () => {
  const REDIS_METRICS = [
    'EngineCPUUtilization',
    'DatabaseMemoryUsagePercentage',
    'Evictions',
    'ReplicationLag',
    'CurrConnections',
  ];
  type AlarmProps = Record<string, unknown> & { AlarmActions: unknown[]; OKActions: unknown[] };
  const alarms = (template: typeof t) =>
    resources(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a as AlarmProps);
  /**
   * The CacheClusterId of an alarm with the sessions group's Ref shown as <rg>, the limiter
   * group's as <limiter>.
   */
  const node = (a: AlarmProps) => {
    const [dimension] = a.Dimensions as { Name: string; Value: unknown }[];
    expect(dimension?.Name).toBe('CacheClusterId');
    return JSON.stringify(dimension?.Value)
      .replace(/\{"Ref":"Redis[A-Za-z0-9]+"\}/, '"<rg>"')
      .replace(/\{"Ref":"LimiterRedis[A-Za-z0-9]+"\}/, '"<limiter>"');
  };
  const member = (suffix: string, rg = '<rg>') => `{"Fn::Join":["",["${rg}","-${suffix}"]]}`;

  it.each([
    ['dev', t, ['001', '002'], ['001', '002']],
    [
      'prod',
      prod.templates.data,
      ['0001-001', '0001-002', '0001-003', '0002-001', '0002-002', '0002-003'],
      ['001', '002', '003'],
    ],
  ] as const)(
    'watches each Redis metric on every node of both %s caches',
    (_stage, template, sessions, limiter) => {
      for (const metric of REDIS_METRICS) {
        const onMetric = alarms(template).filter((a) => a.MetricName === metric);
        expect(onMetric.map(node), metric).toEqual([
          ...sessions.map((n) => member(n)),
          ...limiter.map((n) => member(n, '<limiter>')),
        ]);
      }
    },
  );

  it('takes the Redis thresholds from the stage config', () => {
    const threshold = (metric: string) => alarms(t).find((a) => a.MetricName === metric)?.Threshold;
    const c = dev.config.alarms;
    expect(REDIS_METRICS.map(threshold)).toEqual([
      c.redisEngineCpuPercent,
      c.redisMemoryPercent,
      c.redisEvictionsPerFiveMinutes,
      c.redisReplicationLagSeconds,
      c.redisConnections,
    ]);
  });

  it('watches throttles and system errors of the ApiKeys table', () => {
    const table = { Name: 'TableName', Value: { Ref: logicalId(t, 'AWS::DynamoDB::Table') } };
    for (const metric of ['ReadThrottleEvents', 'WriteThrottleEvents']) {
      expect(
        alarms(t)
          .filter((a) => a.MetricName === metric)
          .map((a) => a.Dimensions),
      ).toEqual([[table]]);
    }
    for (const metric of ['ThrottledRequests', 'SystemErrors']) {
      const math = alarms(t).filter((a) =>
        JSON.stringify(a.Metrics ?? []).includes(`"MetricName":"${metric}"`),
      );
      expect(math, metric).toHaveLength(1);
      expect(JSON.stringify(math[0]?.Metrics)).toContain(JSON.stringify(table));
    }
  });

  it.each([
    ['dev', t, (2 + 2) * 5 + 4],
    ['prod', prod.templates.data, (6 + 3) * 5 + 4],
  ] as const)(
    "sends all %s alarms to the Network stack's alarm topic when they fire and clear",
    (_stage, template, count) => {
      // The topic lives in the Network stack; the Data stack imports its ARN.
      const topic = { 'Fn::ImportValue': expect.stringMatching(/^Axon-\w+-Network:.*AlarmTopic/) };
      template.resourceCountIs('AWS::SNS::Topic', 0);
      const all = alarms(template);
      expect(all).toHaveLength(count);
      for (const a of all) {
        expect(a.AlarmActions).toEqual([topic]);
        expect(a.OKActions).toEqual([topic]);
      }
    },
  );
});

describe('DataStack snapshot', () => {
  it('matches the snapshot', () => {
    expect(normalised(t)).toMatchSnapshot();
  });
});
