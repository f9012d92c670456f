/**
 * RedisReplicationGroup alone: one assertion per documented default, one refusal per
 * validation, and `bind`, which gives a client the port, the AUTH token and the variables at once.
 */
import { Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { describe, expect, it } from 'vitest';
import { ENV } from '#shared/names';
import { AxonFunction } from '../../../lib/constructs/axon-function.ts';
import {
  RedisReplicationGroup,
  type RedisReplicationGroupProps,
} from '../../../lib/constructs/redis-replication-group.ts';
import { FIXTURES } from '../support.ts';
import { type Bare, bareStack, template } from './support.ts';

const RG = 'AWS::ElastiCache::ReplicationGroup';
const REQUIRED = { engineVersion: '7.1', nodeType: 'cache.t4g.small', replicasPerShard: 1 };

function build(overrides: Partial<RedisReplicationGroupProps> = {}): Bare & {
  redis: RedisReplicationGroup;
} {
  const bare = bareStack();
  const redis = new RedisReplicationGroup(bare.stack, 'Redis', {
    vpc: bare.vpc,
    ...REQUIRED,
    ...overrides,
  });
  return { ...bare, redis };
}

describe('RedisReplicationGroup defaults', () => {
  const t = template(build().stack);

  it('runs Redis OSS', () => {
    t.hasResourceProperties(RG, { Engine: 'redis', CacheParameterGroupName: 'default.redis7' });
  });

  it('runs without cluster mode, as one shard with its replicas', () => {
    t.hasResourceProperties(RG, {
      NumCacheClusters: 2,
      ClusterMode: Match.absent(),
      NumNodeGroups: Match.absent(),
    });
  });

  it('listens on 6379', () => {
    t.hasResourceProperties(RG, { Port: 6379 });
  });

  it('keeps one day of snapshots', () => {
    t.hasResourceProperties(RG, { SnapshotRetentionLimit: 1 });
  });

  it("uses the engine's default parameter group and creates none", () => {
    t.resourceCountIs('AWS::ElastiCache::ParameterGroup', 0);
  });
});

describe('RedisReplicationGroup props', () => {
  it('runs Valkey in cluster mode with the given shards, port and snapshot days', () => {
    const t = template(
      build({
        engine: 'valkey',
        engineVersion: '8.0',
        clusterMode: true,
        shards: 3,
        port: 6380,
        snapshotRetentionDays: 7,
      }).stack,
    );
    t.hasResourceProperties(RG, {
      Engine: 'valkey',
      CacheParameterGroupName: 'default.valkey8.cluster.on',
      ClusterMode: 'enabled',
      NumNodeGroups: 3,
      ReplicasPerNodeGroup: 1,
      Port: 6380,
      SnapshotRetentionLimit: 7,
    });
  });
});

describe('RedisReplicationGroup maxmemoryPolicy', () => {
  it('gets a parameter group of its own with the policy, in the engine family', () => {
    const t = template(build({ maxmemoryPolicy: 'noeviction' }).stack);
    t.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      CacheParameterGroupFamily: 'redis7',
      Properties: { 'maxmemory-policy': 'noeviction', 'cluster-enabled': Match.absent() },
    });
    const [id] = Object.keys(t.findResources('AWS::ElastiCache::ParameterGroup'));
    t.hasResourceProperties(RG, { CacheParameterGroupName: { Ref: id } });
  });

  it('says cluster-enabled in its own group when the cache runs in cluster mode', () => {
    const t = template(
      build({
        engine: 'valkey',
        engineVersion: '8.0',
        clusterMode: true,
        maxmemoryPolicy: 'allkeys-lru',
      }).stack,
    );
    t.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      CacheParameterGroupFamily: 'valkey8',
      Properties: { 'maxmemory-policy': 'allkeys-lru', 'cluster-enabled': 'yes' },
    });
  });

  it('refuses a policy Redis does not know', () => {
    expect(() =>
      build({
        maxmemoryPolicy: 'no-eviction' as unknown as RedisReplicationGroupProps['maxmemoryPolicy'],
      }),
    ).toThrow(/maxmemoryPolicy must be one of noeviction, .*, got "no-eviction"/);
  });

  it('takes its description and its security group description from props', () => {
    const t = template(
      build({ description: 'limiter', securityGroupDescription: 'ElastiCache (limiter)' }).stack,
    );
    t.hasResourceProperties(RG, { ReplicationGroupDescription: 'limiter' });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'ElastiCache (limiter)',
    });
  });
});

describe('RedisReplicationGroup with an ACL user', () => {
  const user = { userName: 'axon-test', accessString: 'on ~axon:test:* -@all +get' };

  it('keeps the AUTH token by default and creates no users', () => {
    const t = template(build().stack);
    t.resourceCountIs('AWS::ElastiCache::User', 0);
    t.hasResourceProperties(RG, { AuthToken: Match.anyValue(), UserGroupIds: Match.absent() });
  });

  it('swaps the AUTH token for a user group of that user and a disabled default user', () => {
    const { stack, redis } = build({ user });
    const t = template(stack);
    t.hasResourceProperties(RG, { AuthToken: Match.absent(), UserGroupIds: [Match.anyValue()] });
    t.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: 'axon-test',
      AccessString: user.accessString,
    });
    t.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: 'default',
      AccessString: 'off -@all',
    });
    expect(redis.userName).toBe('axon-test');
  });

  it('tells a bound client its user name', () => {
    const { stack, vpc, redis } = build({ user });
    const fn = new AxonFunction(stack, 'Client', {
      entry: FIXTURES.gatewayEntry,
      description: 'client',
      vpc,
      securityGroup: new ec2.SecurityGroup(stack, 'ClientSg', { vpc }),
    });
    redis.bind(fn, 'client to Redis');
    template(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.redisUsername]: 'axon-test' }) },
    });
  });
});

describe('RedisReplicationGroup validation', () => {
  it('refuses an engine version that is not major.minor', () => {
    expect(() => build({ engineVersion: '7' })).toThrow(/engineVersion must be major.minor.*"7"/);
  });

  it('refuses a node type that is not an ElastiCache one', () => {
    expect(() => build({ nodeType: 't4g.small' })).toThrow(/nodeType .* got "t4g.small"/);
  });

  it('refuses more than 5 replicas per shard', () => {
    expect(() => build({ replicasPerShard: 6 })).toThrow(/replicasPerShard .* 0 to 5, got 6/);
  });

  it('refuses a shard count outside 1 to 500', () => {
    expect(() => build({ clusterMode: true, shards: 0 })).toThrow(/shards .* 1 to 500, got 0/);
  });

  it('refuses more than one shard without cluster mode', () => {
    expect(() => build({ shards: 2 })).toThrow(/needs clusterMode for more than one shard/);
  });

  it('refuses a port below 1024', () => {
    expect(() => build({ port: 80 })).toThrow(/port .* 1024 to 65535, got 80/);
  });

  it('refuses more than 35 days of snapshots', () => {
    expect(() => build({ snapshotRetentionDays: 36 })).toThrow(
      /snapshotRetentionDays .* 0 to 35, got 36/,
    );
  });
});

describe('RedisReplicationGroup.bind', () => {
  const { stack, vpc, redis } = build();
  const securityGroup = new ec2.SecurityGroup(stack, 'ClientSg', {
    vpc,
    allowAllOutbound: false,
  });
  const client = new AxonFunction(stack, 'Client', {
    entry: FIXTURES.gatewayEntry,
    description: 'a Redis client',
    vpc,
    securityGroup,
  });
  redis.bind(client, 'client to Redis');
  const t = template(stack);
  const rg = Object.keys(t.findResources(RG))[0] ?? '';
  const secret = Object.keys(t.findResources('AWS::SecretsManager::Secret'))[0] ?? '';

  it('sets the endpoint, TLS, cluster and secret variables on the client', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.redisEndpoint]: {
            'Fn::Join': [
              '',
              [
                { 'Fn::GetAtt': [rg, 'PrimaryEndPoint.Address'] },
                ':',
                { 'Fn::GetAtt': [rg, 'PrimaryEndPoint.Port'] },
              ],
            ],
          },
          [ENV.redisTls]: '1',
          [ENV.redisCluster]: '0',
          [ENV.redisAuthSecretArn]: { Ref: secret },
        }),
      },
    });
  });

  it('lets the client read the AUTH token', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
            Resource: { Ref: secret },
          }),
        ]),
      },
    });
  });

  it('opens the Redis port from the client, and only that', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 6379,
      ToPort: 6379,
      Description: 'client to Redis',
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      FromPort: 6379,
      ToPort: 6379,
      Description: 'client to Redis',
    });
  });
});

describe('RedisReplicationGroup.memberClusterIds', () => {
  /** The ids with the replication group's Ref shown as <rg>. */
  const ids = (redis: RedisReplicationGroup) =>
    redis.memberClusterIds.map((id) =>
      JSON.stringify(redis.resource.stack.resolve(id)).replace(
        /\{"Ref":"Redis[A-Za-z0-9]+"\}/,
        '"<rg>"',
      ),
    );

  it('names one member per node, <rg>-001 and up, without cluster mode', () => {
    expect(ids(build({ replicasPerShard: 2 }).redis)).toEqual(
      ['001', '002', '003'].map((n) => `{"Fn::Join":["",["<rg>","-${n}"]]}`),
    );
  });

  it('names <rg>-<shard>-<node> with cluster mode', () => {
    expect(ids(build({ clusterMode: true, shards: 2, replicasPerShard: 1 }).redis)).toEqual(
      ['0001-001', '0001-002', '0002-001', '0002-002'].map(
        (n) => `{"Fn::Join":["",["<rg>","-${n}"]]}`,
      ),
    );
  });
});
